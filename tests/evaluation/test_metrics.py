"""Metrics: each against scikit-learn and the equations, including absent and never-predicted classes."""
import doctest
import json
import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from keras_fer.evaluation import metrics
from keras_fer.evaluation.metrics import (
    accuracy,
    classification_report,
    composite_scores,
    confusion_matrix,
    macro_f1,
    per_class_recall,
    per_class_scores,
    uar,
)


def _sklearn(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns about absent classes; the values are what we compare
        return function(*args, **kwargs)


def _cases():
    """(y_true, y_pred, num_classes): random draws plus the edge cases."""
    rng = np.random.default_rng(0)
    cases = []
    for n, c in [(1, 2), (2, 3), (7, 2), (7, 5), (40, 4), (200, 7)]:
        for _ in range(3):
            y_true = rng.integers(0, c, n)
            y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, c, n))
            cases.append((y_true, y_pred, c))
    cases += [
        (np.array([0, 0, 1, 1, 2, 2]), np.array([0, 0, 1, 1, 1, 1]), 3),  # class 2 never predicted
        (np.array([0, 0, 1, 1, 1, 0]), np.array([0, 2, 1, 2, 1, 0]), 3),  # class 2 predicted, absent from y_true
        (np.array([0, 1, 3, 3, 1]), np.array([0, 1, 3, 1, 1]), 5),        # classes 2 and 4 neither true nor predicted
        (np.array([2, 2, 2]), np.array([2, 2, 2]), 4),                    # one class, all correct
        (np.array([0, 1, 2]), np.array([1, 2, 0]), 3),                    # all wrong
    ]
    return cases


CASES = _cases()


@pytest.mark.parametrize("y_true,y_pred,num_classes", CASES)
def test_against_scikit_learn(y_true, y_pred, num_classes):
    labels = list(range(num_classes))
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred, num_classes),
                                  skm.confusion_matrix(y_true, y_pred, labels=labels))
    np.testing.assert_allclose(confusion_matrix(y_true, y_pred, num_classes, normalise=True),
                               _sklearn(skm.confusion_matrix, y_true, y_pred, labels=labels, normalize="true"))
    np.testing.assert_allclose(accuracy(y_true, y_pred, num_classes), skm.accuracy_score(y_true, y_pred))
    np.testing.assert_allclose(uar(y_true, y_pred, num_classes), _sklearn(skm.balanced_accuracy_score, y_true, y_pred))
    np.testing.assert_allclose(macro_f1(y_true, y_pred, num_classes), _sklearn(skm.f1_score, y_true, y_pred,
                                                                             average="macro"))
    precision, recall, f1, support = _sklearn(skm.precision_recall_fscore_support, y_true, y_pred, labels=labels,
                                              zero_division=np.nan)
    scores = per_class_scores(y_true, y_pred, num_classes)
    np.testing.assert_allclose(scores["precision"], precision)  # NaN where sklearn's zero_division applies
    np.testing.assert_allclose(scores["recall"], recall)
    np.testing.assert_allclose(scores["f1"], f1)  # assert_allclose: NaN only where the other is NaN
    np.testing.assert_array_equal(scores["support"], support)
    np.testing.assert_allclose(per_class_recall(y_true, y_pred, num_classes), recall)
    # UAR is also sklearn's macro recall over the classes present in y_true
    present = sorted(set(y_true.tolist()))
    np.testing.assert_allclose(uar(y_true, y_pred, num_classes),
                               _sklearn(skm.recall_score, y_true, y_pred, labels=present, average="macro"))


