"""Helpers shared by the attention layers: masks, float16-safe masked softmax, argument and output shapes."""

import keras
from keras import ops


def large_negative(dtype):
    """A large negative number that stays finite in ``dtype`` (float16 safe)."""
    if keras.backend.standardize_dtype(dtype) == "float16":
        return -6.0e4
    return -1.0e9


def masked_softmax(logits, mask=None, axis=-1):
    """Softmax over ``axis`` that gives masked positions exactly zero weight.

    Args:
        logits: scores, any float dtype.
        mask: boolean tensor broadcastable to ``logits``; ``True`` keeps a
            position. ``None`` means no mask.
        axis: the axis to normalise over.

    Returns:
        Weights with the shape of ``logits``. Rows whose positions are all
        masked are all zeros (finite, never NaN).
    """
    if mask is None:
        return ops.softmax(logits, axis=axis)
    mask = ops.cast(mask, "bool")
    neg = ops.cast(large_negative(logits.dtype), logits.dtype)
    weights = ops.softmax(ops.where(mask, logits, neg), axis=axis)
    return ops.where(mask, weights, ops.zeros_like(weights))


def check_rank(input_shape, rank, layer_name, what):
    """Raise ``ValueError`` naming the layer and shape when the rank is wrong."""
    if len(input_shape) != rank:
        raise ValueError(
            f"{layer_name} expects {what} (rank {rank}); received input_shape={tuple(input_shape)}"
        )


def attention_output_spec(layer, inputs, scores_shape, return_attention_scores):
    """Symbolic output of an attention layer: ``outputs`` or ``(outputs, scores)``.

    ``outputs`` has ``layer.compute_output_shape(inputs.shape)``, ``scores`` has
    ``scores_shape``; both take the layer's compute dtype. Layers call this from
    ``compute_output_spec`` so that ``return_attention_scores=True`` works in
    functional models.
    """
    outputs = keras.KerasTensor(layer.compute_output_shape(inputs.shape), dtype=layer.compute_dtype)
    if not return_attention_scores:
        return outputs
    return outputs, keras.KerasTensor(tuple(scores_shape), dtype=layer.compute_dtype)


class ShapePreservingAttention:
    """Mixin of the attention layers that reweight their input, so their output has the input's shape.

    The layer (listed before ``keras.layers.Layer`` in its bases) defines ``_scores_shape(input_shape)``,
    the shape of the attention scores ``call(..., return_attention_scores=True)`` returns; the mixin
    gives ``compute_output_shape`` (the input's) and ``compute_output_spec`` (``outputs`` or
    ``(outputs, scores)``, see :func:`attention_output_spec`).
    """

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_output_spec(self, inputs, return_attention_scores=False):
        return attention_output_spec(self, inputs, self._scores_shape(inputs.shape), return_attention_scores)
