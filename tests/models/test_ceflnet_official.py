"""``ceflnet_official`` (the CEFLNet authors' released code) against a NumPy transcription of its forward pass,
its size, its options, and the converter from the authors' ``state_dict``."""

import keras
import numpy as np
import pytest

from keras_fer.models import create_model
from keras_fer.models.ceflnet import build_ceflnet, ceflnet_head
from keras_fer.models.ceflnet_weights import convert_official_checkpoint, official_state_dict
from keras_fer.models.common import attention_model
from tests.models import ceflnet_official_reference as reference

D = 512  # the official names fix the feature size (MultiheadAttention(512), Linear(1024, 512))


def _official_head_weights(rng, num_classes=7):
    """Random official head weights, PyTorch names and layouts, scaled so that no unit saturates."""
    def normal(*shape, fan_in):
        return rng.normal(scale=1.0 / np.sqrt(fan_in), size=shape).astype("float32")

    return {
        "attn.in_proj_weight": normal(3 * D, D, fan_in=D), "attn.in_proj_bias": normal(3 * D, fan_in=4),
        "attn.out_proj.weight": normal(D, D, fan_in=D), "attn.out_proj.bias": normal(D, fan_in=4),
        "norm1.weight": 1 + normal(D, fan_in=16), "norm1.bias": normal(D, fan_in=16),
        "beta.0.weight": normal(1, 2 * D, fan_in=2 * D), "beta.0.bias": normal(1, fan_in=4),
        "fc.weight": normal(D, 2 * D, fan_in=2 * D), "fc.bias": normal(D, fan_in=4),
        "temp_attn.attn.0.weight": normal(1, D, 1, fan_in=D) * 4,
        "classifier.0.weight": normal(256, D, fan_in=D), "classifier.0.bias": normal(256, fan_in=4),
        "classifier.2.weight": normal(128, 256, fan_in=256), "classifier.2.bias": normal(128, fan_in=4),
        "classifier.5.0.weight": normal(num_classes, 128, fan_in=128),
        "classifier.5.0.bias": normal(num_classes, fan_in=4),
    }


def _official_stem_weights(rng):
    """Random ResNet-18 weights under the names ``ResNet_AT`` gives them (written out here, not read from ours)."""
    weights = {}

    def conv(name, out, cin, size):
        weights[f"{name}.weight"] = rng.normal(scale=np.sqrt(2.0 / (cin * size * size)),
                                               size=(out, cin, size, size)).astype("float32")

    def bn(name, channels):
        weights[f"{name}.weight"] = rng.uniform(0.5, 1.5, channels).astype("float32")
        weights[f"{name}.bias"] = rng.normal(scale=0.1, size=channels).astype("float32")
        weights[f"{name}.running_mean"] = rng.normal(scale=0.1, size=channels).astype("float32")
        weights[f"{name}.running_var"] = rng.uniform(0.5, 1.5, channels).astype("float32")
        weights[f"{name}.num_batches_tracked"] = np.array(100, np.int64)

    conv("conv1", 64, 3, 7)
    bn("bn1", 64)
    cin = 64
    for stage, filters in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            prefix = f"layer{stage}.{block}"
            conv(f"{prefix}.conv1", filters, cin, 3)
            bn(f"{prefix}.bn1", filters)
            conv(f"{prefix}.conv2", filters, filters, 3)
            bn(f"{prefix}.bn2", filters)
            if block == 0 and stage > 1:
                conv(f"{prefix}.downsample.0", filters, cin, 1)
                bn(f"{prefix}.downsample.1", filters)
            cin = filters
    return weights


def _features(seed, shape=(2, 3, 4, D)):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


# ----------------------------------------------------------------------------- the code preset against Model.py


