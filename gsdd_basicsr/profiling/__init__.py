"""The distillation step's profiler: where the time and memory of GSDDModel's step go.

- :mod:`~gsdd_basicsr.profiling.profiler`: building the model from an options file, profiling and timing its
  steps, memory growth with the data (``tools/profile_distill.py``, ``tools/time_step_settings.py``);
- :mod:`~gsdd_basicsr.profiling.step_regions`: the step's ``gsdd.*`` profiler regions and their times;
- :mod:`~gsdd_basicsr.profiling.table`: a profile as the text table the tool prints.

It builds the model through the benchmark's driver of BasicSR (:mod:`gsdd_basicsr.benchmark.basicsr_runs`),
so it stands above the benchmark; nothing of the package imports it.
"""
