"""Atomic file writes (the one writer every file of keras-fer goes through) and file checksums.

A file is written under a hidden temporary name in its own folder, flushed to
disk, then renamed over its final name (``os.replace``, atomic on POSIX), so a
reader never sees half a file and a process killed at any moment leaves either
the old file or the new one. A failed write removes its temporary file.

Example:

>>> from data_prep.files import atomic_path, write_json
>>> write_json("result.json", {"accuracy": 0.5})                  # doctest: +SKIP
>>> with atomic_path("model.keras", suffix=".keras") as partial:  # doctest: +SKIP
...     model.save(partial)          # a writer that needs the final file's suffix
"""

import contextlib
import hashlib
import json
import os
import shutil

__all__ = ["atomic_path", "sha256_of_file", "temporary_name", "write_bytes", "write_json", "write_text"]


def temporary_name(path, suffix=""):
    """A hidden name beside ``path``, unique to this process, for writing before the rename.

    ``suffix`` is appended for writers that insist on an extension (``.keras``, ``.avi``).
    """
    folder, name = os.path.split(os.fspath(path))
    return os.path.join(folder, f".{name}.partial-{os.getpid()}{suffix}")


def _fsync(path):
    if os.path.isfile(path):
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yield a temporary path beside ``path``; on success flush it to disk and rename it to ``path``.

    On any error the temporary file (or folder) is removed and ``path`` is untouched.
    """
    path = os.fspath(path)
    temporary = temporary_name(path, suffix)
    try:
        yield temporary
        _fsync(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.isdir(temporary):
            shutil.rmtree(temporary, ignore_errors=True)
        elif os.path.lexists(temporary):
            os.remove(temporary)


def write_bytes(path, data):
    """Write ``data`` (bytes) to ``path`` atomically."""
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        handle.write(data)


def write_text(path, text):
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as temporary, open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)


def write_json(path, data, *, indent=2, sort_keys=False):
    """Write ``data`` as indented JSON (with a final newline) to ``path`` atomically."""
    write_text(path, json.dumps(data, indent=indent, sort_keys=sort_keys) + "\n")


def sha256_of_file(path, chunk_size=1 << 20):
    """Hex SHA-256 of a file, read in chunks (constant memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()