def test_code_preset_matches_the_numpy_transcription_of_the_official_forward_pass():
    weights = _official_head_weights(np.random.default_rng(0))
    head = official_state_dict(create_model("ceflnet_official", 7, input="features", feature_shape=(3, 4, D)), weights)
    x = _features(1)
    expected = reference.forward(x, weights)
    outputs = attention_model(head)(x)
    assert np.std(expected["logits"]) > 0.1  # the check is not passed by near-constant logits
    np.testing.assert_allclose(outputs["logits"], expected["logits"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(outputs["emotional_intensity_activation"], expected["intensity"], atol=1e-5)
    np.testing.assert_allclose(outputs["local_global_relation"], expected["lrl"], atol=1e-5)
    np.testing.assert_allclose(outputs["self_attention_learning"], expected["sal"], atol=1e-5)


def test_padded_frames_change_nothing_in_the_code_preset():
    """All-zero frames are padding: 4 frames with the last one zero give the 3-frame clips' outputs (4 heads)."""
    weights = _official_head_weights(np.random.default_rng(8))
    four = official_state_dict(create_model("ceflnet_official", 7, input="features", feature_shape=(3, 4, D)), weights)
    three = official_state_dict(create_model("ceflnet_official", 7, input="features", feature_shape=(3, 3, D)),
                                weights)
    x = _features(9)
    x[:, :, 3] = 0.0
    np.testing.assert_allclose(four(x), three(x[:, :, :3]), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(four(x), reference.forward(x[:, :, :3], weights)["logits"], rtol=1e-4, atol=1e-4)


def test_paper_preset_differs_from_the_code_preset_only_in_the_documented_options():
    paper = ceflnet_head(7, (3, 4, D))
    code = ceflnet_head(7, (3, 4, D), preset="code")
    as_code = ceflnet_head(7, (3, 4, D), sal_num_heads=4, sal_attention_dropout=0.1, sal_output_dropout=0.1,
                           lrl_input="features", lrl_output="summary_and_pooled", lrl_dropout=0.5, classifier="mlp",
                           classifier_dropout=0.4, name="ceflnet_official_head")
    assert paper.name == "ceflnet_head" and code.name == "ceflnet_official_head"
    assert paper.count_params() == 1_318_919 + 513  # unchanged: SAL 1,051,648 + LRL 263,681 + EIAN 512 + FC
    assert code.count_params() == as_code.count_params() == 1_743_112
    assert code.get_config() == as_code.get_config()


def test_parameters_of_the_official_model_at_seven_classes():
    """The official ResNet_AT: 12,919,624 parameters without its unused fc2; the paper preset: 12,495,944."""
    def trainable(model):
        return sum(int(np.prod(w.shape)) for w in model.trainable_weights)

    assert trainable(create_model("ceflnet_official", 7, input="frames")) == 12_919_624
    assert trainable(create_model("ceflnet", 7, input="frames")) == 12_495_944


def test_code_preset_scales_frames_to_unit_range_and_the_paper_preset_normalises():
    code = create_model("ceflnet_official", 3, input="frames", feature_shape=(1, 1, D), frame_size=32)
    paper = create_model("ceflnet", 3, input="frames", feature_shape=(1, 1, D), frame_size=32)
    frames = np.full((1, 32, 32, 3), 255, "uint8")
    np.testing.assert_allclose(code.get_layer("preprocessing")(frames), 1.0)
    assert np.abs(np.asarray(paper.get_layer("preprocessing")(frames)) - 1.0).max() > 0.5
    imagenet = create_model("ceflnet_official", 3, input="frames", feature_shape=(1, 1, D), frame_size=32,
                            input_scaling="imagenet")
    np.testing.assert_allclose(imagenet.get_layer("preprocessing")(frames), paper.get_layer("preprocessing")(frames))


def test_dropout_acts_in_training_only():
    head = create_model("ceflnet_official", 4, input="features", feature_shape=(2, 3, 16))
    x = _features(2, (2, 2, 3, 16))
    np.testing.assert_allclose(head(x, training=False), head(x, training=False))
    assert not np.allclose(head(x, training=True), head(x, training=False))
    assert {"classifier_hidden1", "classifier_hidden2", "classifier_dropout"} <= {layer.name for layer in head.layers}


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: ceflnet_head(3, preset="torch"), "preset"),
        (lambda: ceflnet_head(3, lrl_input="raw"), "lrl_input"),
        (lambda: ceflnet_head(3, lrl_output="sum"), "lrl_output"),
        (lambda: ceflnet_head(3, classifier="svm"), "classifier"),
        (lambda: ceflnet_head(3, classifier_dropout=1.0), "classifier_dropout"),
        (lambda: ceflnet_head(3, sal_attention_dropout=-0.1), "sal_attention_dropout"),
        (lambda: ceflnet_head(3, sal_num_heads=0), "sal_num_heads"),
        (lambda: ceflnet_head(3, feature_shape=(2, 2, 10), sal_num_heads=4), "num_heads"),
        (lambda: ceflnet_head(3, variant="baseline", lrl_input="features"), "lrl_input"),
        (lambda: build_ceflnet(3, input="features", input_scaling="unit"), "input_scaling"),
        (lambda: build_ceflnet(3, input="frames", feature_shape=(1, 1, D), frame_size=32, input_scaling="raw"),
         "input_scaling"),
    ],
)
def test_bad_options_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_unknown_option_is_a_type_error():
    with pytest.raises(TypeError, match="no_such_option"):
        build_ceflnet(3, no_such_option=1)


