"""Benchmark: GSDD against real-data baselines at equal storage budgets (``tools/benchmark.py``).

Every SR row trains the same network with the same options through BasicSR's ``SRModel`` and train
pipeline (``python -m gsdd_basicsr.train -opt train_options.yml``, a process started in the row's folder)
and is tested with the profile's test options through the test pipeline (``gsdd_basicsr.test``); only the
training images differ. Rows: ``bicubic`` (the
``BicubicUpsampler`` arch through the test pipeline), ``full`` (every real training image),
``random`` / ``informative`` / ``kcenter`` real coresets and ``gsdd`` at equal budgets in HR pixels,
ablations (variants defined in ``options/benchmark/ablations.yml``: ``gsdd-lambda0``, ``gsdd-noise``,
``gsdd-real-init``: the bank before distillation, ``gsdd-bicubic-gen``: pixel-space distillation), the
profile's own variants and ``gsdd-<generator>`` for other generators.

Modules: :mod:`.profiles` (the YAML profiles in ``options/benchmark/``), :mod:`.row_options` (each
run's resolved options), :mod:`.basicsr_runs` (the one driver of BasicSR: parsed options, train / test
processes, reading their logs), :mod:`.training_sets` (full set, coresets, distillations), :mod:`.runner`
(:class:`Benchmark`), :mod:`.out_folder` (the output folder's layout and rules), :mod:`.engines` (where the
jobs run: this machine's CPU or GPUs, Slurm through submitit), :mod:`.seed_stats` (statistics over seeds,
paired 95 % intervals), :mod:`.report` (summaries, paired deltas, ``benchmark.md``), :mod:`.instrument` (the
instrument check: every row also tested on val photos, ``--val-root``; per budget the full set against the best
coreset there), :mod:`.plots` (matplotlib), :mod:`.command_line` (the command line), :mod:`.demo` (``tools/run_demo.py``).

The demo stays here because it is a benchmark run: the ``demo`` profile (``options/benchmark/demo.yml``)
through :class:`Benchmark` and the benchmark's table; :mod:`.demo` only adds building the demo set first.
The step profiler (:mod:`gsdd_basicsr.profiling`) and the GPU bundle (:mod:`gsdd_basicsr.gpu`) have their
own sub-packages.
"""
from gsdd_basicsr.benchmark.profiles import builtin_profiles, load_profile  # noqa: F401
from gsdd_basicsr.benchmark.report import time_to_reach  # noqa: F401
from gsdd_basicsr.benchmark.seed_stats import paired_delta, stats  # noqa: F401
from gsdd_basicsr.benchmark.runner import SCHEMA, Benchmark, class_layout, plan_budgets  # noqa: F401
from gsdd_basicsr.errors import GSDDError  # noqa: F401
