"""The papers' classification metrics: accuracy (WAR), UAR, macro-F1, UF1, per-class scores, confusion matrices.

All functions take integer class indices (``y_true``, ``y_pred``: 1-D, same
length, values in ``[0, num_classes)``; take ``argmax(logits, axis=-1)``
first) and are plain NumPy, so they run anywhere and agree with scikit-learn
(the tests check each one against it).

Classes absent from a fold are handled explicitly, the same way everywhere:

* a class's recall is undefined (NaN; ``None`` in reports) when it has no
  true sample, its precision when it is never predicted, its F1 when it is
  neither true nor predicted (``2TP + FP + FN = 0``); a class that is true but
  never predicted has recall 0 and F1 0;
* UAR (unweighted average recall) is the mean recall over the classes present
  in ``y_true`` (= ``sklearn.metrics.balanced_accuracy_score``);
* macro-F1 is the mean F1 over the classes present in ``y_true`` or
  ``y_pred`` (= ``sklearn.metrics.f1_score(average="macro")``);
* accuracy = WAR (weighted average recall) = trace / total.

For the micro-expression protocols (STANet sec. 4.1: leave-one-subject-out on
CASME I, CASME II, SMIC-HS; STANet reports accuracy only, UF1 and UAR allow a
comparison with later MEGC results) :func:`composite_scores` gives them as the
Micro-Expression Grand Challenge (MEGC 2019) defines them: over the composite
of all folds, i.e. TP, FP and FN of each class summed over the LOSO folds
(equivalently, computed on the concatenated predictions), not averaged per
fold (a LOSO fold holds one subject and often only one or two classes).

Example:

>>> import numpy as np
>>> y_true, y_pred = np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 2, 0])
>>> round(accuracy(y_true, y_pred, 3), 4), round(uar(y_true, y_pred, 3), 4)
(0.6667, 0.7222)
>>> confusion_matrix(y_true, y_pred, 3).tolist()
[[1, 1, 0], [0, 1, 0], [1, 0, 2]]
"""

import numpy as np

from data_prep.checks import check_int

__all__ = [
    "accuracy",
    "classification_report",
    "composite_scores",
    "confusion_matrix",
    "macro_f1",
    "per_class_recall",
    "per_class_scores",
    "softmax",
    "uar",
]


