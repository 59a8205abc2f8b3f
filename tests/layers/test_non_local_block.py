"""NonLocalBlock against a NumPy version of Wang et al. (2018), equations 1 and 6."""

import keras
import numpy as np
import pytest

from keras_fer.layers import NonLocalBlock
from tests.layer_checks import assert_config_roundtrip, assert_finite, assert_loads_in_new_process

MODES = ["gaussian", "embedded_gaussian", "dot_product"]


def _softmax(v):
    e = np.exp(v - v.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _set_random_weights(layer, rng, channels, inner):
    """Give every sub-map of ``layer`` (built for ``channels``) known random weights; return them."""
    params = {}

    def dense(name, fan_in, fan_out, use_bias=True):
        params[name + "_kernel"] = rng.normal(0.0, 0.5, (fan_in, fan_out)).astype("float32")
        params[name + "_bias"] = rng.normal(0.0, 0.2, (fan_out,)).astype("float32") if use_bias else None
        return [params[name + "_kernel"]] + ([params[name + "_bias"]] if use_bias else [])

    if layer.mode != "gaussian":
        layer.theta.set_weights(dense("theta", channels, inner))
        layer.phi.set_weights(dense("phi", channels, inner))
    layer.g.set_weights(dense("g", channels, inner))
    layer.output_projection.set_weights(dense("w_z", inner, channels, use_bias=not layer.use_batch_norm))
    if layer.use_batch_norm:
        params["bn"] = [
            rng.uniform(0.5, 1.5, channels).astype("float32"),  # gamma
            rng.normal(0.0, 0.3, channels).astype("float32"),  # beta
            rng.normal(0.0, 0.3, channels).astype("float32"),  # moving mean
            rng.uniform(0.5, 2.0, channels).astype("float32"),  # moving variance
        ]
        layer.batch_norm.set_weights(params["bn"])
        params["epsilon"] = layer.batch_norm.epsilon
    return params


def _reference(features, mode, params):
    """Wang et al. eq. 1 (y), eq. 6 (z = BN(W_z y) + x), inference-mode batch norm."""
    batch, time, height, width, channels = features.shape
    x = features.reshape(batch, -1, channels).astype("float64")  # (B, N, C)
    g = x @ params["g_kernel"] + params["g_bias"]
    if mode == "gaussian":
        theta, phi = x, x
    else:
        theta = x @ params["theta_kernel"] + params["theta_bias"]
        phi = x @ params["phi_kernel"] + params["phi_bias"]
    affinity = theta @ phi.transpose(0, 2, 1)  # f before normalisation
    weights = affinity / x.shape[1] if mode == "dot_product" else _softmax(affinity)
    y = weights @ g
    update = y @ params["w_z_kernel"]
    if "bn" in params:
        gamma, beta, mean, variance = params["bn"]
        update = gamma * (update - mean) / np.sqrt(variance + params["epsilon"]) + beta
    else:
        update = update + params["w_z_bias"]
    return (update + x).reshape(features.shape), weights


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("use_batch_norm", [True, False])
def test_matches_numpy_non_local_operation(mode, use_batch_norm):
    rng = np.random.default_rng(1)
    layer = NonLocalBlock(mode=mode, inter_channels=4, use_batch_norm=use_batch_norm)
    layer.build((None, None, None, None, 6))
    params = _set_random_weights(layer, rng, channels=6, inner=4)
    features = (0.5 * rng.normal(size=(2, 3, 4, 5, 6))).astype("float32")

    outputs, scores = layer(features, training=False, return_attention_scores=True)
    expected_outputs, expected_weights = _reference(features, mode, params)

    assert tuple(scores.shape) == (2, 60, 60)
    np.testing.assert_allclose(np.asarray(scores), expected_weights, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(outputs), expected_outputs, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode", ["gaussian", "embedded_gaussian"])
def test_gaussian_weights_are_a_distribution_over_positions(mode):
    rng = np.random.default_rng(2)
    layer = NonLocalBlock(mode=mode)
    features = rng.normal(size=(2, 2, 3, 3, 8)).astype("float32")
    _, scores = layer(features, return_attention_scores=True)
    scores = np.asarray(scores)
    assert np.all(scores >= 0.0)
    np.testing.assert_allclose(scores.sum(axis=-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("use_batch_norm", [True, False])
def test_starts_as_identity(use_batch_norm):
    """Wang et al.: zero-initialised BN scale (or W_z) makes a new block the identity."""
    rng = np.random.default_rng(3)
    features = rng.normal(size=(2, 2, 3, 3, 8)).astype("float32")
    outputs = NonLocalBlock(use_batch_norm=use_batch_norm)(features, training=False)
    np.testing.assert_array_equal(np.asarray(outputs), features)


@pytest.mark.parametrize("mode", MODES)
def test_equivariant_to_reordering_positions(mode):
    """The affinity has no notion of where a position is: shuffling positions shuffles the output."""
    rng = np.random.default_rng(4)
    layer = NonLocalBlock(mode=mode, inter_channels=4)
    layer.build((None, None, None, None, 6))
    _set_random_weights(layer, rng, channels=6, inner=4)
    features = (0.5 * rng.normal(size=(2, 2, 3, 4, 6))).astype("float32")
    order = rng.permutation(24)
    shuffled = features.reshape(2, -1, 6)[:, order].reshape(features.shape)

    outputs = np.asarray(layer(features)).reshape(2, -1, 6)
    shuffled_outputs = np.asarray(layer(shuffled)).reshape(2, -1, 6)

    np.testing.assert_allclose(shuffled_outputs, outputs[:, order], rtol=1e-4, atol=1e-5)


def test_training_uses_batch_statistics():
    rng = np.random.default_rng(5)
    layer = NonLocalBlock(inter_channels=4)
    layer.build((None, None, None, None, 6))
    _set_random_weights(layer, rng, channels=6, inner=4)
    layer.batch_norm.set_weights([np.ones(6), np.zeros(6), np.zeros(6), np.ones(6)])
    features = rng.normal(size=(2, 2, 3, 4, 6)).astype("float32")

    update = np.asarray(layer(features, training=True)) - features  # BN(W_z y), batch statistics

    np.testing.assert_allclose(update.reshape(-1, 6).mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(update.reshape(-1, 6).std(axis=0), 1.0, atol=0.05)


def test_unknown_time_and_space_at_build():
    rng = np.random.default_rng(6)
    layer = NonLocalBlock(mode="dot_product", inter_channels=3)
    inputs = keras.Input((None, None, None, 5))
    model = keras.Model(inputs, layer(inputs, return_attention_scores=True))
    params = _set_random_weights(layer, rng, channels=5, inner=3)
    for shape in [(2, 2, 3, 2, 5), (1, 3, 2, 4, 5)]:
        features = (0.5 * rng.normal(size=shape)).astype("float32")
        outputs, scores = model(features)
        expected_outputs, _ = _reference(features, "dot_product", params)
        n = shape[1] * shape[2] * shape[3]
        assert tuple(scores.shape) == (shape[0], n, n)
        np.testing.assert_allclose(np.asarray(outputs), expected_outputs, rtol=1e-4, atol=1e-5)


def test_default_inter_channels_is_half_the_channels():
    layer = NonLocalBlock()
    layer.build((None, 2, 3, 3, 10))
    assert tuple(layer.g.kernel.shape) == (10, 5)
    assert tuple(layer.theta.kernel.shape) == (10, 5)


@pytest.mark.parametrize("mode", ["gauss", "Gaussian", None, "dot"])
def test_bad_mode(mode):
    with pytest.raises(ValueError, match="mode"):
        NonLocalBlock(mode=mode)


@pytest.mark.parametrize("inter_channels", [0, -4, 2.0, "8", True])
def test_bad_inter_channels(inter_channels):
    with pytest.raises(ValueError, match="inter_channels"):
        NonLocalBlock(inter_channels=inter_channels)


def test_bad_use_batch_norm():
    with pytest.raises(ValueError, match="use_batch_norm"):
        NonLocalBlock(use_batch_norm=1)


@pytest.mark.parametrize("shape", [(2, 7, 7, 8), (2, 3, 7, 7, 8, 1)])
def test_bad_input_rank(shape):
    with pytest.raises(ValueError, match="input_shape"):
        NonLocalBlock().build(shape)


def test_unknown_channels():
    with pytest.raises(ValueError, match="input_shape"):
        NonLocalBlock().build((None, 3, 7, 7, None))


@pytest.mark.parametrize("mode", MODES)
def test_mixed_float16_is_finite(mode):
    rng = np.random.default_rng(7)
    layer = NonLocalBlock(mode=mode, inter_channels=4, dtype="mixed_float16")
    layer.build((None, None, None, None, 16))
    params = _set_random_weights(layer, rng, channels=16, inner=4)
    layer.g.set_weights([1e-3 * params["g_kernel"], np.zeros(4, "float32")])
    # Features of magnitude ~100: the affinities (raw or embedded dot products) exceed the
    # float16 range (65504), while the small g keeps the block's true output inside it.
    features = (100.0 * rng.normal(size=(2, 2, 3, 3, 16))).astype("float32")
    affinity_check = features.reshape(2, -1, 16)
    assert np.abs(affinity_check @ affinity_check.transpose(0, 2, 1)).max() > 65504.0

    outputs, scores = layer(features, return_attention_scores=True)

    assert keras.backend.standardize_dtype(outputs.dtype) == "float16"
    assert_finite(outputs, scores)


def test_mixed_float16_close_to_float32():
    rng = np.random.default_rng(8)
    layer = NonLocalBlock(inter_channels=4, dtype="mixed_float16")
    layer.build((None, None, None, None, 8))
    params = _set_random_weights(layer, rng, channels=8, inner=4)
    features = (0.5 * rng.normal(size=(2, 2, 3, 3, 8))).astype("float32")
    expected_outputs, _ = _reference(features, "embedded_gaussian", params)
    np.testing.assert_allclose(np.asarray(layer(features), "float32"), expected_outputs, rtol=2e-2, atol=2e-2)


def test_config_roundtrip_non_default():
    layer = NonLocalBlock(mode="dot_product", inter_channels=4, use_batch_norm=False, name="nl")
    clone = assert_config_roundtrip(layer)
    assert (clone.mode, clone.inter_channels, clone.use_batch_norm) == ("dot_product", 4, False)


def test_saves_and_loads_in_new_process(tmp_path):
    rng = np.random.default_rng(9)
    layer = NonLocalBlock(mode="gaussian", inter_channels=3)
    inputs = keras.Input((2, 3, 3, 6))
    outputs, scores = layer(inputs, return_attention_scores=True)
    model = keras.Model(inputs, [outputs, scores])
    _set_random_weights(layer, rng, channels=6, inner=3)
    features = (0.5 * rng.normal(size=(2, 2, 3, 3, 6))).astype("float32")
    assert_loads_in_new_process(model, features, tmp_path)
