"""CREMA-D (Crowd-sourced Emotional Multimodal Actors Dataset): labels in the file names, 6 classes.

Official layout (``root`` = ``VideoFlash`` or any folder above the clips;
searched recursively)::

    VideoFlash/1001_DFA_ANG_XX.flv ...   <actor>_<sentence>_<emotion>_<level>

Emotion codes: ANG anger, DIS disgust, FEA fear, HAP happiness, NEU neutral,
SAD sadness. Subject = the actor id (``1001``); id = the file name without its
extension; label = the intended emotion of the file name (the crowd-sourced
perceived labels of ``summaryTable.csv`` are not used). A video whose name
does not follow the pattern, or whose emotion code is unknown, is reported.
Onset, apex and offset are unknown (empty). When the same clip exists in two
formats (``.flv`` and ``.mp4``) the first in sorted order is kept and the
other reported.
"""

import os
import re

from data_prep.datasets import Problem, finish, require_folder, source_row
from data_prep.video import VIDEO_EXTENSIONS

__all__ = ["CLASSES", "build_manifest"]

CLASSES = ("anger", "disgust", "fear", "happiness", "neutral", "sadness")
_CODES = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happiness", "NEU": "neutral", "SAD": "sadness"}
_NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")


def build_manifest(root, strict=False):
    """The CREMA-D manifest (see the module docstring); ``strict`` turns problems into a DatasetError."""
    require_folder(root, "CREMA-D clip folder")
    rows, problems, seen = [], [], {}
    for folder, subfolders, names in os.walk(root):
        subfolders.sort()
        for name in sorted(names):
            if not name.lower().endswith(VIDEO_EXTENSIONS):
                continue
            path = os.path.join(folder, name)
            stem = os.path.splitext(name)[0]
            match = _NAME.match(stem)
            if match is None:
                problems.append(Problem(path, "name is not <actor>_<sentence>_<emotion>_<level> (e.g. "
                                              "1001_DFA_ANG_XX); clip left out"))
                continue
            actor, _, code, _ = match.groups()
            if code not in _CODES:
                problems.append(Problem(path, f"unknown emotion code {code!r} (expected one of {sorted(_CODES)}); "
                                              "clip left out"))
                continue
            if stem in seen:
                problems.append(Problem(path, f"same clip as {seen[stem]} in another format; left out"))
                continue
            seen[stem] = path
            rows.append(source_row(stem, path, _CODES[code], actor))
    return finish(rows, problems, CLASSES, root, strict)
