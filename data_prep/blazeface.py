"""BlazeFace face detection and the 468-point face mesh (MediaPipe's models) through TensorFlow Lite.

BlazeFace (Bazarevsky et al. 2019, "BlazeFace: Sub-millisecond Neural Face
Detection on Mobile GPUs") is an SSD-style detector: for every anchor it
gives a face score and a box with six keypoints, as offsets from the anchor
centre in input pixels. We ship MediaPipe's model files
(``data_prep/models/``, Apache-2.0, see ``ATTRIBUTION.md`` there) and decode
them here: anchor generation, box/keypoint decoding and weighted non-maximum
suppression follow MediaPipe's graph options for the two models:

| model | input | anchors | strides (anchors per cell) | for |
|---|---|---|---|---|
| ``"short"`` | 128x128 | 896 | 8 (2), 16 (6) | faces within about 2 m (webcams, interviews, datasets) |
| ``"full"`` | 192x192 | 2304 | 4 (1) | faces up to about 5 m, smaller in the frame |

The frame is letter-boxed into the square input (scaled to fit, black
padding right and below), so faces keep their shape. Keypoints are reordered
to image left/right: ``left_eye``, ``right_eye``, ``nose``, ``mouth``,
``left_ear``, ``right_ear`` ("left" = the image's left, the subject's right).

Example:

>>> box, keypoints, score = BlazeFace("short").find(rgb_frame)[0]  # doctest: +SKIP
>>> box.round(), keypoints.shape                                   # doctest: +SKIP
(array([206., 121., 383., 298.]), (6, 2))
"""

import contextlib
import os
import warnings

import cv2
import numpy as np

from data_prep import tensorflow_logs
from data_prep.checks import check_choice

__all__ = [
    "BLAZEFACE_KEYPOINTS",
    "BLAZEFACE_MODELS",
    "MESH_EYE_CONTOURS",
    "BlazeFace",
    "FaceMesh",
    "anchor_centres",
    "decode",
    "weighted_nms",
]

MODEL_DIR = os.path.join(os.path.dirname(__file__), "models")
#: name: (file, input side, ((stride, anchors per cell), ...)), from MediaPipe's face_detection_*_range graphs.
BLAZEFACE_MODELS = {
    "short": ("face_detection_short_range.tflite", 128, ((8, 2), (16, 6))),
    "full": ("face_detection_full_range.tflite", 192, ((4, 1),)),
}
#: The six keypoints in the models' own order: the subject's right eye, left eye, nose, mouth, right ear, left ear,
#: which in an unmirrored frame are the image's left eye first.
BLAZEFACE_KEYPOINTS = ("left_eye", "right_eye", "nose", "mouth", "left_ear", "right_ear")
#: The face-mesh points around the image-left and the image-right eye (upper and lower lid, corners included).
MESH_EYE_CONTOURS = ((33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7),
                     (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249))
_INTERPRETERS = {}


def _interpreter(filename):
    """One TensorFlow Lite interpreter per model file and process (loading costs tens of ms)."""
    if filename not in _INTERPRETERS:
        path = os.path.join(MODEL_DIR, filename)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: model file missing; it ships with keras-fer (data_prep/models/), "
                                    "reinstall the package")
        import tensorflow as tf  # only when a MediaPipe model is used

        # TensorFlow Lite's "Created ... XNNPACK delegate" line is held as TensorFlow's own are (keras-fer without
        # --verbose); tf.lite.Interpreter's deprecation notice is dropped (LiteRT is not a dependency).
        quiet = tensorflow_logs.stderr_held() if os.environ.get(tensorflow_logs.QUIET_ENV) == "1" else None
        with quiet or contextlib.nullcontext(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            interpreter = tf.lite.Interpreter(model_path=path)
            interpreter.allocate_tensors()
        _INTERPRETERS[filename] = interpreter
    return _INTERPRETERS[filename]


def _run(interpreter, tensor):
    """Outputs of one call, ordered by their last dimension, largest first."""
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], tensor[None].astype(np.float32))
    interpreter.invoke()
    outputs = [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]
    return sorted(outputs, key=lambda out: -out.shape[-1])


