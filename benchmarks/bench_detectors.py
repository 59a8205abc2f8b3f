"""Face detectors side by side on every real clip of ``tests/fixtures/real_faces``: time, faces found, agreement.

Run: ``python benchmarks/bench_detectors.py [EVERY]`` (default 1: every frame; 4: every 4th frame).
For each clip and each detector (MTCNN, BlazeFace short and full range, the Haar cascade), one process, one
frame per call: milliseconds per frame (median; the detector's first call, which loads it, is not counted), the
share of frames with a face, and against MTCNN on the frames where both found one: the mean and minimum IoU of
the largest face's box, and the mean eye-keypoint distance as a share of MTCNN's inter-ocular distance.
"""

import glob
import os
import sys
import time

import numpy as np

from data_prep.faces import get_detector
from data_prep.video import VideoReader

DATA = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "real_faces")
CLIPS = sorted(glob.glob(os.path.join(DATA, "crema-d", "*.flv"))) + [
    os.path.join(DATA, "pyfeat", name)
    for name in ("single_face.mp4", "WolfgangLanger_Pexels.mp4", "face_noface.mov", "no_face.mp4")]
DETECTORS = ("mtcnn", "blazeface", "blazeface_full", "haar")


def iou(a, b):
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def largest_faces(detector, frames):
    """``(largest face or None per frame, ms per frame)``."""
    detector.detect(frames[:1])  # loads the model
    faces, times = [], []
    for frame in frames:
        started = time.perf_counter()
        found = detector.detect([frame])[0]
        times.append(time.perf_counter() - started)
        faces.append(max(found, key=lambda face: face.area) if found else None)
    return faces, 1000 * float(np.median(times))


def compare(reference, faces):
    """Mean and minimum IoU with the reference's boxes, and the eye distance / inter-ocular distance."""
    pairs = [(r, f) for r, f in zip(reference, faces) if r is not None and f is not None]
    if not pairs:
        return None
    ious = [iou(r.box, f.box) for r, f in pairs]
    eyes = [np.linalg.norm(r.keypoints[:2] - f.keypoints[:2], axis=1).mean()
            / np.linalg.norm(r.keypoints[0] - r.keypoints[1]) for r, f in pairs if f.keypoints is not None]
    return float(np.mean(ious)), float(np.min(ious)), float(np.mean(eyes)) if eyes else float("nan")


def main(every=1):
    detectors = {name: get_detector(name) for name in DETECTORS}
    print(f"every {every}. frame of each clip, one frame per call; IoU and eye error against MTCNN")
    print("| clip | frames | detector | ms/frame | frames with a face | IoU mean (min) | eye error |")
    print("|---|---|---|---|---|---|---|")
    for clip in CLIPS:
        reader = VideoReader(clip)
        frames = [frame for _, frame in reader.iter_frames(range(0, reader.info.n_frames, every))]
        results = {name: largest_faces(detector, frames) for name, detector in detectors.items()}
        reference = results["mtcnn"][0]
        for name, (faces, ms) in results.items():
            found = sum(face is not None for face in faces)
            agreement = compare(reference, faces) if name != "mtcnn" else None
            text = "-" if agreement is None else f"{agreement[0]:.2f} ({agreement[1]:.2f})"
            eyes = "-" if agreement is None or np.isnan(agreement[2]) else f"{agreement[2]:.3f}"
            print(f"| {os.path.basename(clip)} | {len(frames)} | {name} | {ms:.1f} | {found}/{len(frames)} | "
                  f"{text} | {eyes} |", flush=True)


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:]))
