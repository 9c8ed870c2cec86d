"""The GPU bundle's size and its rehearsal on a CPU: docs/gpu.md, "The decisive run on one GPU". Summarises a
bundle folder (its ``MANIFEST.json``, written by ``tools/gpu_bundle.py build``) and the output folder of
``run.sh --smoke`` (its ``steps.tsv``: each step's exit status and seconds; ``pytest_cuda.txt``; the smoke
benchmark's report). The seconds vary with the machine.

    python tools/gpu_bundle.py build --out /tmp/rehearse --python-version 3.11
    PYTHON=python bash /tmp/rehearse/run.sh /tmp/rehearse_out --smoke
    python docs/records/gpu_rehearsal.py --bundle /tmp/rehearse --out /tmp/rehearse_out   # -> gpu_rehearsal.json
"""
import argparse
import csv
import json
import os
import sys

from record import save


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--bundle', required=True, help='the bundle folder (tools/gpu_bundle.py build --out)')
    parser.add_argument('--out', required=True, help='the folder run.sh --smoke wrote')
    args = parser.parse_args()
    manifest, steps = os.path.join(args.bundle, 'MANIFEST.json'), os.path.join(args.out, 'steps.tsv')
    for path, made_by in ((manifest, 'tools/gpu_bundle.py build'), (steps, 'run.sh --smoke')):
        if not os.path.isfile(path):
            sys.exit(f'gpu_rehearsal.py: error: {path} does not exist; make it with {made_by} (see --help)')
    with open(manifest, encoding='utf-8') as f:
        bundle = json.load(f)
    with open(steps, encoding='utf-8') as f:
        rows = [r for r in csv.reader(f, delimiter='\t') if r]
    with open(os.path.join(args.out, 'pytest_cuda.txt'), encoding='utf-8') as f:
        pytest_line = [line.strip() for line in f if ' in ' in line and ('passed' in line or 'skipped' in line)][-1]
    with open(os.path.join(args.out, 'benchmark_photo_gpu', 'benchmark.json'), encoding='utf-8') as f:
        report = json.load(f)
    size = bundle['size']
    save('gpu_rehearsal', {
        'python_version': bundle['python_version'], 'wheels': bundle['wheels'],
        'bundle_mib': {**{part: v['mib'] for part, v in size['parts'].items()}, 'total': size['total_mib']},
        'bundle_bytes': size['total_bytes'],
        'steps': [{'step': name, 'exit': int(code), 'seconds': float(sec)} for name, code, sec in rows],
        'pytest_cuda': pytest_line,
        'benchmark_photo_gpu': {'rows': len(report['rows']), 'complete': report['complete'],
                                'run_seconds': round(report['run_seconds'], 1)},
    })


if __name__ == '__main__':
    main()
