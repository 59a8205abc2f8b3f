"""SpatialTemporalAttention against a NumPy version of STCAM equations 4-6."""

import keras
import numpy as np
import pytest

from keras_fer.layers import SpatialTemporalAttention
from tests.layer_checks import assert_config_roundtrip, assert_finite, assert_loads_in_new_process


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def _correlate3d_same(volume, kernel, bias):
    """3-D cross-correlation, stride 1, zero "same" padding (odd kernels centred).

    volume (B, T, H, W, Cin), kernel (kt, kh, kw, Cin, Cout), bias (Cout,).
    """
    _, time, height, width, _ = volume.shape
    padding = [(0, 0)] + [((k - 1) // 2, k - 1 - (k - 1) // 2) for k in kernel.shape[:3]] + [(0, 0)]
    padded = np.pad(volume, padding)
    result = np.zeros(volume.shape[:4] + (kernel.shape[-1],))
    for dt in range(kernel.shape[0]):
        for dh in range(kernel.shape[1]):
            for dw in range(kernel.shape[2]):
                window = padded[:, dt : dt + time, dh : dh + height, dw : dw + width, :]
                result += window @ kernel[dt, dh, dw]
    return result + bias


def _reference(features, kernel, bias):
    """STCAM eq. 4-6 in NumPy."""
    descriptors = np.concatenate(
        [features.mean(axis=-1, keepdims=True), features.max(axis=-1, keepdims=True)], axis=-1
    )  # eq. 4
    attention = _sigmoid(_correlate3d_same(descriptors, kernel, bias))  # eq. 5
    return features * attention, attention  # eq. 6


def _layer_with_weights(rng, kernel_size=(3, 5, 3), channels=6, **kwargs):
    layer = SpatialTemporalAttention(kernel_size=kernel_size, **kwargs)
    layer.build((None, None, None, None, channels))
    kernel = rng.normal(0.0, 0.3, tuple(kernel_size) + (2, 1)).astype("float32")
    bias = np.array([0.2], "float32")
    layer.set_weights([kernel, bias])
    return layer, kernel, bias


def test_matches_numpy_equations_4_to_6():
    rng = np.random.default_rng(1)
    layer, kernel, bias = _layer_with_weights(rng, kernel_size=(3, 5, 3))
    features = rng.normal(size=(2, 4, 7, 6, 6)).astype("float32")

    outputs, scores = layer(features, return_attention_scores=True)
    expected_outputs, expected_attention = _reference(features, kernel, bias)

    assert tuple(scores.shape) == (2, 4, 7, 6, 1)
    np.testing.assert_allclose(np.asarray(scores), expected_attention, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(outputs), expected_outputs, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(layer(features)), expected_outputs, rtol=1e-5, atol=1e-5)


def test_convolution_is_a_centred_correlation_with_zero_padding():
    """A kernel with one tap at offset (-1, -2, +1) from the centre reads the average map there."""
    layer = SpatialTemporalAttention(kernel_size=(3, 5, 3), use_bias=False)
    layer.build((None, None, None, None, 4))
    kernel = np.zeros((3, 5, 3, 2, 1), "float32")
    kernel[0, 0, 2, 0, 0] = 1.0  # average channel, tap (t-1, h-2, w+1)
    layer.set_weights([kernel])
    rng = np.random.default_rng(2)
    features = rng.normal(size=(1, 4, 6, 5, 4)).astype("float32")

    _, scores = layer(features, return_attention_scores=True)
    logits = np.log(np.asarray(scores, "float64") / (1.0 - np.asarray(scores, "float64")))[0, ..., 0]

    average = features.mean(axis=-1)[0]  # (T, H, W)
    expected = np.zeros_like(average)
    expected[1:, 2:, :-1] = average[:-1, :-2, 1:]
    np.testing.assert_allclose(logits, expected, atol=1e-4)
    np.testing.assert_allclose(
        _correlate3d_same(features.mean(axis=-1, keepdims=True), kernel[:, :, :, :1], 0.0)[0, ..., 0],
        expected,
        atol=1e-5,
    )


def test_each_position_is_scaled_by_one_factor_shared_by_channels():
    rng = np.random.default_rng(3)
    layer, _, _ = _layer_with_weights(rng)
    magnitudes = rng.uniform(0.5, 2.0, size=(2, 4, 7, 6, 6))
    features = (magnitudes * rng.choice([-1.0, 1.0], size=magnitudes.shape)).astype("float32")

    outputs, scores = layer(features, return_attention_scores=True)
    ratio = np.asarray(outputs) / features  # (B, T, H, W, C)

    np.testing.assert_allclose(ratio, np.broadcast_to(ratio[..., :1], ratio.shape), rtol=1e-5)
    np.testing.assert_allclose(ratio[..., :1], np.asarray(scores), rtol=1e-5)
    assert np.all(ratio > 0.0) and np.all(ratio < 1.0)


def test_channel_order_does_not_matter():
    """Channel pooling (eq. 4) is symmetric in the channels: permuting them permutes the output only."""
    rng = np.random.default_rng(4)
    layer, _, _ = _layer_with_weights(rng)
    features = rng.normal(size=(2, 4, 7, 6, 6)).astype("float32")
    order = rng.permutation(6)

    outputs, scores = layer(features, return_attention_scores=True)
    permuted_outputs, permuted_scores = layer(features[..., order], return_attention_scores=True)

    np.testing.assert_allclose(np.asarray(permuted_scores), np.asarray(scores), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(permuted_outputs), np.asarray(outputs)[..., order], rtol=1e-5, atol=1e-6)


def test_unknown_time_and_space_at_build():
    rng = np.random.default_rng(5)
    layer, kernel, bias = _layer_with_weights(rng, kernel_size=(3, 3, 3), channels=5)
    inputs = keras.Input((None, None, None, 5))
    model = keras.Model(inputs, layer(inputs, return_attention_scores=True))
    for shape in [(2, 2, 3, 5, 5), (1, 5, 4, 4, 5)]:
        features = rng.normal(size=shape).astype("float32")
        outputs, scores = model(features)
        expected_outputs, _ = _reference(features, kernel, bias)
        assert tuple(scores.shape) == shape[:4] + (1,)
        np.testing.assert_allclose(np.asarray(outputs), expected_outputs, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kernel_size", [(3, 7), (3, 0, 7), 0, -3, 2.5, "3", True, (3, 7, 7.0), None])
def test_bad_kernel_size(kernel_size):
    with pytest.raises(ValueError, match="kernel_size"):
        SpatialTemporalAttention(kernel_size=kernel_size)


def test_bad_use_bias():
    with pytest.raises(ValueError, match="use_bias"):
        SpatialTemporalAttention(use_bias="yes")


@pytest.mark.parametrize("shape", [(2, 7, 7, 8), (2, 3, 7, 7, 8, 1)])
def test_bad_input_rank(shape):
    with pytest.raises(ValueError, match="input_shape"):
        SpatialTemporalAttention().build(shape)


def test_unknown_channels():
    with pytest.raises(ValueError, match="input_shape"):
        SpatialTemporalAttention().build((None, 3, 7, 7, None))


def test_int_kernel_size_means_a_cube():
    assert SpatialTemporalAttention(kernel_size=3).kernel_size == (3, 3, 3)


def test_mixed_float16_is_finite_and_close_to_float32():
    rng = np.random.default_rng(6)
    reference_layer, kernel, bias = _layer_with_weights(rng, kernel_size=(3, 3, 3), channels=16)
    layer = SpatialTemporalAttention(kernel_size=(3, 3, 3), dtype="mixed_float16")
    layer.build((None, None, None, None, 16))
    layer.set_weights([kernel, bias])
    # 16 channels of magnitude ~10000: their float16 sum would overflow (max 65504).
    features = (1.0e4 + rng.uniform(0.0, 500.0, size=(2, 3, 7, 7, 16))).astype("float32")
    features[:, :, ::2] *= -1.0

    outputs, scores = layer(features, return_attention_scores=True)

    assert keras.backend.standardize_dtype(outputs.dtype) == "float16"
    assert_finite(outputs, scores)
    small = rng.normal(size=(2, 3, 7, 7, 16)).astype("float32")
    np.testing.assert_allclose(
        np.asarray(layer(small), "float32"), np.asarray(reference_layer(small)), rtol=1e-2, atol=1e-2
    )


def test_config_roundtrip_non_default():
    layer = SpatialTemporalAttention(kernel_size=(3, 5, 5), use_bias=False, name="stam")
    clone = assert_config_roundtrip(layer)
    assert clone.kernel_size == (3, 5, 5) and clone.use_bias is False


def test_saves_and_loads_in_new_process(tmp_path):
    rng = np.random.default_rng(7)
    layer, _, _ = _layer_with_weights(rng, kernel_size=(3, 5, 5), channels=4)
    inputs = keras.Input((3, 5, 5, 4))
    outputs, scores = layer(inputs, return_attention_scores=True)
    model = keras.Model(inputs, [outputs, scores])
    assert_loads_in_new_process(model, rng.normal(size=(2, 3, 5, 5, 4)).astype("float32"), tmp_path)
