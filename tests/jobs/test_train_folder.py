"""A `keras-fer train` folder is checked when it is read: an edited train.json or a replaced model.keras is named."""
import json
import shutil

import pytest

from keras_fer import cli
from keras_fer.jobs import train_folder


@pytest.fixture(scope="module")
def trained_tiny(tiny_cache, tmp_path_factory):
    """An ecnn_fsa head trained for one epoch on the tiny cache by `keras-fer train`."""
    out = tmp_path_factory.mktemp("train_folder") / "run"
    assert cli.main(["train", "--data", str(tiny_cache), "--out", str(out), "--sampler", "ecnn_fsa", "--model",
                     "ecnn_fsa", "--epochs", "1", "--batch-size", "4", "--quiet", "--no-tensorboard",
                     "--validation-size", "1"]) == 0
    return out


@pytest.fixture
def copy(trained_tiny, tmp_path):
    return shutil.copytree(trained_tiny, tmp_path / "run")


def _export_error(folder, tmp_path, capsys):
    assert cli.main(["export", "--model", str(folder), "--out", str(tmp_path / "exports")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("keras-fer export: error: ") and "Traceback" not in err, err
    return err


def test_the_record_is_read_back_checked(copy):
    info = train_folder.read_train_json(copy)
    assert info["model"] == "ecnn_fsa" and info["class_names"] == ["a", "b", "c"]
    assert set(info["sha256"]) == set(info) - {"sha256"} and len(info["model_sha256"]) == 64


def test_an_edited_train_json_is_named_with_the_entry(copy, tmp_path, capsys):
    path = copy / "train.json"
    info = json.loads(path.read_text())
    info["class_names"].reverse()  # would relabel every prediction
    path.write_text(json.dumps(info))
    message = f"{path}: edited after keras-fer train wrote it: class_names no longer match"
    with pytest.raises(ValueError, match=message):
        train_folder.read_train_json(copy)
    assert message in _export_error(copy, tmp_path, capsys)
    path.write_text("{not json")
    assert f"{path}: not readable JSON" in _export_error(copy, tmp_path, capsys)


def test_a_replaced_or_damaged_model_is_named(copy, tmp_path, capsys):
    model = copy / "model.keras"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(data)
    assert f"{model}: not the model keras-fer train wrote" in _export_error(copy, tmp_path, capsys)
    model.unlink()
    assert f"{model}: missing" in _export_error(copy, tmp_path, capsys)


def test_a_folder_written_before_the_digests_is_read_unchecked(copy):
    path = copy / "train.json"
    info = json.loads(path.read_text())
    del info["sha256"], info["model_sha256"]
    path.write_text(json.dumps(info))
    assert train_folder.read_train_json(copy)["class_names"] == ["a", "b", "c"]
