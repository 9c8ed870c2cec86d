"""utils/atomic.py: the one writer of text, JSON, YAML, torch files and plots."""
import json
import os

import pytest
import yaml

from gsdd_basicsr.errors import WriteError
from gsdd_basicsr.utils.atomic import atomic_write, atomic_write_json, atomic_write_text, atomic_write_yaml


def test_text_json_and_yaml_round_trip(tmp_path):
    obj = {'b': [1, 2.5, 'x'], 'a': {'nested': None}}
    assert json.loads(open(atomic_write_json(obj, str(tmp_path / 'new' / 'o.json'))).read()) == obj  # folder made
    path = atomic_write_yaml(obj, str(tmp_path / 'o.yml'))
    assert yaml.safe_load(open(path)) == obj and open(path).read().startswith('b:')  # keys keep their order
    assert open(atomic_write_text('tëxt\n', str(tmp_path / 'o.md'))).read() == 'tëxt\n'


def test_a_failed_write_keeps_the_previous_file_and_names_it(tmp_path):
    path = str(tmp_path / 'report.json')
    atomic_write_json({'old': 1}, path)

    def half_then_full_disk(f):
        f.write('{"new": ')
        raise OSError(28, 'No space left on device')

    with pytest.raises(WriteError, match=r'cannot write report .*report\.json \(OSError: .*No space left'):
        atomic_write(path, half_then_full_disk, what='report')
    assert json.load(open(path)) == {'old': 1}
    assert os.listdir(tmp_path) == ['report.json']  # no temporary file left

    with pytest.raises(ZeroDivisionError):  # a bug in the writer is not a write error, and changes nothing
        atomic_write(path, lambda f: 1 / 0)
    assert json.load(open(path)) == {'old': 1} and os.listdir(tmp_path) == ['report.json']
