"""The built-in synthetic benchmark (:mod:`data_prep.synthetic`) as a dataset: generated on first use.

Layout (written by :func:`data_prep.synthetic.generate_dataset`)::

    root/manifest.csv            id, path, label, subject, onset, apex, offset
    root/synthetic.json          the generator's arguments (mode, seed, sizes, knobs)
    root/videos/<id>.avi         MJPG videos

``build_manifest(root)`` reads that layout. When ``root`` holds no
``synthetic.json`` it first generates the default benchmark there (mode
"macro", 6 classes x 10 subjects x 3 videos, 32 frames of 112 x 112, seed 0:
about 15 s on 2 cores); when videos of a generated root are missing it
renders them again from the recorded arguments, which gives identical pixels.
A root generated with other arguments (another mode, for example) is read as
it is, so ``generate_dataset(root, mode="micro")`` followed by
``keras-fer prepare --dataset synthetic --root root --out prepared`` works.
``keras-fer prepare --dataset synthetic --out DIR`` without ``--root`` uses
``DIR/synthetic``.
"""

import json
import os

from data_prep import manifest, synthetic
from data_prep.datasets import DatasetError, finish, source_row

__all__ = ["CLASSES", "build_manifest"]

CLASSES = synthetic.MODES["macro"].classes


def _recorded_arguments(record_path):
    """The :func:`~data_prep.synthetic.generate_dataset` arguments recorded in ``synthetic.json``."""
    try:
        with open(record_path, encoding="utf-8") as handle:
            record = json.load(handle)
        knobs = dict(record["settings"])
        for name in ("classes", "peak", "duration"):
            knobs[name] = tuple(knobs[name])
        settings = synthetic.ModeSettings(**knobs)
        size = record["size"]
        return dict(mode=record["mode"], n_subjects=record["n_subjects"],
                    videos_per_class=record["videos_per_class"], size=(int(size[0]), int(size[1])),
                    n_frames=record["n_frames"], seed=record["seed"], settings=settings,
                    framing=record.get("framing", "scene"))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DatasetError(record_path, f"not a synthetic benchmark record ({type(error).__name__}: {error}); "
                                        "remove the folder to generate the benchmark again") from None


def build_manifest(root, strict=False):
    """The synthetic benchmark's manifest in ``root``, generating it first when needed (see the module)."""
    root = os.fspath(root)
    record_path = os.path.join(root, "synthetic.json")
    if not os.path.exists(record_path):
        if os.path.isdir(root) and os.listdir(root):
            raise DatasetError(root, "folder is not empty and holds no synthetic.json; give an empty or new folder "
                                     "for the synthetic benchmark")
        synthetic.generate_dataset(root)
    arguments = _recorded_arguments(record_path)
    manifest_path = os.path.join(root, "manifest.csv")
    rows = manifest.read_manifest(manifest_path) if os.path.isfile(manifest_path) else []
    if not rows or not all(os.path.isfile(row["path"]) for row in rows):
        synthetic.generate_dataset(root, **arguments)
        rows = manifest.read_manifest(manifest_path)
    rows = [source_row(row["id"], row["path"], row["label"], row["subject"], row["onset"], row["apex"], row["offset"])
            for row in rows]
    return finish(rows, [], arguments["settings"].classes, root, strict, source=manifest_path)
