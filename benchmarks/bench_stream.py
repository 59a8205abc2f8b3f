"""``keras-fer predict --stream``: per-frame latency and memory over a long stream, side by side in one run.

Run: ``python benchmarks/bench_stream.py [FRAMES]`` (default 600); ``--detectors`` instead compares the face
detectors (MTCNN, BlazeFace short and full range) with detection on every frame; ``--eager-vs-compiled`` instead
times one frame
through the default's stem and head called eagerly and under ``tf.function`` (why :class:`Classifier` compiles them).
The 72 frames of the real webcam clip ``tests/fixtures/real_faces/pyfeat/single_face.mp4`` (640x360) are replayed in
a loop as one stream, pushed one by one into :class:`keras_fer.inference.StreamPredictor` in four configurations:

* the default predictor (FER2013 mini-Xception, window of 16, score fusion), MTCNN on every frame, on every
  frame shrunk to 320 px for detection, and on every 5th frame (the box is held in between);
* an AST head (causal context attention over a window of 20 frames, 128-d FER2013 features; weights random: latency
  does not depend on them), MTCNN on every frame, and on every 5th frame shrunk to 320 px.

For each it prints the median and 95th percentile latency per frame (after 10 warm-up frames) and the process's
resident memory after the first 100 frames and at the end: constant memory means the two agree.
"""

import os
import resource
import sys
import time

import numpy as np

from data_prep.video import VideoReader
from keras_fer import inference
from keras_fer.models import create_model

CLIP = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "real_faces", "pyfeat", "single_face.mp4")


def _rss_mb():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


def _ast_classifier(default):
    """An AST head (20 frames of the FER2013 stem's 128-d features) with the default's faces and stem features."""
    from keras_fer.stems import fer2013

    stem = inference.per_frame_stem(fer2013.fer2013_mini_xception(), "fer2013", default.frame_size)
    head = create_model("ast", 7, feature_shape=(20, 128))
    return inference.Classifier("ast", fer2013.FER2013_CLASS_NAMES, head, stem, default.frame_size, "ast",
                                {"num_frames": 20}, dict(default.face), "benchmark")


def run(name, classifier, frames, total, detect_every, detect_max_side=None, detector=None):
    predictor = inference.StreamPredictor(classifier, detect_every=detect_every, detect_max_side=detect_max_side,
                                          detector=detector)
    latencies, rss_100 = [], None
    for count in range(total):
        started = time.perf_counter()
        predictor.push(frames[count % len(frames)])
        latencies.append(time.perf_counter() - started)
        if count == 99:
            rss_100 = _rss_mb()
    steady = np.asarray(latencies[10:]) * 1000
    print(f"{name:44s} median {np.median(steady):6.1f} ms  p95 {np.percentile(steady, 95):6.1f} ms  "
          f"{1000 / np.median(steady):5.1f} frames/s  RSS after 100 frames {rss_100:6.0f} MB, after {total} "
          f"{_rss_mb():6.0f} MB  (window {predictor.buffered})")
    return float(np.median(steady))


def eager_vs_compiled(repeats=20):
    """One frame through the default's stem and head: an eager Keras call vs the same model under tf.function."""
    import tensorflow as tf

    default = inference.default_classifier()
    crop = np.zeros((1, default.frame_size, default.frame_size, 3), "float32")
    clip = np.zeros((1, 16, 7), "float32")
    calls = {"stem, eager": lambda: default.stem(crop, training=False),
             "stem, tf.function": tf.function(lambda x: default.stem(x, training=False)),
             "head with attention outputs, eager": lambda: default.temporal(clip, training=False),
             "head with attention outputs, tf.function": tf.function(lambda x: default.temporal(x, training=False))}
    arguments = {name: (crop if name.startswith("stem") else clip) for name in calls}
    for name, call in calls.items():
        run_once = (lambda c=call, a=arguments[name]: c(a)) if "tf.function" in name else call
        run_once()
        started = time.perf_counter()
        for _ in range(repeats):
            run_once()
        print(f"{name:44s} {1000 * (time.perf_counter() - started) / repeats:6.2f} ms per frame")


def detectors(total=600):
    """The default predictor with detection on every frame: MTCNN against BlazeFace (short, full range)."""
    frames = [frame for _, frame in VideoReader(CLIP).iter_frames()]
    default = inference.default_classifier()
    print(f"{total} frames of a 640x360 stream ({len(frames)} real frames replayed), one process, detect every frame")
    for detector in ("mtcnn", "blazeface", "blazeface_full"):
        run(f"default (score fusion, 16), {detector}", default, frames, total, 1, detector=detector)


def main(total=600):
    frames = [frame for _, frame in VideoReader(CLIP).iter_frames()]
    default = inference.default_classifier()
    ast = _ast_classifier(default)
    print(f"{total} frames of a 640x360 stream ({len(frames)} real frames replayed), one process")
    medians = {}
    configurations = (("default (score fusion, 16), detect every 1", default, 1, None),
                      ("default, detect every 1 on 320 px", default, 1, 320),
                      ("default, detect every 5", default, 5, None),
                      ("AST causal attention (20), detect every 1", ast, 1, None),
                      ("AST, detect every 5 on 320 px", ast, 5, 320))
    for name, classifier, every, max_side in configurations:
        medians[name] = run(name, classifier, frames, total, every, max_side)
    first = medians[configurations[0][0]]
    print("median latency relative to the first line: " + ", ".join(
        f"{name.split(',')[0] if i == 0 else name}: {medians[name] / first:.2f}"
        for i, (name, *_) in enumerate(configurations)))


if __name__ == "__main__":
    if sys.argv[1:] == ["--eager-vs-compiled"]:
        eager_vs_compiled()
    elif sys.argv[1:2] == ["--detectors"]:
        detectors(*(int(arg) for arg in sys.argv[2:]))
    else:
        main(*(int(arg) for arg in sys.argv[1:]))
