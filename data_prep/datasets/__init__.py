"""Dataset adapters: each turns a dataset's official directory layout into a manifest.

Every adapter module ``data_prep.datasets.<name>`` has

* ``CLASSES``: the dataset's canonical class names (lower case, the names
  used in the manifest's ``label`` column);
* ``build_manifest(root, strict=False)``: a :class:`Manifest` (a list of
  :data:`~data_prep.manifest.SOURCE_COLUMNS` dicts, one per sample, sorted by
  id) with the problems found attached; this is what
  ``keras-fer prepare --dataset NAME --root DIR`` calls;
* where the dataset ships official splits (AFEW, DFEW, UCF-101):
  ``splits(root)`` (also :func:`splits` ``(name, root)`` here), a dict
  ``{split name: {"train": [ids], "test": [ids]}}``.
  Splits are a function rather than extra manifest columns because one sample
  belongs to several splits (DFEW's five folds, UCF-101's three splits) and the
  prepared manifest keeps only the source columns.

Problems are never skipped in silence. Unknown labels, missing label files,
samples without a subject id, unreadable annotation rows, impossible
onset/apex/offset (:func:`~data_prep.manifest.row_problems`): each becomes a
:class:`Problem` (file + message). With ``strict=False`` (the default) the
samples that cannot be labelled are left out of the rows, every problem is
listed in ``Manifest.problems`` and emitted as a :class:`DatasetWarning`
(shown on stderr by ``keras-fer prepare``); with ``strict=True`` any problem
raises :class:`DatasetError` listing them all. A layout that cannot be read at
all (no annotation file, no sample) always raises :class:`DatasetError`.

Example:

>>> from data_prep import datasets
>>> datasets.list_datasets()[:3]
['afew', 'bu3dfe', 'casme1']
>>> rows = datasets.build_manifest("crema_d", "CREMA-D/VideoFlash")  # doctest: +SKIP
>>> rows[0]["label"], rows[0]["subject"], rows.problems             # doctest: +SKIP
('anger', '1001', [])
"""

import csv
import dataclasses
import importlib
import os
import re
import warnings

from data_prep import manifest
from data_prep.checks import check_choice, fail

__all__ = [
    "ADAPTERS",
    "DatasetError",
    "DatasetWarning",
    "Manifest",
    "Problem",
    "build_manifest",
    "list_datasets",
    "normalise_label",
    "read_coding_sheet",
    "splits",
]

ADAPTERS = {
    "afew": "AFEW: Train/Val folders of .avi clips, 7 classes",
    "bu3dfe": "BU-3DFE: 2D texture images per subject, 6 expressions x 4 intensities + neutral",
    "casme1": "CASME I: coding spreadsheet + frame folders, 8 emotion classes",
    "casme2": "CASME II: coding spreadsheet + frame folders, 5 classes",
    "ckplus": "CK+: 327 labelled sequences, 7 classes with contempt",
    "crema_d": "CREMA-D: labels in file names, 6 classes",
    "dfew": "DFEW: frame folders + 5-fold split files, 7 classes",
    "generic_csv": "generic manifest CSV with the source columns",
    "mmi": "MMI: sessions with an emotion annotation file, 6 classes",
    "oulu_casia": "Oulu-CASIA: VL strong illumination, 6 classes",
    "smic": "SMIC-HS: micro-expression frame folders, 3 classes",
    "synthetic": "the built-in synthetic benchmark (data_prep.synthetic), generated on first use",
    "ucf101": "UCF-101: 101 action classes, class index and 3 official splits",
}

# Spellings found in the datasets' folder names, file names and annotation files.
_ALIASES = {
    "anger": ("anger", "angry", "ang", "an", "mad"),
    "contempt": ("contempt", "con"),
    "disgust": ("disgust", "disgusted", "dis", "di"),
    "fear": ("fear", "fearful", "afraid", "fea", "fe"),
    "happiness": ("happiness", "happy", "hap", "ha", "joy", "amusement"),
    "neutral": ("neutral", "neu", "ne"),
    "sadness": ("sadness", "sad", "sa"),
    "surprise": ("surprise", "surprised", "sur", "su"),
    "repression": ("repression",),
    "tense": ("tense", "tension"),
    "others": ("others", "other"),
    "positive": ("positive", "po", "pos"),
    "negative": ("negative", "ne", "neg"),
}


class DatasetError(ValueError):
    """A dataset layout or annotation that cannot be read; the message names the file and the problem."""

    def __init__(self, path, problem):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class DatasetWarning(UserWarning):
    """A problem in a dataset that left a sample out or incomplete (see :class:`Problem`)."""


@dataclasses.dataclass(frozen=True)
class Problem:
    """One problem found while reading a dataset: the file concerned and what is wrong."""

    file: str
    message: str

    def __str__(self):
        return f"{self.file}: {self.message}"


class Manifest(list):
    """The rows of a dataset (a list of source-row dicts) with ``problems`` and ``classes`` attached."""

    def __init__(self, rows, problems, classes):
        super().__init__(rows)
        self.problems = list(problems)
        self.classes = tuple(classes)


def list_datasets():
    """The adapter names, sorted (``keras-fer prepare --dataset NAME``)."""
    return sorted(ADAPTERS)


def build_manifest(name, root, strict=False):
    """The manifest of dataset ``name`` read from ``root`` (see the module docstring)."""
    check_choice(name, list_datasets(), "name")
    return importlib.import_module(f"data_prep.datasets.{name}").build_manifest(root, strict=strict)


