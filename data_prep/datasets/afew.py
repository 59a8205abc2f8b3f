"""AFEW (Acted Facial Expressions in the Wild, EmotiW): Train/Val folders of clips, 7 classes.

Official layout (``root`` = the folder holding ``Train`` and ``Val``)::

    Train/Angry/000046280.avi ...
    Val/Happy/000149120.avi ...

Classes (folder names): Angry, Disgust, Fear, Happy, Neutral, Sad, Surprise,
named anger, disgust, fear, happiness, neutral, sadness, surprise. Id =
``Train_Angry_000046280`` style (``<part>_<class>_<file>``, as file names
repeat across parts). AFEW clips come from films and carry no actor id, so
``subject`` is empty; this is reported as one problem (not one per clip): use
the official split, :func:`splits` gives ``{"official": {"train": Train ids,
"test": Val ids}}`` (the test part of EmotiW is not public, so Val is the
test set of the papers). Onset, apex and offset are unknown (empty).
"""

import os

from data_prep.datasets import Problem, finish, normalise_label, require_folder, sorted_subfolders, source_row
from data_prep.video import VIDEO_EXTENSIONS

__all__ = ["CLASSES", "build_manifest", "splits"]

CLASSES = ("anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")
_PARTS = ("Train", "Val")


def _scan(root):
    rows, problems, parts = [], [], {}
    for part in _PARTS:
        part_folder = require_folder(os.path.join(root, part), f"AFEW {part}/ folder")
        for emotion in sorted_subfolders(part_folder):
            label = normalise_label(emotion, CLASSES)
            folder = os.path.join(part_folder, emotion)
            if label is None:
                problems.append(Problem(folder, f"unknown emotion folder {emotion!r} (expected one of {CLASSES}); "
                                                "its clips are left out"))
                continue
            for name in sorted(os.listdir(folder)):
                if name.lower().endswith(VIDEO_EXTENSIONS):
                    sample_id = f"{part}_{emotion}_{os.path.splitext(name)[0]}"
                    rows.append(source_row(sample_id, os.path.join(folder, name), label))
                    parts.setdefault(part, []).append(sample_id)
    if rows:
        problems.append(Problem(root, f"AFEW has no subject ids: subject is empty for all {len(rows)} clips; "
                                      "use the official Train/Val split (splits(root))"))
    return rows, problems, parts


def build_manifest(root, strict=False):
    """The AFEW manifest (see the module docstring); ``strict`` turns problems into a DatasetError."""
    rows, problems, _ = _scan(root)
    return finish(rows, problems, CLASSES, root, strict)


def splits(root):
    """The official split: ``{"official": {"train": Train ids, "test": Val ids}}``."""
    _, _, parts = _scan(root)
    return {"official": {"train": sorted(parts.get("Train", [])), "test": sorted(parts.get("Val", []))}}
