"""STANet flow CNN stem: L1..L3, S = (1 + M) * L3 (eq. 2), frame feature, parameter counts."""

import keras
import numpy as np
import pytest

from keras_fer.stems.flow_net import flow_cnn

SMALL = (48, 48, 2)
SMALL_FILTERS = (4, 8, 16)


def numpy(t):
    return keras.ops.convert_to_numpy(t)


def expected_parameter_count(filters, soft_mask):
    """Hand count: 3x3 convs without bias, BN (4 per channel), branch convs with bias."""
    count, channels_in = 0, 2
    for f in filters:
        count += 3 * 3 * channels_in * f + 4 * f
        channels_in = f
    if soft_mask:
        c = filters[-1]
        count += 2 * (3 * 3 * c * c + c)  # down_conv_1, down_conv_2 (depth 2)
        count += 2 * (c * c + c)  # mask_conv_1, mask_conv_2 (1x1)
    return count


def flow(shape, seed=0):
    return np.random.default_rng(seed).normal(0.0, 2.0, size=shape).astype("float32")


def test_shapes_at_small_input():
    stem = flow_cnn(input_shape=SMALL)
    feature, mask = stem(flow((2, *SMALL)))
    assert feature.shape == (2, 128)
    assert mask.shape == (2, 6, 6, 128)
    assert [stem.get_layer(f"l{k}").output.shape for k in (1, 2, 3)] == [
        (None, 24, 24, 32),
        (None, 12, 12, 64),
        (None, 6, 6, 128),
    ]
    baseline = flow_cnn(input_shape=SMALL, soft_mask=False)
    assert baseline(flow((2, *SMALL))).shape == (2, 128)
    assert "soft_mask_branch" not in [layer.name for layer in baseline.layers]


def test_soft_mask_output_is_one_plus_m_times_l3_and_feature_is_its_average():
    stem = flow_cnn(input_shape=(40, 56, 2), filters=SMALL_FILTERS, mask_depth=2)
    branch = stem.get_layer("soft_mask_branch")
    rng = np.random.default_rng(1)
    branch.set_weights([rng.normal(0.0, 0.5, w.shape).astype("float32") for w in branch.get_weights()])
    probe = keras.Model(
        stem.input,
        [stem.get_layer("l3").output, branch.output[0], stem.get_layer("soft_mask").output, stem.output[0]],
    )
    l3, s, mask, feature = (numpy(t) for t in probe(flow((2, 40, 56, 2), seed=2)))
    assert l3.shape == s.shape == mask.shape == (2, 5, 7, 16)
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    assert mask.std() > 0.01  # a non-trivial mask
    np.testing.assert_allclose(s, (1.0 + mask) * l3, rtol=1e-6, atol=0)
    np.testing.assert_allclose(feature, s.mean(axis=(1, 2)), atol=1e-5)


def test_baseline_feature_is_the_average_of_l3():
    stem = flow_cnn(input_shape=SMALL, soft_mask=False, filters=SMALL_FILTERS)
    probe = keras.Model(stem.input, [stem.get_layer("l3").output, stem.output])
    l3, feature = (numpy(t) for t in probe(flow((2, *SMALL), seed=3)))
    np.testing.assert_allclose(feature, l3.mean(axis=(1, 2)), atol=1e-5)


@pytest.mark.parametrize("soft_mask", [True, False])
@pytest.mark.parametrize("filters", [(32, 64, 128), SMALL_FILTERS])
def test_parameter_count(soft_mask, filters):
    stem = flow_cnn(input_shape=SMALL, soft_mask=soft_mask, filters=filters)
    assert stem.count_params() == expected_parameter_count(filters, soft_mask)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"input_shape": (48, 48, 3)}, "input_shape"),
        ({"input_shape": (16, 48, 2)}, "input_shape"),  # L3 would be 2x6 < 2**2
        ({"input_shape": (None, None, 2)}, "input_shape"),
        ({"input_shape": (48, 2)}, "input_shape"),
        ({"soft_mask": "yes"}, "soft_mask"),
        ({"filters": (8, 16)}, "filters"),
        ({"filters": (8, 0, 16)}, "filters"),
        ({"mask_depth": 0}, "mask_depth"),
    ],
)
def test_bad_arguments_raise(kwargs, name):
    kwargs = {"input_shape": SMALL, **kwargs}
    with pytest.raises(ValueError, match=name):
        flow_cnn(**kwargs)


def test_baseline_accepts_dynamic_sizes():
    stem = flow_cnn(input_shape=(None, None, 2), soft_mask=False, filters=SMALL_FILTERS)
    assert stem(flow((1, 32, 40, 2))).shape == (1, 16)


def test_weights_file_round_trip(tmp_path):
    stem = flow_cnn(input_shape=SMALL, filters=SMALL_FILTERS)
    path = tmp_path / "flow.weights.h5"
    stem.save_weights(path)
    x = flow((2, *SMALL), seed=4)
    expected = [numpy(t) for t in stem(x)]
    keras.utils.set_random_seed(123)
    reloaded = flow_cnn(input_shape=SMALL, filters=SMALL_FILTERS, weights=str(path))
    assert reloaded.weights_info.file_format == "keras3_weights_h5"
    for got, want in zip(reloaded(x), expected):
        np.testing.assert_allclose(numpy(got), want, atol=1e-6)


@pytest.mark.slow
def test_paper_size_192():
    stem = flow_cnn()
    feature, mask = stem(flow((1, 192, 192, 2), seed=5))
    assert feature.shape == (1, 128)
    assert mask.shape == (1, 24, 24, 128)
    assert stem.get_layer("l3").output.shape == (None, 24, 24, 128)
    assert stem.count_params() == 421_824
    assert flow_cnn(soft_mask=False).count_params() == 93_632
    mask = numpy(mask)
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    assert np.all(np.isfinite(numpy(feature)))
