"""Image-folder helpers shared by the export, the coresets, the datasets and the demo data.

One owner for: which files are images (:data:`IMG_EXTENSIONS`), listing an image folder,
the class of a relative path, an image's size from its header, reading / writing 8-bit RGB
files, the float BGR conversion every decoder ends with, the LR of an HR image (MATLAB bicubic,
the export's 8-bit rounding rule), BasicSR LMDBs, and the byte / pixel counts of a folder.

Conventions: arrays are ``H x W x C`` numpy; "RGB" / "BGR" name the channel order (OpenCV
decodes BGR); uint8 in ``[0, 255]``, float32 in ``[0, 1]``. Relative paths are
``/``-separated whatever the OS.
"""
import contextlib
import os
from os import path as osp

import cv2
import numpy as np

from gsdd_basicsr.errors import GSDDError, MissingInputError

#: Extensions (lower case) of the files treated as images: what OpenCV, and so BasicSR's
#: ``imfrombytes``, decodes among the common formats.
IMG_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp', '.ppm', '.pgm', '.pbm')


# ----------------------------------------------------------------------------------------------
# listing
# ----------------------------------------------------------------------------------------------
def is_image_file(name):
    """Whether ``name`` ends with one of :data:`IMG_EXTENSIONS` (case-insensitive)."""
    return name.lower().endswith(IMG_EXTENSIONS)


def list_images(root):
    """Image files under ``root``, recursively, as sorted ``/``-separated relative paths.

    Hidden files and folders (name starting with ``.``) are skipped.

    Raises:
        MissingInputError: ``root`` is not a folder.
        GSDDError: a folder under ``root`` cannot be read (no permission) or is a symlink to nothing: its images
            (a class) would go missing without a word.
    """
    if not osp.isdir(root):
        raise MissingInputError(f'image folder {root} does not exist')
    found = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=_unreadable):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith('.'))
        for name in filenames:
            if name.startswith('.'):
                continue
            path = osp.join(dirpath, name)
            if is_image_file(name):
                found.append(osp.relpath(path, root).replace(os.sep, '/'))
            elif osp.islink(path) and not osp.exists(path):  # os.walk lists a link to nothing as a file
                raise GSDDError(f'folder {path} is a symlink to {os.readlink(path)}, which does not exist; fix or '
                                'remove the link')
    return sorted(found)


def _unreadable(err):
    """``os.walk``'s ``onerror``: a folder it cannot list is an error, not a silently missing class."""
    raise GSDDError(f'folder {err.filename} cannot be read ({err.strerror}); give read and execute permission '
                    '(chmod a+rx) or move it out of the data folder') from err


def list_class_folders(root):
    """Sorted names of the non-hidden immediate sub-folders of ``root`` (symlinks to folders included).

    Raises:
        GSDDError: a sub-folder is a symlink to nothing or cannot be read: a class would vanish without a word.
    """
    folders = []
    for entry in os.scandir(root):
        if entry.name.startswith('.'):
            continue
        if entry.is_symlink() and not osp.exists(entry.path):
            raise GSDDError(f'class folder {entry.path} is a symlink to {os.readlink(entry.path)}, which does not '
                            'exist; fix or remove the link')
        if entry.is_dir():
            if not os.access(entry.path, os.R_OK | os.X_OK):
                raise GSDDError(f'class folder {entry.path} cannot be read (no permission); give read and execute '
                                'permission (chmod a+rx) or move it out of the data folder')
            folders.append(entry.name)
    return sorted(folders)


def class_of(rel_path, default='all'):
    """The class of an image given by its path (or LMDB key) relative to the set's root: its
    top-level folder, or ``default`` for an image directly in the root (OST layout)."""
    parts = rel_path.replace('\\', '/').split('/', 1)
    return parts[0] if len(parts) > 1 else default


# ----------------------------------------------------------------------------------------------
# reading and writing files
# ----------------------------------------------------------------------------------------------
def image_size(path):
    """``(h, w)`` of an image file, from its header when PIL can parse it (no full decode).

    Raises:
        GSDDError: naming ``path`` when neither PIL nor OpenCV can read it.
    """
    try:
        from PIL import Image
        with Image.open(path) as im:
            w, h = im.size
        return int(h), int(w)
    except Exception:  # PIL missing, unknown format, decompression-bomb guard ...
        pass
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise GSDDError(f'Cannot read image {path!r}: the file is corrupt or not an image.')
    return int(img.shape[0]), int(img.shape[1])


