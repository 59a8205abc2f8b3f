"""STCAM training step with strided 3D convolutions run directly vs as stride 1 + subsampling (CPU).

Run: ``python benchmarks/bench_stcam_step.py``. Both models are the full ``stcam`` (3D-CAM then STAM) on
8 clips of 7x32x32; the figures are the mean of 3 steps after one warm-up step, side by side in one run.

``python benchmarks/bench_stcam_step.py --onednn`` runs the same in two processes, one after the other, with
TensorFlow's oneDNN CPU kernels off and on (``TF_ENABLE_ONEDNN_OPTS=0`` / ``1``: TensorFlow reads it when it is
imported, and turns oneDNN on by itself only on CPUs with AVX-512 VNNI, BF16 or AMX).
"""

import os
import resource
import subprocess
import sys
import time

import keras
import numpy as np

from keras_fer.models.common import end_to_end
from keras_fer.models.stcam import stcam_head
from keras_fer.stems.inception_resnet import inception_resnet3d


def _cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(steps=3):
    keras.utils.set_random_seed(0)
    clips = np.random.default_rng(0).integers(0, 256, size=(8, 7, 32, 32, 3)).astype("float32")
    labels = np.arange(8) % 6
    for subsample in (False, True):
        stem = inception_resnet3d((7, 32, 32, 3), attention="cam_stam", subsample_strided_convs=subsample)
        model = end_to_end(stem, stcam_head(6), (7, 32, 32, 3), preprocessing="unit", name="stcam")
        model.compile(keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.train_on_batch(clips, labels)
        cpu, wall = _cpu_seconds(), time.time()
        for _ in range(steps):
            model.train_on_batch(clips, labels)
        print(f"subsample_strided_convs={subsample}: {(_cpu_seconds() - cpu) / steps:.2f} CPU s, "
              f"{(time.time() - wall) / steps:.2f} wall s per step", flush=True)


def both_onednn_settings():
    for setting in ("0", "1"):
        print(f"TF_ENABLE_ONEDNN_OPTS={setting}", flush=True)
        subprocess.run([sys.executable, __file__], env={**os.environ, "TF_ENABLE_ONEDNN_OPTS": setting}, check=True)


if __name__ == "__main__":
    both_onednn_settings() if sys.argv[1:] == ["--onednn"] else main()
