"""The distillation core that :class:`gsdd_basicsr.models.gsdd_model.GSDDModel` runs every step.

- :mod:`~gsdd_basicsr.distill.options`: the typed ``gsdd:`` options table;
- :mod:`~gsdd_basicsr.distill.augment`: siamese augmentation (one draw for real and synthetic);
- :mod:`~gsdd_basicsr.distill.matching`: the embedding spaces and the distribution-matching loss;
- :mod:`~gsdd_basicsr.distill.resampling`: resampling kernels with deterministic CUDA backwards;
- :mod:`~gsdd_basicsr.distill.acceleration`: mixed precision, compilation and memory layout.
"""
