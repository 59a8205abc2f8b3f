"""TemporalAffinityAttention (STANet eq. 3-5) against NumPy on weights set by the test."""

import keras
import numpy as np
import pytest

from keras_fer.layers import TemporalAffinityAttention
from tests.layer_checks import assert_config_roundtrip, assert_finite, assert_loads_in_new_process

B, T, D, UNITS = 2, 5, 6, 4


# ---------------------------------------------------------------- NumPy reference


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_lstm(x, kernel, recurrent_kernel, bias, mask=None, reverse=False):
    """Keras LSTM (gates i, f, c, o); masked steps keep the previous state."""
    batch, steps, _ = x.shape
    units = recurrent_kernel.shape[0]
    h = np.zeros((batch, units))
    c = np.zeros((batch, units))
    outputs = np.zeros((batch, steps, units))
    for t in reversed(range(steps)) if reverse else range(steps):
        z = x[:, t] @ kernel + h @ recurrent_kernel + bias
        i, f, g, o = np.split(z, 4, axis=-1)
        c_new = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h_new = sigmoid(o) * np.tanh(c_new)
        keep = np.ones((batch, 1), bool) if mask is None else mask[:, t, None]
        h, c = np.where(keep, h_new, h), np.where(keep, c_new, c)
        outputs[:, t] = h
    return outputs


def np_temporal_affinity(x, hidden_states, mask=None):
    """Eq. 3-5: C = tanh(H^T H), p_i = sum_j C_ij (valid j), w = softmax(p) (valid i), (1 + w_i) x_i."""
    valid = np.ones(x.shape[:2], bool) if mask is None else mask
    affinity = np.tanh(np.einsum("bid,bjd->bij", hidden_states, hidden_states))
    p = (affinity * valid[:, None, :]).sum(-1)
    w = np.zeros_like(p)
    for b in range(x.shape[0]):
        if valid[b].any():
            e = np.exp(p[b, valid[b]] - p[b, valid[b]].max())
            w[b, valid[b]] = e / e.sum()
    return (1.0 + w[..., None]) * x, w


def set_random_weights(layer, rng, scale=0.5):
    weights = [rng.normal(0.0, scale, w.shape).astype("float32") for w in layer.get_weights()]
    layer.set_weights(weights)
    return [w.astype(np.float64) for w in weights]


def np_hidden_states(hidden, x, weights, mask=None):
    if hidden == "identity":
        return x
    if hidden == "dense":
        kernel, bias = weights
        return x @ kernel + bias
    if hidden == "lstm":
        return np_lstm(x, *weights, mask=mask)
    forward = np_lstm(x, *weights[:3], mask=mask)
    backward = np_lstm(x, *weights[3:], mask=mask, reverse=True)
    return np.concatenate([forward, backward], axis=-1)


def make_layer(hidden, **kwargs):
    units = None if hidden == "identity" else UNITS
    layer = TemporalAffinityAttention(hidden=hidden, units=units, **kwargs)
    layer.build((None, T, D))
    return layer


def run(layer, x, mask=None):
    outputs, weights = layer(x, mask=mask, return_attention_scores=True)
    return keras.ops.convert_to_numpy(outputs), keras.ops.convert_to_numpy(weights)


MASK = np.array([[True, False, True, True, False], [True, True, True, True, True]])


# ---------------------------------------------------------------- tests


@pytest.mark.parametrize("hidden", ["lstm", "bilstm", "dense", "identity"])
@pytest.mark.parametrize("mask", [None, MASK], ids=["no_mask", "mask"])
def test_matches_numpy_equations(hidden, mask):
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 0.7, size=(B, T, D)).astype("float32")
    layer = make_layer(hidden)
    weights = set_random_weights(layer, rng)
    outputs, w = run(layer, x, mask)
    hidden_states = np_hidden_states(hidden, x.astype(np.float64), weights, mask)
    expected_outputs, expected_w = np_temporal_affinity(x.astype(np.float64), hidden_states, mask)
    np.testing.assert_allclose(w, expected_w, atol=1e-5)
    np.testing.assert_allclose(outputs, expected_outputs, atol=1e-5)
    assert w.shape == (B, T) and outputs.shape == (B, T, D)


@pytest.mark.parametrize("hidden", ["lstm", "identity"])
def test_weights_sum_to_one_and_scale_each_frame(hidden):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(B, T, D)).astype("float32")
    layer = make_layer(hidden)
    set_random_weights(layer, rng)
    outputs, w = run(layer, x)
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-6)
    assert (w > 0).all()
    np.testing.assert_allclose(outputs, (1.0 + w[..., None]) * x, rtol=1e-6)
    outputs, w = run(layer, x, MASK)
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(w[~MASK], 0.0)
    np.testing.assert_allclose(outputs, (1.0 + w[..., None]) * x, rtol=1e-6)


def test_frame_aligned_with_the_clip_gets_the_largest_weight():
    """Eq. 3-4 with H = x: the frame most similar to all others has the largest p_i, hence w_i."""
    x = np.zeros((1, 4, 3), "float32")
    x[0, 0] = [1.0, 0.0, 0.0]
    x[0, 1] = [0.0, 1.0, 0.0]
    x[0, 2] = [0.7, 0.7, 0.0]  # close to frames 0 and 1
    x[0, 3] = [0.0, 0.0, 1.0]
    layer = TemporalAffinityAttention(hidden="identity")
    _, w = run(layer, x)
    assert np.argmax(w[0]) == 2
    assert np.argmin(w[0]) == 3


