"""Reading a ``keras-fer prepare`` folder: its settings, each sample's face crops and their frame numbers."""

import json
import os

import numpy as np

from data_prep import manifest

__all__ = ["crops_of", "load_crops", "read_prepare_settings", "unreadable_crops"]


def read_prepare_settings(prepared_dir):
    """The options of ``keras-fer prepare`` stored in ``prepared_dir/prepare.json`` (``sampler_options`` filled in)."""
    path = os.path.join(prepared_dir, "prepare.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: missing; is {prepared_dir} the output folder of `keras-fer prepare`?")
    with open(path, encoding="utf-8") as handle:
        settings = json.load(handle)
    settings["sampler_options"] = settings.get("sampler_options") or {}
    return settings


def crops_of(prepared_dir, row, where):
    """(sampler-space frame numbers, source frame numbers, crop paths, sampler_frames) of one prepared sample."""
    crops_dir = os.path.join(prepared_dir, row["crops_dir"] or f"crops/{row['id']}")
    frames_csv = os.path.join(crops_dir, "frames.csv")
    if not os.path.isfile(frames_csv):
        raise FileNotFoundError(f"{frames_csv}: missing ({where}, sample {row['id']!r}); prepare the sample again")
    frame_rows = manifest.read_csv(frames_csv, required=("frame_index", "file", "status"))
    kept = sorted((int(r["frame_index"]), os.path.join(crops_dir, r["file"])) for r in frame_rows if r["file"])
    if not kept:
        raise ValueError(f"{frames_csv}: sample {row['id']!r} has no face crop")
    for _, path in kept:  # a stat each: a missing or empty crop is named here, not by TensorFlow mid-epoch
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: missing face crop of sample {row['id']!r} ({where}); prepare the "
                                    "sample again")
        if os.path.getsize(path) == 0:
            raise ValueError(f"{path}: empty face crop of sample {row['id']!r} ({where}); prepare the sample again")
    dropped = any(r["status"] == "dropped" for r in frame_rows)
    source = np.asarray([frame for frame, _ in kept], np.int64)
    if dropped:
        return np.arange(len(kept)), source, [path for _, path in kept], len(kept)
    return source, source, [path for _, path in kept], int(row["n_frames"])


def load_crops(paths, size):
    """RGB uint8 crops of shape (n, size, size, 3) (resized with INTER_AREA when they are another size)."""
    import cv2

    frames = []
    for path in paths:
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"{path}: cannot read the face crop")
        if size is not None and image.shape[:2] != (size, size):
            image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
        frames.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    return np.stack(frames)


def unreadable_crops(prepared_dir):
    """``"PATH: ..."`` for every face crop of a prepared folder that TensorFlow cannot decode (slow: decodes all)."""
    import tensorflow as tf

    manifest_path = os.path.join(prepared_dir, "manifest.csv")
    problems = []
    for line, row in enumerate(manifest.read_csv(manifest_path, required=("id", "crops_dir", "n_frames")), start=2):
        for path in crops_of(prepared_dir, row, f"{manifest_path} line {line}")[2]:
            try:
                tf.io.decode_jpeg(tf.io.read_file(path), channels=3)  # as the frame reader decodes
            except tf.errors.InvalidArgumentError:
                problems.append(f"{path}: cannot decode the face crop of sample {row['id']!r}")
    return problems
