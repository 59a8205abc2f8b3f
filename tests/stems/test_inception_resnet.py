"""STCAM's 3D-Inception-ResNet: shapes, 1072-d feature, attention placement and parameter counts."""

import functools

import keras
import numpy as np
import pytest

from keras_fer.layers import Channel3DAttention, NonLocalBlock, SpatialTemporalAttention
from keras_fer.stems.inception_resnet import (
    ATTENTION_OPTIONS,
    SpatialSubsample,
    attention_maps_model,
    inception_resnet3d,
)
from tests.layer_checks import assert_finite

SMALL = (7, 64, 64, 3)
PLACES = ("block_a", "reduction_a", "block_b", "reduction_b", "block_c")
# Channels at each attention place: stem 192, Reduction-A 192 + 192 + 192, Reduction-B 576 + 192 + 144 + 160.
PLACE_CHANNELS = {"block_a": 192, "reduction_a": 576, "block_b": 576, "reduction_b": 1072, "block_c": 1072}
STAM_KERNELS = {place: (3, 7, 7) if place == "block_a" else (3, 5, 5) for place in PLACES}


@functools.cache
def small_stem(attention):
    """One model per option, shared by the tests that only read it."""
    return inception_resnet3d(input_shape=SMALL, attention=attention)


def clip(batch=2, shape=SMALL, seed=0):
    return np.random.default_rng(seed).uniform(0.0, 1.0, size=(batch, *shape)).astype("float32")