def splits(name, root):
    """The official splits of dataset ``name``: ``{split name: {"train": [ids], "test": [ids]}}``.

    Raises:
        ValueError: unknown dataset, or one without official splits (the message lists those with splits).
    """
    check_choice(name, list_datasets(), "name")
    adapter = importlib.import_module(f"data_prep.datasets.{name}")
    if not hasattr(adapter, "splits"):
        fail("name", f"a dataset with official splits, one of {tuple(_WITH_SPLITS)}", name)
    return adapter.splits(root)


_WITH_SPLITS = ("afew", "dfew", "ucf101")


def normalise_label(raw, classes):
    """The canonical class name of ``raw`` among ``classes``, or None when it is not one of them.

    Case, surrounding spaces, and the dataset spellings of :data:`_ALIASES`
    (``Angry``, ``ANG``, ``happy``, ...) are accepted.
    """
    key = str(raw).strip().lower().replace("_", " ")
    for name in classes:
        if key == name or key in _ALIASES.get(name, ()):
            return name
    return None


def source_row(sample_id, path, label="", subject="", onset="", apex="", offset=""):
    """One manifest row; the id is checked to be usable as a folder name."""
    manifest.check_sample_id(sample_id, f"sample {path}")
    return {"id": sample_id, "path": os.path.abspath(path), "label": label, "subject": subject,
            "onset": _cell(onset), "apex": _cell(apex), "offset": _cell(offset)}


def _cell(value):
    return "" if value is None else str(value)


def require_folder(path, what):
    """Raise DatasetError unless ``path`` is a folder; ``what`` says which part of the layout it is."""
    if not os.path.isdir(path):
        raise DatasetError(path, f"{what} not found (folder missing)")
    return path


def sorted_subfolders(path):
    """The names of the subfolders of ``path``, sorted; hidden ones ignored."""
    return sorted(name for name in os.listdir(path) if not name.startswith(".")
                  and os.path.isdir(os.path.join(path, name)))


def check_rows(rows, classes, source=None):
    """The rows that :func:`~data_prep.manifest.row_problems` finds possible, and a :class:`Problem` for each other.

    ``source`` is the file the rows were read from (a manifest CSV), named in
    the problems; None names each sample's own path.
    """
    kept, problems = [], []
    for row in rows:
        found = manifest.row_problems(row, classes)
        if found:
            problems.append(Problem(source or row["path"], f"sample {row['id']!r}: {'; '.join(found)}; left out"))
        else:
            kept.append(row)
    return kept, problems


def report(problems, root, strict):
    """Raise DatasetError listing ``problems`` when ``strict``, else emit each as a :class:`DatasetWarning`."""
    if problems and strict:
        listing = "\n  ".join(str(problem) for problem in problems)
        raise DatasetError(root, f"{len(problems)} problem(s):\n  {listing}")
    for problem in problems:
        warnings.warn(str(problem), DatasetWarning, stacklevel=3)


def finish(rows, problems, classes, root, strict, source=None):
    """Check rows and ids, sort the rows, report the problems; the common end of every ``build_manifest``.

    Rows with impossible phases or a label outside ``classes`` are left out
    (:func:`check_rows`; ``source`` as there).

    Raises:
        DatasetError: no sample at all, a repeated id, or (``strict``) any problem.
    """
    rows, impossible = check_rows(rows, classes, source)
    problems = list(problems) + impossible
    if not rows:
        detail = "; ".join(str(problem) for problem in problems[:5])
        raise DatasetError(root, "no labelled sample found in the expected layout" + (f" ({detail})" if detail else ""))
    seen = {}
    for row in rows:
        if row["id"] in seen:
            raise DatasetError(row["path"], f"sample id {row['id']!r} also used by {seen[row['id']]}")
        seen[row["id"]] = row["path"]
    report(problems, root, strict)
    return Manifest(sorted(rows, key=lambda row: row["id"]), problems, classes)


def frame_number_offset(folder):
    """The number in the first frame file of a frame folder (CASME frames start at e.g. ``img46.jpg``)."""
    numbers = [int(found[-1]) for name in os.listdir(folder)
               if name.lower().endswith((".jpg", ".jpeg", ".png", ".bmp"))
               for found in [re.findall(r"\d+", os.path.splitext(name)[0])] if found]
    return min(numbers) if numbers else None


def read_coding_sheet(path):
    """The rows of an annotation spreadsheet (``.xlsx`` with openpyxl, or a CSV export) as dicts of strings.

    Header cells are stripped; empty rows are dropped.

    Raises:
        DatasetError: unsupported extension, openpyxl missing for ``.xlsx``, or no header.
    """
    extension = os.path.splitext(path)[1].lower()
    if extension == ".csv":
        with open(path, newline="", encoding="utf-8-sig") as handle:
            table = list(csv.reader(handle))
    elif extension in (".xlsx", ".xlsm"):
        try:
            import openpyxl
        except ImportError:
            raise DatasetError(path, "reading .xlsx needs openpyxl (pip install 'keras-fer[datasets]'), "
                                     "or export the sheet as CSV next to it") from None
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        rows = book.worksheets[0].iter_rows(values_only=True)
        table = [["" if cell is None else cell for cell in row] for row in rows]
        book.close()
    else:
        raise DatasetError(path, f"unsupported coding sheet format {extension!r} (use .xlsx or .csv)")
    table = [row for row in table if any(str(cell).strip() for cell in row)]
    if not table:
        raise DatasetError(path, "empty coding sheet (no header)")
    header = [str(cell).strip() for cell in table[0]]
    return [{key: _sheet_cell(value) for key, value in zip(header, row)} for row in table[1:]]


def _sheet_cell(value):
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()
