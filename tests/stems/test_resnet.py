import keras
import numpy as np
import pytest

from keras_fer.stems import count_macs
from keras_fer.stems.resnet import preprocess_input, resnet18
from tests.stems import numpy_reference as ref

STAGES = ((1, 64, 64, 1), (2, 64, 128, 2), (3, 128, 256, 2), (4, 256, 512, 2))  # (stage, in, out, first stride)
EPSILON = 1e-5  # torch BatchNorm2d


def torchvision_resnet18_trainable_params():
    """He et al. ResNet-18 without fc, counted from its layer list (conv weights + BN gamma/beta)."""
    total = 7 * 7 * 3 * 64 + 2 * 64
    for _, c_in, c_out, stride in STAGES:
        total += 3 * 3 * c_in * c_out + 3 * 3 * c_out * c_out + 4 * c_out  # block 0
        if stride != 1 or c_in != c_out:
            total += c_in * c_out + 2 * c_out  # 1x1 projection + BN
        total += 2 * (3 * 3 * c_out * c_out) + 4 * c_out  # block 1
    return total


def resnet18_macs(size):
    """Multiply-accumulates of ResNet-18's convolutions on a size x size frame, layer by layer."""
    side = size // 2
    macs = side * side * 7 * 7 * 3 * 64
    side //= 2  # max-pooling
    for _, c_in, c_out, stride in STAGES:
        side //= stride
        macs += side * side * (9 * c_in * c_out + 9 * c_out * c_out)  # block 0
        if stride != 1:
            macs += side * side * c_in * c_out
        macs += side * side * 2 * 9 * c_out * c_out  # block 1
    return macs


def test_parameter_count_is_torchvision_resnet18_without_fc():
    model = resnet18(input_shape=(32, 32, 3))
    trainable = sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)
    assert trainable == torchvision_resnet18_trainable_params() == 11_176_512
    batch_norm_channels = sum(layer.weights[0].shape[0] for layer in model.layers if "bn" in layer.name)
    batch_norm_channels += sum(
        layer.weights[0].shape[0] for layer in model.layers if layer.name.endswith("downsample.1")
    )
    assert model.count_params() == trainable + 2 * batch_norm_channels  # + moving mean/variance


def test_macs_at_224_are_1_8_g():
    macs = count_macs(resnet18())
    assert macs == resnet18_macs(224)
    assert abs(macs / 1.8e9 - 1) < 0.01


@pytest.mark.parametrize("pooling, shape", [("avg", (2, 512)), (None, (2, 1, 1, 512))])
def test_output_shapes(pooling, shape):
    model = resnet18(input_shape=(32, 32, 3), pooling=pooling)
    assert tuple(model(np.zeros((2, 32, 32, 3), "float32")).shape) == shape


def test_layer_names_follow_torchvision_state_dict():
    names = {layer.name for layer in resnet18(input_shape=(32, 32, 3)).layers}
    expected = ["conv1", "bn1", "layer1.0.conv1", "layer1.1.bn2", "layer2.0.downsample.0", "layer4.0.downsample.1"]
    assert set(expected) <= names
    assert "layer1.0.downsample.0" not in names


def numpy_resnet18(x, params):
    def conv_bn(x, name, bn_name, stride, padding):
        y = ref.conv(x, params[name], stride=stride, padding=padding)
        return ref.batch_norm(y, *params[bn_name], EPSILON)

    x = ref.relu(conv_bn(x, "conv1", "bn1", 2, 3))
    x = ref.max_pool(x, (3, 3), (2, 2), padding=1)
    for stage, _c_in, _c_out, first_stride in STAGES:
        for block in range(2):
            prefix = f"layer{stage}.{block}"
            stride = first_stride if block == 0 else 1
            shortcut = x
            if f"{prefix}.downsample.0" in params:
                shortcut = conv_bn(x, f"{prefix}.downsample.0", f"{prefix}.downsample.1", stride, 0)
            y = ref.relu(conv_bn(x, f"{prefix}.conv1", f"{prefix}.bn1", stride, 1))
            y = conv_bn(y, f"{prefix}.conv2", f"{prefix}.bn2", 1, 1)
            x = ref.relu(y + shortcut)
    return ref.global_average_pool(x)


def test_output_matches_numpy_resnet18_with_torch_padding():
    model = resnet18(input_shape=(32, 32, 3))
    rng = np.random.default_rng(0)
    params = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            params[layer.name] = ref.he_normal(rng, tuple(layer.kernel.shape))
            layer.set_weights([params[layer.name]])
        elif isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.gamma.shape[0]
            values = [
                rng.uniform(0.5, 1.5, channels).astype("float32"),
                rng.uniform(-0.2, 0.2, channels).astype("float32"),
                rng.uniform(-0.2, 0.2, channels).astype("float32"),
                rng.uniform(0.5, 2.0, channels).astype("float32"),
            ]
            params[layer.name] = values
            layer.set_weights(values)
    assert len(params) == 20 + 20  # 17 convs + 3 projections, and their batch norms
    x = rng.standard_normal((2, 32, 32, 3)).astype("float32")
    expected = numpy_resnet18(x, params)
    got = keras.ops.convert_to_numpy(model(x, training=False))
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_preprocess_input_is_torchvision_normalisation():
    pixels = np.array([[[255, 0, 128]]], "uint8")
    expected = (np.array([1.0, 0.0, 128 / 255]) - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    np.testing.assert_allclose(preprocess_input(pixels)[0, 0], expected, rtol=1e-6)
    tensor_out = preprocess_input(keras.ops.convert_to_tensor(pixels))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(tensor_out)[0, 0], expected, rtol=1e-6)
    with pytest.raises(ValueError, match="last axis of 3"):
        preprocess_input(np.zeros((1, 2, 2, 4)))


@pytest.mark.parametrize(
    "kwargs, match",
    [({"pooling": "max"}, "pooling='max'"), ({"input_shape": (31, 32, 3)}, "input_shape")],
)
def test_bad_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        resnet18(**kwargs)


@pytest.mark.slow
def test_224_output_and_parameters():
    model = resnet18()
    assert tuple(model(np.zeros((1, 224, 224, 3), "float32")).shape) == (1, 512)
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 11_176_512
