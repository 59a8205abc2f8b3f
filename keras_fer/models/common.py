"""Pieces every paper model shares: frame folding, padding masks, preprocessing in the graph,
the end-to-end wrapper around a head, and the read-out of attention scores.

A paper's **head** is a functional model on cached stem features (one input,
``(B, *lead, *feature)``, for example ``(B, T, 7, 7, 512)`` for AST or
``(B, 7, 5, 512)`` for CEFLNet's clips); an **end-to-end** model is
``frames -> preprocessing -> stem per frame -> the same head object``, built by
:func:`end_to_end`. Padded frames are all-zero feature maps; a head recovers
the padding mask with :class:`FrameMask` (a real stem feature map is never
exactly all zero), so one input serves cached batches, frames and export.

Example:

>>> head = keras_fer.models.create_model("ast", 7, input="features",
...                                      feature_shape=(5, 2, 2, 512))     # doctest: +SKIP
>>> scores = attention_model(head)(np.zeros((1, 5, 2, 2, 512)))          # doctest: +SKIP
>>> sorted(scores)                                                        # doctest: +SKIP
['context_attention', 'logits']
"""

import fractions
import math

import keras
from keras import ops

from data_prep.checks import check_int
from keras_fer.keras_private import inbound_nodes
from keras_fer.layers.utils import large_negative
from keras_fer.stems.preprocessing import PREPROCESSING

__all__ = [
    "FoldFrames",
    "FrameMask",
    "MaskedMax",
    "MaskedMean",
    "StemPreprocessing",
    "UnfoldFrames",
    "NO_TEMPORAL_ATTENTION",
    "TEMPORAL_ATTENTION",
    "TemporalWeights",
    "ZeroPadded",
    "attention_model",
    "end_to_end",
    "temporal_attention_model",
]


@keras.saving.register_keras_serializable(package="keras_fer")
class StemPreprocessing(keras.layers.Layer):
    """A stem's input preprocessing as a layer, so raw ``uint8`` frames go into the model and its exports.

    Args:
        preprocessing: a key of :data:`keras_fer.stems.preprocessing.PREPROCESSING`.
    """

    def __init__(self, preprocessing="none", **kwargs):
        super().__init__(**kwargs)
        if preprocessing not in PREPROCESSING:
            raise ValueError(f"`preprocessing` must be one of {sorted(PREPROCESSING)}; "
                             f"received preprocessing={preprocessing!r}")
        self.preprocessing = preprocessing

    def call(self, inputs):
        return PREPROCESSING[self.preprocessing](inputs)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype=self.compute_dtype)

    def compute_output_shape(self, input_shape):
        if self.preprocessing == "fer2013":
            return tuple(input_shape[:-3]) + (64, 64, 1)
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "preprocessing": self.preprocessing}


@keras.saving.register_keras_serializable(package="keras_fer")
class FoldFrames(keras.layers.Layer):
    """``(B, *lead, *sample) -> (B * prod(lead), *sample)``: run a per-frame stem on every frame at once.

    Args:
        sample_rank: rank of one stem input without the batch axis (3 for an image ``(H, W, C)``).
    """

    def __init__(self, sample_rank=3, **kwargs):
        super().__init__(**kwargs)
        self.sample_rank = check_int(sample_rank, "sample_rank", minimum=1, where="FoldFrames")

    def batch_factor(self, input_shape):
        """Stem inputs per model input (for :func:`keras_fer.stems.count_macs`)."""
        return math.prod(input_shape[1 : len(input_shape) - self.sample_rank])

    def call(self, inputs):
        sample_shape = ops.shape(inputs)[-self.sample_rank :]
        return ops.reshape(inputs, (-1, *sample_shape))  # (B * prod(lead), *sample)

    def compute_output_shape(self, input_shape):
        lead = input_shape[1 : len(input_shape) - self.sample_rank]
        batch = None if input_shape[0] is None or None in lead else input_shape[0] * math.prod(lead)
        return (batch,) + tuple(input_shape[-self.sample_rank :])

    def get_config(self):
        return {**super().get_config(), "sample_rank": self.sample_rank}


