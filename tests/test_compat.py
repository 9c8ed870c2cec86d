import sys

import pytest
import torch

import gsdd_basicsr
from gsdd_basicsr import compat


def test_functional_tensor_alias_lets_basicsr_degradations_import():
    import basicsr.data.degradations as deg
    import torchvision.transforms.functional as F
    assert 'torchvision.transforms.functional_tensor' in sys.modules
    assert deg.rgb_to_grayscale is F.rgb_to_grayscale


def test_basicsr_functions_are_patched():
    import basicsr.train
    import basicsr.utils.dist_util
    from basicsr.models.base_model import BaseModel
    assert basicsr.train.load_resume_state is compat.load_resume_state
    assert basicsr.utils.dist_util._init_dist_pytorch is compat._init_dist_pytorch
    assert BaseModel.model_to_device is compat._model_to_device
    compat.apply()  # idempotent
    assert basicsr.train.load_resume_state is compat.load_resume_state


def test_registered_names():
    from basicsr.utils.registry import ARCH_REGISTRY, DATASET_REGISTRY, MODEL_REGISTRY
    assert 'GSDDModel' in MODEL_REGISTRY
    for name in ('ClassImageDataset', 'DistilledImageDataset', 'GANLatentDataset'):
        assert name in DATASET_REGISTRY, name
    assert 'DMConvNet' in ARCH_REGISTRY
    assert gsdd_basicsr.__version__


class Foreign:
    """A class torch's weights_only unpickler does not allow."""


def test_state_loading_is_safe_and_names_the_file(tmp_path):
    good = tmp_path / '3.state'
    sched = torch.optim.lr_scheduler.MultiStepLR(torch.optim.Adam([torch.zeros(1, requires_grad=True)]), [2, 4])
    torch.save({'iter': 3, 'schedulers': [sched.state_dict()]}, good)
    assert compat.load_state_file(str(good))['iter'] == 3  # Counter milestones load with weights_only

    truncated = tmp_path / '6.state'
    truncated.write_bytes(good.read_bytes()[:40])
    with pytest.raises(compat.ResumeStateError, match='6.state'):
        compat.load_state_file(str(truncated))

    foreign = tmp_path / '9.state'
    torch.save({'iter': 9, 'obj': Foreign()}, foreign)
    with pytest.raises(compat.ResumeStateError, match='9.state'):
        compat.load_state_file(str(foreign))
