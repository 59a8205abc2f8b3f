"""Streaming: one prediction per incoming frame (camera or file) from a bounded window of the latest frames."""

import collections
import time

import cv2
import numpy as np

from data_prep.checks import check_int
from keras_fer.inference.classifier import resize_crops, rounded

__all__ = ["StreamPredictor", "stream"]


class StreamPredictor:
    """One prediction per incoming frame from a bounded window of the latest frames (memory constant).

    Each pushed frame gets its face detected (every ``detect_every``-th frame; the last box is held in
    between and when the detector finds nothing), cropped, and passed through the stem once; the head then
    sees the latest ``window`` frames (every ``stride``-th pushed frame enters the window), oldest first, padded
    with all-zero frames at the end until the window fills (padded frames are masked out). With an AST model
    the context attention is causal: c_t looks at frames up to t only, so nothing needs a future frame.

    Args:
        classifier: a :class:`Classifier` whose head reads one time axis of per-frame inputs (not CEFLNet's
            clips).
        window: frames the head sees (default: the head's number of frames, else 16).
        stride: every ``stride``-th frame enters the window (AST was trained on 20 frames spread over a video).
        detect_every: run the face detector on every k-th frame.
        detect_max_side: None detects on full frames; a number shrinks larger frames to this longer side for
            detection only (MTCNN on 640x360: 312 ms, on 320x180: 181 ms here; crops come from the full frame).

    Example:
        >>> predictor = StreamPredictor(default_classifier(), window=16)                   # doctest: +SKIP
        >>> for frame in frames: print(predictor.push(frame)["label"])                     # doctest: +SKIP
    """

    def __init__(self, classifier, window=None, stride=1, detect_every=1, detect_max_side=None, detector=None):
        if classifier.unit == "clip":
            raise ValueError(f"{classifier.name} reads clips of frames (CEFLNet); streaming needs a model over one "
                             "time axis of frames, such as AST")
        length = classifier.input_shape[0]
        if window is None:
            window = length or 16
        for name, value in (("window", window), ("stride", stride), ("detect_every", detect_every)):
            check_int(value, name, minimum=1)
        if length is not None and window != length:
            raise ValueError(f"{classifier.name} reads exactly {length} frames; received window={window}")
        self.classifier, self.window, self.stride, self.detect_every = classifier, window, stride, detect_every
        # The stream's own detect_max_side (default: full frames) replaces the training data's.
        self.cropper = classifier.cropper(detect_max_side=detect_max_side,
                                          **({} if detector is None else {"detector": detector}))
        self._buffer = collections.deque(maxlen=window)
        self._clip = None
        self._box = None
        self._count = 0

    @property
    def frames_seen(self):
        """How many frames were pushed."""
        return self._count

    @property
    def buffered(self):
        """How many frames the window holds now (at most ``window``)."""
        return len(self._buffer)

    def _face_box(self, frame):
        if self._count % self.detect_every == 0:
            found = self.cropper.largest_face(frame)
            if found is not None:
                self._box = found.box
                return "detected"
        return "held" if self._box is not None else "none"

    def push(self, frame):
        """Add one RGB uint8 frame; returns ``{"frame", "face", "label", "probabilities", "temporal_attention",
        "window", "latency_ms"}`` (``label`` None until a face has been seen)."""
        started = time.perf_counter()
        index = self._count
        face = self._face_box(frame)
        self._count += 1
        result = {"frame": index, "face": face, "label": None, "probabilities": None, "temporal_attention": None,
                  "window": len(self._buffer)}
        if self._box is None:
            result["latency_ms"] = round(1000 * (time.perf_counter() - started), 2)
            return result
        if index % self.stride == 0 or not self._buffer:
            crop = resize_crops(self.cropper.crop(frame, self._box)[None], self.classifier.frame_size)
            self._buffer.append(self.classifier.features(crop)[0])
        if self._clip is None:
            self._clip = np.zeros((1, self.window) + self._buffer[0].shape, dtype=np.float32)
        filled = len(self._buffer)
        self._clip[0, :filled] = np.stack(self._buffer)
        self._clip[0, filled:] = 0.0
        outputs = self.classifier.explain(self._clip)
        probabilities = outputs["probabilities"][0]
        result.update(label=self.classifier.class_names[int(probabilities.argmax())],
                      probabilities=dict(zip(self.classifier.class_names, rounded(probabilities))),
                      temporal_attention=rounded(outputs["temporal_attention"][0, :filled]), window=filled,
                      latency_ms=round(1000 * (time.perf_counter() - started), 2))
        return result


def stream(classifier, source, *, window=None, stride=1, detect_every=1, detect_max_side=None, max_frames=None,
           detector=None):
    """:class:`StreamPredictor` over a camera (an int index) or a video file, read frame by frame.

    Yields:
        One result per frame (see :meth:`StreamPredictor.push`).

    Raises:
        OSError: the camera or file cannot be opened.
    """
    predictor = StreamPredictor(classifier, window=window, stride=stride, detect_every=detect_every,
                                detect_max_side=detect_max_side, detector=detector)
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        raise OSError(f"cannot open {'camera' if isinstance(source, int) else 'video'} {source!r}")
    try:
        while max_frames is None or predictor.frames_seen < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            yield predictor.push(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    finally:
        capture.release()
