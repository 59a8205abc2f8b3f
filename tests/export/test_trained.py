"""keras-fer export / export_trained: a `keras-fer train` folder to a SavedModel, ONNX and TFLite."""
import importlib.util
import json

import numpy as np
import pytest
import tensorflow as tf

from keras_fer import cli, inference
from keras_fer.export import export_trained, load_metadata


def _crops(classifier, seed=0):
    shape = classifier.frames_model().inputs[0].shape[1:]
    return np.random.default_rng(seed).integers(0, 256, size=(2, *shape)).astype(np.uint8)


def test_cli_export_serves_what_predict_computes(trained, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "ast").symlink_to(trained["dir"])
    command = "keras-fer export --model runs/ast --out exports"
    assert cli.main(command.split()[1:]) == 0
    assert capsys.readouterr().out.strip() == "exports/ast/1"
    metadata = load_metadata("exports/ast/1")
    assert metadata["registry_model"] == "ast" and metadata["sampler"] == "ast"
    assert metadata["sampler_options"] == {"num_frames": 8} and metadata["face"]["detector"] == "full_frame"
    classifier = inference.load_trained(trained["dir"])
    loaded = tf.saved_model.load("exports/ast/1")
    crops = _crops(classifier)
    served = loaded.signatures["serving_default"](frames=tf.constant(crops))
    features = classifier.features(crops.reshape(-1, *crops.shape[2:]).astype("float32")).reshape(2, 8, -1)
    expected = classifier.explain(features)
    # predict rounds features to the cache's float16; the served graph does not: equal to float16 precision.
    np.testing.assert_allclose(served["logits"], expected["logits"], atol=2e-2)
    np.testing.assert_allclose(served["temporal_attention"], expected["temporal_attention"], atol=2e-2)
    by_features = loaded.signatures["features"](features=tf.constant(features))
    np.testing.assert_allclose(by_features["logits"], expected["logits"], atol=1e-5)
    assert cli.main(["export", "--model", "runs/ast", "--out", "exports"]) == 2
    assert "exists" in capsys.readouterr().err


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="onnxruntime not installed")
def test_export_trained_onnx_matches_keras(trained, tmp_path):
    import onnxruntime

    path = export_trained(trained["dir"], tmp_path, format="onnx")
    assert path.endswith("ast.onnx")
    assert (tmp_path / "ast.class_names.txt").read_text().split() == json.loads(
        (trained["dir"] / "train.json").read_text())["class_names"]
    classifier = inference.load_trained(trained["dir"])
    crops = _crops(classifier, seed=1)
    session = onnxruntime.InferenceSession(path)
    logits, = session.run(["logits"], {"frames": crops})
    np.testing.assert_allclose(logits, classifier.frames_model()(crops), atol=1e-4)


def test_export_trained_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="output folder of `keras-fer train`"):
        export_trained(tmp_path, tmp_path / "out")
    with pytest.raises(ValueError, match="`format` must be one of"):
        export_trained(tmp_path, tmp_path / "out", format="coreml")