@keras.saving.register_keras_serializable(package="keras_fer")
class UnfoldFrames(keras.layers.Layer):
    """``(B * prod(lead), *rest) -> (B, *lead, *rest)``: the inverse of :class:`FoldFrames`.

    Args:
        lead_shape: tuple of positive ints, the frame axes folded into the batch (``(T,)`` or ``(clips, frames)``).
    """

    def __init__(self, lead_shape, **kwargs):
        super().__init__(**kwargs)
        lead_shape = tuple(lead_shape) if isinstance(lead_shape, (list, tuple)) else lead_shape
        if not isinstance(lead_shape, tuple) or not lead_shape:
            raise ValueError(f"UnfoldFrames: `lead_shape` must be a non-empty tuple of positive ints; "
                             f"received lead_shape={lead_shape!r}")
        self.lead_shape = tuple(check_int(size, "lead_shape", minimum=1, where="UnfoldFrames") for size in lead_shape)

    def batch_factor(self, input_shape):
        """Model inputs per stem output (for :func:`keras_fer.stems.count_macs`)."""
        return fractions.Fraction(1, math.prod(self.lead_shape))

    def call(self, inputs):
        rest = ops.shape(inputs)[1:]
        return ops.reshape(inputs, (-1, *self.lead_shape, *rest))  # (B, *lead, *rest)

    def compute_output_shape(self, input_shape):
        count = math.prod(self.lead_shape)
        batch = None if input_shape[0] is None else input_shape[0] // count
        return (batch,) + self.lead_shape + tuple(input_shape[1:])

    def get_config(self):
        return {**super().get_config(), "lead_shape": list(self.lead_shape)}


@keras.saving.register_keras_serializable(package="keras_fer")
class FrameMask(keras.layers.Layer):
    """The padding mask of a batch of feature sequences: ``True`` where a frame's features are not all zero.

    Readers of the feature cache pad short clips with all-zero frames
    (:mod:`keras_fer.data.pipeline`); a stem's real feature map is never
    exactly zero everywhere, so the mask is recovered inside the model and a
    head needs one input only.

    Args:
        feature_rank: rank of one frame's features (1 for a vector ``(D,)``, 3 for a map ``(H, W, C)``).

    Call arguments:
        inputs: ``(B, *lead, *feature)``.

    Returns:
        bool ``(B, *lead)``.
    """

    def __init__(self, feature_rank=1, **kwargs):
        super().__init__(**kwargs)
        self.feature_rank = check_int(feature_rank, "feature_rank", minimum=1, where="FrameMask")

    def call(self, inputs):
        axes = tuple(range(-self.feature_rank, 0))
        return ops.any(ops.not_equal(inputs, 0), axis=axes)  # (B, *lead)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype="bool")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[: len(input_shape) - self.feature_rank])

    def get_config(self):
        return {**super().get_config(), "feature_rank": self.feature_rank}


@keras.saving.register_keras_serializable(package="keras_fer")
class MaskedMean(keras.layers.Layer):
    """Mean over axis 1 of ``(B, T, ...)`` counting only the frames where ``mask`` is ``True``.

    Call arguments:
        inputs: ``(B, T, ...)``.
        mask: optional bool ``(B, T)``; ``None`` averages every frame. A clip with no valid frame gives zeros.

    Returns:
        ``(B, ...)``.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # consumes the mask of axis 1

    def compute_mask(self, inputs, mask=None):
        return None

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.mean(inputs, axis=1)
        weights = ops.cast(mask, inputs.dtype)  # (B, T)
        weights = ops.reshape(weights, ops.shape(weights) + (1,) * (len(inputs.shape) - 2))  # (B, T, 1...)
        total = ops.sum(inputs * weights, axis=1)  # (B, ...)
        return total / ops.maximum(ops.sum(weights, axis=1), 1.0)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[2:])


@keras.saving.register_keras_serializable(package="keras_fer")
class MaskedMax(keras.layers.Layer):
    """Max over axis 1 of ``(B, T, D)`` counting only the frames where ``mask`` is ``True``.

    The max-pooling alternative to :class:`MaskedMean` (STANet's ``pooling="max"``).

    Call arguments:
        inputs: ``(B, T, D)``.
        mask: optional bool ``(B, T)``; ``None`` takes every frame. A clip
            with no valid frame gives zeros.

    Returns:
        ``(B, D)``.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # it consumes the frame mask: no warning, and no mask on its output

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.max(inputs, axis=1)
        valid = ops.cast(mask, "bool")[:, :, None]  # (B, T, 1)
        filled = ops.where(valid, inputs, ops.cast(large_negative(inputs.dtype), inputs.dtype))  # (B, T, D)
        pooled = ops.max(filled, axis=1)  # (B, D)
        return ops.where(ops.any(valid, axis=1), pooled, ops.zeros_like(pooled))  # (B, D), empty clips -> 0

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[2:])


