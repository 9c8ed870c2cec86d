"""Progress lines of long work (source sets, the benchmark, the demo, the GPU bundle).

One format, ``[<what>] <message>`` on stdout, flushed at once so a piped or backgrounded run shows each
line as it happens. BasicSR's own runs keep BasicSR's logger; these lines are the steps around them.
"""


def progress(what):
    """A ``log(msg)`` function printing ``[what] msg``.

    Args:
        what (str): the work, e.g. ``'benchmark'``.
    """
    def log(msg):
        print(f'[{what}] {msg}', flush=True)
    return log