# ----------------------------------------------------------------------------- the converter


def test_converter_writes_weights_that_reproduce_the_official_forward_pass(tmp_path):
    rng = np.random.default_rng(3)
    head_weights = _official_head_weights(rng)
    stem_weights = _official_stem_weights(rng)
    state_dict = {f"module.{name}": value for name, value in {**stem_weights, **head_weights}.items()}
    state_dict["module.fc2.weight"] = np.zeros((7, 512), "float32")  # unused in the forward pass: skipped
    path = tmp_path / "ceflnet_official.weights.h5"
    convert_official_checkpoint(state_dict, path, frame_size=32)

    model = create_model("ceflnet_official", 7, input="frames", frame_size=32)
    model.load_weights(path)
    stem = model.get_layer("resnet18")
    np.testing.assert_array_equal(stem.get_layer("conv1").kernel.numpy(),
                                  np.transpose(stem_weights["conv1.weight"], (2, 3, 1, 0)))
    np.testing.assert_array_equal(stem.get_layer("layer3.0.downsample.1").moving_variance.numpy(),
                                  stem_weights["layer3.0.downsample.1.running_var"])
    # End to end: frames in [0, 255] -> [0, 1] (the code's ToTensor, no mean/std) -> ResNet-18 -> the official head.
    frames = np.random.default_rng(4).integers(0, 256, size=(1, 7, 5, 32, 32, 3)).astype("uint8")
    features = np.asarray(stem(frames.reshape(35, 32, 32, 3).astype("float32") / 255.0)).reshape(1, 7, 5, D)
    expected = reference.forward(features, head_weights)["logits"]
    np.testing.assert_allclose(model(frames), expected, rtol=1e-4, atol=1e-4)


def test_converter_head_only_and_errors():
    rng = np.random.default_rng(5)
    weights = _official_head_weights(rng, num_classes=6)
    head = create_model("ceflnet_official", 6, input="features", feature_shape=(2, 5, D))
    official_state_dict(head, {**weights, **_official_stem_weights(rng)})  # a head ignores the ResNet-18's names
    np.testing.assert_allclose(head.get_layer("classifier").kernel.numpy(), weights["classifier.5.0.weight"].T)

    with pytest.raises(KeyError, match="fc.bias"):
        official_state_dict(head, {k: v for k, v in weights.items() if k != "fc.bias"})
    with pytest.raises(ValueError, match="does not know"):
        official_state_dict(head, {**weights, "attn.bias_k": np.zeros((1, 1, D), "float32")})
    with pytest.raises(ValueError, match="shape"):
        official_state_dict(create_model("ceflnet_official", 7, input="features", feature_shape=(2, 5, D)), weights)
    with pytest.raises(ValueError, match="not a ceflnet_official"):
        official_state_dict(create_model("ceflnet", 6, input="features", feature_shape=(2, 5, D)), weights)
    with pytest.raises(KeyError, match="classifier.5.0.weight"):
        convert_official_checkpoint({"fc.weight": weights["fc.weight"]}, "unused.weights.h5")


def test_converted_model_keeps_its_weights_through_keras_save(tmp_path):
    weights = _official_head_weights(np.random.default_rng(6))
    head = official_state_dict(create_model("ceflnet_official", 7, input="features", feature_shape=(2, 5, D)),
                               weights)
    head.save(tmp_path / "head.keras")
    loaded = keras.saving.load_model(tmp_path / "head.keras")
    x = _features(7, (1, 2, 5, D))
    np.testing.assert_allclose(loaded(x), reference.forward(x, weights)["logits"], rtol=1e-4, atol=1e-4)


def test_converter_reads_a_pth_checkpoint_when_torch_is_installed(tmp_path):
    """main.py's checkpoint form, {"state_dict": ...} of a DataParallel model; skipped without torch (an extra)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(10)
    weights = {**_official_stem_weights(rng), **_official_head_weights(rng)}
    state_dict = {f"module.{name}": torch.from_numpy(np.asarray(value)) for name, value in weights.items()}
    torch.save({"epoch": 1, "state_dict": state_dict, "prec1": 0.5}, tmp_path / "model_best.pth.tar")
    model = convert_official_checkpoint(str(tmp_path / "model_best.pth.tar"), tmp_path / "c.weights.h5", frame_size=32)
    np.testing.assert_array_equal(model.layers[-1].get_layer("classifier").kernel.numpy(),
                                  weights["classifier.5.0.weight"].T)