def softmax(logits):
    """Class probabilities of logits ``(..., C)``, computed stably in float64 (predictions files, ``predict``)."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _check_labels(y_true, y_pred, num_classes):
    """``(y_true, y_pred)`` as int64 arrays after checking shapes, dtypes and ranges."""
    check_int(num_classes, "num_classes", minimum=1)
    arrays = []
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        array = np.asarray(values)
        if array.ndim != 1:
            raise ValueError(f"`{name}` must be 1-D class indices (take argmax over the class axis of scores "
                             f"first); received {name}.shape={array.shape}")
        if array.size and (array.dtype == bool or not np.issubdtype(array.dtype, np.integer)):
            raise ValueError(f"`{name}` must hold integer class indices; received {name}.dtype={array.dtype}")
        if array.size and (array.min() < 0 or array.max() >= num_classes):
            raise ValueError(f"`{name}` values must be in [0, {num_classes}) (`num_classes`={num_classes}); "
                             f"received {name} from {array.min()} to {array.max()}")
        arrays.append(array.astype(np.int64))
    if arrays[0].shape != arrays[1].shape:
        raise ValueError(f"`y_true` and `y_pred` must have the same length; received len(y_true)={arrays[0].size}, "
                         f"len(y_pred)={arrays[1].size}")
    if arrays[0].size == 0:
        raise ValueError("`y_true` and `y_pred` are empty: no sample to score")
    return arrays[0], arrays[1]


def _counts(y_true, y_pred, num_classes):
    return np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes)


def confusion_matrix(y_true, y_pred, num_classes, normalise=False):
    """Confusion matrix, rows = true class, columns = predicted class (STCAM tables 10-11, ECNN-FSA tables 5, 10).

    Args:
        y_true: (N,) integer true classes.
        y_pred: (N,) integer predicted classes.
        num_classes: number of classes C (rows and columns, also for absent classes).
        normalise: False for counts; True to divide each row by its number of
            true samples (rows of absent classes are all zeros, as in
            ``sklearn.metrics.confusion_matrix(normalize="true")``).

    Returns:
        (C, C) int64 counts, or float64 row fractions when ``normalise``.

    Example:

    >>> confusion_matrix([0, 1, 1], [0, 0, 1], 2, normalise=True).tolist()
    [[1.0, 0.0], [0.5, 0.5]]
    """
    if not isinstance(normalise, bool):
        raise ValueError(f"`normalise` must be True or False; received normalise={normalise!r}")
    y_true, y_pred = _check_labels(y_true, y_pred, num_classes)
    counts = _counts(y_true, y_pred, num_classes)
    return _row_normalise(counts) if normalise else counts


def _row_normalise(counts):
    support = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, support, out=np.zeros(counts.shape, dtype=np.float64), where=support > 0)


def _scores_from_counts(counts):
    """Per-class precision, recall, F1 (NaN where undefined) and support of a (C, C) count matrix."""
    counts = np.asarray(counts, dtype=np.float64)
    true_positive = np.diag(counts)
    support = counts.sum(axis=1)
    predicted = counts.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, true_positive / predicted, np.nan)
        recall = np.where(support > 0, true_positive / support, np.nan)
        f1_denominator = support + predicted  # 2TP + FP + FN
        f1 = np.where(f1_denominator > 0, 2.0 * true_positive / f1_denominator, np.nan)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support.astype(np.int64)}


def per_class_scores(y_true, y_pred, num_classes):
    """Precision, recall, F1 and support of each class (NaN where undefined; see the module docstring).

    Args:
        y_true: (N,) integer true classes.
        y_pred: (N,) integer predicted classes.
        num_classes: number of classes C.

    Returns:
        ``{"precision": (C,), "recall": (C,), "f1": (C,), "support": (C,) int64}`` NumPy arrays.
    """
    y_true, y_pred = _check_labels(y_true, y_pred, num_classes)
    return _scores_from_counts(_counts(y_true, y_pred, num_classes))


def per_class_recall(y_true, y_pred, num_classes):
    """Recall of each class, TP_c / N_c (the diagonal of the row-normalised confusion matrix); NaN for absent classes.

    Returns:
        (C,) float64.

    Example:

    >>> per_class_recall([0, 0, 1], [0, 1, 1], 3).tolist()
    [0.5, 1.0, nan]
    """
    return per_class_scores(y_true, y_pred, num_classes)["recall"]


def accuracy(y_true, y_pred, num_classes):
    """Accuracy, also called WAR (weighted average recall): the fraction of samples classified correctly.

    The metric of the papers' result tables (AST tables 1-3, STCAM tables
    2-9, ECNN-FSA tables 2-4, 6, 7, 9, CEFLNet tables 2-6, STANet tables 1-2).

    Returns:
        A float in [0, 1].
    """
    y_true, y_pred = _check_labels(y_true, y_pred, num_classes)
    return float(np.mean(y_true == y_pred))


def uar(y_true, y_pred, num_classes):
    """UAR (unweighted average recall): the mean per-class recall over the classes present in ``y_true``.

    Classes without a true sample are left out of the mean (their recall is
    undefined); this equals ``sklearn.metrics.balanced_accuracy_score``.

    Returns:
        A float in [0, 1].
    """
    return float(np.nanmean(per_class_recall(y_true, y_pred, num_classes)))


def macro_f1(y_true, y_pred, num_classes):
    """Macro-F1: the mean per-class F1 over the classes present in ``y_true`` or ``y_pred`` (ECNN-FSA tables 2, 3).

    ECNN-FSA reports an "F1 score" without saying how classes are averaged;
    we read it as macro-F1, the usual summary on imbalanced AFEW (a weighted
    F1 would mostly follow accuracy). F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c);
    a class that is neither true nor predicted is left out of the mean; a
    class that is only predicted, or only true, has F1 0. This equals
    ``sklearn.metrics.f1_score(average="macro")``.

    Returns:
        A float in [0, 1].
    """
    return float(np.nanmean(per_class_scores(y_true, y_pred, num_classes)["f1"]))


def composite_scores(fold_predictions, num_classes):
    """UF1, UAR and accuracy over the composite of all folds, as the MEGC 2019 micro-expression challenge defines them.

    TP_c, FP_c, FN_c of each class c are summed over the folds (for
    leave-one-subject-out: over the subjects), then UF1 = mean_c 2 TP_c /
    (2 TP_c + FP_c + FN_c) and UAR = mean_c TP_c / N_c, N_c the number of true
    samples of c in all folds. Classes that are neither true nor predicted in
    any fold are left out of UF1, classes without a true sample out of UAR
    (MEGC's composite has every class, so its means run over all of them).

    Args:
        fold_predictions: a sequence of ``(y_true, y_pred)`` pairs, one per fold.
        num_classes: number of classes C.

    Returns:
        ``{"uf1": float, "uar": float, "accuracy": float, "n_samples": int,
        "n_folds": int, "confusion_matrix": (C, C) int64 composite counts}``.

    Raises:
        ValueError: no folds, or a fold with bad labels (see :func:`confusion_matrix`).

    Example:

    >>> folds = [([0, 1], [0, 1]), ([2, 2], [2, 0])]
    >>> scores = composite_scores(folds, 3)
    >>> round(scores["uf1"], 4), round(scores["uar"], 4)
    (0.7778, 0.8333)
    """
    fold_predictions = list(fold_predictions)
    if not fold_predictions:
        raise ValueError("`fold_predictions` is empty: no fold to score")
    check_int(num_classes, "num_classes", minimum=1)
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    for index, pair in enumerate(fold_predictions):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"`fold_predictions[{index}]` must be a (y_true, y_pred) pair; "
                             f"received fold_predictions[{index}]={pair!r}")
        counts += confusion_matrix(pair[0], pair[1], num_classes)
    return composite_from_counts(counts, len(fold_predictions))


def composite_from_counts(counts, n_folds):
    """:func:`composite_scores` from the folds' confusion counts already summed ((C, C), rows = true class)."""
    counts = np.asarray(counts, dtype=np.int64)
    scores = _scores_from_counts(counts)
    total = int(counts.sum())
    return {"uf1": float(np.nanmean(scores["f1"])), "uar": float(np.nanmean(scores["recall"])),
            "accuracy": float(np.trace(counts) / total), "n_samples": total, "n_folds": n_folds,
            "confusion_matrix": counts}


def classification_report(y_true, y_pred, num_classes, class_names=None):
    """All the metrics of one evaluation as a JSON-ready dict (like ``sklearn.metrics.classification_report``).

    Args:
        y_true: (N,) integer true classes.
        y_pred: (N,) integer predicted classes.
        num_classes: number of classes C.
        class_names: optional C names (keys of ``per_class``); default ``"0"``, ``"1"``, ...

    Returns:
        ``{"n_samples", "accuracy" (WAR), "uar", "macro_f1", "class_names",
        "per_class": {name: {"precision", "recall", "f1", "support"}},
        "confusion_matrix" (C x C int lists, rows = true class),
        "confusion_matrix_normalised" (C x C float lists)}``; undefined
        per-class values are ``None`` (see the module docstring), so
        ``json.dumps`` writes standard JSON. Feed one report per fold to
        :func:`keras_fer.evaluation.splits.summarise`.

    Example:

    >>> report = classification_report([0, 1, 1], [0, 1, 0], 2, class_names=["anger", "happiness"])
    >>> report["per_class"]["happiness"]["recall"], report["uar"]
    (0.5, 0.75)
    """
    y_true, y_pred = _check_labels(y_true, y_pred, num_classes)
    if class_names is None:
        class_names = [str(index) for index in range(num_classes)]
    else:
        class_names = [str(name) for name in class_names]
        if len(class_names) != num_classes or len(set(class_names)) != num_classes:
            raise ValueError(f"`class_names` must be {num_classes} distinct names (`num_classes`); "
                             f"received class_names={class_names!r}")
    counts = _counts(y_true, y_pred, num_classes)
    scores = _scores_from_counts(counts)
    return {
        "n_samples": int(y_true.size),
        "accuracy": float(np.trace(counts) / y_true.size),
        "uar": float(np.nanmean(scores["recall"])),
        "macro_f1": float(np.nanmean(scores["f1"])),
        "class_names": class_names,
        "per_class": {
            name: {"precision": _json_number(scores["precision"][index]),
                   "recall": _json_number(scores["recall"][index]),
                   "f1": _json_number(scores["f1"][index]),
                   "support": int(scores["support"][index])}
            for index, name in enumerate(class_names)
        },
        "confusion_matrix": counts.tolist(),
        "confusion_matrix_normalised": _row_normalise(counts).tolist(),
    }


def _json_number(value):
    return None if np.isnan(value) else float(value)
