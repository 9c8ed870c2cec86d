#!/usr/bin/env python
"""The end-to-end demo, offline, on a CPU: real data -> GSDD bank -> SR training -> comparison.

    python tools/run_demo.py [--root DIR] [--fresh] [--override YAML]

In the current folder (or --root): builds datasets/demo when missing, then runs the benchmark profile
"demo" (options/benchmark/demo.yml) in results/demo_x4: converts the compact Real-ESRGAN generator when
missing, distils, exports, picks a random coreset of the same size, trains and tests the same EDSR on
each (and on the full set; bicubic as the floor), and prints the benchmark's table. A rerun keeps every
finished set and row. See :mod:`gsdd_basicsr.benchmark.demo`.
"""
import argparse
import os
import shlex
import sys

import gsdd_basicsr  # noqa: F401  (compat fixes before basicsr)
from gsdd_basicsr.benchmark.demo import run_demo
from gsdd_basicsr.benchmark.profiles import resolve_path
from gsdd_basicsr.cli import user_errors
from gsdd_basicsr.errors import MissingInputError

PROG = 'run_demo.py'


def main(argv=None):
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--root', default=None,
                        help='the folder that gets datasets/, experiments/ and results/ (default: the current one)')
    parser.add_argument('--fresh', action='store_true', help='remove the previous demo results first')
    parser.add_argument('--override', default=None,
                        help='a YAML of profile settings merged onto the demo profile (e.g. fewer iterations)')
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    with user_errors(PROG):
        override = args.override and resolve_path(args.override, '--override')  # before --root changes the folder
        if args.root is not None:
            if not os.path.isdir(args.root):
                raise MissingInputError(f'--root {args.root} is not a folder; create it or pick another')
            os.chdir(args.root)  # as `cd DIR && python tools/run_demo.py`
        run_demo(fresh=args.fresh, override=override,
                 command='python tools/run_demo.py ' + ' '.join(shlex.quote(a) for a in argv))
    return 0


if __name__ == '__main__':
    main()
