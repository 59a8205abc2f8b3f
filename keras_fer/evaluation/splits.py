"""Evaluation splits: subject-independent k-fold, leave-one-subject-out, the official splits, validation carving.

Every function returns :class:`Fold` objects (``name``, ``train_ids``,
``test_ids``, ``validation_ids``) built from manifest rows: mappings with at
least ``id`` and, for subject splits, ``subject`` (the rows of
:func:`data_prep.manifest.read_manifest` or of a dataset adapter). From
parallel arrays, build the rows first:
``rows = [{"id": i, "subject": s} for i, s in zip(ids, subjects)]``.

The papers' protocols:

| paper | dataset | protocol | here |
|---|---|---|---|
| STCAM 4.1 | CK+, Oulu-CASIA, MMI | subject-independent 10-fold, ascending ids, step 10 | ``subject_kfold(rows)`` |
| ECNN-FSA 2.1, 2.3 | CK+ | person-independent m-fold (m in 5, 8, 10); "5 times" | ``subject_kfold(rows, k=5)`` |
| ECNN-FSA 2.1, CEFLNet 4.1 | AFEW | train on Train, test on Val (Test labels not public) | ``official_splits("afew", r)`` |
| CEFLNet 4.1 | BU-3DFE, MMI | 10-fold | ``subject_kfold(rows, k=10)`` |
| CEFLNet 4.1 | DFEW | the 5 official folds | ``official_splits("dfew", r)`` |
| STANet 4.1 | CASME I, CASME II, SMIC-HS | leave-one-subject-out | ``leave_one_subject_out(rows)`` |
| AST table 1 | UCF-101, CASME II, MMI | not stated; UCF-101's 3 official splits, LOSO, 10-fold fit | as above |

Model selection (early stopping, checkpoint choice) never looks at the test
side: :func:`validation_split` carves whole subjects out of a fold's training
side, and the test side is predicted once, at the end. :func:`summarise` gives
the mean and standard deviation of per-fold results.

Example:

>>> rows = [{"id": f"v{n}", "subject": f"S{n % 12:03d}"} for n in range(36)]
>>> folds = subject_kfold(rows, k=10)
>>> len(folds), folds[0].name, len(folds[0].test_ids)
(10, 'fold_01', 6)
>>> fold = validation_split(rows, folds[0], size=2, seed=0)
>>> len(fold.train_ids), len(fold.validation_ids), len(fold.test_ids)
(24, 6, 6)
"""  # noqa: E501

import collections
import dataclasses
import math
import numbers
import re

import numpy as np

from data_prep import datasets
from data_prep.checks import check_choice, check_int

__all__ = [
    "Fold",
    "check_folds",
    "folds_from_mapping",
    "leave_one_subject_out",
    "natural_key",
    "official_splits",
    "subject_kfold",
    "summarise",
    "validation_split",
]

_ORDERS = ("ckplus", "shuffled")
_GROUPINGS = ("subject", "sample")


@dataclasses.dataclass(frozen=True)
class Fold:
    """One train/test partition of a dataset's sample ids (plus the validation ids carved from training).

    Attributes:
        name: fold name, e.g. ``"fold_01"``, ``"subject_S005"``, ``"set_3"``, ``"official"``.
        train_ids: tuple of the sample ids to fit on.
        test_ids: tuple of the sample ids predicted once, at the end.
        validation_ids: tuple of the sample ids for model selection (empty until
            :func:`validation_split` fills it); never overlaps the other two.
    """

    name: str
    train_ids: tuple
    test_ids: tuple
    validation_ids: tuple = ()

    def __post_init__(self):
        for field in ("train_ids", "test_ids", "validation_ids"):
            object.__setattr__(self, field, tuple(getattr(self, field)))


def natural_key(value):
    """Sort key that orders the numbers inside ids by value: ``S5 < S10``, ``2 < 10``, ``S005 < S010``.

    Ties between spellings of one number (``S5``, ``S005``) are broken by the text itself, so the order is total.
    """
    text = str(value)
    parts = re.split(r"(\d+)", text)
    return tuple(int(part) if index % 2 else part for index, part in enumerate(parts)), text


