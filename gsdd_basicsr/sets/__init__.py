"""Image sets on disk: writing them, and the sets the project builds (reading image files:
:mod:`gsdd_basicsr.utils.image_io`).

- :mod:`~gsdd_basicsr.sets.sr_set_writer`: one prepare sequence for paired SR source sets
  (HR / LR folders, meta_info, LMDBs, info.json);
- :mod:`~gsdd_basicsr.sets.demo_data` / :mod:`~gsdd_basicsr.sets.photo_data`: the demo and real-photo sets;
- :mod:`~gsdd_basicsr.sets.export`: a latent bank exported as a paired SR set;
- :mod:`~gsdd_basicsr.sets.coreset`: real coresets (random, k-center, herding) at a budget.
"""
