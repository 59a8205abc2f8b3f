"""UCF-101 (action recognition; AST reports it in table 1): class index and the 3 official splits.

Official layout (``root`` = the folder holding both)::

    UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi ...
    ucfTrainTestlist/classInd.txt          "1 ApplyEyeMakeup"
    ucfTrainTestlist/trainlist01.txt       "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1"  (01-03)
    ucfTrainTestlist/testlist01.txt        "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi"    (01-03)

Labels are the class names of ``classInd.txt`` as written (``ApplyEyeMakeup``;
action names are not expressions, so they are not lower-cased). Subject = the
group (``g08``): the official splits keep groups apart, and so do
subject-independent protocols. Id = the file name without extension. A video
whose class folder is not in ``classInd.txt``, or whose name has no group, is
reported. :func:`splits` gives ``{"split_1": {"train": ids, "test": ids}, ...}``
from the list files; a listed video that is missing is reported by
:func:`build_manifest` and left out of the splits.
"""

import os
import re

from data_prep.datasets import DatasetError, Problem, finish, require_folder, sorted_subfolders, source_row
from data_prep.video import VIDEO_EXTENSIONS

__all__ = ["build_manifest", "read_classes", "splits"]

_GROUP = re.compile(r"^v_.+_(g\d+)_c\d+$")


def _list_folder(root):
    return require_folder(os.path.join(root, "ucfTrainTestlist"), "UCF-101 split folder ucfTrainTestlist/")


def read_classes(root):
    """The class names of ``classInd.txt`` in index order (index 1 first)."""
    path = os.path.join(_list_folder(root), "classInd.txt")
    if not os.path.isfile(path):
        raise DatasetError(path, "UCF-101 class index classInd.txt not found (file missing)")
    classes = {}
    with open(path, encoding="utf-8") as handle:
        lines = handle.readlines()
    for line_number, line in enumerate(lines, start=1):
        if line.strip():
            fields = line.split()
            if len(fields) != 2 or not fields[0].isdigit():
                raise DatasetError(path, f"line {line_number}: expected '<index> <ClassName>', found {line.strip()!r}")
            classes[int(fields[0])] = fields[1]
    return tuple(classes[index] for index in sorted(classes))


def _scan(root):
    classes = read_classes(root)
    videos = require_folder(os.path.join(root, "UCF-101"), "UCF-101 video folder UCF-101/")
    rows, problems = [], []
    for class_name in sorted_subfolders(videos):
        folder = os.path.join(videos, class_name)
        for name in sorted(os.listdir(folder)):
            if not name.lower().endswith(VIDEO_EXTENSIONS):
                continue
            path, stem = os.path.join(folder, name), os.path.splitext(name)[0]
            if class_name not in classes:
                problems.append(Problem(path, f"class folder {class_name!r} is not in classInd.txt; left out"))
                continue
            group = _GROUP.match(stem)
            if group is None:
                problems.append(Problem(path, "name is not v_<Class>_g<group>_c<clip>: no subject (group) id; "
                                              "left out"))
                continue
            rows.append(source_row(stem, path, class_name, group.group(1)))
    present = {row["id"] for row in rows}
    for split, parts in _read_splits(root).items():
        missing = sorted(set(parts["train"] + parts["test"]) - present)
        if missing:
            problems.append(Problem(os.path.join(_list_folder(root), f"*list0{split[-1]}.txt"),
                                    f"{len(missing)} listed video(s) not found, e.g. {missing[:3]}"))
    return rows, problems, classes


def build_manifest(root, strict=False):
    """The UCF-101 manifest (see the module docstring); ``strict`` turns problems into a DatasetError."""
    rows, problems, classes = _scan(root)
    return finish(rows, problems, classes, root, strict)


def _read_splits(root):
    folder = _list_folder(root)
    result = {}
    for number in (1, 2, 3):
        parts = {}
        for part in ("train", "test"):
            path = os.path.join(folder, f"{part}list0{number}.txt")
            if not os.path.isfile(path):
                raise DatasetError(path, f"UCF-101 split file {part}list0{number}.txt not found (file missing)")
            with open(path, encoding="utf-8") as handle:
                lines = [line for line in handle if line.strip()]
            parts[part] = [os.path.splitext(os.path.basename(line.split()[0].replace("\\", "/")))[0] for line in lines]
        result[f"split_{number}"] = parts
    return result


def splits(root):
    """The three official splits: ``{"split_k": {"train": ids, "test": ids}}`` (videos present only)."""
    present = {row["id"] for row in _scan(root)[0]}
    return {name: {part: sorted(set(ids) & present) for part, ids in parts.items()}
            for name, parts in _read_splits(root).items()}
