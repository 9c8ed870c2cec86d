"""How GSDDModel runs its step fast: autocast (``gsdd.amp``), ``torch.compile`` (``gsdd.compile``,
``gsdd.cuda_graphs``) and the channels-last memory format (``gsdd.channels_last``).

- :func:`resolve_amp` turns ``gsdd.amp`` into the autocast dtype, or into ``None`` (float32) with one
  logged line when the device has no fast arithmetic in that dtype: autocast to bf16 on a CPU
  without native bf16 instructions (e.g. an AVX2 CPU) runs about 20x slower than float32, so a GPU
  options file tried on such a CPU would wait hours for nothing.
- :func:`accelerate` applies ``channels_last`` and ``compile`` to the frozen generator (and,
  with ``compile: all``, the embedding network) and returns the module the step renders with.
  The originals stay as they are (a compiled module shares their parameters), so inversion,
  validation rendering and the teacher space keep the eager generator.
"""
import platform

import torch

from gsdd_basicsr.errors import GSDDError

AMP_DTYPES = {'none': None, 'bf16': torch.bfloat16, 'fp16': torch.float16}
COMPILE_MODES = (False, True, 'generator', 'all')
# /proc/cpuinfo flags that mean native arithmetic in the dtype (x86: AVX-512 / AMX; Arm: FEAT_BF16, FP16)
CPU_FLAGS = {'bf16': ({'avx512_bf16', 'amx_bf16'}, {'bf16'}), 'fp16': ({'avx512_fp16', 'amx_fp16'}, {'asimdhp'})}


def cpu_flags():
    """The CPU's feature flags (``flags`` on x86, ``Features`` on Arm) from ``/proc/cpuinfo``; empty elsewhere."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                key, _, value = line.partition(':')
                if key.strip() in ('flags', 'Features'):
                    return set(value.split())
    except OSError:
        pass
    return set()


def cpu_supports(amp):
    """Whether this CPU has native instructions for ``amp`` (``bf16`` | ``fp16``)."""
    x86, arm = CPU_FLAGS[amp]
    flags = cpu_flags()
    is_arm = platform.machine().lower() in ('aarch64', 'arm64')
    return bool(flags & (arm if is_arm else x86))


def device_supports(amp, device):
    """Whether autocast to ``amp`` is fast on ``device`` (a ``torch.device``): CUDA GPUs with bf16
    support (compute capability >= 8.0) or fp16 tensor cores (>= 7.0), CPUs with native instructions
    (:func:`cpu_supports`); other device types are trusted."""
    if device.type == 'cpu':
        return cpu_supports(amp)
    if device.type == 'cuda':
        if amp == 'bf16':
            return torch.cuda.is_bf16_supported(including_emulation=False)
        return torch.cuda.get_device_capability(device) >= (7, 0)
    return True


def resolve_amp(amp, device, logger=None):
    """The autocast dtype for ``gsdd.amp`` on ``device`` (``None``: float32).

    Where the device lacks fast ``amp`` arithmetic, one line says so (``logger.warning``) and
    float32 runs instead: the result is the same up to rounding, only faster there.
    """
    if amp == 'none' or device_supports(amp, device):
        return AMP_DTYPES[amp]
    where = f'this CPU ({torch.backends.cpu.get_cpu_capability()}, no native {amp} instructions)' \
        if device.type == 'cpu' else f'{device} ({torch.cuda.get_device_name(device)})'
    if logger is not None:
        logger.warning(f'gsdd.amp: {amp} would run autocast on {where}, many times slower than float32; running '
                       f'float32 instead (set gsdd.amp: none to silence this, or run on a GPU).')
    return None


def check_compile(value):
    """``gsdd.compile`` normalised to ``None`` (off), ``'generator'`` or ``'all'``."""
    if value not in COMPILE_MODES or isinstance(value, int) and not isinstance(value, bool):
        raise GSDDError(f'gsdd.compile must be false, true (= generator), generator or all, got {value!r}; fix it '
                        'in the options file.')
    return {False: None, True: 'generator'}.get(value, value)


def accelerate(net_g, embedder, gsdd):
    """The generator the step renders with (and the embedder), after ``gsdd.channels_last`` and
    ``gsdd.compile`` (see the module docstring; CUDA graphs, ``gsdd.cuda_graphs``, for the generator only).
    ``embedder`` may be ``None``.

    Returns:
        tuple: (render network, embedding network or None); either may be an ``OptimizedModule``.
    """
    if gsdd['channels_last']:  # in place: the eager generator gains the same layout
        net_g.to(memory_format=torch.channels_last)
        if embedder is not None:
            embedder.to(memory_format=torch.channels_last)
    if gsdd['compile'] is None:
        return net_g, embedder
    from torch._dynamo import list_backends
    backends = list_backends(exclude_tags=())
    if gsdd['compile_backend'] not in backends:
        raise GSDDError(f"gsdd.compile_backend {gsdd['compile_backend']!r} is not a torch.compile backend; use one "
                        f"of {', '.join(backends)} (inductor for speed).")
    kwargs = dict(backend=gsdd['compile_backend'], dynamic=False)
    render = torch.compile(net_g, mode='reduce-overhead' if gsdd['cuda_graphs'] else None, **kwargs)
    if gsdd['compile'] == 'all' and embedder is not None:
        # no CUDA graphs here: the real crops' features must outlive the synthetic pass's replay
        embedder = torch.compile(embedder, **kwargs)
    return render, embedder


def to_layout(x, gsdd):
    """``x`` (B x C x H x W) in channels-last layout when ``gsdd.channels_last`` is on."""
    return x.contiguous(memory_format=torch.channels_last) if gsdd['channels_last'] else x
