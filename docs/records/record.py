"""Writes one figure record for the docs: ``docs/records/<name>.json``.

Each script in this folder computes the figures one doc section gives and saves them with :func:`save` as
``{"command": ..., "made": <ISO date>, "versions": {...}, "result": {...}}``; rerun it and ``git diff`` the
record to compare.
"""
import datetime
import json
import os
import platform
import shlex
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def save(name, result):
    """Write ``result`` (a JSON-able dict) with the command that made it; returns the record's path."""
    import basicsr
    import torch
    script = os.path.relpath(os.path.abspath(sys.argv[0]), ROOT)
    record = {
        'command': ' '.join(shlex.quote(a) for a in ['python', script] + sys.argv[1:]),
        'made': datetime.date.today().isoformat(),
        'versions': {'python': platform.python_version(), 'torch': torch.__version__, 'basicsr': basicsr.__version__},
        'result': result,
    }
    path = os.path.join(HERE, name + '.json')
    with open(path + '.tmp', 'w', encoding='utf-8') as f:
        json.dump(record, f, indent=2)
        f.write('\n')
    os.replace(path + '.tmp', path)
    print(json.dumps(result, indent=2))
    print(f'wrote {os.path.relpath(path, ROOT)}')
    return path
