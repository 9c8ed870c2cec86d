"""``python -m gsdd_basicsr.benchmark --help``: the benchmark's command line
(:mod:`gsdd_basicsr.benchmark.command_line`)."""
from gsdd_basicsr.benchmark.command_line import main

if __name__ == '__main__':
    main()
