"""Evaluation splits: subject independence of every fold, the CK+ order, official splits, validation carving."""
import doctest
import os
import random

import numpy as np
import pytest

from keras_fer.evaluation import splits
from keras_fer.evaluation.splits import (
    Fold,
    check_folds,
    folds_from_mapping,
    leave_one_subject_out,
    official_splits,
    subject_kfold,
    summarise,
    validation_split,
)


def _rows(n_subjects, seed, prefix="S", max_per_subject=4):
    """Rows of ``n_subjects`` subjects with 1..max samples each, in shuffled row order."""
    rng = random.Random(seed)
    rows = [{"id": f"{prefix}{subject}_{clip}", "subject": f"{prefix}{subject}", "label": str(rng.randrange(3))}
            for subject in rng.sample(range(1, 10 * n_subjects), n_subjects)
            for clip in range(rng.randint(1, max_per_subject))]
    rng.shuffle(rows)
    return rows


def _assert_subject_independent(folds, rows):
    """Every fold: no id and no subject on two sides; train + validation + test = all ids."""
    subject = {row["id"]: row["subject"] for row in rows}
    for fold in folds:
        sides = [fold.train_ids, fold.validation_ids, fold.test_ids]
        ids = [i for side in sides for i in side]
        assert sorted(ids) == sorted(subject), fold.name  # every sample on exactly one side
        subject_sets = [{subject[i] for i in side} for side in sides]
        assert not subject_sets[0] & subject_sets[1], fold.name
        assert not subject_sets[0] & subject_sets[2], fold.name
        assert not subject_sets[1] & subject_sets[2], fold.name
    check_folds(folds, rows)


# ---------------------------------------------------------------- subject k-fold


