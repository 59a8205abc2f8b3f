"""Prepared frames per second on the real clips: MTCNN on every frame versus every k-th frame, Haar, BlazeFace.

Each mode prepares every clip the way ``keras-fer prepare`` does (decode, detect,
track, crop to 224, write JPEG quality 95) and reports, per group of clips:

* frames/s: examined frames divided by the wall time of the preparation
  (MTCNN's networks are built and warmed up before the clock starts);
* face share: frames with a detected or tracked face, over all frames;
* IoU vs every frame: mean overlap of each frame's box with the box of the
  every-frame MTCNN run, over the frames both call a face (how much tracking
  between detections costs in box accuracy).

Usage:
    python benchmarks/bench_faces.py                 # every mode, every clip (about 10 min on 2 cores)
    python benchmarks/bench_faces.py --groups crema-d --modes mtcnn-k1 mtcnn-k5
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import numpy as np

from data_prep import manifest
from data_prep.faces import MTCNNDetector, get_detector
from data_prep.prepare import PrepareOptions, prepare_sample

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "real_faces")
GROUPS = {
    "crema-d": [os.path.join("crema-d", f"1001_DFA_{emotion}_XX.flv")
                for emotion in ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")],
    "single_face": [os.path.join("pyfeat", "single_face.mp4")],
    "WolfgangLanger": [os.path.join("pyfeat", "WolfgangLanger_Pexels.mp4")],
    "face_noface": [os.path.join("pyfeat", "face_noface.mov")],
}
MODES = {
    "mtcnn-k1": ("MTCNN, every frame", PrepareOptions(detector="mtcnn", detect_every=1)),
    "mtcnn-k5": ("MTCNN, every 5th + tracking", PrepareOptions(detector="mtcnn", detect_every=5)),
    "mtcnn-k10": ("MTCNN, every 10th + tracking", PrepareOptions(detector="mtcnn", detect_every=10)),
    "mtcnn-k5-480": ("MTCNN, every 5th, detect at 480 px", PrepareOptions(detect_every=5, detect_max_side=480)),
    "haar-k1": ("Haar, every frame", PrepareOptions(detector="haar", detect_every=1)),
    "blazeface-k1": ("BlazeFace short range, every frame", PrepareOptions(detector="blazeface", detect_every=1)),
    "blazeface_full-k1": ("BlazeFace full range, every frame",
                          PrepareOptions(detector="blazeface_full", detect_every=1)),
}
REFERENCE = "mtcnn-k1"


def iou(a, b):
    """Intersection over union of boxes (x0, y0, x1, y1), row by row."""
    x0, y0 = np.maximum(a[:, 0], b[:, 0]), np.maximum(a[:, 1], b[:, 1])
    x1, y1 = np.minimum(a[:, 2], b[:, 2]), np.minimum(a[:, 3], b[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda box: (box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def face_boxes(frames_csv):
    """{frame index: box} of the frames with a detected or tracked face."""
    rows = manifest.read_csv(frames_csv)
    return {int(r["frame_index"]): [float(r[k]) for k in ("x0", "y0", "x1", "y1")]
            for r in rows if r["status"] in ("detected", "tracked")}


def run_mode(options, clips, out_dir):
    """(frames, seconds, frames with a face, {clip: frames.csv path})."""
    frames = with_face = 0
    tracks = {}
    start = time.perf_counter()
    for clip in clips:
        sample_id = os.path.splitext(os.path.basename(clip))[0]
        row = prepare_sample({"id": sample_id, "path": os.path.join(DATA, clip)}, out_dir, options)
        frames += int(row["n_crops"])  # every examined frame has a crop under the "hold" policy
        with_face += int(row["n_crops"]) - int(row["n_no_face"])
        tracks[clip] = os.path.join(out_dir, row["crops_dir"], "frames.csv")
    return frames, time.perf_counter() - start, with_face, tracks


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", nargs="+", choices=list(GROUPS), default=list(GROUPS))
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    args = parser.parse_args()
    haar_cascade = os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml")
    modes = [m for m in args.modes if not (m.startswith("haar") and not os.path.isfile(haar_cascade))]
    modes = [REFERENCE] + [m for m in modes if m != REFERENCE]  # the reference boxes come first

    # Build and warm up MTCNN's networks and load BlazeFace's models outside the clock.
    warm = cv2.cvtColor(cv2.imread(os.path.join(DATA, "pyfeat", "single_face.jpg")), cv2.COLOR_BGR2RGB)
    for detector in (MTCNNDetector(), get_detector("blazeface"), get_detector("blazeface_full")):
        detector.detect([warm] * 2)

    print("| clips | frames | mode | frames/s | face share | IoU vs every frame |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        for group in args.groups:
            reference_tracks = None
            for mode in modes:
                label, options = MODES[mode]
                out_dir = os.path.join(scratch, group, mode)
                os.makedirs(os.path.join(out_dir, "crops"))
                frames, seconds, with_face, tracks = run_mode(options, GROUPS[group], out_dir)
                if mode == REFERENCE:
                    reference_tracks = tracks
                overlaps = []
                for clip, path in tracks.items():
                    boxes, reference = face_boxes(path), face_boxes(reference_tracks[clip])
                    common = sorted(set(boxes) & set(reference))
                    if common:
                        overlaps.append(iou(np.array([boxes[i] for i in common]),
                                            np.array([reference[i] for i in common])))
                mean_iou = float(np.concatenate(overlaps).mean()) if overlaps else float("nan")
                print(f"| {group} ({len(GROUPS[group])}) | {frames} | {label} | {frames / seconds:.1f} | "
                      f"{with_face / frames:.1%} | {mean_iou:.3f} |", flush=True)


if __name__ == "__main__":
    main()
