"""An annotated copy of a video: the face box, the predicted label and the class probabilities on every frame."""


import cv2
import numpy as np

from data_prep import video
from data_prep.files import atomic_path

__all__ = ["write_annotated_video"]


def _draw_overlay(frame, box, label_lines, bars, sampled):
    """Draw a face box, text lines and probability bars on an RGB frame (in place)."""
    height, width = frame.shape[:2]
    scale = max(height / 480.0, 0.5)
    if box is not None:
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        cv2.rectangle(frame, (x0, y0), (x1, y1), (0, 255, 0) if sampled else (255, 200, 0), max(1, int(2 * scale)))
    y = int(22 * scale)
    for line in label_lines:
        cv2.putText(frame, line, (8, y), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, (255, 255, 255), max(1, int(2 * scale)))
        y += int(22 * scale)
    bar_width = int(width * 0.25)
    for name, probability in bars:
        cv2.rectangle(frame, (8, y - int(12 * scale)), (8 + int(bar_width * probability), y), (255, 80, 80), -1)
        cv2.putText(frame, f"{name} {probability:.2f}", (12 + bar_width, y), cv2.FONT_HERSHEY_SIMPLEX, 0.45 * scale,
                    (255, 255, 255), 1)
        y += int(18 * scale)


def write_annotated_video(out_path, source, prediction, class_names):
    """An MP4 of the video with the face box, the predicted label and a probability bar per class.

    Boxes are the track's on the examined frames and linearly interpolated in between (held before the first
    and after the last); green on the frames the sampler used, orange elsewhere. Written to a temporary name
    and renamed.

    Returns:
        ``out_path``.
    """
    reader = video.VideoReader(source)
    track = prediction.track
    examined = np.asarray(track.frame_indices, dtype=np.float64)
    kept = np.all(np.isfinite(track.boxes), axis=1)
    sampled = set(np.unique(np.round(np.asarray(prediction.positions, dtype=np.float64))).astype(int).tolist())
    result = prediction.result
    ranked = sorted(result["probabilities"].items(), key=lambda item: -item[1])
    lines = [f"{result['label']} {ranked[0][1]:.2f} ({result['model']})"]
    fps = reader.info.fps or 25.0
    with atomic_path(out_path, suffix=".mp4") as temporary:
        size = (reader.info.width, reader.info.height)
        writer = cv2.VideoWriter(temporary, cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        if not writer.isOpened():
            raise OSError(f"{out_path}: OpenCV cannot write an MP4 (mp4v) here")
        try:
            for index, frame in reader.iter_frames():
                box = None
                if kept.any():
                    box = [np.interp(index, examined[kept], track.boxes[kept, k]) for k in range(4)]
                frame = np.ascontiguousarray(frame)
                _draw_overlay(frame, box, lines, [(name, p) for name, p in ranked], index in sampled)
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        finally:
            writer.release()
    return out_path