def read_rgb(path):
    """An image file as uint8 ``H x W x 3`` RGB (grey expanded, alpha dropped, 16-bit reduced to
    8-bit, EXIF orientation ignored so that the size matches :func:`image_size`)."""
    img = cv2.imread(path, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if img is None:
        raise GSDDError(f'cannot read image {path}')
    return np.ascontiguousarray(img[..., ::-1])


def write_rgb(path, img_rgb):
    """Write a uint8 ``H x W x 3`` RGB array (the format follows the extension), creating the folder.

    Raises:
        OSError: OpenCV could not write the file.
    """
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    if not cv2.imwrite(path, np.ascontiguousarray(img_rgb[..., ::-1])):
        raise OSError(f'cannot write {path}')


def to_float_bgr(img, name='image'):
    """Any decoded OpenCV image -> float32 ``H x W x 3`` BGR in ``[0, 1]``.

    Grey -> 3 channels, BGRA -> alpha dropped; uint8 / 255, uint16 / 65535 (other integer types
    by their maximum), floating point clipped to ``[0, 1]``. ``name`` is for the error message.
    """
    if img.dtype == np.uint8:
        img = img.astype(np.float32) / 255.
    elif img.dtype == np.uint16:
        img = img.astype(np.float32) / 65535.
    elif np.issubdtype(img.dtype, np.integer):
        img = img.astype(np.float32) / float(np.iinfo(img.dtype).max)
    elif np.issubdtype(img.dtype, np.floating):
        img = np.clip(img.astype(np.float32), 0., 1.)
    else:
        raise GSDDError(f'Image {name!r} has unsupported pixel type {img.dtype}.')
    if img.ndim == 2:
        img = img[:, :, None]
    c = img.shape[2]
    if c == 1:
        img = np.repeat(img, 3, axis=2)
    elif c == 2:  # grey + alpha
        img = np.repeat(img[:, :, :1], 3, axis=2)
    elif c >= 4:
        img = img[:, :, :3]
    return np.ascontiguousarray(img)


# ----------------------------------------------------------------------------------------------
# the SR degradation
# ----------------------------------------------------------------------------------------------
def lr_from_hr(hr, scale, quantize=True):
    """The LR of an HR image: ``basicsr.utils.matlab_functions.imresize`` by ``1 / scale``
    (MATLAB bicubic with antialiasing), channel-wise, so RGB and BGR alike.

    Args:
        hr (ndarray): ``H x W x C``, uint8, or float in ``[0, 1]``.
        scale (int): SR factor.
        quantize (bool): round to 8-bit levels (a uint8 result always is).

    Returns:
        ndarray: uint8 for a uint8 ``hr`` (``round(imresize(hr / 255) * 255)``, clipped: exactly the
        exported ``LR_bicubic`` PNG); float32 in ``[0, 1]`` otherwise, equal to that PNG / 255 when
        ``quantize``.
    """
    from basicsr.utils.matlab_functions import imresize
    hr = np.asarray(hr)
    as_uint8 = hr.dtype == np.uint8
    lr = imresize(hr.astype(np.float32) / 255. if as_uint8 else hr, 1 / scale)
    if as_uint8 or quantize:
        lr = np.clip(np.round(lr * 255.), 0, 255)
        return lr.astype(np.uint8) if as_uint8 else lr.astype(np.float32) / 255.
    return lr.astype(np.float32, copy=False)


# ----------------------------------------------------------------------------------------------
# LMDB and storage
# ----------------------------------------------------------------------------------------------
def write_lmdb(data_root, rel_paths, lmdb_path):
    """A BasicSR LMDB of the images ``data_root/<rel_path>`` (``basicsr.utils.lmdb_util``), keyed by
    the relative path without its extension, with BasicSR's ``meta_info.txt``.

    Raises:
        GSDDError: a key would contain a dot (basicsr splits names on it) or ``lmdb_path`` exists.
    """
    from basicsr.utils.lmdb_util import make_lmdb_from_imgs
    rel_paths = list(rel_paths)
    keys = [osp.splitext(p)[0] for p in rel_paths]
    for key in keys:
        if '.' in key:
            raise GSDDError(f'LMDB key {key!r} must not contain a dot (BasicSR splits names on it); rename the file')
    if osp.exists(lmdb_path):  # basicsr would sys.exit(1)
        raise GSDDError(f'LMDB {lmdb_path} already exists')
    total = sum(osp.getsize(osp.join(data_root, p)) for p in rel_paths)
    # basicsr prints a banner and a tqdm bar per LMDB; keep the callers' own progress lines only
    with open(os.devnull, 'w') as devnull, contextlib.redirect_stdout(devnull), contextlib.redirect_stderr(devnull):
        # map_size is only reserved address space; 10x the PNG bytes leaves room for re-encoding
        make_lmdb_from_imgs(data_root, lmdb_path, rel_paths, keys, map_size=max(64 << 20, 10 * total))


def folder_bytes(folder):
    """Bytes of every file under ``folder``, recursively."""
    return sum(osp.getsize(osp.join(r, f)) for r, _, fs in os.walk(folder) for f in fs)


def folder_stats(folder):
    """Bytes, image count and pixel count of the images under ``folder`` (e.g. a real training set).

    Returns:
        dict: ``path`` (absolute), ``bytes``, ``num_images``, ``num_pixels``.
    """
    files = list_images(folder)
    if not files:
        raise GSDDError(f'no images found under {folder}')
    total_bytes, pixels = 0, 0
    for rel in files:
        p = osp.join(folder, rel)
        total_bytes += osp.getsize(p)
        h, w = image_size(p)
        pixels += h * w
    return {'path': osp.abspath(folder), 'bytes': total_bytes, 'num_images': len(files), 'num_pixels': pixels}
