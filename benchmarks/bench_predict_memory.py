"""``keras-fer predict``: peak memory on the same clip at 4K and at 1080p, with and without ``--detect-max-side``.

Run: ``python benchmarks/bench_predict_memory.py [--frames 60] [--detect-max-side 640]``. The first ``--frames``
frames of the real webcam clip ``tests/fixtures/real_faces/pyfeat/single_face.mp4`` (640x360) are upscaled with
OpenCV to 3840x2160 and to 1920x1080 and written as MP4 (mp4v) to a temporary folder (deleted afterwards). Each
``keras-fer predict`` (default FER2013 predictor) runs in a fresh process, once with full-frame detection and once with
``--detect-max-side``; the peak resident memory of that process is ``resource.getrusage(RUSAGE_CHILDREN)`` read by
a helper process that runs only it. It prints one row per run, the ratio 4K / 1080p, and the labels (which must
agree: the same face at another resolution).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import cv2

CLIP = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "real_faces", "pyfeat", "single_face.mp4")
SIZES = {"1080p": (1920, 1080), "4K": (3840, 2160)}


def write_upscaled(path, size, frames):
    """The first ``frames`` frames of :data:`CLIP` resized to ``size`` (width, height), written as MP4."""
    capture = cv2.VideoCapture(CLIP)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), capture.get(cv2.CAP_PROP_FPS), size)
    try:
        for _ in range(frames):
            ok, frame = capture.read()
            if not ok:
                raise ValueError(f"{CLIP}: fewer than {frames} frames")
            writer.write(cv2.resize(frame, size, interpolation=cv2.INTER_CUBIC))
    finally:
        capture.release()
        writer.release()


def measure(command):
    """Run ``command`` (this helper's only child); print its peak RSS in MB and its stdout as one JSON line."""
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux: kilobytes
    print(json.dumps({"peak_mb": peak_mb, "returncode": done.returncode, "stdout": done.stdout,
                      "stderr": done.stderr[-2000:]}))


def run_predict(path, detect_max_side):
    """``(peak RSS in MB, seconds, result)`` of one ``keras-fer predict`` on ``path``."""
    command = [sys.executable, "-m", "keras_fer.cli", "predict", path, "--no-progress"]
    if detect_max_side is not None:
        command += ["--detect-max-side", str(detect_max_side)]
    started = time.perf_counter()
    helper = subprocess.run([sys.executable, __file__, "--measure", json.dumps(command)], capture_output=True,
                            text=True, check=True)
    seconds = time.perf_counter() - started
    report = json.loads(helper.stdout.strip().splitlines()[-1])
    if report["returncode"] != 0:
        raise RuntimeError(f"keras-fer predict {path} failed:\n{report['stderr']}")
    return report["peak_mb"], seconds, json.loads(report["stdout"].strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--detect-max-side", type=int, default=640)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(json.loads(args.measure))
        return
    with tempfile.TemporaryDirectory() as folder:
        for detect_max_side in (None, args.detect_max_side):
            peaks = {}
            for name, size in SIZES.items():
                path = os.path.join(folder, f"{name}.mp4")
                if not os.path.exists(path):
                    write_upscaled(path, size, args.frames)
                peaks[name], seconds, result = run_predict(path, detect_max_side)
                print(f"{name:6s} {size[0]}x{size[1]} x {args.frames} frames, --detect-max-side {detect_max_side}: "
                      f"peak RSS {peaks[name]:6.0f} MB, {seconds:5.1f} s, label {result['label']} "
                      f"({result['probabilities'][result['label']]:.3f})", flush=True)
            print(f"  4K / 1080p peak RSS: {peaks['4K'] / peaks['1080p']:.2f}", flush=True)


if __name__ == "__main__":
    main()
