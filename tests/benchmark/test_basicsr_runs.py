"""gsdd_basicsr.benchmark.basicsr_runs.parse_options: BasicSR's parsed options of an options file + --force_yml,
as train.py / test.py get them, with the process's command line left as it was."""
import os
import sys

import pytest
import torch

from gsdd_basicsr.benchmark.basicsr_runs import parse_options
from gsdd_basicsr.errors import GSDDError
from helpers import ROOT

TEST_OPT = os.path.join(ROOT, 'options', 'gsdd_test_demo_x4.yml')


def test_force_yml_entries_apply_and_seed_as_in_train_py(tmp_path):
    argv = list(sys.argv)
    opt = parse_options(TEST_OPT, str(tmp_path), is_train=False, force_yml=['name=mine', 'manual_seed=7'])
    assert sys.argv == argv
    assert opt['name'] == 'mine' and not opt['is_train'] and opt['dist'] is False
    assert opt['path']['results_root'] == str(tmp_path / 'results' / 'mine')
    assert torch.initial_seed() == 7  # seeded with the forced seed (basicsr alone seeds before --force_yml)


def test_bad_force_yml_names_the_file_and_the_entry(tmp_path):
    argv = list(sys.argv)
    with pytest.raises(GSDDError, match=r'gsdd_test_demo_x4.yml with --force_yml nosuch:key=1 is not a valid BasicSR '
                                        r'test options file .*block:key=value'):
        parse_options(TEST_OPT, str(tmp_path), is_train=False, force_yml=['nosuch:key=1'])
    assert sys.argv == argv
    with pytest.raises(GSDDError, match='missing.yml does not exist'):
        parse_options(str(tmp_path / 'missing.yml'), str(tmp_path))
