"""SoftMaskBranch (STANet eq. 2) against a NumPy hourglass on weights set by the test."""

import cv2
import keras
import numpy as np
import pytest

from keras_fer.layers import SoftMaskBranch
from tests.layer_checks import assert_config_roundtrip, assert_finite, assert_loads_in_new_process

# ---------------------------------------------------------------- NumPy reference


def np_conv2d_same(x, kernel, bias):
    """Cross-correlation with TF "same" padding, stride 1. x (B,H,W,Ci), kernel (k,k,Ci,Co)."""
    k = kernel.shape[0]
    before, after = (k - 1) // 2, (k - 1) - (k - 1) // 2
    padded = np.pad(x, ((0, 0), (before, after), (before, after), (0, 0)))
    batch, height, width, _ = x.shape
    out = np.zeros((batch, height, width, kernel.shape[-1]), dtype=np.float64)
    for dy in range(k):
        for dx in range(k):
            out += padded[:, dy : dy + height, dx : dx + width, :] @ kernel[dy, dx]
    return out + bias


def np_max_pool_2x2(x):
    batch, height, width, channels = x.shape
    h, w = height // 2, width // 2
    return x[:, : 2 * h, : 2 * w].reshape(batch, h, 2, w, 2, channels).max(axis=(2, 4))


def np_bilinear_resize(x, out_height, out_width):
    """Half-pixel-centre bilinear resize (no antialiasing), edges clamped."""

    def axis_weights(in_size, out_size):
        src = (np.arange(out_size) + 0.5) * (in_size / out_size) - 0.5
        src = np.clip(src, 0.0, in_size - 1)
        low = np.floor(src).astype(int)
        high = np.minimum(low + 1, in_size - 1)
        return low, high, src - low

    y0, y1, fy = axis_weights(x.shape[1], out_height)
    x0, x1, fx = axis_weights(x.shape[2], out_width)
    rows = x[:, y0] * (1 - fy)[None, :, None, None] + x[:, y1] * fy[None, :, None, None]
    return rows[:, :, x0] * (1 - fx)[None, None, :, None] + rows[:, :, x1] * fx[None, None, :, None]


def relu(x):
    return np.maximum(x, 0.0)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_soft_mask_branch(x, weights, depth):
    """weights: [down_1 kernel, bias, ..., down_depth kernel, bias, mask_1 k, b, mask_2 k, b]."""
    x = x.astype(np.float64)
    skips = [x]
    features = x
    for level in range(depth):
        kernel, bias = weights[2 * level], weights[2 * level + 1]
        features = relu(np_conv2d_same(np_max_pool_2x2(features), kernel, bias))
        skips.append(features)
    for skip in reversed(skips[:-1]):
        features = np_bilinear_resize(features, skip.shape[1], skip.shape[2]) + skip
    k1, b1, k2, b2 = weights[2 * depth :]
    hidden = relu(np_conv2d_same(features, k1, b1))
    soft_mask = sigmoid(np_conv2d_same(hidden, k2, b2))
    return (1.0 + soft_mask) * x, soft_mask


def random_weights(layer, rng, scale=0.5):
    weights = [rng.normal(0.0, scale, w.shape).astype("float32") for w in layer.get_weights()]
    layer.set_weights(weights)
    return weights


# ---------------------------------------------------------------- tests


def test_numpy_bilinear_reference_matches_opencv():
    """The reference resize itself agrees with an independent implementation (OpenCV)."""
    rng = np.random.default_rng(1)
    image = rng.normal(size=(3, 5, 2)).astype(np.float32)
    for out_h, out_w in [(7, 11), (6, 10), (3, 5)]:
        expected = cv2.resize(image, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
        ours = np_bilinear_resize(image[None].astype(np.float64), out_h, out_w)[0]
        np.testing.assert_allclose(ours, expected, atol=1e-5)


@pytest.mark.parametrize(
    "depth, kernel_size, height, width",
    [(2, 3, 7, 9), (1, 1, 8, 8), (3, 3, 8, 11), (2, 2, 6, 5)],
)
def test_matches_numpy_hourglass(depth, kernel_size, height, width):
    rng = np.random.default_rng(depth * 10 + kernel_size)
    x = rng.normal(size=(2, height, width, 4)).astype("float32")
    layer = SoftMaskBranch(depth=depth, kernel_size=kernel_size)
    layer.build(x.shape)
    weights = random_weights(layer, rng)
    outputs, soft_mask = layer(x, return_attention_scores=True)
    expected_outputs, expected_mask = np_soft_mask_branch(x, weights, depth)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(soft_mask), expected_mask, atol=2e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(outputs), expected_outputs, atol=5e-5)


