"""The CSV files of data preparation: their columns, reading them, and writing them atomically.

| file | one row per | columns |
|---|---|---|
| dataset manifest (input, from a dataset adapter or by hand) | sample | :data:`SOURCE_COLUMNS` |
| ``OUT/manifest.csv`` (written by ``keras-fer prepare``) | usable sample | :data:`PREPARED_COLUMNS` |
| ``OUT/failures.csv`` | file that could not be used | :data:`FAILURE_COLUMNS` |
| ``OUT/crops/<id>/frames.csv`` | examined frame of one sample | :data:`FRAME_COLUMNS` |

Source columns: ``id`` (unique, used as a folder name), ``path`` (video file
or frame folder; relative paths are relative to the manifest's folder),
``label`` (class name), ``subject`` (for subject-independent splits), and
``onset``, ``apex``, ``offset`` (frame indices of the expression in the source
video, empty when unknown). Only ``id`` and ``path`` are required; missing
optional columns read as empty strings. :func:`row_problems` says what is
impossible in a row (phases that are not frame indices in order, a label
outside the dataset's classes); the dataset adapters and ``keras-fer prepare``
report such rows and leave them out.

Every write goes through :func:`data_prep.files.atomic_path` (a temporary
name in the same folder, then a rename), so a reader never sees a half-written file.

Example:

>>> from data_prep.manifest import SOURCE_COLUMNS, read_manifest, write_csv
>>> write_csv("m.csv", SOURCE_COLUMNS, [{"id": "a", "path": "a.mp4"}])  # doctest: +SKIP
>>> read_manifest("m.csv")[0]["label"]                                 # doctest: +SKIP
''
"""

import csv
import os
import re

from data_prep.files import atomic_path

__all__ = [
    "FAILURE_COLUMNS",
    "FRAME_COLUMNS",
    "PREPARED_COLUMNS",
    "SOURCE_COLUMNS",
    "check_sample_id",
    "read_csv",
    "read_failures",
    "read_manifest",
    "row_problems",
    "write_csv",
]

SOURCE_COLUMNS = ("id", "path", "label", "subject", "onset", "apex", "offset")
PREPARED_COLUMNS = SOURCE_COLUMNS + ("n_frames", "fps", "crops_dir", "n_crops", "n_no_face")
FAILURE_COLUMNS = ("file", "reason")
PHASE_COLUMNS = ("onset", "apex", "offset")
FRAME_COLUMNS = ("frame_index", "file", "status", "x0", "y0", "x1", "y1")
_REQUIRED_SOURCE_COLUMNS = ("id", "path")
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def check_sample_id(sample_id, where):
    """Raise ValueError unless ``sample_id`` is usable as a folder name (letters, digits, ``._+-``)."""
    if not isinstance(sample_id, str) or not _SAFE_ID.match(sample_id) or sample_id.endswith("."):
        raise ValueError(
            f"{where}: sample id {sample_id!r} must start with a letter or digit and use only letters, "
            "digits and . _ + - (it names the sample's crop folder)"
        )


def row_problems(row, classes=None, n_frames=None):
    """What is impossible in a source row, as a list of messages (empty when nothing is).

    Args:
        row: a source row (strings; empty cells are unknown values).
        classes: the dataset's class names, or None to accept any label.
        n_frames: the video's frame count, or None when not known yet.

    The given ones of onset, apex, offset must be frame indices (integers
    >= 0) with onset <= apex <= offset, below ``n_frames`` when it is known.
    """
    problems = []
    phases = {column: (row.get(column) or "").strip() for column in PHASE_COLUMNS}
    given = [(column, value) for column, value in phases.items() if value]
    written = f"onset,apex,offset={','.join(phases.values())}"
    if any(not (value.isascii() and value.isdigit()) for _, value in given):
        problems.append(f"{written}: not frame indices (integers >= 0)")
    else:
        values = [int(value) for _, value in given]
        if values != sorted(values):
            problems.append(f"{written}: not onset <= apex <= offset")
        if n_frames is not None and values and max(values) >= n_frames:
            problems.append(f"{written}: beyond the video's last frame {n_frames - 1} ({n_frames} frames)")
    label = (row.get("label") or "").strip()
    if classes is not None and label and label not in classes:
        problems.append(f"label {label!r} is not one of the dataset's classes {tuple(classes)}")
    return problems


def write_csv(path, columns, rows):
    """Write ``rows`` (dicts; missing keys become empty cells) under ``columns``, atomically.

    Raises:
        ValueError: a row has a key that is not a column.
    """
    with atomic_path(path) as temporary, open(temporary, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), restval="", extrasaction="raise")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: ("" if value is None else value) for key, value in row.items()})


def read_csv(path, required=()):
    """Rows of a CSV file as dicts of strings.

    Raises:
        ValueError: the file has no header or lacks a required column (the
            message names the file and the columns).
    """
    path = os.fspath(path)
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None:
            raise ValueError(f"{path}: empty CSV file (no header)")
        missing = [column for column in required if column not in reader.fieldnames]
        if missing:
            raise ValueError(f"{path}: missing column(s) {missing}; the header is {reader.fieldnames}")
        return [dict(row) for row in reader]


def read_manifest(path):
    """A dataset manifest: one dict per sample with every :data:`SOURCE_COLUMNS` key.

    Relative ``path`` values are made absolute against the manifest's folder;
    extra columns are kept.

    Raises:
        ValueError: a required column is missing, an id is empty, unsafe as a
            folder name or repeated, or a path is empty (naming the file and row).
    """
    path = os.fspath(path)
    rows = read_csv(path, required=_REQUIRED_SOURCE_COLUMNS)
    base = os.path.dirname(os.path.abspath(path))
    seen = {}
    for line, row in enumerate(rows, start=2):
        for column in SOURCE_COLUMNS:
            row[column] = (row.get(column) or "").strip()
        check_sample_id(row["id"], f"{path} line {line}")
        if row["id"] in seen:
            raise ValueError(f"{path} line {line}: sample id {row['id']!r} already used on line {seen[row['id']]}")
        seen[row["id"]] = line
        if not row["path"]:
            raise ValueError(f"{path} line {line}: empty `path` for sample {row['id']!r}")
        row["path"] = os.path.normpath(os.path.join(base, row["path"]))
    return rows


def read_failures(path):
    """The rows of a ``failures.csv``: dicts with ``file`` and ``reason``."""
    return read_csv(path, required=FAILURE_COLUMNS)
