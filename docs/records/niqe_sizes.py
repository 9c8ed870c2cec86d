"""What basicsr's NIQE does with flat regions and small images: docs/realesrgan.md, "NIQE: sizes and the
"Mean of empty slice" warning". Calls ``calculate_niqe(img, 4)`` on uniform noise images (seed 0) of several
sizes, on noise with a white corner and on a constant image, and records the score or the error, and the
number of ``Mean of empty slice`` warnings.

    python docs/records/niqe_sizes.py     # -> docs/records/niqe_sizes.json
"""
import warnings

import numpy as np

import gsdd_basicsr  # noqa: F401  (compat fixes before basicsr)
from basicsr.metrics.niqe import calculate_niqe
from record import save

CASES = {  # name: (height, width, white corner side in px, constant)
    'noise 300 x 300': (300, 300, 0, False),
    'noise 300 x 300, 150 px white corner': (300, 300, 150, False),
    'noise 103 x 300': (103, 300, 0, False),
    'noise 104 x 104': (104, 104, 0, False),
    'noise 128 x 128': (128, 128, 0, False),
    'noise 199 x 199': (199, 199, 0, False),
    'noise 104 x 200': (104, 200, 0, False),
    'noise 200 x 104': (200, 104, 0, False),
    'constant 300 x 300': (300, 300, 0, True),
}


def score(h, w, corner, constant):
    """NIQE of one H x W x 3 uint8 image: {'niqe': float} or {'error': 'Type: first line'}, plus the warnings."""
    img = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    img[:corner, :corner] = 255
    if constant:
        img[:] = 128
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        try:
            out = {'niqe': round(float(calculate_niqe(img, 4)), 3)}
        except Exception as e:  # noqa: BLE001  (the error is the figure)
            out = {'error': f'{type(e).__name__}: {str(e).splitlines()[0][:80]}'}
    out['mean_of_empty_slice_warnings'] = sum('Mean of empty slice' in str(w.message) for w in caught)
    return out


def result():
    """The record's figures (deterministic: seed 0)."""
    return {name: score(*case) for name, case in CASES.items()}


def main():
    save('niqe_sizes', result())


if __name__ == '__main__':
    main()
