"""The ECNN variants as cacheable stems (ECNN-FSA Tables 2, 3, 6-7) and their synthetic stand-ins."""
import json

import keras
import numpy as np
import pytest

from keras_fer.data.cache.extraction import stem_weights_sha256
from keras_fer.stems import fer2013
from keras_fer.stems.ecnn import ECNN_STAND_INS, ECNN_VARIANTS, ecnn_stand_in
from keras_fer.stems.registry import build_stem, get_stem, list_stems
from tests.stems import numpy_reference as ref

# Paper section 1.2 and Tables 2, 3, 6-7: per-frame width, and the layers that make each variant.
PAPER = {
    "ecnn_vgg16": (2048, {"enhanced_conv": (7, 7, 256, 1024)}),
    "ecnn_vgg16_3072": (3072, {"conv6_4": (1, 1, 1024, 2048), "enhanced_conv": (7, 7, 256, 1024)}),
    "ecnn_vgg16_nobranch": (1024, {"conv6_3": (3, 3, 1024, 1024)}),
    "ecnn_vgg16_fc1": (2048, {"enhanced_conv": (7, 7, 256, 1024), "enhanced_fc1": (1024, 1024)}),
    "ecnn_vgg16_fc1_k5": (2048, {"enhanced_conv_5x5": (5, 5, 256, 1024), "enhanced_fc1": (1024, 1024)}),
    "ecnn_vgg16_fc2_k5": (2048, {"enhanced_conv_5x5": (5, 5, 256, 1024), "enhanced_fc2": (1024, 1024)}),
    "ecnn_vgg16_fc2": (2048, {"enhanced_fc1": (1024, 1024), "enhanced_fc2": (1024, 1024)}),
}


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


def test_every_variant_is_a_cacheable_ecnn_fsa_stem():
    assert set(PAPER) == set(ECNN_VARIANTS)
    assert set(ECNN_VARIANTS) <= set(list_stems(cacheable=True))
    assert {get_stem(name).paper for name in ECNN_VARIANTS} == {"ecnn_fsa"}


@pytest.mark.parametrize("name", sorted(PAPER))
def test_variant_width_and_layers_follow_the_paper(name):
    stem, preprocess = build_stem(name, input_size=32)
    width, kernels = PAPER[name]
    assert tuple(stem.output.shape) == (None, width) and preprocess is get_stem(name).preprocess
    for layer, shape in kernels.items():
        assert tuple(stem.get_layer(layer).kernel.shape) == shape
    names = {layer.name for layer in stem.layers}
    assert ("enhanced_conv" in names or "enhanced_conv_5x5" in names) == (name != "ecnn_vgg16_nobranch")
    assert ("enhanced_fc2" in names) == ("fc2" in name) and ("conv6_4" in names) == (name == "ecnn_vgg16_3072")


def test_3072_variant_matches_numpy():
    """Tables 6-7: the trunk widened by a 1x1 conv + ReLU + GAP, next to the 7x7 branch's GAP."""
    stem, _ = build_stem("ecnn_vgg16_3072", input_size=32)
    x = np.random.default_rng(0).uniform(-100, 150, (2, 32, 32, 3)).astype("float32")
    maps = keras.Model(stem.inputs[0], [stem.get_layer("conv6_3").output, stem.get_layer("enhanced_gap").output])(x)
    conv6_3, branch = (_numpy(m) for m in maps)
    kernel, bias = (_numpy(w) for w in stem.get_layer("conv6_4").weights)
    expected = np.concatenate([ref.global_average_pool(ref.relu(ref.conv(conv6_3, kernel, bias))), branch], -1)
    np.testing.assert_allclose(_numpy(stem(x)), expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


@pytest.fixture(scope="module")
def stand_ins():
    return {name: ecnn_stand_in(name) for name in ECNN_STAND_INS}


def test_stand_ins_keep_each_variants_parts_at_an_eighth_of_the_width(stand_ins):
    widths = {"ecnn_stand_in": 256, "ecnn_stand_in_3072": 384, "ecnn_stand_in_nobranch": 128}
    for name, model in stand_ins.items():
        assert tuple(model.output.shape) == (None, widths.get(name, 256)), name
        variant = ECNN_VARIANTS[ECNN_STAND_INS[name]]
        names = {layer.name for layer in model.layers}
        assert ("enhanced_conv" in names) == variant.get("enhanced", True)
        assert ("conv6_4" in names) == ("trunk_units" in variant)
        assert sum(n.startswith("enhanced_fc") for n in names) == variant.get("branch_fc_layers", 0)
        if "enhanced_conv" in names:
            kernel = variant.get("branch_kernel", 7)
            assert tuple(model.get_layer("enhanced_conv").kernel.shape) == (kernel, kernel, 64, 128)


def test_stand_in_matches_numpy_on_the_pretrained_maps(stand_ins):
    model = stand_ins["ecnn_stand_in_fc1_k5"]
    x = fer2013.preprocess_input(np.random.default_rng(1).integers(0, 256, (2, 64, 64, 3)).astype("uint8"))
    add_4, add_3 = (_numpy(m) for m in keras.Model(model.inputs[0], [model.get_layer("add_4").output,
                                                                  model.get_layer("add_3").output])(x))
    kernel, bias = (_numpy(w) for w in model.get_layer("enhanced_conv").weights)
    branch = ref.global_average_pool(ref.relu(ref.conv(add_3, kernel, bias, padding="same")))
    dense_kernel, dense_bias = (_numpy(w) for w in model.get_layer("enhanced_fc1").weights)
    branch = ref.relu(branch @ dense_kernel + dense_bias)
    expected = np.concatenate([ref.global_average_pool(add_4), branch], -1)
    assert np.abs(branch).max() > 0
    np.testing.assert_allclose(_numpy(model(x)), expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


def test_stand_in_is_the_same_every_build_and_keeps_the_fer2013_weights(stand_ins):
    again = ecnn_stand_in("ecnn_stand_in_3072")
    assert stem_weights_sha256(again) == stem_weights_sha256(stand_ins["ecnn_stand_in_3072"])  # its cache resumes
    shipped = fer2013.fer2013_mini_xception()
    np.testing.assert_array_equal(_numpy(again.get_layer("conv2d_6").kernel),
                                  _numpy(shipped.get_layer("conv2d_6").kernel))


def test_bad_names_are_rejected():
    with pytest.raises(ValueError, match="ecnn_stand_in_wide"):
        ecnn_stand_in("ecnn_stand_in_wide")


# The command of docs/feature-cache.md, character for character (its folders made here).
EXTRACT_VARIANT = "keras-fer extract --prepared prepared/ --stem ecnn_vgg16_nobranch --input-size 32 --out features_nobranch/"  # noqa: E501


def test_extract_of_a_variant_writes_a_cache_that_names_it(prepared_ast, tmp_path, monkeypatch):
    from keras_fer import cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "prepared").symlink_to(prepared_ast)
    assert cli.main(EXTRACT_VARIANT.split()[1:] + ["--no-progress"]) == 0
    config = json.loads((tmp_path / "features_nobranch" / "cache.json").read_text())
    assert config["config"]["stem"] == "ecnn_vgg16_nobranch"
    assert config["feature_shape"] == [1024]
