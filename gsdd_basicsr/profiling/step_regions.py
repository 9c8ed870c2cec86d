"""Reading GSDDModel's step regions from ``torch.profiler``'s events.

``GSDDModel.optimize_parameters`` runs its parts inside ``torch.profiler.record_function`` regions named
``gsdd.<part>`` (:data:`REGIONS`, in the step's order; next to free when no profiler runs).
:func:`region_times` reads every ``gsdd.*`` region, however often it occurs per step:

- ``total_s``: wall time per step inside the region (host clock, seconds);
- ``self_s``: the same minus the ``gsdd.*`` regions nested in it, so that self times never overlap;
- on CUDA, ``device_s`` / ``self_device_s``: GPU kernel time launched inside the region (host
  regions only see launches; the GPU work shows up in ``gsdd.sync``, the step's one host sync).
  Autograd runs CUDA backward ops on its own thread, so ops of other threads that start inside
  a region count for it.

:data:`COMPUTE_REGIONS` are the step's bare compute: the generator's forward (``gsdd.render``), the
augmentation, both embeddings, the loss and the backward that covers all of them.
"""
import bisect

from torch.autograd import DeviceType

from gsdd_basicsr.models.gsdd_model import REGION_PREFIX as PREFIX
from gsdd_basicsr.models.gsdd_model import REGIONS as _STEP_REGIONS

REGIONS = tuple(_STEP_REGIONS.values())  # the step's order
COMPUTE_REGIONS = tuple(_STEP_REGIONS[p] for p in ('render', 'augment', 'embed_real', 'embed_syn', 'loss', 'backward'))


def _nested_regions(event):
    """The outermost ``gsdd.*`` regions inside ``event`` (any depth of ops in between)."""
    out = []
    for child in event.cpu_children:
        out += [child] if child.name.startswith(PREFIX) else _nested_regions(child)
    return out


def region_times(events, steps, cuda=False):
    """Per ``gsdd.*`` region, its time per step, from ``torch.profiler.profile(...).events()``.

    Args:
        events (list[FunctionEvent]): the profiled steps' events.
        steps (int): how many steps they cover.
        cuda (bool): also read GPU kernel time (``device_s``, ``self_device_s``).

    Returns:
        dict: name -> ``calls`` (per step), ``total_s``, ``self_s`` and, on CUDA, ``device_s``
        and ``self_device_s``, all seconds per step.
    """
    cpu = [e for e in events if e.device_type == DeviceType.CPU]
    regions = [e for e in cpu if e.name.startswith(PREFIX)]
    roots = sorted((e for e in cpu if e.cpu_parent is None), key=lambda e: e.time_range.start)
    starts = [e.time_range.start for e in roots]
    # a record_function's GPU-side span may be linked to it like a kernel: count real kernels only
    annotations = {e.name for e in events if e.is_user_annotation}

    def kernel_us(event):
        own = sum(k.duration for k in event.kernels if k.name not in annotations)
        return own + sum(kernel_us(child) for child in event.cpu_children)

    def device_us(region):
        # its own ops' kernels + those of other threads' ops started inside it (autograd's CUDA thread)
        lo = bisect.bisect_left(starts, region.time_range.start)
        hi = bisect.bisect_left(starts, region.time_range.end)
        return kernel_us(region) + sum(kernel_us(e) for e in roots[lo:hi] if e.thread != region.thread)

    out = {}
    for region in regions:
        nested = _nested_regions(region)
        wall = region.time_range.elapsed_us()
        entry = out.setdefault(region.name, dict.fromkeys(('calls', 'total_s', 'self_s'), 0.0))
        entry['calls'] += 1
        entry['total_s'] += wall
        entry['self_s'] += wall - sum(n.time_range.elapsed_us() for n in nested)
        if cuda:
            dev = device_us(region)
            entry['device_s'] = entry.get('device_s', 0.0) + dev
            entry['self_device_s'] = entry.get('self_device_s', 0.0) + dev - sum(device_us(n) for n in nested)
    for entry in out.values():
        for key in entry:
            entry[key] /= steps if key == 'calls' else steps * 1e6  # profiler times are microseconds
    return out
