"""Small helpers with one owner each: atomic writes, file hashes, keyed random streams and
determinism, plain data from parsed options."""
