import keras
import numpy as np
import pytest

from keras_fer.stems.vggface import preprocess_input, vggface16
from tests.stems import numpy_reference as ref
from tests.stems.keras2_h5 import conv_weights, write_keras2_weights

# (name, input channels, filters) of the 13 convolutions of VGG16 (Simonyan & Zisserman, config D).
VGG16_CONVS = [
    ("conv1_1", 3, 64), ("conv1_2", 64, 64),
    ("conv2_1", 64, 128), ("conv2_2", 128, 128),
    ("conv3_1", 128, 256), ("conv3_2", 256, 256), ("conv3_3", 256, 256),
    ("conv4_1", 256, 512), ("conv4_2", 512, 512), ("conv4_3", 512, 512),
    ("conv5_1", 512, 512), ("conv5_2", 512, 512), ("conv5_3", 512, 512),
]  # fmt: skip


def vgg16_conv_params():
    return sum(3 * 3 * c_in * c_out + c_out for _, c_in, c_out in VGG16_CONVS)


def random_vgg16_arrays(seed=0):
    rng = np.random.default_rng(seed)
    return {
        name: (ref.he_normal(rng, (3, 3, c_in, c_out)), (0.1 * rng.standard_normal(c_out)).astype("float32"))
        for name, c_in, c_out in VGG16_CONVS
    }


def write_vggface_file(path, arrays, with_top_of_size=None):
    """A keras-vggface-style Keras-2 file; optionally with (tiny) fc layers the stem must ignore."""
    layers = {"input_1": []}
    for block in range(1, 6):
        for name in [n for n, _, _ in VGG16_CONVS if n.startswith(f"conv{block}_")]:
            layers[name] = conv_weights(name, *arrays[name])
        layers[f"pool{block}"] = []
    if with_top_of_size:
        layers["flatten"] = []
        layers["fc6"] = conv_weights("fc6", np.ones((with_top_of_size, 3), "float32"), np.ones(3, "float32"))
    write_keras2_weights(path, layers)


def test_parameter_count_and_layer_names_match_keras_vggface():
    model = vggface16(input_shape=(32, 32, 3))
    assert model.count_params() == vgg16_conv_params() == 14_714_688
    weighted = [layer.name for layer in model.layers if layer.weights]
    assert weighted == [name for name, _, _ in VGG16_CONVS]
    assert [layer.name for layer in model.layers if layer.name.startswith("pool")] == [f"pool{i}" for i in range(1, 6)]
    assert model.name == "vggface_vgg16"


@pytest.mark.parametrize("size, pooled", [(32, 1), (64, 2), (None, 2)])
def test_output_is_pool5(size, pooled):
    model = vggface16(input_shape=(size, size, 3))
    x = np.zeros((2, 64 if size is None else size, 64 if size is None else size, 3), "float32")
    assert tuple(model(x).shape) == (2, pooled, pooled, 512)


def test_keras2_file_loads_unchanged_and_matches_numpy_vgg16(tmp_path):
    arrays = random_vgg16_arrays()
    path = tmp_path / "rcmalli_vggface_tf_vgg16.h5"
    write_vggface_file(path, arrays, with_top_of_size=25088)
    model = vggface16(weights=str(path), input_shape=(32, 32, 3))
    for name, (kernel, bias) in arrays.items():
        got_kernel, got_bias = model.get_layer(name).get_weights()
        np.testing.assert_array_equal(got_kernel, kernel)
        np.testing.assert_array_equal(got_bias, bias)
    assert model.weights_info.loaded_layers == tuple(arrays)

    rng = np.random.default_rng(5)
    x = rng.uniform(-100, 150, (2, 32, 32, 3)).astype("float32")
    expected = ref.vgg16_forward(x, arrays)["pool5"]
    got = keras.ops.convert_to_numpy(model(x))
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3 * np.abs(expected).max())


def test_preprocess_input_flips_to_bgr_and_subtracts_vggface_means():
    rgb = np.array([[[10.0, 20.0, 30.0]]], "float32")
    np.testing.assert_allclose(
        preprocess_input(rgb, version=1)[0, 0], [30 - 93.5940, 20 - 104.7624, 10 - 129.1863], rtol=1e-6
    )
    np.testing.assert_allclose(
        preprocess_input(rgb, version=2)[0, 0], [30 - 91.4953, 20 - 103.8827, 10 - 131.0912], rtol=1e-6
    )


@pytest.mark.parametrize("version", [1, 2])
def test_preprocess_input_tensor_path_equals_numpy_path(version):
    frames = np.random.default_rng(0).integers(0, 256, (2, 5, 4, 3)).astype("uint8")
    numpy_out = preprocess_input(frames, version=version)
    assert numpy_out.dtype == np.float32
    tensor_out = keras.ops.convert_to_numpy(preprocess_input(keras.ops.convert_to_tensor(frames), version=version))
    means = (93.5940, 104.7624, 129.1863) if version == 1 else (91.4953, 103.8827, 131.0912)
    expected = frames[..., ::-1].astype("float64") - np.array(means)
    np.testing.assert_allclose(numpy_out, expected, atol=1e-4)
    np.testing.assert_allclose(tensor_out, expected, atol=1e-4)


def test_preprocess_input_rejects_bad_arguments():
    with pytest.raises(ValueError, match="version=3"):
        preprocess_input(np.zeros((1, 2, 2, 3)), version=3)
    with pytest.raises(ValueError, match="last axis of 3"):
        preprocess_input(np.zeros((1, 2, 2, 1)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"input_shape": (16, 16, 3)}, "input_shape"),
        ({"input_shape": (64, 64, 1)}, "3 channels"),
        ({"input_shape": (64, 64)}, "input_shape"),
        ({"include_top": True, "input_shape": (64, 64, 3)}, "include_top=True needs"),
        ({"include_top": "yes"}, "include_top='yes'"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        vggface16(**kwargs)


@pytest.mark.slow
def test_224_shapes_and_parameters_with_and_without_top():
    model = vggface16()
    assert tuple(model(np.zeros((1, 224, 224, 3), "float32")).shape) == (1, 7, 7, 512)
    assert model.count_params() == 14_714_688
    top = vggface16(include_top=True)
    fc_params = (7 * 7 * 512 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 2622 + 2622)
    assert top.count_params() == 14_714_688 + fc_params == 145_002_878
    assert [layer.name for layer in top.layers[-7:]] == [
        "flatten", "fc6", "fc6_relu", "fc7", "fc7_relu", "fc8", "fc8_softmax",
    ]  # fmt: skip
    probabilities = keras.ops.convert_to_numpy(top(np.zeros((1, 224, 224, 3), "float32")))
    assert probabilities.shape == (1, 2622)
    np.testing.assert_allclose(probabilities.sum(), 1.0, rtol=1e-5)
