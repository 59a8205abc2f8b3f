"""BU-3DFE (Binghamton 3D facial expression): the 2D texture images, 6 expressions x 4 intensities + neutral.

Official layout (``root`` = the folder holding the subject folders)::

    F0001/F0001_AN01WH_F2D.bmp     <subject>_<expression><intensity><race>_F2D.bmp
    F0001/F0001_NE00WH_F2D.bmp     neutral, intensity 00
    F0001/F0001_AN01WH_F3D.wrl     3D meshes (ignored)

Expressions: AN anger, DI disgust, FE fear, HA happiness, NE neutral, SA
sadness, SU surprise; intensities 01 (low) to 04 (peak). BU-3DFE is a
collection of still images, not videos: every 2D image is one sample (a
one-frame video to the rest of the package), id = the file name without
``_F2D``, subject = ``F0001``/``M0001``. The paper (AST) does not say how it
forms sequences from BU-3DFE; we keep one image per sample because any
grouping (e.g. neutral + the four intensities as a five-frame sequence) can be
built from these rows by subject and expression, while a fixed grouping could
not be undone. Images whose names do not follow the pattern are reported.
"""

import os
import re

from data_prep.datasets import Problem, finish, require_folder, sorted_subfolders, source_row

__all__ = ["CLASSES", "build_manifest"]

CLASSES = ("anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")
_CODES = {"AN": "anger", "DI": "disgust", "FE": "fear", "HA": "happiness", "NE": "neutral", "SA": "sadness",
          "SU": "surprise"}
_NAME = re.compile(r"^([FM]\d{4})_([A-Z]{2})(\d{2})([A-Za-z]+)_F2D$")


def build_manifest(root, strict=False):
    """The BU-3DFE manifest (see the module docstring); ``strict`` turns problems into a DatasetError."""
    require_folder(root, "BU-3DFE root")
    rows, problems = [], []
    for subject in sorted_subfolders(root):
        folder = os.path.join(root, subject)
        for name in sorted(os.listdir(folder)):
            stem, extension = os.path.splitext(name)
            if extension.lower() not in (".bmp", ".png", ".jpg") or not stem.endswith("_F2D"):
                continue
            path = os.path.join(folder, name)
            match = _NAME.match(stem)
            if match is None or match.group(1) != subject:
                problems.append(Problem(path, f"name is not {subject}_<XX><intensity><race>_F2D; image left out"))
                continue
            code = match.group(2)
            if code not in _CODES:
                problems.append(Problem(path, f"unknown expression code {code!r} (expected one of {sorted(_CODES)}); "
                                              "image left out"))
                continue
            rows.append(source_row(stem[: -len("_F2D")], path, _CODES[code], subject))
    return finish(rows, problems, CLASSES, root, strict)
