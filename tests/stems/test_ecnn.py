import keras
import numpy as np
import pytest

from keras_fer.stems import count_macs
from keras_fer.stems.ecnn import ecnn_vgg16
from tests.stems import numpy_reference as ref
from tests.stems.test_vggface import VGG16_CONVS, random_vgg16_arrays, vgg16_conv_params, write_vggface_file

# Paper section 1.2: three extra 3x3 convolutions with 1024 filters, one 7x7 256 -> 1024 branch.
EXTRA_PARAMS = (3 * 3 * 512 * 1024 + 1024) + 2 * (3 * 3 * 1024 * 1024 + 1024) + (7 * 7 * 256 * 1024 + 1024)


def ecnn_numpy(x, vgg_arrays, extra_arrays, branch_input, extra_input):
    maps = ref.vgg16_forward(x, vgg_arrays)
    trunk = maps[extra_input]
    for name in ("conv6_1", "conv6_2", "conv6_3"):
        trunk = ref.relu(ref.conv(trunk, *extra_arrays[name], padding="same"))
    branch = ref.relu(ref.conv(maps[branch_input], *extra_arrays["enhanced_conv"], padding="same"))
    return np.concatenate([ref.global_average_pool(trunk), ref.global_average_pool(branch)], axis=-1)


def test_parameter_count_and_output():
    model = ecnn_vgg16(input_shape=(32, 32, 3))
    assert model.count_params() == vgg16_conv_params() + EXTRA_PARAMS
    assert tuple(model(np.zeros((2, 32, 32, 3), "float32")).shape) == (2, 2048)


@pytest.mark.parametrize("branch_input, extra_input", [("pool3", "pool5"), ("conv3_3", "conv5_3")])
def test_vggface_file_initialises_the_vgg_layers_and_output_matches_numpy(tmp_path, branch_input, extra_input):
    vgg_arrays = random_vgg16_arrays(seed=2)
    path = tmp_path / "rcmalli_vggface_tf_notop_vgg16.h5"
    write_vggface_file(path, vgg_arrays)
    model = ecnn_vgg16(
        weights=path, input_shape=(32, 32, 3), enhanced_branch_input=branch_input, extra_convs_input=extra_input
    )
    assert model.weights_info.loaded_layers == tuple(name for name, _, _ in VGG16_CONVS)
    rng = np.random.default_rng(4)
    extra_arrays = {
        "conv6_1": (ref.he_normal(rng, (3, 3, 512, 1024)), rng.standard_normal(1024).astype("float32") * 0.1),
        "conv6_2": (ref.he_normal(rng, (3, 3, 1024, 1024)), rng.standard_normal(1024).astype("float32") * 0.1),
        "conv6_3": (ref.he_normal(rng, (3, 3, 1024, 1024)), rng.standard_normal(1024).astype("float32") * 0.1),
        "enhanced_conv": (ref.he_normal(rng, (7, 7, 256, 1024)), rng.standard_normal(1024).astype("float32") * 0.1),
    }
    for name, values in extra_arrays.items():
        model.get_layer(name).set_weights(list(values))
    x = rng.uniform(-100, 150, (2, 32, 32, 3)).astype("float32")
    expected = ecnn_numpy(x, vgg_arrays, extra_arrays, branch_input, extra_input)
    got = keras.ops.convert_to_numpy(model(x))
    assert np.abs(expected[:, :1024]).max() > 0 and np.abs(expected[:, 1024:]).max() > 0
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3 * np.abs(expected).max())


def test_branch_choices_change_the_cost_as_documented():
    # MACs of the 7x7 256 -> 1024 branch at 224x224: on pool3 (28x28) and on conv3_3 (56x56).
    branch_on_pool3 = 28 * 28 * 7 * 7 * 256 * 1024
    branch_on_conv3 = 56 * 56 * 7 * 7 * 256 * 1024
    default = ecnn_vgg16(input_shape=(224, 224, 3))
    literal = ecnn_vgg16(input_shape=(224, 224, 3), enhanced_branch_input="conv3_3")
    assert count_macs(literal) - count_macs(default) == branch_on_conv3 - branch_on_pool3
    assert round(branch_on_pool3 / 1e9, 1) == 10.1 and round(branch_on_conv3 / 1e9, 1) == 40.3


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"enhanced_branch_input": "conv4_3"}, "enhanced_branch_input='conv4_3'"),
        ({"extra_convs_input": "fc6"}, "extra_convs_input='fc6'"),
        ({"input_shape": (16, 16, 3)}, "input_shape"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ecnn_vgg16(**kwargs)


@pytest.mark.slow
def test_224_output_and_parameters():
    model = ecnn_vgg16()
    assert tuple(model(np.zeros((1, 224, 224, 3), "float32")).shape) == (1, 2048)
    assert model.count_params() == 14_714_688 + EXTRA_PARAMS == 51_156_800


def test_a_stem_built_from_a_vggface_file_is_rebuilt_identically(tmp_path):
    """The layers the VGG-Face file does not hold are seeded, so predict rebuilds the stem extract used."""
    from keras_fer.data.cache import stem_weights_sha256
    from keras_fer.stems.registry import build_stem

    path = tmp_path / "rcmalli_vggface_tf_notop_vgg16.h5"
    write_vggface_file(path, random_vgg16_arrays(seed=3))
    first, _ = build_stem("ecnn_vgg16", weights=str(path), input_size=32)
    keras.utils.set_random_seed(99)  # whatever ran in between
    second, _ = build_stem("ecnn_vgg16", weights=str(path), input_size=32)
    assert stem_weights_sha256(first) == stem_weights_sha256(second)
