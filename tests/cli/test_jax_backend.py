"""The commands on JAX: ``KERAS_BACKEND=jax keras-fer train/cv/evaluate/predict``, then ``export`` of the
JAX-trained model, served by TensorFlow as the JAX model computes.

Each command runs in its own process (the backend is chosen when Keras is imported); the feature cache comes
from the session's ``trained`` fixture (FER2013 features of a small synthetic benchmark).
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("jax")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = [sys.executable, "-c", "import sys, keras_fer_cli; sys.exit(keras_fer_cli.main())"]
DATA = ["--sampler", "ast", "--sampler-option", "num_frames=8"]
FIT = ["--model", "ast", "--epochs", "2", "--batch-size", "4", "--validation-size", "1", "--quiet",
       "--no-tensorboard"]

# The JAX model's logits on fixed features, written to an .npy file (run with KERAS_BACKEND=jax).
JAX_LOGITS = """
import sys
import keras
import numpy as np
import keras_fer
assert keras.backend.backend() == "jax"
model = keras.saving.load_model(sys.argv[1])
features = np.load(sys.argv[2])
np.save(sys.argv[3], np.asarray(model(features, training=False)))
"""


def _run(args, cwd, backend="jax"):
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": ROOT}
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def jax_trained(trained, tmp_path_factory):
    """An AST head trained by ``KERAS_BACKEND=jax keras-fer train`` on the ``trained`` fixture's cache."""
    root = tmp_path_factory.mktemp("jax")
    _run(CLI + ["train", "--data", str(trained["features"])] + DATA + FIT + ["--out", "ast"], root)
    return root


def test_train_on_jax_records_the_backend(jax_trained):
    info = json.loads((jax_trained / "ast" / "train.json").read_text())
    assert (info["backend"], info["strategy"], info["replicas"], info["global_batch"]) == ("jax", "default", 1, 4)
    assert info["epochs_run"] == 2 and np.isfinite(info["history"]["loss"]).all()


def test_cv_evaluate_and_predict_on_jax(jax_trained, trained):
    data = ["--data", str(trained["features"])] + DATA
    _run(CLI + ["cv"] + data + FIT + ["--folds", "3", "--out", "cv"], jax_trained)
    results = json.loads((jax_trained / "cv" / "results.json").read_text())
    assert results["backend"] == "jax" and len(results["folds"]) == 3
    assert sum(fold["n_samples"] for fold in results["folds"]) == 18  # every clip tested once
    out = _run(CLI + ["evaluate", "--model", "ast/model.keras", "--out", "evaluation"] + data, jax_trained)
    assert "18 samples" in out
    video = sorted(trained["videos"].rglob("*.avi"))[0]
    prediction = json.loads(_run(CLI + ["predict", "--model", "ast", str(video), "--no-progress"], jax_trained))
    assert prediction["model"] == "ast" and len(prediction["temporal_attention"]["weights"]) == 8
    np.testing.assert_allclose(sum(prediction["probabilities"].values()), 1.0, atol=1e-3)


def test_a_jax_trained_model_exports_and_serves_what_jax_computes(jax_trained):
    import tensorflow as tf

    _run(CLI + ["export", "--model", "ast", "--out", "exports"], jax_trained)  # KERAS_BACKEND=jax is set
    shape = tf.saved_model.load(str(jax_trained / "exports" / "ast" / "1")).signatures["features"] \
        .structured_input_signature[1]["features"].shape
    features = np.random.default_rng(0).normal(size=(3, *shape[1:])).astype("float32")
    np.save(jax_trained / "features.npy", features)
    _run([sys.executable, "-c", JAX_LOGITS, "ast/model.keras", "features.npy", "jax_logits.npy"], jax_trained)
    served = tf.saved_model.load(str(jax_trained / "exports" / "ast" / "1")).signatures["features"](
        features=tf.constant(features))
    np.testing.assert_allclose(served["logits"], np.load(jax_trained / "jax_logits.npy"), rtol=1e-4, atol=1e-5)


def test_export_functions_name_the_backend_they_need():
    _run([sys.executable, "-c", """
import keras
from keras_fer.export import export_saved_model
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
try:
    export_saved_model(model, "out", name="m", class_names=["a", "b"])
except RuntimeError as error:
    assert "needs the TensorFlow backend" in str(error) and "'jax'" in str(error), error
else:
    raise AssertionError("exported on JAX")
"""], ROOT)


# The commands of docs/backends.md, character for character (an environment prefix is set as the shell would).
BACKENDS_PAGE_COMMANDS = [
    "KERAS_BACKEND=jax keras-fer train --data features/ --model ast --out runs/ast_jax",
    "keras-fer export --model runs/ast_jax --out exports",
    "keras-fer train --data features/ --model ast --strategy mirrored --out runs/ast_mirrored",
    "KERAS_BACKEND=jax keras-fer train --data features/ --model ast --strategy mirrored --out runs/ast_jax_mirrored",
]


@pytest.mark.slow
def test_backends_page_commands(trained, tmp_path):
    """docs/backends.md's commands as written (the AST recipe's 50 epochs) on the ``trained`` fixture's cache."""
    (tmp_path / "features").symlink_to(trained["features"])
    for command in BACKENDS_PAGE_COMMANDS:
        words = command.split()
        backend = words.pop(0).split("=")[1] if words[0].startswith("KERAS_BACKEND=") else "tensorflow"
        _run(CLI + words[1:], tmp_path, backend=backend)
    for run, backend in (("ast_jax", "jax"), ("ast_mirrored", "tensorflow"), ("ast_jax_mirrored", "jax")):
        info = json.loads((tmp_path / "runs" / run / "train.json").read_text())
        strategy = "mirrored" if run.endswith("mirrored") else "default"
        assert (info["backend"], info["strategy"], info["epochs_run"]) == (backend, strategy, 50), run
    assert (tmp_path / "exports" / "ast" / "1" / "saved_model.pb").is_file()