def _check_rows(rows, need_subject):
    """``{id: subject}`` in row order; ValueError for a row without id or subject, or a repeated id."""
    if isinstance(rows, (str, bytes)) or not hasattr(rows, "__iter__"):
        raise ValueError(f"`rows` must be a sequence of mappings with 'id' and 'subject'; received rows={rows!r}")
    subjects = {}
    missing_subject = []
    for index, row in enumerate(rows):
        if not hasattr(row, "get"):
            raise ValueError(f"`rows`: row {index} is {row!r}, not a mapping with 'id' and 'subject'")
        sample_id = row.get("id")
        if sample_id is None or sample_id == "":
            raise ValueError(f"`rows`: row {index} has no 'id'")
        if sample_id in subjects:
            raise ValueError(f"`rows`: sample id {sample_id!r} appears more than once")
        subject = row.get("subject")
        subject = "" if subject is None else str(subject).strip()
        if need_subject and not subject:
            missing_subject.append(sample_id)
        subjects[sample_id] = subject
    if missing_subject:
        raise ValueError(
            f"`rows`: {len(missing_subject)} row(s) without a subject, e.g. ids {missing_subject[:5]}; a "
            "subject-independent split needs every row's 'subject' (datasets without subject ids, such as "
            "AFEW and DFEW, use official_splits)"
        )
    if not subjects:
        raise ValueError("`rows` is empty")
    return subjects


def _ids_by_subject(subjects):
    """``{subject: [ids in row order]}`` with the subjects in natural ascending order."""
    groups = {}
    for sample_id, subject in subjects.items():
        groups.setdefault(subject, []).append(sample_id)
    return {subject: groups[subject] for subject in sorted(groups, key=natural_key)}


def _folds_from_subject_sets(names, test_subject_sets, groups):
    folds = []
    for name, test_subjects in zip(names, test_subject_sets):
        test_subjects = set(test_subjects)
        folds.append(Fold(
            name=name,
            train_ids=[i for subject, ids in groups.items() if subject not in test_subjects for i in ids],
            test_ids=[i for subject, ids in groups.items() if subject in test_subjects for i in ids],
        ))
    return folds


def subject_kfold(rows, k=10, order="ckplus", seed=0):
    """Subject-independent k-fold cross-validation: every subject's samples are in exactly one test fold.

    ``order="ckplus"`` is the convention of STCAM sec. 4.1 for CK+, Oulu-CASIA
    and MMI ("we sampled the subjects in an ID ascending order with a step
    size of 10 to construct 10 subject-independent subsets", after Jung et al.
    2015, Zhang et al. 2017, Kuo et al. 2018 and Liu et al. 2014 (its refs.
    [16], [13], [14], [25])): the subjects are sorted by id in ascending
    natural order (:func:`natural_key`: ``S5 < S10``; CK+ ids ``S005`` sort the
    same either way) and fold ``i`` (0-based) tests subjects ``i, i + k,
    i + 2k, ...`` of that order; the step is ``k`` (10 for the papers'
    10-fold). ``seed`` is not used by this order. ``order="shuffled"`` first
    permutes the sorted subjects with ``numpy.random.default_rng(seed)``, then
    deals them the same way. Subject counts per fold differ by at most one;
    sample counts follow the subjects. CEFLNet sec. 4.1 (BU-3DFE, MMI
    "10-fold") and ECNN-FSA sec. 2.1/2.3 (CK+, m-fold, m in {5, 8, 10}) do not
    say how subjects are assigned; the CK+ convention is the default because it
    is the one a paper states.

    Args:
        rows: manifest rows (mappings with ``id`` and ``subject``).
        k: number of folds, at least 2 and at most the number of subjects.
        order: ``"ckplus"`` (ascending ids, step ``k``) or ``"shuffled"``.
        seed: seed of the ``"shuffled"`` permutation.

    Returns:
        ``k`` :class:`Fold` objects named ``fold_01`` ... in fold order; ids
        keep the order of ``rows`` grouped by subject in ascending order.

    Raises:
        ValueError: bad ``k`` or ``order``, a row without id or subject, a
            repeated id, or fewer subjects than folds.

    Example:

    >>> rows = [{"id": str(n), "subject": f"S{n:03d}"} for n in range(1, 21)]
    >>> [f.test_ids for f in subject_kfold(rows, k=10)][:2]
    [('1', '11'), ('2', '12')]
    """
    k = check_int(k, "k", minimum=2)
    check_choice(order, _ORDERS, "order")
    groups = _ids_by_subject(_check_rows(rows, need_subject=True))
    subjects = list(groups)
    if len(subjects) < k:
        raise ValueError(f"`k` must be at most the number of subjects, {len(subjects)} ({subjects}); received k={k}")
    if order == "shuffled":
        subjects = [subjects[index] for index in np.random.default_rng(seed).permutation(len(subjects))]
    width = max(2, len(str(k)))
    names = [f"fold_{index + 1:0{width}d}" for index in range(k)]
    return _folds_from_subject_sets(names, [subjects[index::k] for index in range(k)], groups)


