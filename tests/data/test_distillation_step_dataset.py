"""DistillationStepDataset: BasicSR's loader counts steps; the real set is built once, by GSDDModel."""
import pytest
import yaml

from gsdd_basicsr.data.distillation_step_dataset import STEPS_PER_EPOCH, DistillationStepDataset
from gsdd_basicsr.errors import GSDDError
from helpers import gsdd_cli_opt, train_in_process

REAL = {'type': 'ClassImageDataset', 'dataroot_gt': 'x', 'gt_size': 16}


def _opt(**changes):
    opt = dict(name='steps', type='DistillationStepDataset', phase='train', batch_size_per_gpu=1,
               num_worker_per_gpu=0, real=REAL)
    opt.update(changes)
    return {k: v for k, v in opt.items() if v is not None}


def test_items_are_step_tokens_and_no_image_is_read():
    ds = DistillationStepDataset(_opt())  # 'x' does not exist: nothing is listed or decoded here
    assert len(ds) == STEPS_PER_EPOCH and ds[7] == {'step': 7}


@pytest.mark.parametrize('changes, message', [
    (dict(dataroot_gt='datasets/demo/train'), 'dataroot_gt that DistillationStepDataset does not read'),
    (dict(real=None), 'datasets.train.real is missing'),
    (dict(batch_size_per_gpu=8), 'batch_size_per_gpu: 1 and num_worker_per_gpu: 0'),
    (dict(num_worker_per_gpu=2), 'batch_size_per_gpu: 1 and num_worker_per_gpu: 0'),
])
def test_bad_blocks_name_the_fix(changes, message):
    with pytest.raises(GSDDError, match=message):
        DistillationStepDataset(_opt(**changes))


def test_a_distillation_builds_the_real_set_once(setup, monkeypatch):
    opt = gsdd_cli_opt(setup, 'built_once')
    opt['train']['total_iter'] = 2
    path = setup / 'built_once.yml'
    path.write_text(yaml.safe_dump(opt))
    calls = []
    from gsdd_basicsr.data.class_image_dataset import ClassImageDataset
    init = ClassImageDataset.__init__
    monkeypatch.setattr(ClassImageDataset, '__init__', lambda self, o: (calls.append(o['name']), init(self, o))[1])
    code, out, err = train_in_process(setup, path, monkeypatch=monkeypatch)
    assert code == 0, err[-3000:]
    assert calls.count('t_real') == 1 and calls.count('v') == 1  # the real train set, the val set: once each