@keras.saving.register_keras_serializable(package="keras_fer")
class ZeroPadded(keras.layers.Layer):
    """Features of padded frames set to zero, so that the head's :class:`FrameMask` finds them.

    In an end-to-end model a padded frame is an all-zero frame, but the stem
    maps it to non-zero features (preprocessing subtracts means, convolutions
    add biases); this layer carries the padding from frames to features.

    Call arguments:
        inputs: features ``(B, *lead, ...)``.
        frame_mask: bool ``(B, *lead)``, ``False`` at padded frames.
    """

    def call(self, inputs, frame_mask):
        weights = ops.cast(frame_mask, inputs.dtype)
        weights = ops.reshape(weights, ops.shape(weights) + (1,) * (len(inputs.shape) - len(frame_mask.shape)))
        return inputs * weights  # (B, *lead, ...)

    def compute_output_spec(self, inputs, frame_mask):
        return keras.KerasTensor(inputs.shape, dtype=inputs.dtype)


def end_to_end(stem, head, frames_shape, preprocessing="none", name=None):
    """Frames in, logits out: ``preprocessing -> stem on every frame -> head``; ``head`` is used as is (shared).

    Args:
        stem: a functional model with one input and one output. A per-frame
            stem (input ``(H, W, C)``) runs on every frame of ``(B, *lead, H,
            W, C)``; a clip stem (input ``(T, H, W, C)``, STCAM) on the whole clip.
        head: the paper's head (from ``create_model(..., input="features")``),
            whose input shape is ``(*lead, *stem_output)``.
        frames_shape: input shape without the batch axis, ``(*lead, *stem_input)``.
        preprocessing: a key of :data:`keras_fer.stems.preprocessing.PREPROCESSING`, applied inside the graph.
        name: the model's name (default ``"<head>_end_to_end"``).

    Returns:
        A functional ``keras.Model`` with layers ``preprocessing``, the stem,
        the head (its last layer) and, for per-frame stems, ``fold``,
        ``unfold``, ``frame_mask`` and ``zero_padded``: an all-zero frame
        (padding) gets all-zero features, which the head masks out.

    Raises:
        ValueError: the shapes of stem, head and frames do not chain.
    """
    if len(stem.inputs) != 1 or len(stem.outputs) != 1:
        raise ValueError(f"end_to_end: `stem` must have one input and one output; {stem.name} has "
                         f"{len(stem.inputs)} and {len(stem.outputs)}")
    frames_shape = tuple(frames_shape)
    sample_shape = tuple(stem.inputs[0].shape[1:])
    preprocess = StemPreprocessing(preprocessing, name="preprocessing")
    preprocessed_shape = preprocess.compute_output_shape((None,) + frames_shape)[1:]
    lead = frames_shape[: len(frames_shape) - len(sample_shape)]
    tail = preprocessed_shape[len(preprocessed_shape) - len(sample_shape) :]
    if len(frames_shape) < len(sample_shape) or any(a is not None and a != b for a, b in zip(sample_shape, tail)):
        raise ValueError(f"end_to_end: frames_shape={frames_shape} (after {preprocessing!r} preprocessing "
                         f"{preprocessed_shape}) does not end with the stem's input {sample_shape}")
    inputs = keras.Input(frames_shape, name="frames")
    x = inputs
    if lead:
        x = FoldFrames(len(sample_shape), name="fold")(x)  # (B * prod(lead), H, W, C): per-frame preprocessing
    x = preprocess(x)
    features = stem(x)
    if lead:
        features = UnfoldFrames(lead, name="unfold")(features)  # (B, *lead, *feature)
        padding = FrameMask(len(sample_shape), name="frame_mask")(inputs)  # (B, *lead), all-zero frames padded
        features = ZeroPadded(name="zero_padded")(features, frame_mask=padding)
    expected = tuple(head.inputs[0].shape[1:])
    got = tuple(features.shape[1:])
    if len(expected) != len(got) or any(a is not None and b is not None and a != b for a, b in zip(expected, got)):
        raise ValueError(f"end_to_end: the stem gives features {got} per sample but head {head.name} "
                         f"expects {expected}")
    logits = head(features)
    return keras.Model(inputs, logits, name=name or f"{head.name}_end_to_end")


