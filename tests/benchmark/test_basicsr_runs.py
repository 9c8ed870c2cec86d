"""gsdd_basicsr.benchmark.basicsr_runs: parse_options (BasicSR's parsed options of an options file + --force_yml,
as train.py / test.py get them, with the process's command line left as it was) and the progress relay of a
run's iteration lines (the runs themselves: tests/benchmark/test_benchmark.py)."""
import os
import sys

import pytest
import torch

from gsdd_basicsr.benchmark.basicsr_runs import Relay, parse_options, run
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


def test_relay_prints_iterations_and_eta_throttled_and_the_last_one(capsys):
    line = ('2026-01-01 10:00:00,000 INFO: [epoch:  0, iter:   {:,}, lr:(1.000e-03,)] [eta: 0:0{}:00, '
            'time (data): 0.101 (0.001)] l_pix: 1.0e-02\n')
    relay = Relay('gsdd_ipc1_s0', total=2000, every=3600)
    relay('2026-01-01 10:00:00,000 INFO: Start training from epoch: 0, iter: 0\n')  # not an iteration line
    for k, it in enumerate((100, 200, 1500)):
        relay(line.format(it, 9 - k))
    relay.finish()
    relay.finish()  # nothing held back any more
    assert capsys.readouterr().out.splitlines() == ['[gsdd_ipc1_s0] iter 100 / 2000, eta 0:09:00',
                                                    '[gsdd_ipc1_s0] iter 1500 / 2000, eta 0:07:00']
    every = Relay('row', every=0)
    for it in (1, 2):
        every(line.format(it, 1))
    assert capsys.readouterr().out.splitlines() == ['[row] iter 1, eta 0:01:00', '[row] iter 2, eta 0:01:00']
    # the last iteration: BasicSR's eta is a negative timedelta, relayed as nothing left
    every(line.replace('[eta: 0:0{}:00,', '[eta: -1 day, 23:59:59,').format(3))
    assert capsys.readouterr().out.splitlines() == ['[row] iter 3, eta 0:00:00']


def test_a_run_refusing_its_input_is_one_gsdd_error(tmp_path):
    """run(): the process exits 2 with its one line -> GSDDError with that line (final: not rerun as a failure)."""
    import yaml
    with open(os.path.join(ROOT, 'options', 'gsdd_distill_demo_x4.yml')) as f:
        opt = yaml.safe_load(f)
    # the run's folder has no datasets/demo: the options check refuses it before BasicSR starts
    with pytest.raises(GSDDError, match=r"^datasets.train.real.dataroot_gt 'datasets/demo/train' does not exist"):
        run('train', opt, str(tmp_path), 'options.yml')
    assert (tmp_path / 'options.yml').is_file() and 'does not exist' in (tmp_path / 'train.out').read_text()
    assert not (tmp_path / 'experiments').exists()
