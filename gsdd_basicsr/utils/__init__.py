"""Small helpers with one owner each.

- :mod:`~gsdd_basicsr.utils.atomic`: crash-safe writes of every file and folder;
- :mod:`~gsdd_basicsr.utils.hashing`: the one content hash of files (SHA-256);
- :mod:`~gsdd_basicsr.utils.seeding`: keyed random streams and the ``deterministic: true`` settings;
- :mod:`~gsdd_basicsr.utils.progress`: the progress lines of long work;
- :mod:`~gsdd_basicsr.utils.plain`: plain Python data from parsed options;
- :mod:`~gsdd_basicsr.utils.image_io`: image files and folders (listing, classes, sizes, reading, writing),
  LR from HR, LMDBs: what the datasets, the sets and the tools read and write images with.
- :mod:`~gsdd_basicsr.utils.lmdb_check`: whether an LMDB is whole (a copy cut short), before anything reads it.
"""
