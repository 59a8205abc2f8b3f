"""CASME II (spontaneous micro-expressions, 200 fps): the coding spreadsheet and frame folders, 5 classes.

Official layout (``root`` = the folder holding both)::

    CASME2-coding-20140508.xlsx            (or a CSV export of its first sheet)
    CASME2_RAW_selected/sub01/EP02_01f/img46.jpg ...   (or CASME2-RAW/, CASME2_RAW/, Cropped/)

Spreadsheet columns used: ``Subject`` (1 -> folder ``sub01``), ``Filename``
(``EP02_01f``), ``OnsetFrame``, ``ApexFrame``, ``OffsetFrame`` (image
numbers) and ``Estimated Emotion``. Classes: the 5 of the CASME II literature,
happiness, disgust, repression, surprise, others; fear and sadness (9 clips,
too few to learn) are unknown labels, reported and left out. Subject =
``sub01``; id = ``sub01_EP02_01f``. The frame numbers are converted to frame
indices of the folder (``img46.jpg`` first -> number 46 is index 0), which is
what the manifest's onset/apex/offset mean; a missing or non-numeric frame
(``/`` for some apexes) is left empty and reported. Reading ``.xlsx`` needs
openpyxl (extra ``datasets``); a ``.csv`` export needs nothing and is used
when both are present.
"""

import glob
import os
import re

from data_prep.datasets import (
    DatasetError,
    Problem,
    finish,
    frame_number_offset,
    normalise_label,
    read_coding_sheet,
    source_row,
)

__all__ = ["CLASSES", "build_manifest"]

CLASSES = ("disgust", "happiness", "others", "repression", "surprise")
_FRAME_FOLDERS = ("CASME2_RAW_selected", "CASME2-RAW", "CASME2_RAW", "Cropped", "CASME2-Cropped")


def find_coding_sheet(root, patterns):
    """The first file matching ``patterns`` in order (a CSV export is preferred: it needs no openpyxl)."""
    for pattern in patterns:
        found = sorted(glob.glob(os.path.join(root, pattern)))
        if found:
            return found[0]
    raise DatasetError(root, f"coding spreadsheet not found (expected {' or '.join(patterns)})")


def subject_folder_name(value):
    """``1``, ``01``, ``sub01`` -> ``sub01``."""
    digits = re.findall(r"\d+", value)
    return f"sub{int(digits[-1]):02d}" if digits else ""


def coded_rows(sheet, clips, classes, emotion_column):
    """Manifest rows from a CASME-style coding sheet; ``clips`` maps (``subNN``, Filename) to its folder."""
    rows, problems = [], []
    for line, entry in enumerate(read_coding_sheet(sheet), start=2):
        missing = [column for column in ("Subject", "Filename", emotion_column) if column not in entry]
        if missing:
            raise DatasetError(sheet, f"missing column(s) {missing}; the header is {sorted(entry)}")
        subject, clip = subject_folder_name(entry["Subject"]), entry["Filename"]
        where = f"{os.path.basename(sheet)} line {line} ({subject}/{clip})"
        if not subject:
            problems.append(Problem(sheet, f"line {line}: no subject id ({entry['Subject']!r}); left out"))
            continue
        label = normalise_label(entry[emotion_column], classes)
        if label is None:
            problems.append(Problem(sheet, f"line {line}: emotion {entry[emotion_column]!r} of {subject}/{clip} is "
                                           f"not one of {classes}; left out"))
            continue
        folder = clips.get((subject, clip))
        if folder is None:
            problems.append(Problem(sheet, f"line {line}: no frame folder {subject}/{clip}; left out"))
            continue
        first = frame_number_offset(folder)
        if first is None:
            problems.append(Problem(folder, f"{where}: no numbered image in the frame folder; left out"))
            continue
        frames = {}
        for key, column in (("onset", "OnsetFrame"), ("apex", "ApexFrame"), ("offset", "OffsetFrame")):
            value = entry.get(column, "")
            if value.isdigit() and int(value) >= first:
                frames[key] = int(value) - first
            else:
                frames[key] = ""
                problems.append(Problem(sheet, f"{where}: {column} {value!r} is not a frame number of the clip; "
                                               f"{key} left empty"))
        rows.append(source_row(f"{subject}_{clip}", folder, label, subject, **frames))
    return rows, problems


def clip_folders(base):
    """``{(subNN, clip name): folder}`` for every ``subNN/<clip>/`` folder below ``base``."""
    clips = {}
    for folder, subfolders, _ in os.walk(base):
        subfolders.sort()
        name = os.path.basename(folder)
        if re.fullmatch(r"sub\d+", name, re.IGNORECASE):
            for clip in subfolders:
                clips[(subject_folder_name(name), clip)] = os.path.join(folder, clip)
            subfolders.clear()
    return clips


def build_manifest(root, strict=False):
    """The CASME II manifest (see the module docstring); ``strict`` turns problems into a DatasetError."""
    sheet = find_coding_sheet(root, ("CASME2-coding*.csv", "CASME2-coding*.xlsx"))
    for name in _FRAME_FOLDERS:
        if os.path.isdir(os.path.join(root, name)):
            frames_root = os.path.join(root, name)
            break
    else:
        raise DatasetError(root, f"CASME II frame folder not found (expected one of {_FRAME_FOLDERS})")
    rows, problems = coded_rows(sheet, clip_folders(frames_root), CLASSES, "Estimated Emotion")
    return finish(rows, problems, CLASSES, root, strict)
