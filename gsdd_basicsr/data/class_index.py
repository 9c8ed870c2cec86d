"""Which images a ClassImageDataset holds and the class of each: its index, built once at start-up.

:class:`ClassIndexMixin` lists the images of ``dataroot_gt`` (disk) or of an LMDB's
``meta_info.txt`` with their sizes and classes (``class_mode``: folder, meta, kmeans, instance),
keeps the ``classes`` asked for, skips images smaller than ``gt_size`` and numbers what remains.
The modes and options are described in :mod:`gsdd_basicsr.data.class_image_dataset`; meta files,
decoding and k-means are :mod:`gsdd_basicsr.data.class_sources`'s.
"""
from os import path as osp

import numpy as np
from basicsr.utils import get_root_logger

from gsdd_basicsr.data import class_sources as cs
from gsdd_basicsr.errors import GSDDError, MissingInputError
from gsdd_basicsr.utils.image_io import IMG_EXTENSIONS, class_of, image_size, list_class_folders, list_images


class ClassIndexMixin:
    """``_discover`` then ``_build``, called by :class:`ClassImageDataset`'s ``__init__``.

    ``_build`` sets ``class_names``, ``num_classes``, ``names``, ``paths``, ``sizes``, ``labels``,
    ``class_to_indices`` and ``skipped``; ``_kmeans`` reads images through the dataset's ``_get_bytes``.
    """

    # ------------------------------------------------------------------ discovery
    def _discover(self):
        """Returns parallel lists: display name, path/key, (h, w), class (None for kmeans)."""
        mode, root = self.class_mode, self.root
        meta_file = self.opt.get('meta_info_file')
        if mode == 'meta' and not meta_file:
            raise GSDDError("class_mode 'meta' needs meta_info_file (lines '<path or key> <class>').")

        if self.backend == 'lmdb':
            lmdb_meta = cs.read_lmdb_meta(root)
            if not lmdb_meta:
                raise GSDDError(f'LMDB {root!r} lists no images in its meta_info.txt.')
            if meta_file:
                entries = [(self._lmdb_key(name, lmdb_meta, meta_file), cls)
                           for name, cls in self._meta_entries(meta_file)]
            else:
                entries = [(key, None) for key in lmdb_meta]
            if mode == 'folder':
                if meta_file:
                    raise GSDDError("class_mode 'folder' takes its classes from the keys; use class_mode 'meta' "
                                     'for a meta_info_file with classes.')
                if not any('/' in k for k, _ in entries):
                    raise GSDDError(f"class_mode 'folder' on LMDB {root!r} needs keys '<class>/<name>'; none has "
                                     "a '/'. Use class_mode meta, kmeans or instance.")
                entries = [(k, class_of(k, None)) for k, _ in entries]
                dropped = sum(c is None for _, c in entries)
                if dropped:
                    get_root_logger().warning(f'ClassImageDataset: {dropped} LMDB keys without a class prefix '
                                              'ignored (folder mode).')
                entries = [(k, c) for k, c in entries if c is not None]
            names = [k for k, _ in entries]
            paths = list(names)
            sizes = [lmdb_meta[k] for k in names]
            classes = [c for _, c in entries]
        else:
            if mode == 'folder':
                folders = list_class_folders(root)
                if not folders:
                    loose = list_images(root)
                    hint = (f' It holds {len(loose)} images directly; use class_mode meta, kmeans or instance.'
                            if loose else '')
                    raise GSDDError(f"class_mode 'folder': {root!r} has no class sub-folders.{hint}")
                wanted = self.opt.get('classes')
                if wanted:
                    missing = [c for c in wanted if c not in folders]
                    if missing:
                        raise GSDDError(f'classes {missing} not found under {root!r}; available: {folders}.')
                entries = []
                for folder in folders:
                    imgs = list_images(osp.join(root, folder))
                    if not imgs:
                        self._empty_folders.append(folder)
                    entries += [(f'{folder}/{p}', folder) for p in imgs]
            elif meta_file:
                entries = self._meta_entries(meta_file)
            else:
                entries = [(p, None) for p in list_images(root)]
                if not entries:
                    raise GSDDError(f'dataroot_gt {root!r} contains no images ({", ".join(IMG_EXTENSIONS)}).')
            if mode in ('kmeans', 'instance'):
                entries = [(n, None) for n, _ in entries]
            names = [n for n, _ in entries]
            paths = [osp.join(root, n) for n in names]
            if mode == 'folder' and self.opt.get('classes'):
                keep = set(self.opt['classes'])
                sel = [i for i, (_, c) in enumerate(entries) if c in keep]
            else:
                sel = range(len(entries))
            sizes = [None] * len(entries)
            for i in sel:
                if not osp.isfile(paths[i]):
                    where = f' (listed in {meta_file!r})' if meta_file else ''
                    raise MissingInputError(f'Image {paths[i]!r}{where} does not exist.')
                sizes[i] = image_size(paths[i])
            classes = [c for _, c in entries]
        if mode == 'instance':
            classes = list(names)
        return names, paths, sizes, classes

    def _meta_entries(self, meta_file):
        if self.class_mode in ('kmeans', 'instance'):  # an image list: first column only
            entries = [(name, None) for name in cs.parse_image_list(meta_file)]
        else:
            entries = cs.parse_class_meta(meta_file)
        seen = set()
        for name, _ in entries:
            if name in seen:
                raise GSDDError(f'{meta_file!r} lists {name!r} twice.')
            seen.add(name)
        return entries

    @staticmethod
    def _lmdb_key(name, lmdb_meta, meta_file):
        if name in lmdb_meta:
            return name
        stem = osp.splitext(name)[0]
        if stem in lmdb_meta:
            return stem
        raise GSDDError(f'{meta_file!r} lists {name!r}, which is not a key of the LMDB (see its meta_info.txt).')

    # ------------------------------------------------------------------ classes
    def _build(self, names, paths, sizes, classes):
        gt, mode = self.gt_size, self.class_mode
        wanted = self.opt.get('classes')
        all_names = sorted(set(c for c in classes if c is not None)) if mode != 'instance' else list(
            dict.fromkeys(classes))

        if mode == 'kmeans':
            class_names = None
        elif wanted:
            wanted = [str(c) for c in wanted]
            missing = [c for c in wanted if c not in all_names]
            if missing:
                shown = all_names if len(all_names) <= 30 else all_names[:30] + ['...']
                raise GSDDError(f'classes {missing} not found; available: {shown}.')
            if len(set(wanted)) != len(wanted):
                raise GSDDError(f'classes lists a class twice: {wanted}.')
            class_names = wanted
        else:
            class_names = all_names
            for folder in self._empty_folders:
                raise GSDDError(f"Class {folder!r} has no images under {osp.join(self.root, folder)!r}.")
        keep_cls = set(class_names) if class_names is not None else None

        # skip images smaller than gt_size (per class count, one warning)
        keep, skipped, min_sides = [], {}, {}
        for i, (c, hw) in enumerate(zip(classes, sizes)):
            if keep_cls is not None and c not in keep_cls:
                continue
            label = c if c is not None else '(all)'
            min_sides.setdefault(label, []).append(min(hw))
            if hw[0] < gt or hw[1] < gt:
                skipped[label] = skipped.get(label, 0) + 1
            else:
                keep.append(i)
        self.skipped = skipped
        if skipped:
            total = sum(skipped.values())
            items = sorted(skipped.items())
            shown = ', '.join(f'{k}: {v}' for k, v in items[:20]) + (', ...' if len(items) > 20 else '')
            get_root_logger().warning(f'ClassImageDataset: skipped {total} images smaller than gt_size={gt} px '
                                      f'({shown}).')

        if mode == 'kmeans':
            if not keep:
                raise GSDDError(self._too_small_msg('(all)', min_sides.get('(all)', []), 0))
            k = self.opt.get('num_classes')
            if k is None:
                raise GSDDError("class_mode 'kmeans' needs num_classes.")
            km_labels = self._kmeans([paths[i] for i in keep], [sizes[i] for i in keep], int(k))
            for i, lab in zip(keep, km_labels):
                classes[i] = f'k{lab:02d}'
            all_names = [f'k{j:02d}' for j in range(int(k))]
            if wanted:
                wanted = [str(c) for c in wanted]
                missing = [c for c in wanted if c not in all_names]
                if missing:
                    raise GSDDError(f'classes {missing} not found; k-means classes are {all_names}.')
                class_names = wanted
            else:
                class_names = all_names
            keep = [i for i in keep if classes[i] in set(class_names)]
            for c in class_names:
                min_sides[c] = [min(sizes[i]) for i in keep if classes[i] == c]

        index_of = {c: j for j, c in enumerate(class_names)}
        self.class_names = list(class_names)
        self.num_classes = len(class_names)
        self.names = [names[i] for i in keep]
        self.paths = [paths[i] for i in keep]
        self.sizes = [tuple(sizes[i]) for i in keep]
        self.labels = [index_of[classes[i]] for i in keep]
        self.class_to_indices = [[] for _ in class_names]
        for idx, lab in enumerate(self.labels):
            self.class_to_indices[lab].append(idx)
        for c, idxs in zip(self.class_names, self.class_to_indices):
            if len(idxs) < self.min_images_per_class:
                raise GSDDError(self._too_small_msg(c, min_sides.get(c, []), len(idxs)))

    def _too_small_msg(self, cls, min_sides, usable):
        m = self.min_images_per_class
        if not min_sides:
            return f'Class {cls!r} has no images.'
        sides = sorted(min_sides, reverse=True)
        if len(sides) >= m:
            hint = f'the largest gt_size giving it {m} usable image(s) is {sides[m - 1]} px'
        else:
            hint = f'it has only {len(sides)} image(s) in all'
        return (f'Class {cls!r} has {usable} usable image(s) of at least gt_size={self.gt_size} px (needs '
                f'min_images_per_class={m}) out of {len(sides)}; {hint}.')

    def _kmeans(self, paths, sizes, k):
        """Pseudo-class of each image: k-means of small embeddings (one decode of every image)."""
        restarts, iters = self.opt.get('kmeans_restarts', 8), self.opt.get('kmeans_iters', 50)
        feats = []
        for path, hw in zip(paths, sizes):
            content = self._get_bytes(path)
            feats.append(cs.image_embedding(cs.decode_thumbnail(content, self._display(path), hw)))
        data = cs.standardise_embeddings(np.stack(feats))
        return cs.kmeans_labels(data, k, self.seed, restarts=restarts, iters=iters)
