"""keras_fer.jobs.training: honest selection (the test side never changes training), results files, resume."""
import csv
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from keras_fer.data.sources import ArraySource
from keras_fer.evaluation import splits
from keras_fer.jobs import training
from keras_fer.training.recipes import get_recipe

CLASSES = ["anger", "happiness", "sadness"]


def _source(seed=0, labels=None):
    """36 clips of 5 frames x 8 features, 6 subjects with 2 clips of each class; the class shifts feature ``label``."""
    rng = np.random.default_rng(seed)
    n = 36
    y = (np.arange(n) // 6) % 3 if labels is None else labels
    x = rng.normal(size=(n, 5, 8)).astype("float32")
    x[np.arange(n), :, y] += 2.0
    ids = [f"v{i:02d}" for i in range(n)]
    subjects = [f"S{i % 6}" for i in range(n)]
    return ArraySource(x, y, ids, subjects, CLASSES, input="features")


class CountingSource:
    """A source that records which ids each dataset call asked for, and when."""

    def __init__(self, source):
        self.source, self.calls = source, []
        self.rows, self.class_names, self.input = source.rows, source.class_names, source.input
        self.preparation = source.preparation

    def dataset(self, ids, *, training, batch_size, seed=None, epoch=0):
        self.calls.append((tuple(ids), training))
        return self.source.dataset(ids, training=training, batch_size=batch_size, seed=seed, epoch=epoch)


RECIPE = get_recipe("ecnn_fsa", epochs=6, batch_size=8, learning_rate=0.05)


def _run(source, out_dir):
    fold = splits.subject_kfold(source.rows, k=3)[0]
    return training.run_fold(source, "ecnn_fsa", fold, out_dir=out_dir, recipe=RECIPE, validation_size=1, seed=0,
                             verbose=0, tensorboard=False, figures=False)


def test_shuffling_the_test_labels_changes_nothing_but_the_test_scores(tmp_path):
    """The test side never influences selection: with its labels permuted, training and the chosen epoch repeat."""
    source = _source()
    fold = splits.subject_kfold(source.rows, k=3)[0]
    test = np.isin([r["id"] for r in source.rows], fold.test_ids)
    shuffled_labels = source.labels.copy()
    shuffled_labels[test] = np.random.default_rng(5).permutation(shuffled_labels[test])
    assert not np.array_equal(shuffled_labels, source.labels)
    shuffled = ArraySource(source.inputs, shuffled_labels, [r["id"] for r in source.rows],
                           [r["subject"] for r in source.rows], CLASSES, input="features")
    honest, permuted = _run(source, tmp_path / "a"), _run(shuffled, tmp_path / "b")
    history_a = (tmp_path / "a" / "history.csv").read_text()
    history_b = (tmp_path / "b" / "history.csv").read_text()
    assert honest["best_epoch"] == permuted["best_epoch"]
    assert history_a == history_b  # every training and validation figure of every epoch
    assert honest["accuracy"] > 0.6  # the learnable labels are learnt ...
    assert honest["confusion_matrix"] != permuted["confusion_matrix"]  # ... and the permuted test labels scored


def test_the_test_side_is_read_once_after_training(tmp_path):
    source = CountingSource(_source())
    report = _run(source, tmp_path)
    fold = splits.subject_kfold(source.rows, k=3)[0]
    test_calls = [i for i, (ids, _) in enumerate(source.calls) if set(ids) & set(fold.test_ids)]
    assert test_calls == [len(source.calls) - 1]  # one call, the last
    assert source.calls[-1] == (tuple(fold.test_ids), False)
    train_ids, validation_ids = source.calls[0][0], source.calls[1][0]
    subjects = {r["id"]: r["subject"] for r in source.rows}
    assert not {subjects[i] for i in train_ids} & {subjects[i] for i in validation_ids}
    assert report["n_train"] == len(train_ids) and report["n_validation"] == len(validation_ids) == 6
    assert 1 <= report["best_epoch"] <= report["epochs_run"] == 6


def test_selected_epoch_is_the_best_validation_epoch_and_its_weights_are_used(tmp_path):
    source = _source()
    report = _run(source, tmp_path)
    with open(tmp_path / "history.csv", newline="") as handle:
        losses = [float(row["val_loss"]) for row in csv.DictReader(handle)]
    assert report["best_epoch"] == int(np.argmin(losses)) + 1
    with open(tmp_path / "predictions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == report["n_samples"] == 12
    assert sum(row["label"] == row["predicted"] for row in rows) == round(report["accuracy"] * 12)
    probabilities = np.array([[float(row[f"p_{c}"]) for c in CLASSES] for row in rows])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert json.loads((tmp_path / "result.json").read_text())["best_epoch"] == report["best_epoch"]


def test_cross_validate_writes_the_tables_and_skips_finished_folds(tmp_path):
    source = _source()
    folds = splits.subject_kfold(source.rows, k=3)
    results = training.cross_validate(source, "ecnn_fsa", folds, out_dir=tmp_path, recipe=RECIPE, validation_size=1,
                                      verbose=0, tensorboard=False, figures=True)
    for png in ("confusion_matrix.png", "fold_01/confusion_matrix.png", "fold_03/training_curves.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    accuracies = [r["accuracy"] for r in results["folds"]]
    assert results["summary"]["accuracy"]["mean"] == pytest.approx(np.mean(accuracies))
    assert results["summary"]["accuracy"]["std"] == pytest.approx(np.std(accuracies))
    assert results["composite"]["n_samples"] == 36
    assert results["composite"]["accuracy"] == pytest.approx(np.mean(accuracies))  # equal-sized folds
    table = (tmp_path / "results.md").read_text()
    assert "| fold_01 |" in table and "| mean |" in table and "| std |" in table
    with open(tmp_path / "results.csv", newline="") as handle:
        assert [row["fold"] for row in csv.DictReader(handle)] == ["fold_01", "fold_02", "fold_03", "mean", "std"]
    # a rerun reads the finished folds instead of training again
    os.remove(tmp_path / "fold_02" / "result.json")
    stamp = os.path.getmtime(tmp_path / "fold_01" / "result.json")
    again = training.cross_validate(source, "ecnn_fsa", folds, out_dir=tmp_path, recipe=RECIPE, validation_size=1,
                                    verbose=0, tensorboard=False, figures=False)
    assert os.path.getmtime(tmp_path / "fold_01" / "result.json") == stamp
    assert again["summary"]["accuracy"]["per_fold"] == accuracies  # fold_02 retrained from scratch, same seed


def test_a_small_validation_side_is_kept_in_memory_and_reads_the_same(monkeypatch):
    """The test-mode reader draws the same every pass: cached, the batches are unchanged; too large or of
    unknown shape, the dataset is left as it is."""
    source = _source()
    ids = [row["id"] for row in source.rows][:12]
    validation = source.dataset(ids, training=False, batch_size=8)
    kept = training._kept_in_memory(validation, len(ids))
    assert kept is not validation
    for _ in range(2):  # the first pass fills the cache, the second reads it
        for (x, y), (x_kept, y_kept) in zip(validation, kept, strict=True):
            np.testing.assert_array_equal(x_kept, x)
            np.testing.assert_array_equal(y_kept, y)
    monkeypatch.setattr(training, "VALIDATION_CACHE_BYTES", 12 * 5 * 8 * 4 - 1)  # one byte short of 12 clips
    assert training._kept_in_memory(validation, len(ids)) is validation
    monkeypatch.undo()
    ragged = validation.map(lambda x, y: (tf.numpy_function(lambda a: a, [x], tf.float32), y))  # shape unknown
    assert training._kept_in_memory(ragged, len(ids)) is ragged