def leave_one_subject_out(rows):
    """Leave-one-subject-out (LOSO): one fold per subject, testing that subject's samples (STANet sec. 4.1).

    The micro-expression protocol of STANet (CASME I, CASME II, SMIC-HS) and
    of the MEGC challenge; report the composite scores of
    :func:`keras_fer.evaluation.metrics.composite_scores` over all folds.

    Args:
        rows: manifest rows (mappings with ``id`` and ``subject``).

    Returns:
        One :class:`Fold` per subject, named ``subject_<id>``, in ascending natural subject order.

    Raises:
        ValueError: a row without id or subject, a repeated id, or fewer than two subjects.

    Example:

    >>> rows = [{"id": "a", "subject": "s2"}, {"id": "b", "subject": "s10"}, {"id": "c", "subject": "s2"}]
    >>> [(f.name, f.test_ids) for f in leave_one_subject_out(rows)]
    [('subject_s2', ('a', 'c')), ('subject_s10', ('b',))]
    """
    groups = _ids_by_subject(_check_rows(rows, need_subject=True))
    if len(groups) < 2:
        raise ValueError(f"leave-one-subject-out needs at least 2 subjects; the rows have {list(groups)}")
    return _folds_from_subject_sets([f"subject_{subject}" for subject in groups], [[s] for s in groups], groups)


def folds_from_mapping(splits):
    """Folds from ``{split name: {"train": [ids], "test": [ids]}}`` (the form of ``data_prep.datasets.splits``).

    Args:
        splits: the mapping; split names become fold names, in natural order.

    Returns:
        A list of :class:`Fold`.

    Raises:
        ValueError: an empty mapping, a split without ``train`` or ``test`` or
            with an empty side, a repeated id within a side, or an id on both sides.
    """
    if not splits:
        raise ValueError("`splits` is empty: no split to evaluate on")
    folds = []
    for name in sorted(splits, key=natural_key):
        parts = splits[name]
        if not hasattr(parts, "keys") or set(parts) != {"train", "test"}:
            raise ValueError(f"`splits[{name!r}]` must have exactly the keys 'train' and 'test'; "
                             f"received splits[{name!r}]={parts!r}")
        for part in ("train", "test"):
            ids = list(parts[part])
            if not ids:
                raise ValueError(f"split {name!r}: the {part} side is empty")
            repeated = sorted((i for i, count in collections.Counter(ids).items() if count > 1), key=natural_key)
            if repeated:
                raise ValueError(f"split {name!r}: id(s) {repeated[:5]} listed more than once on the {part} side")
        both = sorted(set(parts["train"]) & set(parts["test"]), key=natural_key)
        if both:
            raise ValueError(f"split {name!r}: {len(both)} id(s) on both the train and the test side, "
                             f"e.g. {both[:5]}")
        folds.append(Fold(name=str(name), train_ids=parts["train"], test_ids=parts["test"]))
    return folds


def official_splits(dataset, root):
    """The official splits of ``dataset`` read from its ``root`` as :class:`Fold` objects.

    Wraps :func:`data_prep.datasets.splits`: AFEW gives one fold ``official``
    (train on Train, test on Val: ECNN-FSA sec. 2.1, CEFLNet sec. 4.1), DFEW
    its five folds ``set_1`` ... ``set_5`` (CEFLNet sec. 4.1), UCF-101 its
    three splits ``split_1`` ... ``split_3`` (AST table 1 reports UCF-101
    without naming a split; the official splits are the dataset's standard).
    AFEW and DFEW carry no subject ids (films); UCF-101's splits keep its
    groups apart (check with :func:`check_folds`).

    Args:
        dataset: ``"afew"``, ``"dfew"`` or ``"ucf101"``.
        root: the dataset's folder, laid out as its adapter expects.

    Returns:
        A list of :class:`Fold` in natural name order.

    Raises:
        ValueError: a dataset without official splits, an unreadable layout
            (``data_prep.datasets.DatasetError``), an empty side, or an id on
            both sides of a split.
    """
    return folds_from_mapping(datasets.splits(dataset, root))