@pytest.mark.parametrize("order", ["ckplus", "shuffled"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("n_subjects,k", [(2, 2), (10, 10), (13, 5), (37, 10), (30, 10)])
def test_subject_kfold_never_puts_a_subject_on_both_sides(order, seed, n_subjects, k):
    rows = _rows(n_subjects, seed)
    folds = subject_kfold(rows, k=k, order=order, seed=seed)
    assert len(folds) == k
    _assert_subject_independent(folds, rows)
    subject = {row["id"]: row["subject"] for row in rows}
    test_subjects = [{subject[i] for i in fold.test_ids} for fold in folds]
    # each subject is tested exactly once, and the folds hold numbers of subjects that differ by at most one
    assert sorted(s for subjects in test_subjects for s in subjects) == sorted(set(subject.values()))
    sizes = [len(subjects) for subjects in test_subjects]
    assert max(sizes) - min(sizes) <= 1
    assert len({fold.name for fold in folds}) == k


def test_ckplus_order_is_ascending_ids_with_step_k():
    # CK+-style ids, given in a scrambled order with 1-3 sequences each: fold i tests sorted subjects i, i+10, ...
    subject_numbers = [5, 10, 11, 14, 22, 26, 28, 29, 32, 34, 35, 37, 42, 44, 45, 46, 50, 51, 52, 53, 54, 55, 56]
    rng = random.Random(7)
    rows = [{"id": f"S{n:03d}_{seq:03d}", "subject": f"S{n:03d}"}
            for n in subject_numbers for seq in range(1, rng.randint(1, 3) + 1)]
    rng.shuffle(rows)
    folds = subject_kfold(rows, k=10, order="ckplus")
    tested = [sorted({i.split("_")[0] for i in fold.test_ids}) for fold in folds]
    assert tested == [["S005", "S035", "S054"], ["S010", "S037", "S055"], ["S011", "S042", "S056"],
                      ["S014", "S044"], ["S022", "S045"], ["S026", "S046"], ["S028", "S050"], ["S029", "S051"],
                      ["S032", "S052"], ["S034", "S053"]]
    assert [fold.name for fold in folds] == [f"fold_{n:02d}" for n in range(1, 11)]
    # within a side, ids are grouped by subject in ascending order, in row order within a subject
    position = {row["id"]: index for index, row in enumerate(rows)}
    for fold in folds:
        for side in (fold.train_ids, fold.test_ids):
            assert list(side) == sorted(side, key=lambda i: (i.split("_")[0], position[i]))
    # the seed does not change the CK+ order; the row order changes only the order within a subject
    assert subject_kfold(rows, k=10, order="ckplus", seed=5) == folds
    reordered = subject_kfold(list(reversed(rows)), k=10)
    assert [sorted(fold.test_ids) for fold in reordered] == [sorted(fold.test_ids) for fold in folds]


def test_ckplus_order_sorts_numbers_by_value_not_as_text():
    rows = [{"id": f"v{n}", "subject": str(n)} for n in (2, 10, 1, 21, 3, 11, 20)]
    folds = subject_kfold(rows, k=3)
    # natural order 1, 2, 3, 10, 11, 20, 21 -> step 3
    assert [fold.test_ids for fold in folds] == [("v1", "v10", "v21"), ("v2", "v11"), ("v3", "v20")]
    assert splits.natural_key("S5") < splits.natural_key("S10") < splits.natural_key("S100")
    assert splits.natural_key("S005") < splits.natural_key("S5")  # spellings of one number: total order


def test_shuffled_order_depends_on_the_seed_only():
    rows = _rows(25, seed=3)
    first = subject_kfold(rows, k=5, order="shuffled", seed=11)
    assert subject_kfold(rows, k=5, order="shuffled", seed=11) == first
    assert any(subject_kfold(rows, k=5, order="shuffled", seed=s) != first for s in (12, 13, 14))
    assert subject_kfold(rows, k=5, order="shuffled", seed=11) != subject_kfold(rows, k=5, order="ckplus")


def test_subject_kfold_errors_name_the_problem():
    rows = _rows(4, seed=0)
    with pytest.raises(ValueError, match=r"`k` must be at most the number of subjects, 4 .*; received k=5"):
        subject_kfold(rows, k=5)
    with pytest.raises(ValueError, match="`k`"):
        subject_kfold(rows, k=1)
    with pytest.raises(ValueError, match="`k`"):
        subject_kfold(rows, k=2.0)
    with pytest.raises(ValueError, match="`order`"):
        subject_kfold(rows, k=2, order="random")
    without_subject = rows + [{"id": "lonely", "subject": ""}]
    with pytest.raises(ValueError, match="without a subject.*lonely"):
        subject_kfold(without_subject, k=2)
    with pytest.raises(ValueError, match="without a subject.*x"):
        subject_kfold(rows + [{"id": "x"}], k=2)
    with pytest.raises(ValueError, match="more than once"):
        subject_kfold(rows + [dict(rows[0])], k=2)
    with pytest.raises(ValueError, match="empty"):
        subject_kfold([], k=2)
    with pytest.raises(ValueError, match="no 'id'"):
        subject_kfold([{"subject": "S1"}], k=2)


# ---------------------------------------------------------------- leave-one-subject-out


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n_subjects", [2, 5, 26])
def test_leave_one_subject_out_tests_each_subject_alone(seed, n_subjects):
    rows = _rows(n_subjects, seed)
    folds = leave_one_subject_out(rows)
    assert len(folds) == n_subjects
    _assert_subject_independent(folds, rows)
    subject = {row["id"]: row["subject"] for row in rows}
    for fold in folds:
        (tested,) = {subject[i] for i in fold.test_ids}
        assert fold.name == f"subject_{tested}"
        assert sorted(fold.test_ids) == sorted(i for i, s in subject.items() if s == tested)
    numbers = [int(fold.name[len("subject_S"):]) for fold in folds]
    assert numbers == sorted(numbers)


def test_leave_one_subject_out_errors():
    with pytest.raises(ValueError, match="at least 2 subjects"):
        leave_one_subject_out([{"id": "a", "subject": "s1"}, {"id": "b", "subject": "s1"}])
    with pytest.raises(ValueError, match="without a subject"):
        leave_one_subject_out([{"id": "a", "subject": "s1"}, {"id": "b", "subject": None}])
    with pytest.raises(ValueError, match="`rows`"):
        leave_one_subject_out("S001")


# ---------------------------------------------------------------- validation carving


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("size", [0.1, 0.3, 1, 3])
def test_validation_split_carves_whole_training_subjects(seed, size):
    rows = _rows(23, seed)
    for fold in subject_kfold(rows, k=5, order="shuffled", seed=seed):
        carved = validation_split(rows, fold, size=size, seed=seed)
        assert carved.name == fold.name and carved.test_ids == fold.test_ids
        assert sorted(carved.train_ids + carved.validation_ids) == sorted(fold.train_ids)
        # order of the original training side is kept on both parts
        assert list(carved.train_ids) == [i for i in fold.train_ids if i in set(carved.train_ids)]
        subject = {row["id"]: row["subject"] for row in rows}
        n_train_subjects = len({subject[i] for i in fold.train_ids})
        expected = size if isinstance(size, int) else max(1, int(np.floor(size * n_train_subjects + 0.5)))
        assert len({subject[i] for i in carved.validation_ids}) == expected
        _assert_subject_independent([carved], rows)
        assert validation_split(rows, fold, size=size, seed=seed) == carved  # deterministic


def test_validation_split_depends_on_the_seed():
    rows = _rows(20, seed=1)
    fold = leave_one_subject_out(rows)[0]
    chosen = {validation_split(rows, fold, size=2, seed=seed).validation_ids for seed in range(6)}
    assert len(chosen) > 1


def test_validation_split_by_sample_for_datasets_without_subjects():
    rows = [{"id": f"Train_{n}", "subject": ""} for n in range(10)] + [{"id": f"Val_{n}", "subject": ""}
                                                                        for n in range(4)]
    fold = folds_from_mapping({"official": {"train": [f"Train_{n}" for n in range(10)],
                                            "test": [f"Val_{n}" for n in range(4)]}})[0]
    with pytest.raises(ValueError, match="without a subject.*by='sample'"):
        validation_split(rows, fold)
    carved = validation_split(rows, fold, size=0.2, by="sample", seed=0)
    assert len(carved.validation_ids) == 2 and len(carved.train_ids) == 8
    check_folds([carved], rows)


def test_validation_split_errors():
    rows = _rows(6, seed=2)
    fold = leave_one_subject_out(rows)[0]  # 5 training subjects
    for size in (0, 0.0, 1.0, -1, True, "2", 5, 7):
        with pytest.raises(ValueError, match="`size`"):
            validation_split(rows, fold, size=size)
    with pytest.raises(ValueError, match="`by`"):
        validation_split(rows, fold, by="group")
    with pytest.raises(ValueError, match="`fold`"):
        validation_split(rows, {"train": [], "test": []})
    carved = validation_split(rows, fold, size=1)
    with pytest.raises(ValueError, match="already has"):
        validation_split(rows, carved)
    with pytest.raises(ValueError, match="not in `rows`"):
        validation_split(rows, Fold("f", fold.train_ids + ("ghost",), fold.test_ids))
    two = [{"id": "a", "subject": "s1"}, {"id": "b", "subject": "s1"}, {"id": "c", "subject": "s2"}]
    with pytest.raises(ValueError, match="at least 2"):
        validation_split(two, Fold("f", ["a", "b"], ["c"]))


# ---------------------------------------------------------------- check_folds and official splits


def test_check_folds_finds_leaks():
    rows = [{"id": "a", "subject": "s1"}, {"id": "b", "subject": "s1"}, {"id": "c", "subject": "s2"},
            {"id": "d", "subject": ""}]
    check_folds([Fold("ok", ["a", "b", "d"], ["c"])], rows)
    check_folds([Fold("ids only", ["a"], ["b"])])  # without rows only ids are checked
    with pytest.raises(ValueError, match="subject.*s1.*train and the test"):
        check_folds([Fold("leak", ["a", "c"], ["b"])], rows)
    with pytest.raises(ValueError, match="subject.*s1.*validation and the test"):
        check_folds([Fold("leak", ["c"], ["b"], validation_ids=["a"])], rows)
    with pytest.raises(ValueError, match="id.*'a'.*train and the test"):
        check_folds([Fold("overlap", ["a", "c"], ["a"])])
    with pytest.raises(ValueError, match="twice"):
        check_folds([Fold("repeat", ["a", "a"], ["c"])])
    with pytest.raises(ValueError, match="not in `rows`"):
        check_folds([Fold("unknown", ["a", "z"], ["c"])], rows)


def test_folds_from_mapping_checks_each_split():
    folds = folds_from_mapping({"set_10": {"train": ["a"], "test": ["b"]},
                                "set_2": {"train": ["b"], "test": ["a"]}})
    assert [fold.name for fold in folds] == ["set_2", "set_10"]
    assert folds[0] == Fold("set_2", ("b",), ("a",), ())
    with pytest.raises(ValueError, match="'set_1'.*both the train and the test side.*'b'"):
        folds_from_mapping({"set_1": {"train": ["a", "b"], "test": ["b", "c"]}})
    with pytest.raises(ValueError, match="test side is empty"):
        folds_from_mapping({"official": {"train": ["a"], "test": []}})
    with pytest.raises(ValueError, match="exactly the keys"):
        folds_from_mapping({"official": {"train": ["a"], "val": ["b"]}})
    with pytest.raises(ValueError, match="more than once on the train side"):
        folds_from_mapping({"official": {"train": ["a", "a"], "test": ["b"]}})
    with pytest.raises(ValueError, match="empty"):
        folds_from_mapping({})


def _touch(path, text="x"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def test_official_splits_afew(tmp_path):
    for part, emotion, name in [("Train", "Angry", "001"), ("Train", "Happy", "002"), ("Train", "Sad", "003"),
                                ("Val", "Angry", "001"), ("Val", "Fear", "004")]:
        _touch(str(tmp_path / part / emotion / f"{name}.avi"))
    (fold,) = official_splits("afew", str(tmp_path))
    assert fold == Fold("official", ("Train_Angry_001", "Train_Happy_002", "Train_Sad_003"),
                        ("Val_Angry_001", "Val_Fear_004"))
    check_folds([fold])


def test_official_splits_dfew_five_folds(tmp_path):
    for clip in range(1, 11):
        _touch(str(tmp_path / "Clip" / "clip_224x224" / f"{clip:05d}" / "1.jpg"))
    for fold in range(1, 6):
        test = {2 * fold - 1, 2 * fold}
        for part, clips in (("train", sorted(set(range(1, 11)) - test)), ("test", sorted(test))):
            _touch(str(tmp_path / "label" / part / f"set_{fold}.csv"),
                   "video_name,label\n" + "".join(f"{clip},{1 + clip % 7}\n" for clip in clips))
    folds = official_splits("dfew", str(tmp_path))
    assert [fold.name for fold in folds] == [f"set_{k}" for k in range(1, 6)]
    assert folds[2].test_ids == ("00005", "00006") and len(folds[2].train_ids) == 8
    check_folds(folds)
    tested = sorted(i for fold in folds for i in fold.test_ids)
    assert tested == [f"{clip:05d}" for clip in range(1, 11)]


def _ucf101(root, leak=False):
    lists = root / "ucfTrainTestlist"
    _touch(str(lists / "classInd.txt"), "1 ApplyEyeMakeup\n2 Archery\n")
    stems = {"ApplyEyeMakeup": [f"v_ApplyEyeMakeup_g0{g}_c01" for g in range(1, 7)],
             "Archery": [f"v_Archery_g0{g}_c02" for g in range(1, 7)]}
    for class_name, names in stems.items():
        for stem in names:
            _touch(str(root / "UCF-101" / class_name / f"{stem}.avi"))
    for number in (1, 2, 3):
        test_groups = {f"g0{2 * number - 1}", f"g0{2 * number}"}
        train, test = [], []
        for class_name, names in stems.items():
            for stem in names:
                line = f"{class_name}/{stem}.avi"
                (test if stem.split("_")[-2] in test_groups else train).append(line)
        if leak and number == 2:
            train.append(test[0])
        _touch(str(lists / f"trainlist0{number}.txt"), "".join(f"{line} 1\n" for line in train))
        _touch(str(lists / f"testlist0{number}.txt"), "".join(f"{line}\n" for line in test))


def test_official_splits_ucf101_keep_groups_apart(tmp_path):
    from data_prep import datasets

    _ucf101(tmp_path)
    folds = official_splits("ucf101", str(tmp_path))
    assert [fold.name for fold in folds] == ["split_1", "split_2", "split_3"]
    rows = datasets.build_manifest("ucf101", str(tmp_path), strict=True)
    _assert_subject_independent(folds, rows)
    assert folds[1].test_ids == ("v_ApplyEyeMakeup_g03_c01", "v_ApplyEyeMakeup_g04_c01",
                                 "v_Archery_g03_c02", "v_Archery_g04_c02")


def test_official_splits_reject_an_id_on_both_sides_and_datasets_without_splits(tmp_path):
    _ucf101(tmp_path, leak=True)
    with pytest.raises(ValueError, match="'split_2'.*both the train and the test side.*v_ApplyEyeMakeup_g03_c01"):
        official_splits("ucf101", str(tmp_path))
    with pytest.raises(ValueError, match="`name` must be a dataset with official splits"):
        official_splits("ckplus", str(tmp_path))


# ---------------------------------------------------------------- summarise


def test_summarise_mean_and_std_over_folds():
    results = [{"accuracy": 0.9, "uar": 0.8, "confusion_matrix": [[1]], "name": "f1", "n_samples": 10},
               {"accuracy": 0.7, "uar": 0.5, "confusion_matrix": [[2]], "name": "f2", "n_samples": 12},
               {"accuracy": 0.8, "uar": 0.65, "confusion_matrix": [[3]], "name": "f3", "n_samples": 11}]
    summary = summarise(results)
    assert list(summary) == ["accuracy", "uar", "n_samples"]
    np.testing.assert_allclose(summary["accuracy"]["mean"], 0.8)
    np.testing.assert_allclose(summary["accuracy"]["std"], np.std([0.9, 0.7, 0.8]))
    np.testing.assert_allclose(summary["uar"]["std"], np.sqrt(((0.15 ** 2) * 2) / 3))
    assert summary["uar"]["per_fold"] == [0.8, 0.5, 0.65] and summary["uar"]["n_folds"] == 3
    np.testing.assert_allclose(summarise(results, ddof=1)["accuracy"]["std"], 0.1)
    assert summarise([{"accuracy": np.float32(0.5)}])["accuracy"] == {"mean": 0.5, "std": 0.0, "per_fold": [0.5],
                                                                      "n_folds": 1}


def test_summarise_errors():
    with pytest.raises(ValueError, match="empty"):
        summarise([])
    with pytest.raises(ValueError, match="'uar'.*\\[1\\]"):
        summarise([{"accuracy": 0.5, "uar": 0.4}, {"accuracy": 0.6}])
    with pytest.raises(ValueError, match="not a mapping"):
        summarise([0.5, 0.6])
    with pytest.raises(ValueError, match="`ddof`"):
        summarise([{"a": 1.0}], ddof=2)
    with pytest.raises(ValueError, match="`ddof` must be 0 for a single fold; received ddof=1"):
        summarise([{"a": 1.0}], ddof=1)


def test_docstring_examples_run():
    failures, attempted = doctest.testmod(splits, optionflags=doctest.ELLIPSIS)
    assert attempted > 0 and failures == 0