@pytest.mark.parametrize("y_true,y_pred,num_classes", CASES)
def test_against_the_equations(y_true, y_pred, num_classes):
    """NumPy loops over the definitions, independent of both implementations."""
    accuracy_expected = np.mean(y_true == y_pred)
    recalls, f1s = [], []
    for c in range(num_classes):
        tp = np.sum((y_true == c) & (y_pred == c))
        fp = np.sum((y_true != c) & (y_pred == c))
        fn = np.sum((y_true == c) & (y_pred != c))
        if tp + fn:
            recalls.append(tp / (tp + fn))
        if 2 * tp + fp + fn:
            f1s.append(2 * tp / (2 * tp + fp + fn))
    np.testing.assert_allclose(accuracy(y_true, y_pred, num_classes), accuracy_expected)
    np.testing.assert_allclose(uar(y_true, y_pred, num_classes), np.mean(recalls))
    np.testing.assert_allclose(macro_f1(y_true, y_pred, num_classes), np.mean(f1s))
    matrix = confusion_matrix(y_true, y_pred, num_classes)
    assert matrix.dtype == np.int64 and matrix.shape == (num_classes, num_classes)
    for t, p in zip(y_true, y_pred):
        matrix[t, p] -= 1
    assert not matrix.any()


def test_edge_cases_are_explicit():
    # class 2 is true but never predicted: recall 0, precision undefined, F1 0, and it counts in UAR and macro-F1
    y_true, y_pred = [0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 1, 1]
    scores = per_class_scores(y_true, y_pred, 3)
    assert scores["recall"].tolist() == [1.0, 1.0, 0.0]
    assert np.isnan(scores["precision"][2]) and scores["f1"][2] == 0.0
    np.testing.assert_allclose(uar(y_true, y_pred, 3), 2 / 3)
    np.testing.assert_allclose(macro_f1(y_true, y_pred, 3), (1 + 2 / 3 + 0) / 3)
    # class 2 is absent from y_true but predicted: recall undefined (left out of UAR), F1 0 (in macro-F1)
    y_true, y_pred = [0, 0, 1, 1], [0, 2, 1, 1]
    scores = per_class_scores(y_true, y_pred, 3)
    assert np.isnan(scores["recall"][2]) and scores["f1"][2] == 0.0 and scores["precision"][2] == 0.0
    np.testing.assert_allclose(uar(y_true, y_pred, 3), (0.5 + 1.0) / 2)
    np.testing.assert_allclose(macro_f1(y_true, y_pred, 3), (2 / 3 + 1 + 0) / 3)
    # class 2 neither true nor predicted: left out of both, and its normalised row is zeros
    assert uar([0, 1], [0, 1], 3) == 1.0 and macro_f1([0, 1], [0, 1], 3) == 1.0
    assert confusion_matrix([0, 1], [0, 1], 3, normalise=True).tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 0]]


def test_composite_scores_sum_counts_over_folds():
    rng = np.random.default_rng(5)
    folds = []
    for _ in range(8):  # LOSO-like folds: few samples, few classes each
        n = int(rng.integers(1, 6))
        y_true = rng.integers(0, 5, n)
        folds.append((y_true, np.where(rng.random(n) < 0.5, y_true, rng.integers(0, 5, n))))
    scores = composite_scores(folds, 5)
    all_true = np.concatenate([f[0] for f in folds])
    all_pred = np.concatenate([f[1] for f in folds])
    np.testing.assert_allclose(scores["uf1"], _sklearn(skm.f1_score, all_true, all_pred, average="macro"))
    np.testing.assert_allclose(scores["uar"], _sklearn(skm.balanced_accuracy_score, all_true, all_pred))
    np.testing.assert_allclose(scores["accuracy"], skm.accuracy_score(all_true, all_pred))
    np.testing.assert_array_equal(scores["confusion_matrix"], skm.confusion_matrix(all_true, all_pred,
                                                                                   labels=range(5)))
    assert scores["n_samples"] == all_true.size and scores["n_folds"] == 8
    # the MEGC definition, by hand: TP/FP/FN summed over folds
    tp = sum(np.array([np.sum((t == c) & (p == c)) for c in range(5)]) for t, p in folds)
    fp = sum(np.array([np.sum((t != c) & (p == c)) for c in range(5)]) for t, p in folds)
    fn = sum(np.array([np.sum((t == c) & (p != c)) for c in range(5)]) for t, p in folds)
    np.testing.assert_allclose(scores["uf1"], np.mean(2 * tp / (2 * tp + fp + fn)))
    np.testing.assert_allclose(scores["uar"], np.mean(tp / (tp + fn)))