def extra_parameters(attention, reduction_ratio=16):
    """Parameters that each option adds to the baseline, counted by hand from the paper's modules."""
    cam = sum(2 * c * (c // reduction_ratio) for c in PLACE_CHANNELS.values())  # W1, W2 without bias (eq. 2)
    stam = sum(2 * np.prod(STAM_KERNELS[p]) + 1 for p in PLACES)  # 2 -> 1 channel 3-D conv with bias (eq. 5)

    def non_local(c, embedded):
        inner = c // 2
        count = c * inner + inner  # g
        count += inner * c + 4 * c  # W_z (no bias) + batch norm (gamma, beta, moving mean, variance)
        if embedded:
            count += 2 * (c * inner + inner)  # theta, phi
        return count

    return {
        "none": 0,
        "cam": cam,
        "stam": stam,
        "cam_stam": cam + stam,
        "stam_cam": cam + stam,
        "nl_gaussian": sum(non_local(c, False) for c in PLACE_CHANNELS.values()),
        "nl_embedded_gaussian": sum(non_local(c, True) for c in PLACE_CHANNELS.values()),
    }[attention]


def source_layer(tensor):
    return tensor._keras_history.operation.name


@pytest.mark.parametrize("attention", ATTENTION_OPTIONS)
def test_output_is_the_1072_feature_for_every_option(attention):
    features = small_stem(attention)(clip())
    assert tuple(features.shape) == (2, 1072)
    assert_finite(features)


def test_channel_arithmetic_gives_1072():
    stem = small_stem("none")
    assert stem.get_layer("stem_6").output.shape == (None, 7, 8, 8, 192)
    assert stem.get_layer("block_a_relu").output.shape == (None, 7, 8, 8, 192)
    assert stem.get_layer("reduction_a_mixed").output.shape == (None, 7, 4, 4, 576)
    assert stem.get_layer("block_b_relu").output.shape == (None, 7, 4, 4, 576)
    assert stem.get_layer("reduction_b_mixed").output.shape == (None, 7, 2, 2, 1072)
    assert stem.get_layer("block_c_relu").output.shape == (None, 7, 2, 2, 1072)
    first = stem.get_layer("stem_1_conv")
    # The paper's stride (1, 2, 2) runs as stride 1 + subsampling (same values, see the test below).
    assert first.kernel_size == (3, 7, 7) and first.strides == (1, 1, 1)
    assert stem.get_layer("stem_1_conv_subsample").output.shape == (None, 7, 32, 32, 32)
    direct = inception_resnet3d(input_shape=SMALL, subsample_strided_convs=False).get_layer("stem_1_conv")
    assert direct.kernel_size == (3, 7, 7) and direct.strides == (1, 2, 2)


def test_parameter_counts_differ_by_the_attention_modules():
    counts = {a: small_stem(a).count_params() for a in ATTENTION_OPTIONS}
    for attention in ATTENTION_OPTIONS:
        assert counts[attention] - counts["none"] == extra_parameters(attention), attention
    assert counts["none"] < counts["stam"] < counts["cam"] < counts["cam_stam"] < counts["nl_gaussian"]
    assert counts["nl_gaussian"] < counts["nl_embedded_gaussian"]


def test_parameter_count_follows_reduction_ratio():
    none = small_stem("none").count_params()
    cam8 = inception_resnet3d(input_shape=SMALL, attention="cam", reduction_ratio=8).count_params()
    assert cam8 - none == extra_parameters("cam", reduction_ratio=8)


@pytest.mark.parametrize("attention", ["cam_stam", "stam_cam"])
def test_stcam_sits_on_the_residual_branch_and_inline_in_reductions(attention):
    stem = small_stem(attention)
    first, second = attention.split("_")
    for place in PLACES:
        first_layer = stem.get_layer(f"{place}_{first}")
        second_layer = stem.get_layer(f"{place}_{second}")
        before = f"{place}_projection" if place.startswith("block") else f"{place}_mixed"
        assert source_layer(first_layer.input) == before
        assert source_layer(second_layer.input) == first_layer.name
        stam = stem.get_layer(f"{place}_stam")
        assert isinstance(stam, SpatialTemporalAttention) and stam.kernel_size == STAM_KERNELS[place]
        cam = stem.get_layer(f"{place}_cam")
        assert isinstance(cam, Channel3DAttention) and cam.reduction_ratio == 16
        if place.startswith("block"):
            add_inputs = {source_layer(t) for t in stem.get_layer(f"{place}_add").input}
            assert second_layer.name in add_inputs and len(add_inputs) == 2


@pytest.mark.parametrize("attention", ["nl_gaussian", "nl_embedded_gaussian"])
def test_non_local_blocks_replace_stcam_at_the_same_places(attention):
    stem = small_stem(attention)
    blocks = [layer for layer in stem.layers if isinstance(layer, NonLocalBlock)]
    assert [b.name for b in blocks] == [f"{place}_nonlocal" for place in PLACES]
    for block, place in zip(blocks, PLACES):
        assert block.mode == attention[len("nl_") :]
        before = f"{place}_projection" if place.startswith("block") else f"{place}_mixed"
        assert source_layer(block.input) == before
    assert not any(isinstance(layer, (Channel3DAttention, SpatialTemporalAttention)) for layer in stem.layers)


def test_fresh_non_local_blocks_leave_the_baseline_unchanged():
    """Zero-initialised BN after W_z (Wang et al.): with the baseline's weights, nl_* computes the baseline."""
    baseline = small_stem("none")
    non_local = inception_resnet3d(input_shape=SMALL, attention="nl_embedded_gaussian")
    for layer in baseline.layers:
        non_local.get_layer(layer.name).set_weights(layer.get_weights())
    frames = clip()
    np.testing.assert_allclose(np.asarray(non_local(frames)), np.asarray(baseline(frames)), rtol=1e-5, atol=1e-6)


def test_attention_maps_model_exposes_every_map():
    stem = small_stem("cam_stam")
    maps_model = attention_maps_model(stem)
    frames = clip()
    maps = maps_model(frames)
    spatial = {"block_a": 8, "reduction_a": 4, "block_b": 4, "reduction_b": 2, "block_c": 2}
    expected = {"features": (2, 1072)}
    for place in PLACES:
        expected[f"{place}_cam"] = (2, 1, 1, 1, PLACE_CHANNELS[place])
        expected[f"{place}_stam"] = (2, 7, spatial[place], spatial[place], 1)
    assert {name: tuple(value.shape) for name, value in maps.items()} == expected
    np.testing.assert_allclose(np.asarray(maps["features"]), np.asarray(stem(frames)), rtol=1e-5, atol=1e-6)
    for name, value in maps.items():
        if name != "features":
            assert np.all((np.asarray(value) > 0.0) & (np.asarray(value) < 1.0)), name
    assert maps_model.count_params() == stem.count_params()


def test_attention_maps_model_non_local_and_baseline():
    frames = clip(batch=1)
    maps = attention_maps_model(small_stem("nl_gaussian"))(frames)
    assert tuple(maps["block_a_nonlocal"].shape) == (1, 7 * 8 * 8, 7 * 8 * 8)
    assert tuple(maps["block_c_nonlocal"].shape) == (1, 7 * 2 * 2, 7 * 2 * 2)
    np.testing.assert_allclose(np.asarray(maps["block_a_nonlocal"]).sum(axis=-1), 1.0, rtol=1e-5)
    assert list(attention_maps_model(small_stem("none"))(frames)) == ["features"]


def test_weights_file_round_trip(tmp_path):
    stem = inception_resnet3d(input_shape=SMALL, attention="cam_stam")
    rng = np.random.default_rng(3)
    stem.set_weights([w + rng.normal(0.0, 0.01, w.shape).astype("float32") for w in stem.get_weights()])
    path = tmp_path / "inception_resnet3d.weights.h5"
    stem.save_weights(path)
    loaded = inception_resnet3d(input_shape=SMALL, attention="cam_stam", weights=str(path))
    frames = clip()
    np.testing.assert_allclose(np.asarray(loaded(frames)), np.asarray(stem(frames)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kernel_size", [(3, 7, 7), (3, 3, 3)])
@pytest.mark.parametrize("height, width", [(8, 8), (9, 7), (7, 10)])
def test_subsampled_stride_one_conv_equals_strided_same_conv(kernel_size, height, width):
    """TensorFlow's stride-2 "same" output i is the stride-1 output 2i + 1 (even size) or 2i (odd size)."""
    frames = clip(shape=(3, height, width, 2))
    strided = keras.layers.Conv3D(4, kernel_size, strides=(1, 2, 2), padding="same", use_bias=False)
    expected = np.asarray(strided(frames))
    dense = keras.layers.Conv3D(4, kernel_size, padding="same", use_bias=False)
    dense.build(frames.shape)
    dense.set_weights(strided.get_weights())
    offsets = (1 - height % 2, 1 - width % 2)
    stride_one = np.asarray(dense(frames))
    np.testing.assert_allclose(stride_one[:, :, offsets[0] :: 2, offsets[1] :: 2], expected, rtol=1e-5, atol=1e-6)
    subsampled = np.asarray(SpatialSubsample(offsets)(stride_one))
    np.testing.assert_array_equal(subsampled, stride_one[:, :, offsets[0] :: 2, offsets[1] :: 2])
    assert SpatialSubsample(offsets).compute_output_shape(stride_one.shape) == expected.shape


@pytest.mark.parametrize("shape", [(2, 32, 32, 3), (2, 35, 33, 3)])
def test_subsampled_stem_equals_strided_stem_and_reads_its_weights_file(shape, tmp_path):
    reference = inception_resnet3d(input_shape=shape, attention="cam_stam", subsample_strided_convs=False)
    rng = np.random.default_rng(5)
    reference.set_weights([w + rng.normal(0.0, 0.05, w.shape).astype("float32") for w in reference.get_weights()])
    path = tmp_path / "strided.weights.h5"
    reference.save_weights(path)
    stem = inception_resnet3d(input_shape=shape, attention="cam_stam", weights=str(path))
    assert sum(isinstance(layer, SpatialSubsample) for layer in stem.layers) == 8  # every stride-2 convolution
    frames = clip(shape=shape, seed=1)
    for name in ("stem_1_relu", "stem_6", "block_c_relu"):
        ours = keras.Model(stem.input, stem.get_layer(name).output)(frames)
        theirs = keras.Model(reference.input, reference.get_layer(name).output)(frames)
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(stem(frames)), np.asarray(reference(frames)), rtol=1e-4, atol=1e-5)


def test_spatial_subsample_config_round_trip_and_bad_offsets():
    layer = SpatialSubsample((0, 1), name="sub")
    clone = SpatialSubsample.from_config(layer.get_config())
    assert clone.offsets == (0, 1) and clone.name == "sub"
    for offsets in [(2, 0), (1,), "11", (True, 0)]:
        with pytest.raises(ValueError, match="offsets"):
            SpatialSubsample(offsets)


def test_bn_momentum_reaches_every_batch_normalisation():
    stem = inception_resnet3d(input_shape=SMALL, bn_momentum=0.9)
    norms = [layer for layer in stem.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) > 30 and all(layer.momentum == 0.9 for layer in norms)
    assert all(layer.momentum == 0.99 for layer in small_stem("none").layers
               if isinstance(layer, keras.layers.BatchNormalization))


@pytest.mark.parametrize("kwargs, message", [
    (dict(bn_momentum=1.0), "bn_momentum"),
    (dict(bn_momentum="0.9"), "bn_momentum"),
    (dict(subsample_strided_convs=1), "subsample_strided_convs"),
])
def test_bad_bn_momentum_and_subsample_flag(kwargs, message):
    with pytest.raises(ValueError, match=message):
        inception_resnet3d(input_shape=SMALL, **kwargs)


@pytest.mark.parametrize("attention", ["stcam", "CAM", "nl_dot", "", None])
def test_unknown_attention(attention):
    with pytest.raises(ValueError, match="attention"):
        inception_resnet3d(input_shape=SMALL, attention=attention)


@pytest.mark.parametrize("input_shape", [(7, 224, 224), (7, 224, 224, 1), (7, 16, 16, 3), (0, 64, 64, 3), "7x224"])
def test_bad_input_shape(input_shape):
    with pytest.raises(ValueError, match="input_shape"):
        inception_resnet3d(input_shape=input_shape)


@pytest.mark.parametrize("reduction_ratio", [0, 2.5, "16", True])
def test_bad_reduction_ratio(reduction_ratio):
    with pytest.raises(ValueError, match="reduction_ratio"):
        inception_resnet3d(input_shape=SMALL, attention="cam", reduction_ratio=reduction_ratio)


def test_unknown_time_and_space_sizes():
    stem = inception_resnet3d(input_shape=(None, None, None, 3), attention="cam_stam")
    assert tuple(stem(clip(batch=1, shape=(5, 48, 40, 3))).shape) == (1, 1072)
    # Unknown sizes fall back to the strided convolutions (the subsampling offset depends on the size).
    assert stem.get_layer("stem_1_conv").strides == (1, 2, 2)
    assert not any(isinstance(layer, SpatialSubsample) for layer in stem.layers)


@pytest.mark.parametrize("attention", ["cam_stam", "nl_gaussian"])
def test_mixed_float16_is_finite(attention):
    keras.mixed_precision.set_dtype_policy("mixed_float16")  # conftest restores float32
    stem = inception_resnet3d(input_shape=SMALL, attention=attention)
    maps = attention_maps_model(stem)(255.0 * clip(), training=True)
    assert keras.backend.standardize_dtype(maps["features"].dtype) == "float16"
    assert_finite(*maps.values())


@pytest.mark.slow
def test_paper_input_gives_1072_feature():
    stem = inception_resnet3d(input_shape=(7, 224, 224, 3), attention="cam_stam")
    assert stem.get_layer("stem_6").output.shape == (None, 7, 28, 28, 192)
    assert stem.get_layer("reduction_a_mixed").output.shape == (None, 7, 14, 14, 576)
    assert stem.get_layer("reduction_b_mixed").output.shape == (None, 7, 7, 7, 1072)
    features = stem(clip(batch=1, shape=(7, 224, 224, 3)))
    assert tuple(features.shape) == (1, 1072)
    assert_finite(features)
