import hashlib

import h5py
import keras
import numpy as np
import pytest

from data_prep.files import sha256_of_file
from keras_fer.stems.weights import (
    WEIGHTS_DIR_ENV,
    WeightsHashMismatchError,
    WeightsNotFoundError,
    load_keras2_h5_by_name,
    load_weights,
    resolve_weights_path,
    save_h5_by_name,
)
from tests.stems.keras2_h5 import conv_weights, write_keras2_weights

PUBLISHED_AT = "https://example.org/releases/tiny.h5"


def tiny_model():
    inputs = keras.Input((7, 7, 3))
    x = keras.layers.Conv2D(4, 3, name="conv_a")(inputs)
    x = keras.layers.BatchNormalization(name="bn_a")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(5, name="dense_b")(x)
    return keras.Model(inputs, x, name="tiny")


def tiny_arrays(seed=1):
    rng = np.random.default_rng(seed)
    return {
        "conv_a": [rng.standard_normal((3, 3, 3, 4)).astype("float32"), rng.standard_normal(4).astype("float32")],
        "bn_a": [rng.uniform(0.5, 1.5, 4).astype("float32") for _ in range(4)],
        "dense_b": [rng.standard_normal((4, 5)).astype("float32"), rng.standard_normal(5).astype("float32")],
    }


def tiny_keras2_layers(arrays):
    gamma, beta, mean, variance = arrays["bn_a"]
    return {
        "conv_a": conv_weights("conv_a", *arrays["conv_a"]),
        "bn_a": [
            ("bn_a/gamma:0", gamma),
            ("bn_a/beta:0", beta),
            ("bn_a/moving_mean:0", mean),
            ("bn_a/moving_variance:0", variance),
        ],
        "dense_b": conv_weights("dense_b", *arrays["dense_b"]),
    }


def assert_layer_weights(model, arrays):
    for name, expected in arrays.items():
        actual = model.get_layer(name).get_weights()
        assert len(actual) == len(expected)
        for got, want in zip(actual, expected):
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("full_model", [False, True])
def test_keras2_file_loads_by_name_unchanged(tmp_path, full_model):
    arrays = tiny_arrays()
    path = tmp_path / "tiny.h5"
    write_keras2_weights(path, tiny_keras2_layers(arrays), full_model=full_model)
    model = tiny_model()
    info = load_weights(model, path, published_at=PUBLISHED_AT)
    assert_layer_weights(model, arrays)
    assert info.file_format == "keras2_h5"
    assert set(info.loaded_layers) == {"conv_a", "bn_a", "dense_b"}
    assert model.weights_info is info


def test_batch_norm_weights_are_matched_by_name_not_order(tmp_path):
    arrays = tiny_arrays()
    layers = tiny_keras2_layers(arrays)
    layers["bn_a"] = list(reversed(layers["bn_a"]))  # variance, mean, beta, gamma
    path = tmp_path / "shuffled.h5"
    write_keras2_weights(path, layers)
    model = tiny_model()
    load_keras2_h5_by_name(model, path)
    assert_layer_weights(model, arrays)


def test_old_style_weight_names_load_in_order(tmp_path):
    arrays = tiny_arrays()
    layers = {"conv_a": [("conv_a_W", arrays["conv_a"][0]), ("conv_a_b", arrays["conv_a"][1])]}
    path = tmp_path / "old.h5"
    write_keras2_weights(path, layers)
    model = tiny_model()
    assert load_keras2_h5_by_name(model, path) == ("conv_a",)
    assert_layer_weights(model, {"conv_a": arrays["conv_a"]})


def test_layers_missing_from_file_keep_init_and_extra_file_layers_are_ignored(tmp_path):
    arrays = tiny_arrays()
    rng = np.random.default_rng(3)
    layers = {
        "conv_a": conv_weights("conv_a", *arrays["conv_a"]),
        "fc_not_in_model": conv_weights("fc_not_in_model", rng.standard_normal((9, 2)), rng.standard_normal(2)),
        "pool_without_weights": [],
    }
    path = tmp_path / "partial.h5"
    write_keras2_weights(path, layers)
    model = tiny_model()
    dense_before = [w.copy() for w in model.get_layer("dense_b").get_weights()]
    info = load_weights(model, path, published_at=PUBLISHED_AT)
    assert info.loaded_layers == ("conv_a",)
    assert_layer_weights(model, {"conv_a": arrays["conv_a"]})
    for got, want in zip(model.get_layer("dense_b").get_weights(), dense_before):
        np.testing.assert_array_equal(got, want)


