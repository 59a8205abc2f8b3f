"""DFEW (Dynamic Facial Expressions in the Wild): frame folders and the 5-fold split files, 7 classes.

Official layout (``root`` = the folder holding ``Clip`` and ``label``)::

    Clip/clip_224x224/00001/00001_00001.jpg ...       frames of clip 1
    label/.../set_1.csv ... set_5.csv                  under folders (or names) with train / test

Each split file has the columns ``video_name`` (clip number) and ``label``
(1 happiness, 2 sadness, 3 neutral, 4 anger, 5 surprise, 6 disgust, 7 fear).
A split file is found anywhere under ``label/`` (or ``EmoLabel_DataSplit/``);
its fold is the number after ``set_`` and its part ``train`` or ``test`` from
its file name or one of its folders. The manifest has every clip named by a
split file once (id = the five-digit clip number); :func:`splits` gives
``{"set_1": {"train": ids, "test": ids}, ..., "set_5": ...}``. Label 0 (clips
without a single majority label) and other codes are unknown labels
(reported); a clip named with two different labels is reported; a named clip
without a frame folder is reported. Clips come from films without actor ids:
``subject`` is empty (reported once); use the official folds.
``frames`` chooses ``clip_224x224`` (default) or another folder of ``Clip/``.
"""

import os
import re

from data_prep.datasets import DatasetError, Problem, finish, read_coding_sheet, require_folder, source_row

__all__ = ["CLASSES", "build_manifest", "splits"]

CLASSES = ("anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")
_CODES = {1: "happiness", 2: "sadness", 3: "neutral", 4: "anger", 5: "surprise", 6: "disgust", 7: "fear"}
_FOLD = re.compile(r"set_?(\d)", re.IGNORECASE)


def _split_files(root):
    """``{(fold, part): path}`` of the split files below ``label/``."""
    for name in ("label", "EmoLabel_DataSplit"):
        label_root = os.path.join(root, name)
        if os.path.isdir(label_root):
            break
    else:
        raise DatasetError(os.path.join(root, "label"), "DFEW split folder label/ not found (folder missing)")
    found = {}
    for folder, subfolders, names in os.walk(label_root):
        subfolders.sort()
        for name in sorted(names):
            if not name.lower().endswith(".csv"):
                continue
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, label_root).lower()
            fold = _FOLD.search(name)
            parts = [part for part in ("train", "test") if part in relative]
            if fold is None or len(parts) != 1:
                continue
            found[(int(fold.group(1)), parts[0])] = path
    if not found:
        raise DatasetError(label_root, "no split file (set_<k>.csv under a train or test folder or name) found")
    return found


def _scan(root, frames):
    clips = require_folder(os.path.join(root, "Clip", frames), f"DFEW frame folders Clip/{frames}/")
    rows, problems, labels, folds = {}, [], {}, {}
    for (fold, part), path in sorted(_split_files(root).items()):
        ids = folds.setdefault(f"set_{fold}", {"train": [], "test": []})[part]
        for line, entry in enumerate(read_coding_sheet(path), start=2):
            name, code = entry.get("video_name", ""), entry.get("label", "")
            if not name.isdigit():
                raise DatasetError(path, f"line {line}: video_name {name!r} is not a clip number "
                                         "(expected columns video_name, label)")
            sample_id = f"{int(name):05d}"
            label = _CODES.get(int(code)) if code.isdigit() else None
            if label is None:
                problems.append(Problem(path, f"line {line}: clip {sample_id} has label {code!r}, not one of 1-7; "
                                              "left out"))
                continue
            if labels.setdefault(sample_id, label) != label:
                problems.append(Problem(path, f"line {line}: clip {sample_id} labelled {label!r} here and "
                                              f"{labels[sample_id]!r} in another split file"))
                continue
            ids.append(sample_id)
            if sample_id in rows:
                continue
            folder = os.path.join(clips, sample_id)
            if not os.path.isdir(folder):
                problems.append(Problem(folder, f"clip {sample_id} of {os.path.basename(path)} has no frame folder; "
                                                "left out"))
                rows[sample_id] = None
                continue
            rows[sample_id] = source_row(sample_id, folder, label)
    rows = [row for row in rows.values() if row is not None]
    if rows:
        problems.append(Problem(root, f"DFEW has no subject ids: subject is empty for all {len(rows)} clips; "
                                      "use the official folds (splits(root))"))
    return rows, problems, folds


def build_manifest(root, strict=False, frames="clip_224x224"):
    """The DFEW manifest (see the module docstring); ``strict`` turns problems into a DatasetError."""
    rows, problems, _ = _scan(root, frames)
    return finish(rows, problems, CLASSES, root, strict)


def splits(root, frames="clip_224x224"):
    """The five official folds: ``{"set_k": {"train": ids, "test": ids}}`` (clips with a frame folder only)."""
    rows, _, folds = _scan(root, frames)
    usable = {row["id"] for row in rows}
    return {fold: {part: sorted(set(ids) & usable) for part, ids in parts.items()}
            for fold, parts in sorted(folds.items())}
