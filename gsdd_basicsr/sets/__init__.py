"""Image sets on disk: writing them, and the sets the project builds (reading image files:
:mod:`gsdd_basicsr.utils.image_io`).

- :mod:`~gsdd_basicsr.sets.sr_set_writer`: one prepare sequence for paired SR source sets
  (HR / LR folders, meta_info, LMDBs, info.json);
- :mod:`~gsdd_basicsr.sets.demo_data` / :mod:`~gsdd_basicsr.sets.photo_data`: the demo and real-photo sets;
- :mod:`~gsdd_basicsr.sets.export`: a latent bank exported as a paired SR set;
- :mod:`~gsdd_basicsr.sets.coreset`: real coresets (random, informative, k-center) at a budget, per class
  where the source has class folders;
- :mod:`~gsdd_basicsr.sets.class_lmdb`: a class-labelled BasicSR LMDB (keys ``<class>/<name>``) from class
  folders, for ClassImageDataset's lmdb backend.
"""
