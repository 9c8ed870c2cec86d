"""Running the project on a bare GPU machine (no network, no basicsr installed).

- :mod:`~gsdd_basicsr.gpu.bundle`: the bundle of code, wheels, weights and photos that ``tools/gpu_bundle.py``
  builds and ``tools/gpu_run.sh`` (its ``run.sh``) runs there (docs/gpu.md).
"""
