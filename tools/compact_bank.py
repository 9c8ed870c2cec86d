#!/usr/bin/env python
"""Re-save a latent bank with float16 or 8-bit latents and report what it saves and costs.

    python tools/compact_bank.py --latents experiments/<name>/models/latents_latest.pth \\
        --out experiments/<name>/models/latents_latest_uint8.pth --dtype uint8 [--weights G.pth]

Prints the bytes before and after and the PSNR of the images rendered from the compact latents
against those rendered from the original ones. Every reader (export, GANLatentDataset) loads a
compact bank as float32 latents. Bad input: one line on stderr, exit status 2, nothing written.
"""
import argparse
import json

import gsdd_basicsr  # noqa: F401  (compat fixes before basicsr)
from gsdd_basicsr.bank.format import LATENT_DTYPES
from gsdd_basicsr.bank.render import compact_bank
from gsdd_basicsr.cli import user_errors


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--latents', required=True, help='latent bank to compact')
    parser.add_argument('--out', required=True, help='the compact bank (.pth)')
    parser.add_argument('--dtype', required=True, choices=LATENT_DTYPES, help='how the latents are stored')
    parser.add_argument('--weights', default=None, help="generator weights (default: the bank's pretrain_network_g)")
    parser.add_argument('--device', default='auto', help='auto | cpu | cuda (default auto)')
    args = parser.parse_args(argv)
    with user_errors('compact_bank'):
        report = compact_bank(args.latents, args.out, args.dtype, weights=args.weights, device=args.device)
    print(json.dumps(report))


if __name__ == '__main__':
    main()