def _scores_of(model):
    """``{layer name: scores tensor}`` of every layer of ``model`` called with ``return_attention_scores=True``."""
    scores = {}
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            continue
        calls = inbound_nodes(layer)
        for node in calls:
            if node.arguments.kwargs.get("return_attention_scores"):
                if len(calls) > 1:
                    raise ValueError(f"attention_model: layer {layer.name} is called more than once")
                scores[layer.name] = node.outputs[-1]
    return scores


def attention_model(model):
    """A model with the same weights that returns the logits and every attention score.

    Works on a head, on a stem, and on a model from :func:`end_to_end` (then the
    stem's and the head's scores are both returned; per-frame stem scores are
    unfolded to ``(B, *lead, ...)``).

    Args:
        model: a functional model of this package.

    Returns:
        A functional ``keras.Model`` whose output is a dict: ``"logits"`` (the
        model's output) and one entry per attention layer, under its name.

    Raises:
        ValueError: two attention layers of the stem and head share a name.
    """
    names = {layer.name for layer in model.layers}
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if "preprocessing" not in names or len(nested) != 2:
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        return keras.Model(inputs, {"logits": model.outputs[0], **_scores_of(model)}, name=f"{model.name}_attention")
    stem, head = nested  # end_to_end calls the stem first
    stem_scores, head_scores = _scores_of(stem), _scores_of(head)
    stem_attention = keras.Model(stem.inputs[0], {"features": stem.outputs[0], **stem_scores})
    head_attention = attention_model(head)
    both = set(stem_scores) & set(head_scores)
    if both or "logits" in stem_scores:
        raise ValueError(f"attention_model: stem and head both have attention layers named {sorted(both)}")
    inputs = keras.Input(model.inputs[0].shape[1:], name="frames")
    unfold = model.get_layer("unfold") if "unfold" in names else None
    x = model.get_layer("fold")(inputs) if unfold is not None else inputs
    x = model.get_layer("preprocessing")(x)
    stem_outputs = stem_attention(x)
    if unfold is not None:
        stem_outputs = {key: UnfoldFrames(unfold.lead_shape, name=f"unfold_{key}")(value)
                        for key, value in stem_outputs.items()}
    features = stem_outputs["features"]
    if unfold is not None:
        features = model.get_layer("zero_padded")(features, frame_mask=model.get_layer("frame_mask")(inputs))
    outputs = {key: value for key, value in stem_outputs.items() if key != "features"}
    outputs.update(head_attention(features))
    return keras.Model(inputs, outputs, name=f"{model.name}_attention")


