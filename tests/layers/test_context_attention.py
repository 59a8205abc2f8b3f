"""ContextAttention (AST, "Temporal Self-Attention Mechanism") against a NumPy
version of c_t = sum_i alpha_ti f_i, alpha_t = softmax_i(v^T tanh(W1 f_i + W2 f_t + b))."""

import keras
import numpy as np
import pytest

from keras_fer.layers import ContextAttention
from tests.layer_checks import assert_config_roundtrip, assert_finite, assert_loads_in_new_process

BATCH, FRAMES, DIM, UNITS = 2, 5, 6, 4


def reference_context_attention(features, w1, w2, bias, v, causal, mask=None):
    """Frame-by-frame loop over the paper's equations, in float64."""
    features = features.astype(np.float64)
    batch, frames, _ = features.shape
    valid = np.ones((batch, frames), bool) if mask is None else mask
    scores = np.zeros((batch, frames, frames))
    context = np.zeros_like(features)
    for b in range(batch):
        for t in range(frames):
            if not valid[b, t]:
                continue
            keys = [i for i in range(frames) if valid[b, i] and (i <= t or not causal)]
            if not keys:
                continue
            energies = np.array(
                [v @ np.tanh(w1.T @ features[b, i] + w2.T @ features[b, t] + bias) for i in keys]
            )
            alpha = np.exp(energies - energies.max())
            alpha /= alpha.sum()
            scores[b, t, keys] = alpha
            context[b, t] = alpha @ features[b, keys]
    return context, scores


def random_weights(rng, dim=DIM, units=UNITS):
    # Large enough for the softmax to be far from uniform.
    return (
        rng.normal(size=(dim, units)) * 1.5,
        rng.normal(size=(dim, units)) * 1.5,
        rng.normal(size=(units,)),
        rng.normal(size=(units,)) * 2.0,
    )


def make_layer(weights, **kwargs):
    w1, w2, bias, v = weights
    layer = ContextAttention(units=w1.shape[1], **kwargs)
    layer.build((None, None, w1.shape[0]))
    layer.key_kernel.assign(w1)
    layer.query_kernel.assign(w2)
    if layer.bias is not None:
        layer.bias.assign(bias)
    layer.score_vector.assign(v)
    return layer


def run(layer, features, mask=None):
    outputs, scores = layer(features, mask=mask, return_attention_scores=True)
    return keras.ops.convert_to_numpy(outputs), keras.ops.convert_to_numpy(scores)


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.fixture
def features(rng):
    return rng.normal(size=(BATCH, FRAMES, DIM)).astype("float32")


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("use_bias", [True, False])
def test_matches_numpy_equation(rng, features, causal, use_bias):
    weights = random_weights(rng)
    layer = make_layer(weights, causal=causal, use_bias=use_bias)
    w1, w2, bias, v = weights
    expected_context, expected_scores = reference_context_attention(
        features, w1, w2, bias if use_bias else np.zeros_like(bias), v, causal
    )
    context, scores = run(layer, features)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)
    np.testing.assert_allclose(context, expected_context, atol=1e-5)
    # The test data must make attention non-trivial, or it proves little.
    assert np.max(expected_scores[:, -1]) < 0.99


def test_causal_scores_are_row_stochastic_and_lower_triangular(rng, features):
    _, scores = run(make_layer(random_weights(rng)), features)
    np.testing.assert_allclose(scores.sum(-1), 1.0, atol=1e-6)
    upper = np.triu(np.ones((FRAMES, FRAMES), bool), k=1)
    assert np.all(scores[:, upper] == 0.0)
    assert np.all(scores[:, ~upper] > 0.0)
    # The first frame can only attend to itself: c_0 = f_0.
    context, _ = run(make_layer(random_weights(rng)), features)
    np.testing.assert_allclose(context[:, 0], features[:, 0], atol=1e-6)


@pytest.mark.parametrize("t", [0, 2, 3])
def test_causal_ignores_future_frames(rng, features, t):
    layer = make_layer(random_weights(rng))
    changed = features.copy()
    changed[:, t + 1 :] = rng.normal(size=changed[:, t + 1 :].shape) * 3.0
    context, scores = run(layer, features)
    new_context, new_scores = run(layer, changed)
    np.testing.assert_allclose(new_context[:, : t + 1], context[:, : t + 1], atol=1e-6)
    np.testing.assert_allclose(new_scores[:, : t + 1], scores[:, : t + 1], atol=1e-6)
    # ...while the later frames do see the change.
    assert not np.allclose(new_context[:, t + 1 :], context[:, t + 1 :], atol=1e-3)


def test_non_causal_attends_over_all_frames(rng, features):
    layer = make_layer(random_weights(rng), causal=False)
    context, scores = run(layer, features)
    assert np.all(scores > 0.0)
    np.testing.assert_allclose(scores.sum(-1), 1.0, atol=1e-6)
    changed = features.copy()
    changed[:, -1] += 2.0
    new_context, _ = run(layer, changed)
    assert not np.allclose(new_context[:, 0], context[:, 0], atol=1e-3)


