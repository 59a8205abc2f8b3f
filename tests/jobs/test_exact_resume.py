"""`keras-fer train` and `cv` killed with SIGKILL mid-run and run again end exactly as the runs never interrupted."""
import json
import os
import signal
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_fer import cli
from tests.processes import kill_when, same_history

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# ECNN-FSA: per-segment random frame draws in training and dropout 0.5 in the head.
COMMON = ["--sampler", "ecnn_fsa", "--model", "ecnn_fsa", "--batch-size", "4", "--quiet", "--no-tensorboard",
          "--set", "learning_rate=0.05", "--validation-size", "1", "--seed", "3"]


def _command(argv):
    return [sys.executable, "-c", f"import sys; from keras_fer import cli; sys.exit(cli.main({argv!r}))"]


def _kill_after(argv, backup_dir, epochs_done):
    """Run ``keras-fer argv`` in a process; SIGKILL it once ``backup_dir`` holds ``epochs_done`` finished epochs."""
    metadata = os.path.join(backup_dir, "training_metadata.json")
    env = dict(os.environ, PYTHONPATH=ROOT)
    process = subprocess.Popen(_command(argv), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def finished_enough():
        try:
            with open(metadata, encoding="utf-8") as handle:
                return json.load(handle)["epoch"] >= epochs_done
        except (OSError, ValueError):  # not there yet, or being written
            return False

    kill_when(process, finished_enough, timeout=300)
    assert process.returncode == -signal.SIGKILL


def _rerun(argv):
    finished = subprocess.run(_command(argv), cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                              capture_output=True, timeout=600)
    assert finished.returncode == 0, finished.stderr.decode()[-3000:]


def _same_weights(resumed_path, whole_path):
    for mine, theirs in zip(keras.saving.load_model(resumed_path).get_weights(),
                            keras.saving.load_model(whole_path).get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_train_killed_and_rerun_equals_the_uninterrupted_run(tiny_cache, tmp_path):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    argv = ["train", "--data", str(tiny_cache), "--epochs", "8"] + COMMON
    assert cli.main(argv + ["--out", str(whole)]) == 0
    _kill_after(argv + ["--out", str(cut)], cut / "backup", epochs_done=3)
    assert not (cut / "model.keras").exists()
    _rerun(argv + ["--out", str(cut)])
    same_history(cut, whole)
    mine, theirs = (json.loads((folder / "train.json").read_text()) for folder in (cut, whole))
    assert mine["best_epoch"] == theirs["best_epoch"] and mine["validation_ids"] == theirs["validation_ids"]
    _same_weights(cut / "model.keras", whole / "model.keras")


@pytest.mark.slow
def test_cv_killed_in_a_fold_and_rerun_equals_the_uninterrupted_run(tiny_cache, tmp_path):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    argv = ["cv", "--data", str(tiny_cache), "--folds", "3", "--epochs", "6"] + COMMON
    assert cli.main(argv + ["--out", str(whole)]) == 0
    _kill_after(argv + ["--out", str(cut)], cut / "fold_02" / "backup", epochs_done=2)
    assert (cut / "fold_01" / "result.json").is_file() and not (cut / "fold_02" / "result.json").exists()
    _rerun(argv + ["--out", str(cut)])
    mine, theirs = (json.loads((folder / "results.json").read_text()) for folder in (cut, whole))
    for fold, (resumed, uninterrupted) in enumerate(zip(mine["folds"], theirs["folds"]), 1):
        same_history(cut / f"fold_{fold:02d}", whole / f"fold_{fold:02d}")
        for key in ("best_epoch", "epochs_run", "accuracy", "confusion_matrix"):
            assert resumed[key] == uninterrupted[key], (fold, key)
    assert mine["summary"] == theirs["summary"]
    with open(cut / "fold_02" / "predictions.csv") as a, open(whole / "fold_02" / "predictions.csv") as b:
        rows = [line.split(",") for line in a], [line.split(",") for line in b]
    assert [row[:3] for row in rows[0]] == [row[:3] for row in rows[1]]
    np.testing.assert_allclose(np.array([row[3:] for row in rows[0][1:]], float),
                               np.array([row[3:] for row in rows[1][1:]], float), atol=1e-4)
