"""gsdd_basicsr/cli.py: taking back the folders BasicSR created for a run that met bad input (``run_folders``).

The entry points' lines and exit statuses are tested end to end in test_bad_input.py and test_options_check.py.
"""
import os

from basicsr.utils import mkdir_and_rename

from gsdd_basicsr.cli import run_folders


def _test_opt(root, name):
    return dict(name=name, path=dict(results_root=str(root / 'results' / name)))


def test_a_fresh_results_folder_is_removed(tmp_path):
    opt = _test_opt(tmp_path, 'fresh')
    take_back = run_folders(opt, 'test', str(tmp_path))
    mkdir_and_rename(opt['path']['results_root'])  # what BasicSR's test pipeline does first
    (tmp_path / 'results' / 'fresh' / 'test_fresh.log').write_text('started')
    assert take_back() and os.listdir(tmp_path / 'results') == []


def test_an_earlier_folder_moved_aside_gets_its_name_back(tmp_path):
    opt = _test_opt(tmp_path, 'again')
    os.makedirs(opt['path']['results_root'])
    (tmp_path / 'results' / 'again' / 'earlier.txt').write_text('kept')
    take_back = run_folders(opt, 'test', str(tmp_path))
    mkdir_and_rename(opt['path']['results_root'])
    assert len(os.listdir(tmp_path / 'results')) == 2  # the fresh folder and the archived one
    assert take_back() and os.listdir(tmp_path / 'results') == ['again']
    assert os.listdir(tmp_path / 'results' / 'again') == ['earlier.txt']


def test_a_folder_in_use_or_holding_a_checkpoint_is_kept(tmp_path):
    opt = dict(name='resumed', logger=dict(use_tb_logger=False),
               path=dict(experiments_root=str(tmp_path / 'experiments' / 'resumed')))
    os.makedirs(tmp_path / 'experiments' / 'resumed')
    take_back = run_folders(opt, 'train', str(tmp_path))  # a resumed run creates nothing
    assert take_back() and os.path.isdir(tmp_path / 'experiments' / 'resumed')

    opt = dict(name='saved', logger=dict(use_tb_logger=True),
               path=dict(experiments_root=str(tmp_path / 'experiments' / 'saved')))
    take_back = run_folders(opt, 'train', str(tmp_path))
    os.makedirs(tmp_path / 'experiments' / 'saved' / 'models')
    os.makedirs(tmp_path / 'tb_logger' / 'saved')
    (tmp_path / 'experiments' / 'saved' / 'models' / 'net_g_2.pth').write_bytes(b'weights')
    assert not take_back()
    assert os.path.isfile(tmp_path / 'experiments' / 'saved' / 'models' / 'net_g_2.pth')
    assert not os.path.exists(tmp_path / 'tb_logger' / 'saved')
