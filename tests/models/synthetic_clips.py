"""The synthetic benchmark as in-memory arrays, for the models' learning checks (tests only).

Videos are rendered by :func:`data_prep.synthetic.generate_dataset` and read
back whole; frames are the faces (the synthetic crops are whole frames), so no
face detection runs. Train and test sides never share a subject.
"""

import dataclasses
import os

import numpy as np

from data_prep.synthetic import generate_dataset
from data_prep.video import read_frames


@dataclasses.dataclass
class SyntheticClips:
    frames: np.ndarray  # (N, n_frames, size, size, 3) uint8
    labels: np.ndarray  # (N,) int, index into class_names
    class_names: list
    subjects: np.ndarray  # (N,) str

    def split(self, n_test_subjects):
        """(train, test): the last ``n_test_subjects`` subjects are the test side."""
        test_subjects = sorted(set(self.subjects))[-n_test_subjects:]
        test = np.isin(self.subjects, test_subjects)
        return self.subset(~test), self.subset(test)

    def subset(self, keep):
        return SyntheticClips(self.frames[keep], self.labels[keep], self.class_names, self.subjects[keep])


def synthetic_clips(out_dir, mode="macro", n_subjects=6, videos_per_class=3, size=64, n_frames=32, seed=0):
    """Render the synthetic benchmark of ``mode`` into ``out_dir`` and load every video whole."""
    rows = generate_dataset(os.fspath(out_dir), mode=mode, n_subjects=n_subjects, videos_per_class=videos_per_class,
                            size=size, n_frames=n_frames, seed=seed)
    class_names = sorted({row["label"] for row in rows})
    frames = np.stack([read_frames(os.path.join(out_dir, row["path"]), range(n_frames)) for row in rows])
    labels = np.array([class_names.index(row["label"]) for row in rows])
    subjects = np.array([row["subject"] for row in rows])
    return SyntheticClips(frames, labels, class_names, subjects)