def test_composite_differs_from_the_mean_over_folds():
    folds = [([0, 0], [0, 0]), ([1, 2], [1, 1])]
    composite = composite_scores(folds, 3)["uf1"]
    mean_of_folds = np.mean([macro_f1(t, p, 3) for t, p in folds])
    np.testing.assert_allclose(composite, (1 + 2 / 3 + 0) / 3)
    assert not np.isclose(composite, mean_of_folds)


def test_classification_report_is_json_and_matches_scikit_learn():
    y_true = np.array([0, 0, 1, 1, 1, 3, 3])
    y_pred = np.array([0, 1, 1, 1, 0, 2, 3])
    names = ["anger", "disgust", "fear", "happiness"]
    report = classification_report(y_true, y_pred, 4, class_names=names)
    json.dumps(report, allow_nan=False)
    reference = _sklearn(skm.classification_report, y_true, y_pred, labels=range(4), target_names=names,
                         output_dict=True, zero_division=np.nan)
    for name in ("anger", "disgust", "happiness"):
        for key, sklearn_key in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score"),
                                 ("support", "support")):
            np.testing.assert_allclose(report["per_class"][name][key], reference[name][sklearn_key])
    # fear: predicted once, never true -> precision 0, recall undefined, F1 0
    assert report["per_class"]["fear"] == {"precision": 0.0, "recall": None, "f1": 0.0, "support": 0}
    np.testing.assert_allclose(report["accuracy"], skm.accuracy_score(y_true, y_pred))
    np.testing.assert_allclose(report["uar"], _sklearn(skm.balanced_accuracy_score, y_true, y_pred))
    np.testing.assert_allclose(report["macro_f1"], _sklearn(skm.f1_score, y_true, y_pred, average="macro"))
    assert report["confusion_matrix"] == skm.confusion_matrix(y_true, y_pred, labels=range(4)).tolist()
    np.testing.assert_allclose(report["confusion_matrix_normalised"],
                               _sklearn(skm.confusion_matrix, y_true, y_pred, labels=range(4), normalize="true"))
    assert report["n_samples"] == 7 and report["class_names"] == names
    assert list(classification_report([0], [0], 2)["per_class"]) == ["0", "1"]


def test_bad_input_is_rejected_with_the_argument_named():
    with pytest.raises(ValueError, match="`y_true`.*integer"):
        accuracy([0.0, 1.0], [0, 1], 2)
    with pytest.raises(ValueError, match="`y_pred`.*integer"):
        accuracy([0, 1], [True, False], 2)
    with pytest.raises(ValueError, match="`y_pred`.*1-D.*argmax"):
        uar([0, 1], np.zeros((2, 2), dtype=int), 2)
    with pytest.raises(ValueError, match="same length"):
        macro_f1([0, 1], [0], 2)
    with pytest.raises(ValueError, match=r"`y_true`.*\[0, 2\)"):
        confusion_matrix([0, 2], [0, 1], 2)
    with pytest.raises(ValueError, match=r"`y_pred`.*\[0, 3\)"):
        per_class_scores([0, 1], [-1, 1], 3)
    with pytest.raises(ValueError, match="empty"):
        accuracy([], [], 2)
    for bad in (0, 2.0, True, None):
        with pytest.raises(ValueError, match="`num_classes`"):
            accuracy([0], [0], bad)
    with pytest.raises(ValueError, match="`normalise`"):
        confusion_matrix([0], [0], 2, normalise="true")
    with pytest.raises(ValueError, match="`class_names`"):
        classification_report([0], [0], 2, class_names=["a"])
    with pytest.raises(ValueError, match="`class_names`"):
        classification_report([0], [0], 2, class_names=["a", "a"])
    with pytest.raises(ValueError, match="empty"):
        composite_scores([], 2)
    with pytest.raises(ValueError, match=r"`fold_predictions\[1\]` must be a \(y_true, y_pred\) pair"):
        composite_scores([([0], [0]), [0, 1, 0]], 2)
    with pytest.raises(ValueError, match="`num_classes`"):
        composite_scores([([0], [0])], 0)


def test_docstring_examples_run():
    failures, attempted = doctest.testmod(metrics)
    assert attempted > 0 and failures == 0
