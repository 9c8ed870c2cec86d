"""gsdd_basicsr.options_check through train.py / test.py: bad input in the options is one line naming the key, the
path and the fix, exit 2, before BasicSR creates anything; ``--force_yml datasets:val=~`` drops validation."""
import os

import pytest
import torch
import yaml

from helpers import edsr_options, paired_folder, train_in_process

from gsdd_basicsr.errors import GSDDError, MissingInputError
from gsdd_basicsr.options_check import check_options


def _last_error(code, err, prog):
    assert code == 2 and 'Traceback' not in err, err[-3000:]
    last = err.strip().splitlines()[-1]
    assert last.startswith(f'{prog}: error: ') and sum(line.startswith(f'{prog}: error:') for line in
                                                       err.splitlines()) == 1, err[-3000:]
    return last


def _nothing_created(root):
    return not any((root / d).exists() for d in ('experiments', 'tb_logger', 'results'))


@pytest.fixture
def edsr_with_val(tmp_path):
    """EDSR training options whose val block points at a folder this user does not have (the demo's)."""
    paired_folder(tmp_path / 'data')
    opt = edsr_options(tmp_path / 'data', 'own_data', total_iter=2)
    opt['datasets']['val'] = dict(name='val', type='PairedImageDataset', dataroot_gt='datasets/demo/val/HR',
                                  dataroot_lq='datasets/demo/val/LR_bicubic/X2', io_backend=dict(type='disk'))
    opt['val'] = dict(val_freq=1, save_img=False, metrics=dict(psnr=dict(type='calculate_psnr', crop_border=2)))
    path = tmp_path / 'own_data.yml'
    path.write_text(yaml.safe_dump(opt))
    return path


def test_a_missing_val_folder_names_the_key_and_the_fix(tmp_path, edsr_with_val, monkeypatch):
    code, _, err = train_in_process(tmp_path, edsr_with_val, monkeypatch=monkeypatch)
    assert _last_error(code, err, 'train.py') == (
        "train.py: error: datasets.val.dataroot_gt 'datasets/demo/val/HR' does not exist; set it with --force_yml "
        'datasets:val:dataroot_gt=<folder>, or drop the block with --force_yml datasets:val=~.')
    assert _nothing_created(tmp_path)


def test_force_yml_null_drops_validation(tmp_path, edsr_with_val, monkeypatch):
    code, _, err = train_in_process(tmp_path, edsr_with_val, '--force_yml', 'datasets:val=~', 'train:total_iter=2',
                                    monkeypatch=monkeypatch)
    assert code == 0, err[-3000:]
    log = open(next((tmp_path / 'experiments' / 'own_data').glob('train_own_data_*.log'))).read()
    assert 'Training statistics' in log and 'Validation' not in log
    assert (tmp_path / 'experiments' / 'own_data' / 'models' / 'net_g_latest.pth').is_file()


def test_force_yml_null_on_a_dataset_the_options_lack(tmp_path, edsr_with_val, monkeypatch):
    code, _, err = train_in_process(tmp_path, edsr_with_val, '--force_yml', 'datasets:vall=~', monkeypatch=monkeypatch)
    assert 'the options have no datasets.vall (they have train, val)' in _last_error(code, err, 'train.py')
    assert _nothing_created(tmp_path)


def test_test_py_checks_its_datasets(tmp_path, monkeypatch):
    """An LR-only test file (SingleImageDataset) whose LR folder is missing: exit 2, no results/<name>/."""
    opt = dict(name='lr_only', model_type='SRModel', scale=2, num_gpu=0,
               datasets=dict(test_1=dict(name='photos', type='SingleImageDataset', dataroot_lq='no/such/LR',
                                         io_backend=dict(type='disk'))),
               network_g=dict(type='EDSR', num_in_ch=3, num_out_ch=3, num_feat=8, num_block=1, upscale=2),
               path=dict(pretrain_network_g=None, strict_load_g=True), val=dict(save_img=False))
    path = tmp_path / 'lr_only.yml'
    path.write_text(yaml.safe_dump(opt))
    code, _, err = train_in_process(tmp_path, path, monkeypatch=monkeypatch, entry='test')
    assert "datasets.test_1.dataroot_lq 'no/such/LR' does not exist" in _last_error(code, err, 'test.py')
    assert _nothing_created(tmp_path)


def test_a_test_scoring_lpips_without_its_weights_is_refused_before_anything(tmp_path, monkeypatch):
    """An LPIPS metric whose converted weights are missing: one line naming the metric and the commands that make
    them, exit 2, no results/<name>/ (before, the run failed after its network was built)."""
    paired_folder(tmp_path / 'data')
    lpips = dict(type='calculate_lpips', crop_border=4, net='alex', better='lower')
    opt = dict(name='with_lpips', model_type='SRModel', scale=2, num_gpu=0,
               datasets=dict(test_1=dict(name='pairs', type='PairedImageDataset', dataroot_gt='data/HR',
                                         dataroot_lq='data/LR', io_backend=dict(type='disk'))),
               network_g=dict(type='EDSR', num_in_ch=3, num_out_ch=3, num_feat=8, num_block=1, upscale=2),
               path=dict(pretrain_network_g=None, strict_load_g=True), val=dict(save_img=False, metrics=dict(lp=lpips)))
    path = tmp_path / 'with_lpips.yml'
    path.write_text(yaml.safe_dump(opt))
    code, _, err = train_in_process(tmp_path, path, monkeypatch=monkeypatch, entry='test')
    last = _last_error(code, err, 'test.py')
    assert 'LPIPS weights experiments/pretrained_models/lpips_alex.pth (val.metrics.lp) are missing' in last
    assert 'tools/convert_lpips_weights.py' in last and _nothing_created(tmp_path)
    with pytest.raises(MissingInputError, match=r'elsewhere/w\.pth \(val\.metrics\.lp\)'):
        check_options(dict(opt, val=dict(metrics=dict(lp=dict(lpips, weights='elsewhere/w.pth')))), root=str(tmp_path))
    (tmp_path / 'w.pth').write_bytes(b'')
    check_options(dict(opt, val=dict(metrics=dict(lp=dict(lpips, weights='w.pth')))), root=str(tmp_path))


