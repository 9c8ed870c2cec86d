"""What the import hook costs a Python process that never imports basicsr: docs/basicsr.md, "BasicSR's own
entry points". Times, in fresh interpreters started without ``site`` (so the installed ``.pth`` has not run
yet), what the ``.pth`` line does: ``import gsdd_basicsr_autoload; gsdd_basicsr_autoload.install()``,
with the module's bytecode cached as an install leaves it (one untimed run writes it first). The figure
varies with the machine.

    python docs/records/import_hook.py [--runs 30]     # -> docs/records/import_hook.json
"""
import argparse
import os
import statistics
import subprocess
import sys

from record import ROOT, save

PROBE = ('import os, sys, time; sys.path.insert(0, {root!r}); t = time.perf_counter(); '
         'import gsdd_basicsr_autoload; gsdd_basicsr_autoload.install(); '
         'print((time.perf_counter() - t) * 1e3)')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--runs', type=int, default=30, help='fresh interpreters to time (default 30)')
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONDONTWRITEBYTECODE'}  # use the cached bytecode
    cmd = [sys.executable, '-S', '-c', PROBE.format(root=ROOT)]
    subprocess.run(cmd, check=True, capture_output=True, env=env)  # writes the bytecode, as an install does
    ms = [float(subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout)
          for _ in range(args.runs)]
    save('import_hook', {'runs': args.runs, 'median_ms': round(statistics.median(ms), 3),
                         'min_ms': round(min(ms), 3), 'max_ms': round(max(ms), 3)})


if __name__ == '__main__':
    main()
