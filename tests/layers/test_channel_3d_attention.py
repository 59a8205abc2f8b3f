"""Channel3DAttention against a NumPy version of STCAM equations 1-3."""

import keras
import numpy as np
import pytest

from keras_fer.layers import Channel3DAttention
from tests.layer_checks import assert_config_roundtrip, assert_finite, assert_loads_in_new_process


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def _reference(features, hidden_kernel, output_kernel):
    """STCAM eq. 1-3 in NumPy; features (B, T, H, W, C), kernels stored (in, out)."""
    average = features.mean(axis=(1, 2, 3))  # eq. 1
    maximum = features.max(axis=(1, 2, 3))  # eq. 1

    def mlp(v):
        return np.maximum(v @ hidden_kernel, 0.0) @ output_kernel

    attention = _sigmoid(mlp(average) + mlp(maximum))  # eq. 2
    return features * attention[:, None, None, None, :], attention  # eq. 3


def _layer_with_weights(rng, channels=12, reduction_ratio=4, **kwargs):
    layer = Channel3DAttention(reduction_ratio=reduction_ratio, **kwargs)
    layer.build((None, None, None, None, channels))
    hidden = channels // reduction_ratio
    hidden_kernel = rng.normal(0.0, 0.7, (channels, hidden)).astype("float32")
    output_kernel = rng.normal(0.0, 0.7, (hidden, channels)).astype("float32")
    layer.set_weights([hidden_kernel, output_kernel])
    return layer, hidden_kernel, output_kernel


def test_matches_numpy_equations_1_to_3():
    rng = np.random.default_rng(1)
    layer, hidden_kernel, output_kernel = _layer_with_weights(rng)
    features = rng.normal(size=(2, 3, 5, 4, 12)).astype("float32")

    outputs, scores = layer(features, return_attention_scores=True)
    expected_outputs, expected_attention = _reference(features, hidden_kernel, output_kernel)

    assert tuple(scores.shape) == (2, 1, 1, 1, 12)
    np.testing.assert_allclose(np.asarray(scores)[:, 0, 0, 0, :], expected_attention, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(outputs), expected_outputs, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(layer(features)), expected_outputs, rtol=1e-5, atol=1e-5)


def test_each_channel_is_scaled_by_one_factor_in_unit_interval():
    rng = np.random.default_rng(2)
    layer, _, _ = _layer_with_weights(rng)
    magnitudes = rng.uniform(0.5, 2.0, size=(2, 3, 5, 4, 12))
    features = (magnitudes * rng.choice([-1.0, 1.0], size=magnitudes.shape)).astype("float32")

    outputs, scores = layer(features, return_attention_scores=True)
    ratio = np.asarray(outputs) / features  # (B, T, H, W, C)

    per_channel = ratio.reshape(2, -1, 12)
    np.testing.assert_allclose(per_channel, per_channel[:, :1, :].repeat(per_channel.shape[1], axis=1), rtol=1e-5)
    np.testing.assert_allclose(per_channel[:, 0, :], np.asarray(scores)[:, 0, 0, 0, :], rtol=1e-5)
    assert np.all(per_channel > 0.0) and np.all(per_channel < 1.0)


def test_attention_ignores_where_values_are():
    """The descriptors pool over all of (T, H, W): shuffling positions leaves M^C unchanged."""
    rng = np.random.default_rng(3)
    layer, _, _ = _layer_with_weights(rng)
    features = rng.normal(size=(2, 3, 5, 4, 12)).astype("float32")
    order = rng.permutation(3 * 5 * 4)
    shuffled = features.reshape(2, -1, 12)[:, order, :].reshape(features.shape)

    _, scores = layer(features, return_attention_scores=True)
    _, shuffled_scores = layer(shuffled, return_attention_scores=True)

    np.testing.assert_allclose(np.asarray(shuffled_scores), np.asarray(scores), rtol=1e-5, atol=1e-6)


def test_unknown_time_and_space_at_build():
    rng = np.random.default_rng(4)
    layer, hidden_kernel, output_kernel = _layer_with_weights(rng, channels=8, reduction_ratio=2)
    inputs = keras.Input((None, None, None, 8))
    model = keras.Model(inputs, layer(inputs, return_attention_scores=True))
    for shape in [(2, 2, 3, 5, 8), (1, 4, 6, 2, 8)]:
        features = rng.normal(size=shape).astype("float32")
        outputs, scores = model(features)
        expected_outputs, _ = _reference(features, hidden_kernel, output_kernel)
        assert tuple(scores.shape) == (shape[0], 1, 1, 1, 8)
        np.testing.assert_allclose(np.asarray(outputs), expected_outputs, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("reduction_ratio", [0, -2, 1.5, True, "16", None])
def test_bad_reduction_ratio(reduction_ratio):
    with pytest.raises(ValueError, match="reduction_ratio"):
        Channel3DAttention(reduction_ratio=reduction_ratio)


def test_reduction_ratio_larger_than_channels():
    with pytest.raises(ValueError, match=r"channels=8.*reduction_ratio=16"):
        Channel3DAttention(reduction_ratio=16)(np.zeros((1, 2, 3, 3, 8), "float32"))


@pytest.mark.parametrize("shape", [(2, 7, 7, 8), (2, 3, 7, 7, 8, 1)])
def test_bad_input_rank(shape):
    with pytest.raises(ValueError, match="input_shape"):
        Channel3DAttention(reduction_ratio=2).build(shape)


def test_unknown_channels():
    with pytest.raises(ValueError, match="input_shape"):
        Channel3DAttention(reduction_ratio=2).build((None, 3, 7, 7, None))


def test_mixed_float16_is_finite_and_close_to_float32():
    rng = np.random.default_rng(5)
    reference_layer, hidden_kernel, output_kernel = _layer_with_weights(rng, channels=16, reduction_ratio=4)
    layer = Channel3DAttention(reduction_ratio=4, dtype="mixed_float16")
    layer.build((None, None, None, None, 16))
    layer.set_weights([hidden_kernel, output_kernel])
    # 5*7*7 positions of magnitude ~1000: their float16 sum would overflow (max 65504).
    features = (1000.0 + rng.uniform(0.0, 50.0, size=(2, 5, 7, 7, 16))).astype("float32")
    features[..., ::2] *= -1.0

    outputs, scores = layer(features, return_attention_scores=True)

    assert keras.backend.standardize_dtype(outputs.dtype) == "float16"
    assert_finite(outputs, scores)
    _, expected_attention = _reference(features, hidden_kernel, output_kernel)
    np.testing.assert_allclose(
        np.asarray(scores, "float32")[:, 0, 0, 0, :], expected_attention, atol=2e-3
    )
    np.testing.assert_allclose(
        np.asarray(outputs, "float32"), np.asarray(reference_layer(features)), rtol=5e-3, atol=1.0
    )


def test_config_roundtrip_non_default():
    layer = Channel3DAttention(reduction_ratio=4, name="cam")
    clone = assert_config_roundtrip(layer)
    assert clone.reduction_ratio == 4 and clone.name == "cam"


def test_saves_and_loads_in_new_process(tmp_path):
    rng = np.random.default_rng(6)
    layer, _, _ = _layer_with_weights(rng, channels=8, reduction_ratio=2)
    inputs = keras.Input((3, 5, 5, 8))
    outputs, scores = layer(inputs, return_attention_scores=True)
    model = keras.Model(inputs, [outputs, scores])
    assert_loads_in_new_process(model, rng.normal(size=(2, 3, 5, 5, 8)).astype("float32"), tmp_path)
