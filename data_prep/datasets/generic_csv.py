"""Any dataset described by a manifest CSV with the source columns (id, path, label, subject, onset, apex, offset).

``root`` is the CSV file, or a folder holding ``manifest.csv``. Paths are
relative to the CSV's folder (see :mod:`data_prep.manifest`). Labels are kept
as written, stripped (there is no canonical class set; ``Manifest.classes``
lists the labels found). Rows without a label or without a subject id are kept
and reported (one problem per column, with the count and the first ids),
because an unlabelled row may be meant for prediction only and a protocol
that needs subjects checks them itself; a path that does not exist, or
onset/apex/offset that are not frame indices in order, are reported and the
row left out.
"""

import os

from data_prep.datasets import DatasetError, Problem, finish
from data_prep.manifest import read_manifest

__all__ = ["build_manifest"]


def build_manifest(root, strict=False):
    """The rows of the manifest CSV ``root`` (or ``root/manifest.csv``); ``strict`` makes problems an error."""
    path = os.path.join(root, "manifest.csv") if os.path.isdir(root) else os.fspath(root)
    if not os.path.isfile(path):
        raise DatasetError(path, "manifest CSV not found (file missing)")
    try:
        source = read_manifest(path)
    except ValueError as error:
        raise DatasetError(path, str(error)) from None
    rows, problems = [], []
    for row in source:
        if not os.path.exists(row["path"]):
            problems.append(Problem(path, f"sample {row['id']!r}: {row['path']} does not exist; left out"))
            continue
        rows.append(row)
    for column in ("label", "subject"):
        empty = [row["id"] for row in rows if not row[column]]
        if empty:
            problems.append(Problem(path, f"{len(empty)} sample(s) without a {column}, kept: {empty[:5]}"))
    classes = sorted({row["label"] for row in rows if row["label"]})
    return finish(rows, problems, classes, root, strict, source=path)
