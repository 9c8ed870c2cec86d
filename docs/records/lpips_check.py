"""The converted LPIPS weights on LPIPS's own example images: docs/gan_lpips.md, "LPIPS offline".

Scores ``ex_ref.png`` against ``ex_p0.png`` and ``ex_p1.png`` (``imgs/`` of github.com/richzhang/PerceptualSimilarity)
through our ``calculate_lpips`` and through the ``lpips`` package's own network code carrying the same
converted weights (``lpips.LPIPS(pnet_rand=True)``, nothing downloaded), and compares the converted linear heads
with those the ``lpips`` package ships. Needs the weights (tools/convert_lpips_weights.py) and ``pip install lpips``.

    git clone https://github.com/richzhang/PerceptualSimilarity
    python docs/records/lpips_check.py --images PerceptualSimilarity/imgs     # -> docs/records/lpips_check.json
"""
import argparse
import hashlib
import importlib.metadata
import os
import sys
import warnings

import cv2
import torch

from gsdd_basicsr.metrics.lpips_metric import calculate_lpips
from gsdd_basicsr.weights import lpips as lpips_weights
from record import save

PAIRS = {'ref vs p0': ('ex_ref.png', 'ex_p0.png'), 'ref vs p1': ('ex_ref.png', 'ex_p1.png')}


def package_network(net, sd):
    """The ``lpips`` package's LPIPS (random trunk: nothing is downloaded) with our converted state dict."""
    import lpips
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        ref = lpips.LPIPS(net=net, pnet_rand=True, verbose=False)
    shipped = {k: v.clone() for k, v in ref.state_dict().items() if k.startswith('lin') and not k.startswith('lins.')}
    own = ref.state_dict()
    for k in own:
        if k.startswith('net.slice'):  # net.slice<k>.<torchvision feature index>.<weight|bias>
            own[k] = sd['features.' + k.split('.', 2)[2]]
        elif k in shipped:  # lin<k>.model.1.weight
            own[k] = sd[f'lins.{k[3]}.weight']
    ref.load_state_dict(own)
    heads_equal = all(torch.equal(shipped[k], own[k]) for k in shipped)
    return ref.eval(), heads_equal


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--images', required=True, help='a folder holding ex_ref.png, ex_p0.png, ex_p1.png')
    args = parser.parse_args()
    imgs = {}
    for name in ('ex_ref.png', 'ex_p0.png', 'ex_p1.png'):
        imgs[name] = cv2.imread(os.path.join(args.images, name), cv2.IMREAD_COLOR)  # BGR uint8, as BasicSR's
        if imgs[name] is None:
            sys.exit(f'lpips_check.py: error: {args.images}/{name} cannot be read; '
                     'pass --images <PerceptualSimilarity>/imgs')
    result = {'lpips_package_version': importlib.metadata.version('lpips'), 'images_sha256': {}}
    for name in imgs:
        with open(os.path.join(args.images, name), 'rb') as f:
            result['images_sha256'][name] = hashlib.sha256(f.read()).hexdigest()
    for net in ('alex', 'vgg'):
        path = lpips_weights.default_path(net)
        ref, heads_equal = package_network(net, lpips_weights.load_state_dict(net, path))
        row = {'weights': path, 'bytes': os.path.getsize(path), 'heads_equal_to_lpips_package': heads_equal}
        for pair, (a, b) in PAIRS.items():
            ours = calculate_lpips(imgs[a], imgs[b], net=net)
            with torch.no_grad():
                x, y = (torch.from_numpy(imgs[n][..., ::-1].copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
                        for n in (a, b))
                theirs = ref(x, y).item()
            row[pair] = {'ours': round(float(ours), 6), 'lpips_package': round(theirs, 6),
                         'abs_difference': float(f'{abs(ours - theirs):.1e}')}
        result[net] = row
    save('lpips_check', result)


if __name__ == '__main__':
    main()
