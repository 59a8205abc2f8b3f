import importlib.util
import os

import pytest
import tensorflow as tf

from keras_fer.export import TFLiteConversionError, export_onnx, export_tflite
from tests.export.tiny_models import (
    assert_outputs_match,
    ast_fer2013,
    features_for,
    inputs_for,
    keras_reference,
    paper_model,
)


@pytest.fixture
def onnxruntime():
    pytest.importorskip("tf2onnx", reason="export_onnx needs tf2onnx (keras-fer[onnx])")
    return pytest.importorskip("onnxruntime", reason="the ONNX parity tests need onnxruntime (keras-fer[onnx])")


def _onnx_outputs(session, x):
    (name,) = [tensor.name for tensor in session.get_inputs()]
    names = [tensor.name for tensor in session.get_outputs()]
    return name, dict(zip(names, session.run(names, {name: x})))


def test_onnx_matches_keras_on_uint8_frames(tmp_path, onnxruntime):
    model, head = ast_fer2013()
    path = export_onnx(model, tmp_path / "ast.onnx")
    assert path == os.fspath(tmp_path / "ast.onnx") and os.listdir(tmp_path) == ["ast.onnx"]
    session = onnxruntime.InferenceSession(path)
    assert session.get_inputs()[0].type == "tensor(uint8)" and session.get_inputs()[0].shape[1:] == [4, 32, 32, 3]
    x = inputs_for(model, batch=3)  # a batch size the export never saw
    name, outputs = _onnx_outputs(session, x)
    assert name == "frames"
    assert_outputs_match(outputs, keras_reference(model, x))
    # The head alone (cached features in) exports the same way.
    features = features_for(head)
    name, outputs = _onnx_outputs(onnxruntime.InferenceSession(export_onnx(head, tmp_path / "head.onnx")), features)
    assert name == "features"
    assert_outputs_match(outputs, keras_reference(head, features))


def test_onnx_matches_keras_on_stanet_flow(tmp_path, onnxruntime):
    model, _ = paper_model("stanet")
    x = inputs_for(model)
    name, outputs = _onnx_outputs(onnxruntime.InferenceSession(export_onnx(model, tmp_path / "stanet.onnx")), x)
    assert name == "flow"
    assert_outputs_match(outputs, keras_reference(model, x))


def test_onnx_bad_opset_and_missing_tf2onnx(tmp_path, monkeypatch):
    model, _ = ast_fer2013(num_frames=2)
    with pytest.raises(ValueError, match="`opset`"):
        export_onnx(model, tmp_path / "m.onnx", opset=7)
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "tf2onnx" else find_spec(name))
    with pytest.raises(ImportError, match=r"keras-fer\[onnx\]"):
        export_onnx(model, tmp_path / "m.onnx")
    assert not os.listdir(tmp_path)


def _tflite_run(path, signature, x):
    runner = tf.lite.Interpreter(model_path=path).get_signature_runner(signature)
    (name,) = runner.get_input_details()
    return name, runner(**{name: x})


def test_tflite_matches_keras_with_builtin_ops(tmp_path):
    model, head = ast_fer2013()
    path = export_tflite(model, tmp_path / "ast.tflite", head=head)
    assert os.listdir(tmp_path) == ["ast.tflite"]
    signatures = tf.lite.Interpreter(model_path=path).get_signature_list()
    assert sorted(signatures) == ["features", "serving_default"]
    x = inputs_for(model, batch=1)
    name, outputs = _tflite_run(path, "serving_default", x)
    assert name == "frames"
    assert_outputs_match(outputs, keras_reference(model, x))
    features = features_for(head, batch=1)
    _, outputs = _tflite_run(path, "features", features)
    assert_outputs_match(outputs, keras_reference(head, features))


def test_tflite_lstm_needs_a_fixed_batch(tmp_path):
    model, head = paper_model("stanet")  # LSTM hidden states (eq. 3)
    with pytest.raises(TFLiteConversionError, match="batch_size=1") as error:
        export_tflite(model, tmp_path / "stanet.tflite", head=head, batch_size=None)
    assert error.value.ops == ["tf.TensorListReserve"]
    assert not os.path.exists(tmp_path / "stanet.tflite")
    path = export_tflite(model, tmp_path / "stanet.tflite", head=head)  # batch_size=1
    x = inputs_for(model, batch=1)
    name, outputs = _tflite_run(path, "serving_default", x)
    assert name == "flow"
    assert_outputs_match(outputs, keras_reference(model, x))
    with pytest.raises(ValueError, match="`batch_size`"):
        export_tflite(model, tmp_path / "bad.tflite", batch_size=0)
    with pytest.raises(ValueError, match="`select_tf_ops`"):
        export_tflite(model, tmp_path / "bad.tflite", select_tf_ops="yes")


@pytest.mark.slow
def test_tflite_stcam_needs_select_tf_ops(tmp_path):
    model, _ = paper_model("stcam")  # about 20 s: two conversions of a 7 M-parameter 3D network
    with pytest.raises(TFLiteConversionError, match=r"unsupported \['tf.MaxPool3D'\]; select_tf_ops=True") as error:
        export_tflite(model, tmp_path / "stcam.tflite")
    assert error.value.ops == ["tf.MaxPool3D"]
    path = export_tflite(model, tmp_path / "stcam.tflite", select_tf_ops=True)
    with open(path, "rb") as handle:
        assert b"FlexMaxPool3D" in handle.read()  # kept as a TensorFlow op, run by the Flex delegate
    # The tensorflow pip package's interpreter has no Flex delegate: the file needs an app that links it.
    with pytest.raises(RuntimeError, match="Flex delegate"):
        _tflite_run(path, "serving_default", inputs_for(model, batch=1))