@pytest.mark.parametrize("causal", [True, False])
def test_masked_frames_get_zero_weight_and_change_nothing(rng, features, causal):
    weights = random_weights(rng)
    layer = make_layer(weights, causal=causal)
    mask = np.array([[True, True, True, False, False], [True, False, True, True, False]])
    context, scores = run(layer, features, mask)
    expected_context, expected_scores = reference_context_attention(features, *weights, causal=causal, mask=mask)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)
    np.testing.assert_allclose(context, expected_context, atol=1e-5)
    for b in range(BATCH):
        assert np.all(scores[b][:, ~mask[b]] == 0.0)  # padded keys
        assert np.all(scores[b][~mask[b]] == 0.0)  # padded queries
    np.testing.assert_allclose(scores[0, :3].sum(-1), 1.0, atol=1e-6)

    padded = features.copy()
    padded[~mask] = rng.normal(size=padded[~mask].shape) * 10.0
    new_context, new_scores = run(layer, padded, mask)
    np.testing.assert_allclose(new_context[mask], context[mask], atol=1e-6)
    np.testing.assert_allclose(new_scores, scores, atol=1e-6)

    # A clip padded at its end gives what the unpadded clip gives.
    short_context, _ = run(layer, features[:1, :3])
    np.testing.assert_allclose(context[0, :3], short_context[0], atol=1e-6)


def test_fully_masked_clip_is_finite(rng, features):
    layer = make_layer(random_weights(rng))
    mask = np.array([[False] * FRAMES, [True] * FRAMES])
    context, scores = run(layer, features, mask)
    assert_finite(context, scores)
    assert np.all(context[0] == 0.0) and np.all(scores[0] == 0.0)
    unmasked_context, _ = run(layer, features[1:])
    np.testing.assert_allclose(context[1], unmasked_context[0], atol=1e-6)


def test_keras_mask_propagates_through_a_model(features):
    inputs = keras.Input((FRAMES, DIM))
    masked = keras.layers.Masking(mask_value=0.0)(inputs)
    context = ContextAttention(units=UNITS, name="context")(masked)
    pooled = keras.layers.GlobalAveragePooling1D()(context)
    model = keras.Model(inputs, pooled)
    layer = model.get_layer("context")
    padded = features.copy()
    padded[0, 3:] = 0.0
    mask = np.any(padded != 0.0, axis=-1)
    weights = [
        keras.ops.convert_to_numpy(w) for w in (layer.key_kernel, layer.query_kernel, layer.bias, layer.score_vector)
    ]
    expected_context, _ = reference_context_attention(padded, *weights, causal=True, mask=mask)
    expected = np.stack([expected_context[b, mask[b]].mean(0) for b in range(BATCH)])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(padded)), expected, atol=1e-5)


def test_mixed_precision_is_finite_and_close_to_float32(rng):
    features = rng.normal(size=(BATCH, FRAMES, DIM)).astype("float32") * 50.0
    weights = random_weights(rng)
    reference = make_layer(weights)
    layer = make_layer(weights, dtype="mixed_float16")
    mask = np.array([[True, True, True, False, False], [False] * FRAMES])
    context, scores = layer(features, mask=mask, return_attention_scores=True)
    assert context.dtype == "float16" and scores.dtype == "float16"
    assert_finite(context, scores)
    expected_context, expected_scores = run(reference, features, mask)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(scores).astype("float32"), expected_scores, atol=2e-2)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(context).astype("float32"), expected_context, rtol=2e-2, atol=0.5
    )


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"units": 0}, "units"),
        ({"units": -3}, "units"),
        ({"units": 2.5}, "units"),
        ({"units": None}, "units"),
        ({"units": True}, "units"),
        ({"units": 4, "causal": "yes"}, "causal"),
        ({"units": 4, "use_bias": 1}, "use_bias"),
    ],
)
def test_bad_arguments_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ContextAttention(**kwargs)


@pytest.mark.parametrize("shape", [(2, 6), (2, 5, 7, 7, 6), (2, 5, None)])
def test_bad_input_shapes_raise(shape):
    with pytest.raises(ValueError, match="input_shape"):
        ContextAttention(units=4).build(shape)


def test_output_shapes_and_symbolic_call():
    layer = ContextAttention(units=3)
    assert layer.compute_output_shape((2, 5, 6)) == (2, 5, 6)
    context, scores = layer(keras.Input((None, 6)), return_attention_scores=True)
    assert tuple(context.shape) == (None, None, 6)
    assert tuple(scores.shape) == (None, None, None)


def test_config_roundtrip_with_non_default_arguments():
    layer = ContextAttention(units=7, causal=False, use_bias=False, name="ctx")
    clone = assert_config_roundtrip(layer)
    assert (clone.units, clone.causal, clone.use_bias) == (7, False, False)


def test_model_loads_in_new_process(features, tmp_path):
    inputs = keras.Input((FRAMES, DIM))
    masked = keras.layers.Masking(mask_value=0.0)(inputs)
    context, scores = ContextAttention(units=UNITS, causal=False)(masked, return_attention_scores=True)
    pooled = keras.layers.GlobalAveragePooling1D()(context)
    model = keras.Model(inputs, [pooled, scores])
    padded = features.copy()
    padded[0, 4] = 0.0
    assert_loads_in_new_process(model, padded, tmp_path)