def test_output_is_one_plus_mask_times_input_and_mask_in_unit_interval():
    rng = np.random.default_rng(3)
    x = rng.normal(0.0, 3.0, size=(2, 7, 7, 5)).astype("float32")
    layer = SoftMaskBranch()
    layer.build(x.shape)
    random_weights(layer, rng, scale=2.0)  # large weights: the mask saturates at both ends
    outputs, soft_mask = layer(x, return_attention_scores=True)
    outputs, soft_mask = keras.ops.convert_to_numpy(outputs), keras.ops.convert_to_numpy(soft_mask)
    assert soft_mask.shape == x.shape
    assert soft_mask.min() >= 0.0 and soft_mask.max() <= 1.0
    assert soft_mask.min() < 0.05 and soft_mask.max() > 0.95
    np.testing.assert_allclose(outputs, (1.0 + soft_mask) * x, rtol=1e-6, atol=0)
    np.testing.assert_array_equal(layer(x), outputs)


def test_constant_mask_from_last_conv_bias():
    """With a zero last kernel, M = sigmoid(bias) everywhere: S = (1 + sigmoid(b)) x; b << 0 gives S = x."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 7, 7, 3)).astype("float32")
    layer = SoftMaskBranch(depth=1)
    layer.build(x.shape)
    random_weights(layer, rng)
    bias = np.array([-2.0, 0.0, 1.5], dtype="float32")
    layer.mask_conv_2.set_weights([np.zeros((1, 1, 3, 3), "float32"), bias])
    outputs, soft_mask = layer(x, return_attention_scores=True)
    expected_mask = np.broadcast_to(sigmoid(bias), x.shape)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(soft_mask), expected_mask, atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(outputs), (1.0 + sigmoid(bias)) * x, atol=1e-5)

    layer.mask_conv_2.set_weights([np.zeros((1, 1, 3, 3), "float32"), np.full(3, -30.0, "float32")])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), x, atol=1e-5)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2", None])
def test_bad_depth_raises(bad):
    with pytest.raises(ValueError, match="depth"):
        SoftMaskBranch(depth=bad)


@pytest.mark.parametrize("bad", [0, 2.0])
def test_bad_kernel_size_raises(bad):
    with pytest.raises(ValueError, match="kernel_size"):
        SoftMaskBranch(kernel_size=bad)


@pytest.mark.parametrize(
    "shape, message",
    [
        ((2, 7, 4), "rank 4"),
        ((2, 3, 7, 7, 4), "rank 4"),
        ((2, 3, 8, 4), r"H and W >= 2\*\*depth = 4"),
        ((2, 8, 2, 4), r"H and W >= 2\*\*depth = 4"),
        ((None, None, None, 4), "static H, W and C"),
    ],
)
def test_bad_input_shape_raises(shape, message):
    with pytest.raises(ValueError, match=message):
        SoftMaskBranch(depth=2).build(shape)


def test_call_on_another_size_than_built_raises():
    layer = SoftMaskBranch(depth=2)
    layer(np.zeros((1, 8, 8, 4), "float32"))
    with pytest.raises(ValueError, match="incompatible"):
        layer(np.zeros((1, 12, 8, 4), "float32"))


def test_mixed_float16_is_finite():
    rng = np.random.default_rng(5)
    x = rng.normal(0.0, 50.0, size=(2, 7, 9, 4)).astype("float32")
    layer = SoftMaskBranch(depth=2, dtype="mixed_float16")
    outputs, soft_mask = layer(x, return_attention_scores=True)
    assert keras.backend.standardize_dtype(outputs.dtype) == "float16"
    assert_finite(outputs, soft_mask)
    soft_mask = keras.ops.convert_to_numpy(soft_mask).astype("float32")
    assert soft_mask.min() >= 0.0 and soft_mask.max() <= 1.0
    assert all(w.dtype == "float32" for w in layer.weights)


def test_config_roundtrip_non_default():
    clone = assert_config_roundtrip(SoftMaskBranch(depth=3, kernel_size=5, name="sab"))
    assert (clone.depth, clone.kernel_size, clone.name) == (3, 5, "sab")


def test_functional_model_saves_and_loads_in_new_process(tmp_path):
    inputs = keras.Input((7, 9, 4))
    outputs, soft_mask = SoftMaskBranch(depth=2, kernel_size=3)(inputs, return_attention_scores=True)
    model = keras.Model(inputs, [outputs, soft_mask])
    random_weights(model.layers[-1], np.random.default_rng(6))
    x = np.random.default_rng(7).normal(size=(2, 7, 9, 4)).astype("float32")
    assert_loads_in_new_process(model, x, tmp_path)
