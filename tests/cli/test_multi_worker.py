"""``--strategy multi-worker``: two worker processes on loopback addresses (``TF_CONFIG`` with ``127.0.0.1``
ports) train together; the chief alone writes ``--out``; after one worker is killed with ``kill -9`` and both
are restarted, the job ends as if it had never been interrupted."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from data_prep import cluster
from tests.processes import kill_when, same_history

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = [sys.executable, "-c", "import sys, keras_fer_cli; sys.exit(keras_fer_cli.main())"]
# ECNN-FSA's head on the tiny cache: per-segment random frame draws and dropout, as in tests/jobs/test_exact_resume.
HEAD = ["--sampler", "ecnn_fsa", "--model", "ecnn_fsa", "--batch-size", "4", "--quiet", "--no-tensorboard",
        "--set", "learning_rate=0.05", "--validation-size", "1", "--seed", "3", "--strategy", "multi-worker"]


def _start(argv, tmp_path, cwd=ROOT):
    """Both workers of a two-worker job running ``keras-fer argv`` in ``cwd``; worker 0 is the chief."""
    workers = []
    for config in cluster.loopback_tf_configs(2):
        env = {**os.environ, "PYTHONPATH": ROOT, "TF_CONFIG": config, "KERAS_BACKEND": "tensorflow",
               "TMPDIR": str(tmp_path)}
        workers.append(subprocess.Popen(CLI + argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE))
    return workers


def _finish(workers, timeout=600):
    """The workers' standard outputs once both succeeded; a worker that fails or hangs fails the test, and
    neither is left running."""
    outputs = []
    try:
        for worker in workers:
            out, err = worker.communicate(timeout=timeout)
            assert worker.returncode == 0, err.decode()[-3000:]
            outputs.append(out.decode())
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
    return outputs


# docs/backends.md's command, as written (ECNN-FSA's head on the tiny cache, 5 epochs of one global batch of 48).
PAGE_COMMAND = "keras-fer train --data features/ --model ecnn_fsa --epochs 5 --strategy multi-worker --out runs/ecnn_fsa"  # noqa: E501


def _page_command(tmp_path, tiny_cache):
    """Start docs/backends.md's command in ``tmp_path`` (``features/`` is the tiny cache); the two workers and
    the output folder."""
    if not (tmp_path / "features").exists():
        (tmp_path / "features").symlink_to(tiny_cache)
    return _start(PAGE_COMMAND.split()[1:], tmp_path, cwd=tmp_path), tmp_path / "runs" / "ecnn_fsa"


@pytest.fixture(scope="module")
def whole(tiny_cache, tmp_path_factory):
    """The page's command run by two workers, never interrupted."""
    tmp = tmp_path_factory.mktemp("whole")
    workers, out = _page_command(tmp, tiny_cache)
    return {"out": out, "tmp": tmp, "printed": _finish(workers)}


def test_two_workers_train_and_the_chief_alone_writes(whole):
    info = json.loads((whole["out"] / "train.json").read_text())
    assert (info["strategy"], info["workers"], info["replicas"], info["global_batch"]) == ("multi-worker", 2, 2, 48)
    assert info["epochs_run"] == 5 and np.isfinite(info["history"]["loss"]).all()
    chief, other = whole["printed"]
    assert "trained ecnn_fsa" in chief and "the chief (worker 0) writes the results" in other
    assert (whole["out"] / "model.keras").is_file()
    # the other worker wrote in a temporary copy of OUT (under TMPDIR), removed when it finished
    assert not [name for name in os.listdir(whole["tmp"]) if name.startswith("keras-fer-worker-")]


def test_two_workers_validate_on_every_clip_once(whole, tiny_cache):
    """The selected epoch's val_loss over both workers is the loss of its model on the validation clips, each
    counted once."""
    import keras

    import keras_fer  # noqa: F401  (registers the layers for loading)
    from keras_fer.data.sources import open_source

    info = json.loads((whole["out"] / "train.json").read_text())
    model = keras.saving.load_model(whole["out"] / "model.keras")
    data = open_source(tiny_cache).dataset(info["validation_ids"], training=False, batch_size=48)
    loss, accuracy = model.evaluate(data, verbose=0)
    selected = info["best_epoch"] - 1
    np.testing.assert_allclose(loss, info["history"]["val_loss"][selected], rtol=1e-5)
    np.testing.assert_allclose(accuracy, info["history"]["val_sparse_categorical_accuracy"][selected], rtol=1e-6)


def test_two_workers_resume_after_one_is_killed(whole, tiny_cache, tmp_path):
    (chief, other), out = _page_command(tmp_path, tiny_cache)
    metadata = out / "backup" / "training_metadata.json"

    def two_epochs_done():
        try:
            return json.loads(metadata.read_text())["epoch"] >= 2
        except (OSError, ValueError):
            return False

    kill_when(other, two_epochs_done, timeout=300)
    assert other.returncode == -signal.SIGKILL
    time.sleep(1)
    chief.kill()  # a job manager restarts the whole job: the chief waits for its peer in vain
    chief.wait()
    assert not (out / "model.keras").exists()
    _finish(_page_command(tmp_path, tiny_cache)[0])
    same_history(out, whole["out"])
    mine, theirs = (json.loads((folder / "train.json").read_text()) for folder in (out, whole["out"]))
    assert mine["best_epoch"] == theirs["best_epoch"] and mine["validation_ids"] == theirs["validation_ids"]


def test_two_workers_train_an_end_to_end_model_from_a_prepared_folder(prepared_ast, tmp_path):
    out = tmp_path / "out"
    argv = ["train", "--data", str(prepared_ast), "--model", "ast_cnn", "--sampler", "ast", "--sampler-option",
            "num_frames=5", "--model-option", "frame_size=32", "--model-option", "num_frames=5", "--epochs", "2",
            "--batch-size", "4", "--validation-size", "1", "--quiet", "--no-tensorboard", "--strategy",
            "multi-worker", "--out", str(out)]
    _finish(_start(argv, tmp_path))
    info = json.loads((out / "train.json").read_text())
    assert (info["preparation"]["input"], info["workers"], info["replicas"]) == ("frames", 2, 2)
    assert info["epochs_run"] == 2 and np.isfinite(info["history"]["val_loss"]).all()


def test_two_workers_cross_validate(tiny_cache, tmp_path):
    out = tmp_path / "out"
    argv = ["cv", "--data", str(tiny_cache), "--folds", "2", "--epochs", "2", "--out", str(out)] + HEAD
    chief, other = _finish(_start(argv, tmp_path))
    results = json.loads((out / "results.json").read_text())
    assert results["strategy"] == "multi-worker" and [f["workers"] for f in results["folds"]] == [2, 2]
    assert sum(f["n_samples"] for f in results["folds"]) == 24  # every clip tested once
    assert "| mean |" in chief and "the chief (worker 0) writes the results" in other

