"""SMIC-HS (spontaneous micro-expressions, 100 fps camera): 3 classes.

Official layout (``root`` = the folder holding ``HS``, or ``HS`` itself)::

    HS/s1/micro/positive/s1_po_01/image000001.bmp ...

Classes: positive, negative, surprise (the folder under ``micro``). Subject =
``s1``; id = the clip folder name (``s1_po_01``); path = the clip folder.
SMIC-HS clips are cut to the micro-expression and carry no apex annotation,
so onset, apex and offset are empty. The ``non_micro`` folders, when present,
are not samples (they are ignored).
"""

import os

from data_prep.datasets import Problem, finish, normalise_label, require_folder, sorted_subfolders, source_row

__all__ = ["CLASSES", "build_manifest"]

CLASSES = ("negative", "positive", "surprise")


def build_manifest(root, strict=False):
    """The SMIC-HS manifest (see the module docstring); ``strict`` turns problems into a DatasetError."""
    hs = os.path.join(root, "HS") if os.path.isdir(os.path.join(root, "HS")) else root
    require_folder(hs, "SMIC high-speed folder HS/")
    rows, problems = [], []
    for subject in sorted_subfolders(hs):
        subject_folder = os.path.join(hs, subject)
        micro = os.path.join(subject_folder, "micro")
        if not os.path.isdir(micro):
            problems.append(Problem(subject_folder, "no micro/ folder: subject has no sample"))
            continue
        for emotion in sorted_subfolders(micro):
            label = normalise_label(emotion, CLASSES)
            for clip in sorted_subfolders(os.path.join(micro, emotion)):
                folder = os.path.join(micro, emotion, clip)
                if label is None:
                    problems.append(Problem(folder, f"unknown emotion folder {emotion!r} (expected one of {CLASSES}); "
                                                    "sample left out"))
                    continue
                rows.append(source_row(clip, folder, label, subject))
    return finish(rows, problems, CLASSES, root, strict)