def check_folds(folds, rows=None):
    """Raise ValueError unless every fold keeps its sides apart: no id, and no subject, on two sides.

    Args:
        folds: :class:`Fold` objects.
        rows: optional manifest rows; when given, every fold id must be among
            them and no subject with a non-empty id may appear on two sides of
            a fold (rows without a subject are not checked for subjects).

    Returns:
        None.

    Raises:
        ValueError: naming the fold, the sides and the shared ids or subjects.
    """
    subjects = _check_rows(rows, need_subject=False) if rows is not None else None
    for fold in folds:
        sides = {"train": fold.train_ids, "validation": fold.validation_ids, "test": fold.test_ids}
        for side, ids in sides.items():
            if len(set(ids)) < len(ids):
                raise ValueError(f"fold {fold.name!r}: an id appears twice on the {side} side")
        names = list(sides)
        for first_index, first in enumerate(names):
            for second in names[first_index + 1:]:
                shared = set(sides[first]) & set(sides[second])
                if shared:
                    raise ValueError(f"fold {fold.name!r}: id(s) {sorted(shared, key=natural_key)[:5]} on both "
                                     f"the {first} and the {second} side")
        if subjects is None:
            continue
        unknown = [i for ids in sides.values() for i in ids if i not in subjects]
        if unknown:
            raise ValueError(f"fold {fold.name!r}: id(s) {unknown[:5]} are not in `rows`")
        side_subjects = {side: {subjects[i] for i in ids} - {""} for side, ids in sides.items()}
        for first_index, first in enumerate(names):
            for second in names[first_index + 1:]:
                shared = side_subjects[first] & side_subjects[second]
                if shared:
                    raise ValueError(f"fold {fold.name!r}: subject(s) {sorted(shared, key=natural_key)[:5]} on "
                                     f"both the {first} and the {second} side")


def validation_split(rows, fold, size=0.1, seed=0, by="subject"):
    """Carve a validation set for model selection out of a fold's training side, by whole subjects.

    Early stopping and checkpoint choice use these validation ids; the test
    ids are untouched and are predicted once, at the end. The papers do not
    say how they selected epochs (STCAM trains a fixed 100 epochs, CEFLNet 120,
    STANet 30-100); we hold out whole training subjects because a validation
    subject also seen in training would make the selection optimistic in the
    same way as a leaky test fold.

    Args:
        rows: manifest rows covering the fold's ids (mappings with ``id`` and ``subject``).
        fold: a :class:`Fold`; its ``validation_ids`` must be empty.
        size: a float in (0, 1): the fraction of the training subjects, rounded
            to the nearest whole number but at least 1; or an int >= 1: the
            number of subjects. At least one subject stays for training.
        seed: seed of the choice (``numpy.random.default_rng(seed)`` permutes
            the training subjects in natural order; the first ``n`` are taken).
        by: ``"subject"`` (default), or ``"sample"`` for datasets without
            subject ids (AFEW, DFEW: each sample is its own group, so the
            validation is not subject-independent; their clips come from films
            with no actor ids).

    Returns:
        A new :class:`Fold` with the same name and test ids, the chosen ids
        moved from ``train_ids`` to ``validation_ids`` (both keep their order).

    Raises:
        ValueError: a bad ``size`` or ``by``, a fold that already has
            validation ids, a fold id not in ``rows``, a training sample
            without a subject (``by="subject"``), or too few training groups.

    Example:

    >>> rows = [{"id": str(n), "subject": f"S{n // 2}"} for n in range(10)]
    >>> fold = validation_split(rows, Fold("f", [str(n) for n in range(8)], ["8", "9"]), size=1, seed=3)
    >>> len(fold.train_ids), len(fold.validation_ids)
    (6, 2)
    """
    check_choice(by, _GROUPINGS, "by")
    if not isinstance(fold, Fold):
        raise ValueError(f"`fold` must be a Fold; received fold={fold!r}")
    if fold.validation_ids:
        raise ValueError(f"`fold` {fold.name!r} already has {len(fold.validation_ids)} validation ids")
    subjects = _check_rows(rows, need_subject=False)
    unknown = [i for i in fold.train_ids + fold.test_ids if i not in subjects]
    if unknown:
        raise ValueError(f"fold {fold.name!r}: id(s) {unknown[:5]} are not in `rows`")
    if by == "subject":
        no_subject = [i for i in fold.train_ids if not subjects[i]]
        if no_subject:
            raise ValueError(f"fold {fold.name!r}: {len(no_subject)} training sample(s) without a subject, e.g. "
                             f"{no_subject[:5]}; use by='sample' for datasets without subject ids")
        group_of = {i: subjects[i] for i in fold.train_ids}
    else:
        group_of = {i: i for i in fold.train_ids}
    groups = sorted(set(group_of.values()), key=natural_key)
    if len(groups) < 2:
        raise ValueError(f"fold {fold.name!r}: the training side has {len(groups)} {by}(s); a validation split "
                         "needs at least 2")
    if isinstance(size, bool) or not isinstance(size, numbers.Real):
        raise ValueError(f"`size` must be a float in (0, 1) or an int >= 1; received size={size!r}")
    if isinstance(size, numbers.Integral):
        if size < 1:
            raise ValueError(f"`size` must be a float in (0, 1) or an int >= 1; received size={size!r}")
        count = int(size)
    else:
        if not 0.0 < size < 1.0:
            raise ValueError(f"`size` must be a float in (0, 1) or an int >= 1; received size={size!r}")
        count = max(1, int(math.floor(size * len(groups) + 0.5)))
    if count >= len(groups):
        raise ValueError(f"`size` must leave at least one of the {len(groups)} training {by}s of fold {fold.name!r} "
                         f"for training; received size={size!r} ({count} {by}s)")
    chosen = {groups[index] for index in np.random.default_rng(seed).permutation(len(groups))[:count]}
    return Fold(
        name=fold.name,
        train_ids=[i for i in fold.train_ids if group_of[i] not in chosen],
        test_ids=fold.test_ids,
        validation_ids=[i for i in fold.train_ids if group_of[i] in chosen],
    )


