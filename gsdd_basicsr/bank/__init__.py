"""Latent banks, what distillation produces.

- :mod:`~gsdd_basicsr.bank.format`: the file format (build, save, load, validate);
- :mod:`~gsdd_basicsr.bank.render`: the frozen generator of a bank and rendering its images;
- :mod:`~gsdd_basicsr.bank.names`: the file names of those images.
"""
