"""CASME (I) (spontaneous micro-expressions, sections A and B): coding spreadsheets and frame folders, 8 classes.

Official layout (``root`` = the folder holding the sheets and the sections)::

    CASME-A-coding.xlsx, CASME-B-coding.xlsx     (or CSV exports)
    CASME_A/Section A/sub01/EP01_5/EP01_5-1.jpg ...
    CASME_B/Section B/sub08/EP01_2/...

The frame folders are found as ``subNN/<Filename>`` anywhere below ``root``.
Spreadsheet columns used: ``Subject``, ``Filename``, ``OnsetFrame``,
``ApexFrame``, ``OffsetFrame`` (image numbers) and ``Emotion``. Classes: the
eight of CASME, amusement (named happiness), contempt, disgust, fear,
repression, sadness, surprise, tense; anything else is reported and left
out. The paper-standard 4-class subsets (e.g. disgust, repression, surprise,
tense) are a filter on the label column. Frame numbers become folder indices
as in :mod:`data_prep.datasets.casme2`; subject = ``subNN``; id =
``subNN_<Filename>``. Reading ``.xlsx`` needs openpyxl (extra ``datasets``).
"""

import glob
import os

from data_prep.datasets import DatasetError, finish
from data_prep.datasets.casme2 import clip_folders, coded_rows

__all__ = ["CLASSES", "build_manifest"]

CLASSES = ("contempt", "disgust", "fear", "happiness", "repression", "sadness", "surprise", "tense")


def build_manifest(root, strict=False):
    """The CASME I manifest (see the module docstring); ``strict`` turns problems into a DatasetError."""
    sheets = {}
    for pattern in ("CASME*coding*.xlsx", "CASME*coding*.csv"):  # a CSV export wins: it needs no openpyxl
        for path in sorted(glob.glob(os.path.join(root, pattern))):
            sheets[os.path.splitext(path)[0]] = path
    if not sheets:
        raise DatasetError(root, "coding spreadsheet not found (expected CASME-A-coding.xlsx / .csv ...)")
    clips = clip_folders(root)
    rows, problems = [], []
    for sheet in sorted(sheets.values()):
        sheet_rows, sheet_problems = coded_rows(sheet, clips, CLASSES, "Emotion")
        rows += sheet_rows
        problems += sheet_problems
    return finish(rows, problems, CLASSES, root, strict)