def anchor_centres(input_size, levels):
    """The SSD anchor centres, ``(N, 2)`` of normalised (x, y), in the models' output order.

    Args:
        input_size: side of the square input in pixels.
        levels: ``((stride, anchors per cell), ...)``; each level is a grid of
            ``ceil(input_size / stride)`` cells per side, row by row, each cell
            repeated once per anchor. All anchors are 1x1 (MediaPipe's
            ``fixed_anchor_size``), so only the centres matter.
    """
    centres = []
    for stride, per_cell in levels:
        cells = -(-input_size // stride)
        y, x = np.meshgrid((np.arange(cells) + 0.5) / cells, (np.arange(cells) + 0.5) / cells, indexing="ij")
        grid = np.stack([x.ravel(), y.ravel()], axis=1)
        centres.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(centres)


def decode(regressors, scores, anchors, input_size):
    """Boxes, keypoints and scores of all anchors, normalised to the input square.

    Args:
        regressors: ``(N, 4 + 2K)``: centre x, centre y, width, height, then
            K keypoints (x, y), in input pixels relative to the anchor centre.
        scores: ``(N,)`` logits.
        anchors: ``(N, 2)`` from :func:`anchor_centres`.
        input_size: side of the input in pixels.

    Returns:
        ``(boxes (N, 4) as x0, y0, x1, y1, keypoints (N, K, 2), scores (N,) in (0, 1))``.
    """
    regressors = np.asarray(regressors, np.float64) / input_size
    centre = regressors[:, :2] + anchors
    half = regressors[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    keypoints = regressors[:, 4:].reshape(len(regressors), -1, 2) + anchors[:, None, :]
    # MediaPipe clips the logits to [-100, 100] before the sigmoid.
    probabilities = 1 / (1 + np.exp(-np.clip(np.asarray(scores, np.float64), -100, 100)))
    return boxes, keypoints, probabilities


def _iou(box, boxes):
    """Intersection over union of one box with each of ``boxes``."""
    width = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    height = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = width * height
    union = (box[2] - box[0]) * (box[3] - box[1]) + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(boxes, keypoints, scores, min_score=0.5, iou_threshold=0.3):
    """MediaPipe's weighted non-maximum suppression: ``[(box, keypoints, score), ...]``, best first.

    The candidates scored ``min_score`` or more are taken best first; each
    takes every remaining candidate that overlaps it by more than
    ``iou_threshold`` (itself included) and becomes their score-weighted mean
    box and keypoints, with its own score.
    """
    order = np.flatnonzero(scores >= min_score)
    order = order[np.argsort(-scores[order], kind="stable")]
    faces = []
    while order.size:
        overlaps = _iou(boxes[order[0]], boxes[order]) > iou_threshold
        group, order = order[overlaps], order[~overlaps]
        weights = scores[group] / scores[group].sum()
        faces.append((weights @ boxes[group], np.tensordot(weights, keypoints[group], axes=1), float(scores[group[0]])))
    return faces


def _letterbox(image, side):
    """``(square (side, side, 3) uint8, scale)``: the image scaled to fit, black padding right and below."""
    scale = side / max(image.shape[:2])
    width, height = max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))
    square = np.zeros((side, side, 3), np.uint8)
    square[:height, :width] = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return square, scale


class BlazeFace:
    """MediaPipe's BlazeFace model (short or full range) with our decoding; :class:`data_prep.faces.BlazeFaceDetector`
    wraps it as a detector.

    Args:
        model: "short" (128x128, faces within about 2 m) or "full" (192x192, smaller faces).
        min_confidence: faces scored below this are ignored. MediaPipe uses 0.5,
            but on the cartoon frames of ``tests/fixtures/real_faces`` both models
            score up to 0.58 (false faces), while the real faces there score at
            least 0.82 (short range) and 0.62 (full range, a hand over the face);
            0.75 rejects every cartoon frame.
        iou_threshold: overlap above which detections are merged by :func:`weighted_nms` (MediaPipe: 0.3).
    """

    def __init__(self, model="short", min_confidence=0.75, iou_threshold=0.3):
        check_choice(model, tuple(BLAZEFACE_MODELS), "model")
        if not 0 <= min_confidence <= 1:
            raise ValueError(f"`min_confidence` must be in [0, 1]; received min_confidence={min_confidence!r}")
        if not 0 < iou_threshold <= 1:
            raise ValueError(f"`iou_threshold` must be in (0, 1]; received iou_threshold={iou_threshold!r}")
        self.model = model
        self.min_confidence = min_confidence
        self.iou_threshold = iou_threshold
        self.filename, self.input_size, levels = BLAZEFACE_MODELS[model]
        self.anchors = anchor_centres(self.input_size, levels)

    def find(self, image):
        """The faces of one RGB uint8 image, best first: ``[(box (4,), keypoints (6, 2), score), ...]`` in pixels.

        Keypoints in the order of :data:`BLAZEFACE_KEYPOINTS`.
        """
        square, scale = _letterbox(image, self.input_size)
        regressors, scores = _run(_interpreter(self.filename), square / 127.5 - 1.0)
        boxes, keypoints, probabilities = decode(regressors[0], scores[0, :, 0], self.anchors, self.input_size)
        to_pixels = self.input_size / scale
        return [(box * to_pixels, points * to_pixels, score)
                for box, points, score in weighted_nms(boxes, keypoints, probabilities, self.min_confidence,
                                                       self.iou_threshold)]


class FaceMesh:
    """MediaPipe's face mesh: 468 face points (x, y) in frame pixels from a face box.

    The region of interest is the square of 1.5 times the box's longer side
    around its centre (MediaPipe's scale for BlazeFace boxes), resized to
    192x192; MediaPipe also rotates it so that the eyes are level, which we
    leave out (the faces of expression datasets are upright; the mesh
    tolerates some roll).

    Args:
        min_presence: the mesh's own face-presence score below which no points are returned.
    """

    input_size = 192
    roi_scale = 1.5

    def __init__(self, min_presence=0.5):
        if not 0 <= min_presence <= 1:
            raise ValueError(f"`min_presence` must be in [0, 1]; received min_presence={min_presence!r}")
        self.min_presence = min_presence

    def locate(self, image, box):
        """``(468, 2)`` points of the face in ``box`` of the RGB uint8 ``image``, or None when the mesh sees no face."""
        x0, y0, x1, y1 = (float(v) for v in box)
        side = max(x1 - x0, y1 - y0, 1.0) * self.roi_scale
        scale = self.input_size / side
        # Frame -> patch: the square of `side` around the box centre onto the 192x192 input; black outside the frame.
        matrix = np.array([[scale, 0, -scale * ((x0 + x1 - side) / 2)], [0, scale, -scale * ((y0 + y1 - side) / 2)]])
        patch = cv2.warpAffine(image, matrix, (self.input_size, self.input_size), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        points, presence = _run(_interpreter("face_landmark.tflite"), patch / 255.0)
        if 1 / (1 + np.exp(-float(presence.ravel()[0]))) < self.min_presence:
            return None
        points = points.reshape(468, 3)[:, :2].astype(np.float64)
        return (points - matrix[:, 2]) / scale
