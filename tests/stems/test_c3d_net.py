import keras
import numpy as np
import pytest

from keras_fer.stems import count_macs
from keras_fer.stems.c3d_net import c3d
from tests.stems import numpy_reference as ref
from tests.stems.keras2_h5 import conv_weights, write_keras2_weights

# Tran et al. 2015, C3D: (name, input channels, filters), a pooling after conv1a, conv2a, conv3b, conv4b.
C3D_CONVS = [
    ("conv1a", 3, 64), ("conv2a", 64, 128), ("conv3a", 128, 256), ("conv3b", 256, 256),
    ("conv4a", 256, 512), ("conv4b", 512, 512), ("conv5a", 512, 512), ("conv5b", 512, 512),
]  # fmt: skip
POOL_AFTER = {"conv1a": (1, 2, 2), "conv2a": (2, 2, 2), "conv3b": (2, 2, 2), "conv4b": (2, 2, 2)}


def c3d_numpy(x, arrays):
    for name, _, _ in C3D_CONVS:
        x = ref.relu(ref.conv(x, *arrays[name], padding="same"))
        if name in POOL_AFTER:
            x = ref.max_pool(x, POOL_AFTER[name])
    return x


def test_parameter_count_and_layer_names():
    model = c3d(input_shape=(8, 16, 16, 3))
    expected = sum(27 * c_in * c_out + c_out for _, c_in, c_out in C3D_CONVS)
    assert model.count_params() == expected == 27_655_936
    assert [layer.name for layer in model.layers if layer.weights] == [name for name, _, _ in C3D_CONVS]
    pools = [layer.name for layer in model.layers if layer.name.startswith("pool")]
    assert pools == ["pool1", "pool2", "pool3", "pool4"]
    assert model.layers[-1].name == "conv5b"


def test_output_shapes():
    assert tuple(c3d(input_shape=(8, 16, 16, 3))(np.zeros((2, 8, 16, 16, 3), "float32")).shape) == (2, 1, 1, 1, 512)
    assert tuple(c3d().output.shape) == (None, 2, 7, 7, 512)
    assert tuple(c3d(input_shape=(None, None, None, 3)).compute_output_shape((1, 16, 112, 112, 3))) == (1, 2, 7, 7, 512)


def test_sports1m_style_file_loads_by_name_and_output_matches_numpy(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        name: (ref.he_normal(rng, (3, 3, 3, c_in, c_out)), (0.1 * rng.standard_normal(c_out)).astype("float32"))
        for name, c_in, c_out in C3D_CONVS
    }
    layers = {name: conv_weights(name, *values) for name, values in arrays.items()}
    layers["pool5"] = []
    layers["fc6"] = conv_weights("fc6", np.ones((8192, 4), "float32"), np.ones(4, "float32"))  # ignored
    path = tmp_path / "c3d_sports1m.h5"
    write_keras2_weights(path, layers)
    model = c3d(weights=path, input_shape=(8, 16, 16, 3))
    for name, (kernel, bias) in arrays.items():
        got_kernel, got_bias = model.get_layer(name).get_weights()
        np.testing.assert_array_equal(got_kernel, kernel)
        np.testing.assert_array_equal(got_bias, bias)
    x = rng.uniform(-1, 1, (2, 8, 16, 16, 3)).astype("float32")
    expected = c3d_numpy(x, arrays)
    got = keras.ops.convert_to_numpy(model(x))
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_macs_of_a_16x112x112_clip():
    # conv outputs: conv1a 16x112x112, conv2a 16x56x56, conv3 8x28x28, conv4 4x14x14, conv5 2x7x7.
    positions = {"conv1a": 16 * 112 * 112, "conv2a": 16 * 56 * 56, "conv3a": 8 * 28 * 28, "conv3b": 8 * 28 * 28,
                 "conv4a": 4 * 14 * 14, "conv4b": 4 * 14 * 14, "conv5a": 2 * 7 * 7, "conv5b": 2 * 7 * 7}  # fmt: skip
    expected = sum(positions[name] * 27 * c_in * c_out for name, c_in, c_out in C3D_CONVS)
    assert count_macs(c3d()) == expected


@pytest.mark.parametrize("input_shape", [(4, 16, 16, 3), (8, 8, 16, 3), (8, 16, 16, 1), (16, 112, 112)])
def test_bad_input_shape_is_rejected(input_shape):
    with pytest.raises(ValueError, match="input_shape"):
        c3d(input_shape=input_shape)


@pytest.mark.slow
def test_16x112x112_clip_output_and_parameters():
    model = c3d()
    assert tuple(model(np.zeros((1, 16, 112, 112, 3), "float32")).shape) == (1, 2, 7, 7, 512)
    assert model.count_params() == 27_655_936
