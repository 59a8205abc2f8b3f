"""How separable is the synthetic macro benchmark from raw pixels across subjects, with STCAM's frames?

Run: ``python scripts/synthetic_pixel_baseline.py`` (about 1 minute). Renders the macro benchmark at the size
``keras-fer reproduce`` uses (6 subjects x 6 classes x 3 videos, 64 px, 32 frames), draws STCAM's 7 test-time
frames and fits a logistic regression on the peak frame minus the first frame (the expression's change, in
pixels) at 32 and 64 px, training on 4 subjects and testing on the other 2. It does so twice, with the two
peaks STCAM's sampler can take here:

- ``apex``: each video's annotated apex (the manifest's ``apex`` column), as STCAM's learning attempts use;
- ``last``: the last frame, STCAM's convention for CK+ and Oulu-CASIA. A synthetic expression is back to
  neutral at its ``offset`` (at the latest the last frame), so this "peak" holds no expression.
"""

import os
import sys
import tempfile

import cv2
import numpy as np
from sklearn.linear_model import LogisticRegression

from data_prep import sampling, synthetic, video

PEAKS = ("apex", "last")
SIZES = (32, 64)


def main(seed=0):
    root = tempfile.mkdtemp(prefix="pixel_baseline_")
    rows = synthetic.generate_dataset(root, mode="macro", n_subjects=6, videos_per_class=3, size=64, n_frames=32,
                                      seed=seed)
    classes = sorted({row["label"] for row in rows})
    changes = {(peak, size): [] for peak in PEAKS for size in SIZES}
    for row in rows:
        reader = video.VideoReader(os.path.join(root, row["path"]))
        for peak in PEAKS:
            indices = sampling.sample("stcam", reader.info.n_frames, peak=int(row["apex"]) if peak == "apex" else peak)
            frames = dict(reader.iter_frames(sorted({int(indices[0]), int(indices[-1])})))
            first, last = (frames[int(indices[0])].astype("float32"), frames[int(indices[-1])].astype("float32"))
            for size in SIZES:
                small = [cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in (first, last)]
                changes[peak, size].append(((small[1] - small[0]) / 255.0).ravel())
    labels = np.asarray([classes.index(row["label"]) for row in rows])
    subjects = np.asarray([row["subject"] for row in rows])
    test = np.isin(subjects, sorted(set(subjects))[-2:])
    for (peak, size), values in changes.items():
        values = np.asarray(values)
        model = LogisticRegression(max_iter=2000).fit(values[~test], labels[~test])
        print(f"peak {peak}, {size} px: held-out accuracy {model.score(values[test], labels[test]):.3f} "
              f"(chance {1 / len(classes):.3f}, {int(test.sum())} test videos)")


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:]))
