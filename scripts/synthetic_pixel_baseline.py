"""Is the synthetic macro benchmark separable from raw pixels across subjects? (why STCAM has no learning check)

Run: ``python scripts/synthetic_pixel_baseline.py`` (about 1 minute). Renders the macro benchmark at the size
``keras-fer reproduce`` uses (6 subjects x 6 classes x 3 videos, 64 px, 32 frames), draws STCAM's 7 test-time
frames, and fits a logistic regression on the peak frame minus the first frame (the expression's change, in
pixels) at 32 and 64 px, training on 4 subjects and testing on the other 2.
"""

import os
import sys
import tempfile

import cv2
import numpy as np
from sklearn.linear_model import LogisticRegression

from data_prep import sampling, synthetic, video


def main(seed=0):
    root = tempfile.mkdtemp(prefix="pixel_baseline_")
    rows = synthetic.generate_dataset(root, mode="macro", n_subjects=6, videos_per_class=3, size=64, n_frames=32,
                                      seed=seed)
    classes = sorted({row["label"] for row in rows})
    changes, labels, subjects = {32: [], 64: []}, [], []
    for row in rows:
        reader = video.VideoReader(os.path.join(root, row["path"]))
        indices = sampling.sample("stcam", reader.info.n_frames)
        frames = {index: frame for index, frame in reader.iter_frames(sorted(set(indices.tolist())))}
        first, peak = (frames[int(indices[0])].astype("float32"), frames[int(indices[-1])].astype("float32"))
        for size in changes:
            small = [cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in (first, peak)]
            changes[size].append(((small[1] - small[0]) / 255.0).ravel())
        labels.append(classes.index(row["label"]))
        subjects.append(row["subject"])
    labels, subjects = np.asarray(labels), np.asarray(subjects)
    test = np.isin(subjects, sorted(set(subjects))[-2:])
    for size, values in changes.items():
        values = np.asarray(values)
        model = LogisticRegression(max_iter=2000).fit(values[~test], labels[~test])
        print(f"{size} px: held-out accuracy {model.score(values[test], labels[test]):.3f} "
              f"(chance {1 / len(classes):.3f}, {int(test.sum())} test videos)")


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:]))
