"""Oulu-CASIA NIR&VIS: visible-light (VL) sequences under strong illumination, 6 classes.

Official layout (``root`` = the folder holding ``OriginalImg``, or any of
``OriginalImg/VL/Strong``'s ancestors down to it)::

    OriginalImg/VL/Strong/P001/Anger/000.jpeg ...   frames, neutral to peak

Classes (folder names): Anger, Disgust, Fear, Happiness, Sadness, Surprise.
Subject = ``P001``; id = subject and canonical class (``P001_anger``);
onset = 0, apex = the last frame (sequences run from neutral to the peak),
offset empty. A class folder with another name is an unknown label (reported).
The paper-standard subset is VL + Strong; ``illumination`` and ``imaging``
choose another (``"Dark"``/``"Weak"``, ``"NI"``).
"""

import os

from data_prep.datasets import Problem, finish, normalise_label, require_folder, sorted_subfolders, source_row
from data_prep.video import list_frame_files

__all__ = ["CLASSES", "build_manifest"]

CLASSES = ("anger", "disgust", "fear", "happiness", "sadness", "surprise")


def _subset_folder(root, imaging, illumination):
    for candidate in (os.path.join(root, "OriginalImg", imaging, illumination),
                      os.path.join(root, imaging, illumination), os.path.join(root, illumination), root):
        if os.path.isdir(candidate) and any(name.startswith("P") for name in sorted_subfolders(candidate)):
            return candidate
    return require_folder(os.path.join(root, "OriginalImg", imaging, illumination),
                          f"Oulu-CASIA subset OriginalImg/{imaging}/{illumination}/")


def build_manifest(root, strict=False, imaging="VL", illumination="Strong"):
    """The Oulu-CASIA manifest (see the module docstring); ``strict`` turns problems into a DatasetError."""
    subset = _subset_folder(root, imaging, illumination)
    rows, problems = [], []
    for subject in sorted_subfolders(subset):
        for expression in sorted_subfolders(os.path.join(subset, subject)):
            folder = os.path.join(subset, subject, expression)
            label = normalise_label(expression, CLASSES)
            if label is None:
                problems.append(Problem(folder, f"unknown expression folder {expression!r} (expected one of "
                                                f"{CLASSES}); sample left out"))
                continue
            n_frames = len(list_frame_files(folder))
            rows.append(source_row(f"{subject}_{label}", folder, label, subject, onset=0, apex=n_frames - 1))
    return finish(rows, problems, CLASSES, root, strict)