@pytest.mark.parametrize("hidden", ["lstm", "bilstm", "dense", "identity"])
def test_padded_frames_change_nothing(hidden):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(B, T, D)).astype("float32")
    layer = make_layer(hidden)
    set_random_weights(layer, rng)
    outputs, w = run(layer, x, MASK)
    x_changed = x.copy()
    x_changed[~MASK] = rng.normal(0.0, 100.0, size=x_changed[~MASK].shape)
    outputs_changed, w_changed = run(layer, x_changed, MASK)
    np.testing.assert_allclose(w_changed, w, atol=1e-6)
    np.testing.assert_allclose(outputs_changed[MASK], outputs[MASK], atol=1e-6)


def test_right_padded_clip_equals_the_unpadded_clip():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1, T, D)).astype("float32")
    layer = make_layer("lstm")
    set_random_weights(layer, rng)
    mask = np.array([[True, True, True, False, False]])
    padded_outputs, padded_w = run(layer, x, mask)
    short_outputs, short_w = run(layer, x[:, :3])
    np.testing.assert_allclose(padded_w[:, :3], short_w, atol=1e-6)
    np.testing.assert_allclose(padded_outputs[:, :3], short_outputs, atol=1e-6)


@pytest.mark.parametrize("hidden", ["lstm", "bilstm", "identity"])
def test_fully_masked_clip_is_finite(hidden):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(B, T, D)).astype("float32")
    layer = make_layer(hidden)
    mask = np.array([[False] * T, [True, True, False, False, False]])
    outputs, w = run(layer, x, mask)
    assert_finite(outputs, w)
    np.testing.assert_array_equal(w[0], 0.0)
    np.testing.assert_allclose(outputs[0], x[0], atol=1e-6)
    np.testing.assert_allclose(w[1].sum(), 1.0, atol=1e-6)


def test_mask_passes_through_to_the_next_layer():
    """Masking -> layer -> GlobalAveragePooling1D averages over valid frames only."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(B, T, D)).astype("float32")
    x[~MASK] = 0.0
    inputs = keras.Input((T, D))
    masked = keras.layers.Masking(mask_value=0.0)(inputs)
    attended, w = TemporalAffinityAttention(hidden="identity")(masked, return_attention_scores=True)
    pooled = keras.layers.GlobalAveragePooling1D()(attended)
    model = keras.Model(inputs, [pooled, w])
    pooled, w = (keras.ops.convert_to_numpy(t) for t in model(x))
    expected_attended, expected_w = np_temporal_affinity(x.astype(np.float64), x.astype(np.float64), MASK)
    expected_pooled = (expected_attended * MASK[..., None]).sum(1) / MASK.sum(1, keepdims=True)
    np.testing.assert_allclose(w, expected_w, atol=1e-6)
    np.testing.assert_allclose(pooled, expected_pooled, atol=1e-6)
    layer = TemporalAffinityAttention(hidden="identity")
    assert layer.compute_mask(x, MASK) is MASK


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"hidden": "gru"}, "hidden"),
        ({"hidden": None}, "hidden"),
        ({"units": 0}, "units"),
        ({"units": 2.5}, "units"),
        ({"hidden": "identity", "units": 4}, "units"),
    ],
)
def test_bad_arguments_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        TemporalAffinityAttention(**kwargs)


@pytest.mark.parametrize(
    "shape, message",
    [((2, 6), "rank 3"), ((2, 5, 7, 7, 6), "rank 3"), ((2, 5, None), "static feature size")],
)
def test_bad_input_shape_raises(shape, message):
    with pytest.raises(ValueError, match=message):
        TemporalAffinityAttention().build(shape)


@pytest.mark.parametrize("hidden", ["identity", "lstm"])
def test_mixed_float16_is_finite(hidden):
    """h_i . h_j = 3e4 * 3e4 overflows float16: the affinity must not be computed in float16."""
    rng = np.random.default_rng(6)
    x = rng.normal(0.0, 3.0e4 / np.sqrt(D), size=(B, T, D)).astype("float32")
    layer = make_layer(hidden, dtype="mixed_float16")
    outputs, w = layer(x, mask=MASK, return_attention_scores=True)
    assert keras.backend.standardize_dtype(outputs.dtype) == "float16"
    assert_finite(outputs, w)
    w = keras.ops.convert_to_numpy(w).astype("float32")
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=2e-3)
    _, w_all_masked = layer(x, mask=np.zeros((B, T), bool), return_attention_scores=True)
    assert_finite(w_all_masked)


def test_config_roundtrip_non_default():
    clone = assert_config_roundtrip(TemporalAffinityAttention(hidden="bilstm", units=8, name="tab"))
    assert (clone.hidden, clone.units, clone.name) == ("bilstm", 8, "tab")


def test_masked_model_saves_and_loads_in_new_process(tmp_path):
    rng = np.random.default_rng(7)
    inputs = keras.Input((T, D))
    masked = keras.layers.Masking(mask_value=0.0)(inputs)
    layer = TemporalAffinityAttention(hidden="lstm", units=UNITS)
    outputs, w = layer(masked, return_attention_scores=True)
    model = keras.Model(inputs, [outputs, w])
    set_random_weights(layer, rng)
    x = rng.normal(size=(B, T, D)).astype("float32")
    x[~MASK] = 0.0
    assert_loads_in_new_process(model, x, tmp_path)
