"""``python -m gsdd_basicsr.benchmark --help``: the benchmark's command line (:mod:`gsdd_basicsr.benchmark.cli`)."""
from gsdd_basicsr.benchmark.cli import main

if __name__ == '__main__':
    main()