#: Attention layers whose scores say how much each step of the input's time axis (frames; CEFLNet: clips)
#: contributes to the prediction, in the order they are looked for, and how (see :class:`TemporalWeights`).
TEMPORAL_ATTENTION = (
    ("emotional_intensity_activation", "weights"),  # CEFLNet eq. 6: intensity A over clips
    ("context_attention", "columns"),  # AST: video = mean_t sum_i a_ti f_i
    ("frame_self_attention", "columns"),  # ECNN-FSA eq. 2: video = mean_t sum_i w_ti V_i
    ("temporal_attention", "weights"),  # STANet eq. 5: w over frames
)

#: The ``source`` :func:`temporal_attention_model` gives a model without temporal attention (equal weights).
NO_TEMPORAL_ATTENTION = "none: equal weights"


@keras.saving.register_keras_serializable(package="keras_fer")
class TemporalWeights(keras.layers.Layer):
    """Per-step weights (B, T), summing to 1 over the real steps, from attention scores or equal weights.

    ``kind``:

    * ``"columns"``: scores ``a`` (B, T, T) of a layer whose outputs are averaged over t
      (AST's context vectors, ECNN-FSA's attended frames); step i contributes
      ``sum_t a_ti / sum_{t,i} a_ti`` (padded rows are all zero, so this is the mean over real rows);
    * ``"weights"``: scores (B, T) that already are the weights (STANet's w, CEFLNet's A);
    * ``"equal"``: the model's input (B, T, ...) with no temporal attention: equal weights over the
      steps that are not all-zero padding (what temporal averaging and score fusion give each frame).

    Returns:
        float32 (B, T).
    """

    def __init__(self, kind="columns", **kwargs):
        super().__init__(**kwargs)
        if kind not in ("columns", "weights", "equal"):
            raise ValueError(f"`kind` must be 'columns', 'weights' or 'equal'; received kind={kind!r}")
        self.kind = kind

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        if self.kind == "weights":
            return x  # (B, T)
        if self.kind == "columns":
            x = ops.sum(x, axis=1)  # (B, T): sum over rows t of a_ti
        else:
            x = ops.cast(ops.any(ops.not_equal(x, 0), axis=tuple(range(2, len(x.shape)))), "float32")  # (B, T)
        return x / ops.maximum(ops.sum(x, axis=1, keepdims=True), 1e-12)  # (B, T)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:2])

    def get_config(self):
        return {**super().get_config(), "kind": self.kind}


def temporal_attention_model(model):
    """``model`` with the weight of each step of its input's time axis beside its logits.

    The time axis is axis 1 of the input: frames, or clips for CEFLNet. The
    weights come from the first layer of :data:`TEMPORAL_ATTENTION` the model
    has; a model without one (LSTM, temporal average pooling, score fusion,
    STCAM's 3D network) gets equal weights over its real steps, and ``source``
    says so.

    Args:
        model: a head or an end-to-end model of this package whose input has a time axis.

    Returns:
        ``(attention, source)``: a functional model with outputs ``{"logits": (B, classes),
        "temporal_attention": (B, T)}`` and the name of the layer the weights come from
        (``"none: equal weights"`` without one).

    Example:
        >>> head = create_model("ast", 7, feature_shape=(20, 128))              # doctest: +SKIP
        >>> attention, source = temporal_attention_model(head)                  # doctest: +SKIP
        >>> source                                                              # doctest: +SKIP
        'context_attention'
    """
    if len(model.inputs) != 1 or len(model.inputs[0].shape) < 3:
        raise ValueError(f"temporal_attention_model: {model.name} has no time axis on its input "
                         f"{[tuple(x.shape) for x in model.inputs]}")
    scores = attention_model(model)
    inputs = keras.Input(model.inputs[0].shape[1:], name=model.inputs[0].name)
    everything = scores(inputs)
    for name, kind in TEMPORAL_ATTENTION:
        if name in everything:
            weights, source = TemporalWeights(kind, name="temporal_weights")(everything[name]), name
            break
    else:
        weights, source = TemporalWeights("equal", name="temporal_weights")(inputs), NO_TEMPORAL_ATTENTION
    return keras.Model(inputs, {"logits": everything["logits"], "temporal_attention": weights},
                       name=f"{model.name}_temporal"), source