def test_shape_mismatch_names_the_layer_and_can_be_skipped(tmp_path):
    arrays = tiny_arrays()
    layers = tiny_keras2_layers(arrays)
    layers["dense_b"] = conv_weights("dense_b", np.zeros((4, 6), "float32"), np.zeros(6, "float32"))
    path = tmp_path / "mismatch.h5"
    write_keras2_weights(path, layers)
    untouched = tiny_model()
    conv_before = untouched.get_layer("conv_a").get_weights()[0].copy()
    with pytest.raises(ValueError, match="dense_b"):
        load_keras2_h5_by_name(untouched, path)
    np.testing.assert_array_equal(untouched.get_layer("conv_a").get_weights()[0], conv_before)  # nothing half-loaded
    model = tiny_model()
    loaded = load_keras2_h5_by_name(model, path, skip_mismatch=True)
    assert set(loaded) == {"conv_a", "bn_a"}
    assert_layer_weights(model, {"conv_a": arrays["conv_a"]})


def test_file_for_another_architecture_is_an_error(tmp_path):
    path = tmp_path / "other.h5"
    write_keras2_weights(path, {"somewhere_else": conv_weights("somewhere_else", np.zeros((1, 1)), np.zeros(1))})
    with pytest.raises(ValueError, match="No layer of model 'tiny' matches"):
        load_weights(tiny_model(), path, published_at=PUBLISHED_AT)


def test_keras3_weights_file_round_trip(tmp_path):
    source = tiny_model()
    arrays = tiny_arrays(seed=7)
    for name, values in arrays.items():
        source.get_layer(name).set_weights(values)
    path = tmp_path / "tiny.weights.h5"
    source.save_weights(path)
    model = tiny_model()
    info = load_weights(model, path, published_at=PUBLISHED_AT)
    assert info.file_format == "keras3_weights_h5"
    assert_layer_weights(model, arrays)


def test_unrecognised_files_are_errors_that_name_the_file(tmp_path):
    not_hdf5 = tmp_path / "notes.h5"
    not_hdf5.write_text("not a weights file")
    with pytest.raises(ValueError, match="notes.h5.*not an HDF5 file"):
        load_weights(tiny_model(), not_hdf5, published_at=PUBLISHED_AT)
    other_hdf5 = tmp_path / "arrays.h5"
    with h5py.File(other_hdf5, "w") as h5_file:
        h5_file.create_dataset("x", data=np.zeros(3))
    with pytest.raises(ValueError, match="arrays.h5.*neither a Keras-2"):
        load_weights(tiny_model(), other_hdf5, published_at=PUBLISHED_AT)


def test_sha256_is_computed_and_recorded(tmp_path):
    path = tmp_path / "tiny.h5"
    write_keras2_weights(path, tiny_keras2_layers(tiny_arrays()))
    expected = hashlib.sha256(path.read_bytes()).hexdigest()
    assert sha256_of_file(path, chunk_size=7) == expected
    model = tiny_model()
    info = load_weights(model, path, published_at=PUBLISHED_AT, expected_sha256=expected.upper())
    assert info.sha256 == expected
    assert info.path == str(path.absolute())


def test_wrong_hash_raises_with_file_source_and_destination(tmp_path, monkeypatch):
    monkeypatch.delenv(WEIGHTS_DIR_ENV, raising=False)
    path = tmp_path / "tiny.h5"
    write_keras2_weights(path, tiny_keras2_layers(tiny_arrays()))
    model = tiny_model()
    kernel_before = model.get_layer("conv_a").get_weights()[0].copy()
    with pytest.raises(WeightsHashMismatchError) as error:
        load_weights(model, path, published_at=PUBLISHED_AT, expected_sha256="0" * 64)
    message = str(error.value)
    assert str(path.absolute()) in message
    assert hashlib.sha256(path.read_bytes()).hexdigest() in message
    assert PUBLISHED_AT in message
    assert WEIGHTS_DIR_ENV in message
    np.testing.assert_array_equal(model.get_layer("conv_a").get_weights()[0], kernel_before)