def test_basicsr_and_realesrgan_dataset_keys(tmp_path):
    """Keys of BasicSR's and Real-ESRGAN's datasets (meta_info, meta_info_file) and path.pretrain_network_*,
    relative to the run's folder."""
    os.makedirs(tmp_path / 'hr')
    opt = dict(datasets=dict(train=dict(type='RealESRGANDataset', dataroot_gt='hr', meta_info='hr/meta.txt')),
               path=dict(pretrain_network_g=None))
    with pytest.raises(MissingInputError, match="^datasets.train.meta_info 'hr/meta.txt' does not exist; set it with "
                                                '--force_yml datasets:train:meta_info=<file>.$'):
        check_options(opt, root=str(tmp_path))
    (tmp_path / 'hr' / 'meta.txt').write_text('a.png\n')
    check_options(opt, root=str(tmp_path))
    opt['path']['pretrain_network_d'] = 'net_d.pth'
    with pytest.raises(MissingInputError, match="path.pretrain_network_d 'net_d.pth' does not exist; set it with "
                                                '--force_yml path:pretrain_network_d=<weights.pth>'):
        check_options(opt, root=str(tmp_path))


def test_the_gsdd_block_is_checked(tmp_path):
    with pytest.raises(GSDDError, match='unknown key\\(s\\) gsdd.ipcs'):
        check_options(dict(model_type='GSDDModel', datasets={}, path={}, gsdd=dict(ipcs=3)), root=str(tmp_path))


@pytest.mark.parametrize('change, message', [
    (dict(model_type='SRModle'), "model_type 'SRModle' is not registered in BasicSR \\(model registry\\); did you mean "
                                 'SRModel'),
    (dict(network_g=dict(type='EDRS')), "network_g.type 'EDRS' is not registered in BasicSR \\(arch registry\\); "
                                        'did you mean EDVR, EDSR\\?'),
    (dict(train=dict(pixel_opt=dict(type='L1Los'))), "train.pixel_opt.type 'L1Los' is not registered"),
    (dict(val=dict(metrics=dict(lpips=dict(type='calculate_lpipz')))), "val.metrics.lpips.type 'calculate_lpipz'"),
])
def test_names_basicsr_would_not_find(tmp_path, change, message):
    """A misspelt class name: one line before the run, instead of BasicSR's KeyError after it created its folders."""
    opt = dict(model_type='SRModel', network_g=dict(type='EDSR'), datasets={}, path={})
    opt.update(change)
    with pytest.raises(GSDDError, match=message):
        check_options(opt, root=str(tmp_path))


def test_a_test_run_that_fails_keeps_results_and_names_its_log(tmp_path, monkeypatch):
    """test.py past the check: out of memory in the model's forward pass (raised where BasicSR's SRModel runs it)
    is one line, exit 1, ``results/<name>/`` kept with the log the line names."""
    from basicsr.models.sr_model import SRModel
    paired_folder(tmp_path / 'data')
    opt = dict(name='oom_test', model_type='SRModel', scale=2, num_gpu=0,
               datasets=dict(test_1=dict(name='pairs', type='PairedImageDataset', dataroot_gt=str(tmp_path / 'data/HR'),
                                         dataroot_lq=str(tmp_path / 'data/LR'), io_backend=dict(type='disk'))),
               network_g=dict(type='EDSR', num_in_ch=3, num_out_ch=3, num_feat=8, num_block=1, upscale=2),
               path=dict(pretrain_network_g=None, strict_load_g=True), val=dict(save_img=False))
    path = tmp_path / 'oom_test.yml'
    path.write_text(yaml.safe_dump(opt))

    def out_of_memory(self):
        raise torch.cuda.OutOfMemoryError('CUDA out of memory. Tried to allocate 8.00 GiB')

    monkeypatch.setattr(SRModel, 'test', out_of_memory)
    code, _, err = train_in_process(tmp_path, path, monkeypatch=monkeypatch, entry='test')
    last = err.strip().splitlines()[-1]
    assert code == 1 and last.startswith('test.py: error: out of accelerator memory (CUDA out of memory.'), err[-3000:]
    log = last.rsplit('; the log is ', 1)[-1]
    assert log.startswith(str(tmp_path / 'results' / 'oom_test' / 'test_oom_test_')) and os.path.isfile(log)
    assert 'out of accelerator memory' in open(log).read()
