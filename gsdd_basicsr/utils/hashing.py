"""The one content hash of files: SHA-256 (weight checks, photo identity, set disjointness)."""
import hashlib


def file_sha256(path, chunk=1 << 20):
    """Hex SHA-256 of a file's bytes, read in ``chunk``-byte blocks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()