def test_missing_file_raises_with_file_source_and_destination(tmp_path, monkeypatch):
    monkeypatch.setenv(WEIGHTS_DIR_ENV, str(tmp_path))
    with pytest.raises(WeightsNotFoundError) as error:
        load_weights(tiny_model(), "rcmalli_vggface_tf_notop_vgg16.h5", published_at=PUBLISHED_AT)
    message = str(error.value)
    assert isinstance(error.value, FileNotFoundError)
    assert "'rcmalli_vggface_tf_notop_vgg16.h5' was not found" in message
    assert str(tmp_path / "rcmalli_vggface_tf_notop_vgg16.h5") in message
    assert PUBLISHED_AT in message
    assert f"{WEIGHTS_DIR_ENV} (currently {str(tmp_path)!r})" in message


def test_missing_file_message_says_when_the_weights_dir_is_unset(monkeypatch):
    monkeypatch.delenv(WEIGHTS_DIR_ENV, raising=False)
    with pytest.raises(WeightsNotFoundError, match=f"{WEIGHTS_DIR_ENV} is unset"):
        resolve_weights_path("absent.h5", published_at=PUBLISHED_AT)


def test_bare_name_is_found_in_weights_dir_and_explicit_path_wins(tmp_path, monkeypatch):
    weights_dir = tmp_path / "weights"
    weights_dir.mkdir()
    in_dir = weights_dir / "tiny.h5"
    in_dir.write_bytes(b"from the weights dir")
    monkeypatch.setenv(WEIGHTS_DIR_ENV, str(weights_dir))
    monkeypatch.chdir(tmp_path)
    path, sha256 = resolve_weights_path("tiny.h5", published_at=PUBLISHED_AT)
    assert path == in_dir.absolute()
    assert sha256 == hashlib.sha256(b"from the weights dir").hexdigest()
    explicit = tmp_path / "elsewhere" / "tiny.h5"
    explicit.parent.mkdir()
    explicit.write_bytes(b"explicit")
    assert resolve_weights_path(explicit, published_at=PUBLISHED_AT)[0] == explicit
    with pytest.raises(WeightsNotFoundError):  # a path with a folder is never searched elsewhere
        resolve_weights_path(tmp_path / "nowhere" / "tiny.h5", published_at=PUBLISHED_AT)


@pytest.mark.parametrize("bad", [3, True, ["a.h5"]])
def test_weights_argument_must_be_a_path(bad):
    with pytest.raises(ValueError, match="weights="):
        resolve_weights_path(bad, published_at=PUBLISHED_AT)


def test_saved_by_name_loads_into_a_variant_with_more_layers(tmp_path):
    """save_h5_by_name writes the Keras-2 layout: a variant that shares layer names (and a nested model) loads
    them, its own extra layer keeps its initialisation, and nothing is left beside the file."""
    source = tiny_model()
    for layer, arrays in tiny_arrays(seed=5).items():
        source.get_layer(layer).set_weights(arrays)
    outer = keras.Model(source.inputs, keras.layers.Dense(2, name="extra_head")(source.outputs[0]), name="outer")
    path = tmp_path / "stem.h5"
    save_h5_by_name(outer, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stem.h5"]

    inputs = keras.Input((7, 7, 3))
    x = keras.layers.Conv2D(4, 3, name="conv_a")(inputs)
    x = keras.layers.Conv2D(4, 1, padding="same", name="attention_added")(x)
    x = keras.layers.BatchNormalization(name="bn_a")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    inner = keras.Model(inputs, keras.layers.Dense(5, name="dense_b")(x), name="variant")
    variant = keras.Sequential([inner, keras.layers.Dense(3, name="other_head")])
    variant.build((None, 7, 7, 3))
    added = [w.copy() for w in variant.get_layer("variant").get_layer("attention_added").get_weights()]
    info = load_weights(variant, path, published_at=PUBLISHED_AT)
    assert set(info.loaded_layers) == {"conv_a", "bn_a", "dense_b"}
    assert_layer_weights(inner, tiny_arrays(seed=5))
    for got, want in zip(inner.get_layer("attention_added").get_weights(), added):
        np.testing.assert_array_equal(got, want)
