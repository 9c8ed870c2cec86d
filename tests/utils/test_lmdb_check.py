"""gsdd_basicsr.utils.lmdb_check: an LMDB cut short is one error before any read (lmdb would die with SIGBUS)."""
import contextlib
import io
import os

import cv2
import numpy as np
import pytest

import gsdd_basicsr  # noqa: F401  (compat fixes before basicsr)
from gsdd_basicsr.errors import GSDDError, MissingInputError
from gsdd_basicsr.utils.lmdb_check import check_lmdb


@pytest.fixture
def lmdb_folder(tmp_path):
    """A real BasicSR LMDB (``basicsr.utils.lmdb_util``) of 6 random 32 px images, keys ``<class>/<i>``."""
    from basicsr.utils.lmdb_util import make_lmdb_from_imgs
    rng = np.random.default_rng(0)
    names = [f'{c}/{i}.png' for c in ('ant', 'bee') for i in range(3)]
    for name in names:
        os.makedirs(tmp_path / 'img' / os.path.dirname(name), exist_ok=True)
        cv2.imwrite(str(tmp_path / 'img' / name), rng.integers(0, 256, (32, 32, 3)).astype(np.uint8))
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        make_lmdb_from_imgs(str(tmp_path / 'img'), str(tmp_path / 'set.lmdb'), names, [n[:-4] for n in names])
    return tmp_path / 'set.lmdb'


def _cut(lmdb_folder, keep):
    data = lmdb_folder / 'data.mdb'
    data.write_bytes(data.read_bytes()[:keep(data.stat().st_size)])


def test_a_whole_lmdb_passes_and_reads(lmdb_folder):
    from gsdd_basicsr.data.class_image_dataset import ClassImageDataset
    check_lmdb(str(lmdb_folder))
    dataset = ClassImageDataset(dict(dataroot_gt=str(lmdb_folder), io_backend=dict(type='lmdb'), gt_size=16))
    assert dataset.class_names == ['ant', 'bee'] and dataset.read_image(0).shape == (32, 32, 3)


@pytest.mark.parametrize('keep', [lambda n: n // 2, lambda n: n - 4096, lambda n: 100],
                         ids=['half', 'last-page-missing', 'shorter-than-the-header'])
def test_an_lmdb_cut_short_is_named_before_any_read(lmdb_folder, keep):
    _cut(lmdb_folder, keep)
    with pytest.raises(GSDDError, match=f'LMDB {lmdb_folder} is cut short: data.mdb holds .* bytes.*copy the LMDB '
                                        'again .*; datasets.train.dataroot_gt names it'):
        check_lmdb(str(lmdb_folder), 'datasets.train.dataroot_gt')


def test_the_datasets_check_before_reading(lmdb_folder):
    """ClassImageDataset on a cut LMDB raises (in this process: without the check it would die with SIGBUS)."""
    from gsdd_basicsr.data.class_image_dataset import ClassImageDataset
    _cut(lmdb_folder, lambda n: n // 2)
    with pytest.raises(GSDDError, match='is cut short'):
        ClassImageDataset(dict(dataroot_gt=str(lmdb_folder), io_backend=dict(type='lmdb'), gt_size=16))


def test_a_folder_without_data_mdb_is_not_an_lmdb(tmp_path):
    with pytest.raises(MissingInputError, match=f'{tmp_path} is not an LMDB \\(no data.mdb\\)'):
        check_lmdb(str(tmp_path), 'dataroot_gt')