def summarise(fold_results, ddof=0):
    """Mean and standard deviation over folds of every numeric entry of the per-fold results.

    The papers report a mean over folds without saying which standard
    deviation; we use the population one (``ddof=0``, ``numpy.std``'s default,
    which is what ``sklearn.model_selection.cross_validate`` users print); pass
    ``ddof=1`` for the sample one.

    Args:
        fold_results: a sequence of mappings, one per fold, e.g. the
            :func:`keras_fer.evaluation.metrics.classification_report` of each
            fold. Entries that are numbers (not bools) are summarised; other
            entries (confusion matrices, per-class tables, names) are left out.
        ddof: delta degrees of freedom of the standard deviation (0 or 1).

    Returns:
        ``{name: {"mean": float, "std": float, "per_fold": [floats], "n_folds": int}}``,
        names in first-seen order (a NaN in any fold makes that mean and std NaN).

    Raises:
        ValueError: no folds, a fold that is not a mapping, a numeric entry
            missing from some fold, or a bad ``ddof``.

    Example:

    >>> summarise([{"accuracy": 0.8}, {"accuracy": 0.6}])["accuracy"]["mean"]
    0.7
    """
    if ddof not in (0, 1) or isinstance(ddof, bool):
        raise ValueError(f"`ddof` must be 0 or 1; received ddof={ddof!r}")
    fold_results = list(fold_results)
    if not fold_results:
        raise ValueError("`fold_results` is empty: no fold to summarise")
    if ddof == 1 and len(fold_results) < 2:
        raise ValueError("`ddof` must be 0 for a single fold; received ddof=1")
    names = []
    for index, result in enumerate(fold_results):
        if not hasattr(result, "items"):
            raise ValueError(f"`fold_results`: fold {index} is {result!r}, not a mapping of metric names to values")
        for name, value in result.items():
            if _is_number(value) and name not in names:
                names.append(name)
    summary = {}
    for name in names:
        missing = [index for index, result in enumerate(fold_results) if not _is_number(result.get(name))]
        if missing:
            raise ValueError(f"`fold_results`: metric {name!r} is missing or not a number in fold(s) {missing}")
        values = np.asarray([float(result[name]) for result in fold_results], dtype=np.float64)
        summary[name] = {"mean": float(values.mean()), "std": float(values.std(ddof=ddof)),
                         "per_fold": values.tolist(), "n_folds": len(values)}
    return summary


def _is_number(value):
    return isinstance(value, (numbers.Real, np.number)) and not isinstance(value, (bool, np.bool_))
