"""Frames per second of a stem three ways, on the same frames, in one run.

1. naive: a Python loop calling ``model.predict`` on one preprocessed frame at a
   time (what most FER scripts do);
2. bare batched: the stem alone, compiled once (``tf.function``), on batches
   that are already stacked and preprocessed (its compute speed; data
   preparation is not timed);
3. ``extract_features``: from a generator of raw uint8 frames (batching,
   preprocessing and copying out included).

Also printed for reference: ``model.predict`` on the whole preprocessed array.
Each method runs ``--repeats`` times, interleaved with the others; the best
pass counts (the machine may be shared, and other load only slows a pass down),
the median is printed too.
Frames are real face video frames (tests/fixtures/real_faces/pyfeat/single_face.mp4)
resized to the stem's input, repeated to ``--frames``.

Usage:
    python benchmarks/bench_stems.py --stem vggface16 --frames 64 --naive-frames 16
    python benchmarks/bench_stems.py --stem fer2013 --frames 2048
"""

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import numpy as np
import tensorflow as tf

from keras_fer import stems
from keras_fer.stems.fer2013 import preprocess_input as fer2013_preprocess
from keras_fer.stems.resnet import preprocess_input as resnet18_preprocess
from keras_fer.stems.vggface import preprocess_input as vggface_preprocess

VIDEO = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "real_faces" / "pyfeat" / "single_face.mp4"


def build_stem(name, size):
    """(model, preprocess for tensors and arrays) of a stem; random weights (speed does not depend on them)."""
    if name == "vggface16":
        return stems.vggface16(input_shape=(size, size, 3)), vggface_preprocess
    if name == "ecnn_vgg16":
        return stems.ecnn_vgg16(input_shape=(size, size, 3)), vggface_preprocess
    if name == "resnet18":
        return stems.resnet18(input_shape=(size, size, 3)), resnet18_preprocess
    if name == "fer2013":
        return stems.fer2013_mini_xception(), fer2013_preprocess
    raise ValueError(f"unknown --stem {name!r}")


def load_frames(count, size):
    capture = cv2.VideoCapture(str(VIDEO))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.resize(frame, (size, size))[..., ::-1].copy())  # RGB uint8
    capture.release()
    if not frames:
        raise RuntimeError(f"could not decode {VIDEO}")
    return [frames[i % len(frames)] for i in range(count)]


def naive_runner(model, preprocess, frames):
    model.predict(preprocess(frames[0][None]), verbose=0)  # warm-up

    def run():
        for frame in frames:
            model.predict(preprocess(frame[None]), verbose=0)
        return len(frames)

    return run


def bare_batched_runner(model, preprocess, frames, batch_size):
    prepared = np.asarray(preprocess(np.stack(frames)), "float32")
    usable = len(prepared) // batch_size * batch_size
    batches = [tf.constant(prepared[i : i + batch_size]) for i in range(0, usable, batch_size)]
    forward = tf.function(lambda x: model(x, training=False))
    tf.nest.map_structure(lambda t: t.numpy(), forward(batches[0]))  # trace and warm up

    def run():
        for batch in batches:
            tf.nest.map_structure(lambda t: t.numpy(), forward(batch))
        return usable

    return run


def predict_batched_runner(model, preprocess, frames, batch_size):
    prepared = np.asarray(preprocess(np.stack(frames)), "float32")
    model.predict(prepared[:batch_size], batch_size=batch_size, verbose=0)

    def run():
        model.predict(prepared, batch_size=batch_size, verbose=0)
        return len(prepared)

    return run


def extract_runner(model, preprocess, frames, batch_size, jit_compile, mixed_precision):
    options = dict(
        batch_size=batch_size, preprocess=preprocess, jit_compile=jit_compile, mixed_precision=mixed_precision
    )
    for _ in stems.extract_features(model, iter(frames[:batch_size]), **options):  # trace and warm up
        pass

    def run():
        return sum(1 for _ in stems.extract_features(model, (frame for frame in frames), **options))

    return run


def time_once(runner, fps_values):
    start = time.perf_counter()
    count = runner()
    fps_values.append(count / (time.perf_counter() - start))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stem", default="vggface16", choices=["vggface16", "ecnn_vgg16", "resnet18", "fer2013"])
    parser.add_argument("--size", type=int, default=224, help="frame size (fer2013 resizes to 64x64 itself)")
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--naive-frames", type=int, default=None, help="frames for the naive loop (default: all)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per method, interleaved; best is used")
    parser.add_argument("--jit-compile", default="auto", choices=["auto", "true", "false"])
    parser.add_argument("--mixed-precision", default="auto", choices=["auto", "true", "false"])
    args = parser.parse_args()
    flag = {"auto": "auto", "true": True, "false": False}

    model, preprocess = build_stem(args.stem, args.size)
    frames = load_frames(args.frames, args.size)
    naive_frames = frames[: args.naive_frames] if args.naive_frames else frames
    device = "GPU" if tf.config.list_logical_devices("GPU") else f"CPU ({len(os.sched_getaffinity(0))} cores)"
    runners = {
        "naive_predict_per_frame": naive_runner(model, preprocess, naive_frames),
        "bare_batched": bare_batched_runner(model, preprocess, frames, args.batch_size),
        "predict_batched": predict_batched_runner(model, preprocess, frames, args.batch_size),
        "extract_features": extract_runner(
            model, preprocess, frames, args.batch_size, flag[args.jit_compile], flag[args.mixed_precision]
        ),
    }
    fps = {name: [] for name in runners}
    for _ in range(args.repeats):  # interleaved, so that load from other processes hits every method alike
        for name, runner in runners.items():
            time_once(runner, fps[name])
    results = {
        "stem": args.stem,
        "frame_size": args.size,
        "frames": len(frames),
        "naive_frames": len(naive_frames),
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "device": device,
    }
    for name, values in fps.items():
        results[f"{name}_fps_best"] = max(values)
        results[f"{name}_fps_median"] = float(np.median(values))
    results["extract_vs_bare"] = results["extract_features_fps_best"] / results["bare_batched_fps_best"]
    results["extract_vs_naive"] = results["extract_features_fps_best"] / results["naive_predict_per_frame_fps_best"]
    results["targets_met"] = results["extract_vs_bare"] >= 0.9 and results["extract_vs_naive"] >= 3.0
    for key, value in results.items():
        print(f"{key:36s} {value:.2f}" if isinstance(value, float) else f"{key:36s} {value}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
