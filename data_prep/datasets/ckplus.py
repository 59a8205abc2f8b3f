"""CK+ (Extended Cohn-Kanade): the 327 labelled sequences, 7 classes with contempt.

Official layout (``root`` = the folder holding both)::

    cohn-kanade-images/S005/001/S005_001_00000001.png ...   frames, neutral to peak
    Emotion/S005/001/S005_001_00000011_emotion.txt          one float code, e.g. "3.0000000e+00"

Codes: 0 neutral, 1 anger, 2 contempt, 3 disgust, 4 fear, 5 happiness,
6 sadness, 7 surprise. Only sequences with an emotion file are samples (327 of
593); the unlabelled ones are reported as one problem with their count, not
one per sequence, because their absence is how CK+ ships. A code outside 1-7
is an unknown label (reported); a file that holds no number is a DatasetError. Subject = ``S005``; id = ``S005_001``;
path = the sequence folder; onset = 0 and apex = the last frame (CK+
sequences run from neutral to the peak); offset is empty (no return to
neutral).
"""

import os

from data_prep.datasets import DatasetError, Problem, finish, require_folder, sorted_subfolders, source_row
from data_prep.video import list_frame_files

__all__ = ["CLASSES", "build_manifest"]

CLASSES = ("anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise")
_CODES = {1: "anger", 2: "contempt", 3: "disgust", 4: "fear", 5: "happiness", 6: "sadness", 7: "surprise"}


def _read_code(path):
    with open(path, encoding="utf-8") as handle:
        text = handle.read().strip()
    try:
        value = float(text)
    except ValueError:
        raise DatasetError(path, f"emotion file does not hold a number: {text!r}") from None
    return value


def build_manifest(root, strict=False):
    """The CK+ manifest (see the module docstring); ``strict`` turns problems into a DatasetError."""
    images = require_folder(os.path.join(root, "cohn-kanade-images"), "CK+ image folder cohn-kanade-images/")
    emotions = require_folder(os.path.join(root, "Emotion"), "CK+ label folder Emotion/")
    rows, problems, unlabelled = [], [], []
    for subject in sorted_subfolders(images):
        for sequence in sorted_subfolders(os.path.join(images, subject)):
            folder = os.path.join(images, subject, sequence)
            label_folder = os.path.join(emotions, subject, sequence)
            label_files = sorted(name for name in os.listdir(label_folder) if name.endswith("_emotion.txt")) \
                if os.path.isdir(label_folder) else []
            if not label_files:
                unlabelled.append(f"{subject}/{sequence}")
                continue
            if len(label_files) > 1:
                problems.append(Problem(label_folder,
                                        f"{len(label_files)} emotion files, expected one; sample left out"))
                continue
            label_path = os.path.join(label_folder, label_files[0])
            code = _read_code(label_path)
            if not code.is_integer() or int(code) not in _CODES:
                problems.append(Problem(label_path, f"emotion code {code:g} is not one of 1-7 {CLASSES}; "
                                                    "sample left out"))
                continue
            n_frames = len(list_frame_files(folder))
            rows.append(source_row(f"{subject}_{sequence}", folder, _CODES[int(code)], subject,
                                   onset=0, apex=n_frames - 1))
    if unlabelled:
        problems.append(Problem(emotions, f"{len(unlabelled)} sequence(s) have no emotion file and are not samples "
                                          f"(CK+ labels 327 of 593), e.g. {unlabelled[:3]}"))
    return finish(rows, problems, CLASSES, root, strict)
