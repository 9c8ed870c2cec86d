"""gsdd.amp on a device without fast arithmetic in that dtype, and the speed options (compile,
cuda_graphs, channels_last): validation, wiring on the CPU (cheap torch.compile backends)."""
import pytest
import torch
from basicsr.models import build_model

from gsdd_basicsr.distill import acceleration
from gsdd_basicsr.distill.options import parse_gsdd_options
from gsdd_basicsr.errors import GSDDError
from helpers import gsdd_opt as _opt


class _Lines:
    def __init__(self):
        self.lines = []

    def warning(self, msg):
        self.lines.append(msg)

    info = warning


@pytest.fixture
def avx2_cpu(monkeypatch):
    """This CPU as an AVX2 x86 CPU without native bf16 / fp16, whatever the machine running the test."""
    monkeypatch.setattr(acceleration, 'cpu_flags', lambda: {'fpu', 'sse2', 'avx', 'avx2', 'fma'})
    monkeypatch.setattr(acceleration.platform, 'machine', lambda: 'x86_64')


@pytest.mark.parametrize('amp', ['bf16', 'fp16'])
def test_amp_without_native_support_runs_float32_and_says_so_once(avx2_cpu, amp):
    log = _Lines()
    assert acceleration.resolve_amp(amp, torch.device('cpu'), log) is None
    (line, ) = log.lines
    assert f'gsdd.amp: {amp}' in line and 'float32' in line and 'gsdd.amp: none' in line
    assert acceleration.resolve_amp('none', torch.device('cpu'), log) is None and len(log.lines) == 1


def test_amp_with_native_support_is_kept(monkeypatch):
    monkeypatch.setattr(acceleration.platform, 'machine', lambda: 'x86_64')
    monkeypatch.setattr(acceleration, 'cpu_flags', lambda: {'avx2', 'avx512f', 'avx512_bf16', 'amx_fp16'})
    log = _Lines()
    assert acceleration.resolve_amp('bf16', torch.device('cpu'), log) is torch.bfloat16
    assert acceleration.resolve_amp('fp16', torch.device('cpu'), log) is torch.float16
    assert log.lines == []
    monkeypatch.setattr(acceleration.platform, 'machine', lambda: 'aarch64')  # Arm names the features otherwise
    monkeypatch.setattr(acceleration, 'cpu_flags', lambda: {'fp', 'asimd', 'bf16'})
    assert acceleration.cpu_supports('bf16') and not acceleration.cpu_supports('fp16')


def test_a_gpu_options_file_on_a_slow_cpu_distils_in_float32(setup, avx2_cpu, monkeypatch):
    """``amp: bf16`` / ``fp16`` on such a CPU: one warning line, no autocast, no loss scaling, a float32 step."""
    lines = []
    import gsdd_basicsr.models.gsdd_model as gm
    real_logger = gm.get_root_logger()
    monkeypatch.setattr(real_logger, 'warning', lambda msg, *a, **k: lines.append(msg))
    for amp in ('bf16', 'fp16'):
        model = build_model(_opt(setup, name=f'slow_{amp}', amp=amp, init='real', augment=None))
        assert model.amp_dtype is None and not model.scaler.is_enabled()
        with torch.autograd.graph.saved_tensors_hooks(lambda t: _assert_float32(t), lambda t: t):
            model.optimize_parameters(1)
        assert torch.isfinite(model.latents).all()
    assert len(lines) == 2 and all('running float32 instead' in line for line in lines)


def _assert_float32(t):
    assert t.dtype != torch.bfloat16 and t.dtype != torch.float16, t.dtype
    return t


# ---------------------------------------------------------------------- the speed options
def test_speed_options_default_off_and_are_typed():
    g = parse_gsdd_options({})
    assert g['compile'] is None and not g['cuda_graphs'] and not g['channels_last']
    assert g['compile_backend'] == 'inductor'
    assert parse_gsdd_options({'compile': True})['compile'] == 'generator'
    assert parse_gsdd_options({'compile': 'all', 'cuda_graphs': True})['compile'] == 'all'


@pytest.mark.parametrize('block, culprit', [
    ({'compile': 'yes'}, 'gsdd.compile'),
    ({'compile': 1}, 'gsdd.compile'),
    ({'compile': [True]}, 'gsdd.compile'),
    ({'cuda_graphs': True}, 'gsdd.cuda_graphs'),
    ({'channels_last': 'true'}, 'gsdd.channels_last'),
    ({'compile_backend': 3}, 'gsdd.compile_backend'),
    ({'compile': True, 'cuda_graphs': True, 'compile_backend': 'eager'}, 'gsdd.compile_backend: inductor'),
])
def test_bad_speed_options_name_the_key(block, culprit):
    with pytest.raises(GSDDError, match=culprit):
        parse_gsdd_options(block)


def test_unknown_compile_backend_is_one_clear_error(setup):
    with pytest.raises(GSDDError, match='gsdd.compile_backend'):
        build_model(_opt(setup, name='bad_backend', compile=True, compile_backend='no_such_backend', init='real'))


@pytest.mark.parametrize('settings', [dict(channels_last=True), dict(compile='all', compile_backend='eager')])
def test_accelerated_step_renders_with_the_new_module_and_takes_the_same_step(setup, settings):
    """The step goes through the compiled / channels-last modules and gives the eager float32 step."""
    base = build_model(_opt(setup, name='eager', init='real', augment=None))
    fast = build_model(_opt(setup, name='fast', init='real', augment=None, **settings))
    if 'compile' in settings:
        assert fast._render_net is not fast.net_g and fast._embed_net is not fast.embedder
        assert isinstance(fast._render_net, torch._dynamo.eval_frame.OptimizedModule)
    else:
        conv = next(m for m in fast.net_g.modules() if isinstance(m, torch.nn.Conv2d))
        assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    calls = []
    handle = fast.net_g.register_forward_hook(lambda m, i, o: calls.append(i[0].shape))
    for model in (base, fast):
        model.optimize_parameters(1)
        model.optimize_parameters(2)
    handle.remove()
    assert len(calls) == 4  # 2 classes x 2 steps through the (wrapped) generator
    torch.testing.assert_close(fast.latents, base.latents, atol=1e-5, rtol=1e-5)
    assert fast.get_current_log()['l_dm'] == pytest.approx(base.get_current_log()['l_dm'], rel=1e-4)
