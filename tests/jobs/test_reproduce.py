"""keras-fer reproduce: the protocol per dataset, a real-dataset run on a cache, and the quick synthetic run (slow)."""
import json

import pytest

from keras_fer import cli
from keras_fer.jobs import reproduce
from keras_fer.models import list_models


def _rows(n_subjects=12, per_subject=2):
    return [{"id": f"v{s}_{k}", "subject": f"S{s:02d}"} for s in range(n_subjects) for k in range(per_subject)]


def test_dataset_folds_follow_the_papers_protocols():
    rows = _rows()
    assert len(reproduce.dataset_folds("casme2", rows)) == 12  # leave one subject out
    folds = reproduce.dataset_folds("ckplus", rows)
    assert len(folds) == 10 and set(folds[0].test_ids) == {"v0_0", "v0_1", "v10_0", "v10_1"}  # ascending, step 10
    with pytest.raises(ValueError, match="--data-root"):
        reproduce.dataset_folds("afew", rows)


def test_synthetic_plans_cover_every_row():
    for paper, plan in reproduce.SYNTHETIC_PLANS.items():
        assert set(plan.skip) <= set(list_models(paper))
        assert set(plan.frames_rows) <= set(list_models(paper))
        assert set(plan.row_kwargs) <= set(list_models(paper)) - set(plan.skip)
        assert len(set(list_models(paper)) - set(plan.skip)) >= 3  # most rows run


def test_ceflnet_runs_the_paper_and_the_released_code_as_separate_rows():
    rows = reproduce._rows("ceflnet", quick=False)
    assert {"ceflnet", "ceflnet_official"} <= set(rows)
    assert "ceflnet_official" not in reproduce.SYNTHETIC_PLANS["ceflnet"].skip


def test_real_dataset_run_on_a_cache_writes_the_table(tiny_cache, tmp_path):
    results = reproduce.reproduce(tmp_path, paper="ast", dataset="casme2", features=str(tiny_cache), quick=True,
                                  epochs=2)
    (row,) = results["papers"]["ast"]["rows"]
    assert row["model"] == "ast" and row["n_folds"] == 1 and row["epochs"] == 2  # LOSO's first subject
    assert len(results["papers"]["ast"]["rows"]) == 1
    text = (tmp_path / "reproduce.md").read_text()
    assert "| `ast` |" in text and "casme2 accuracy 66.6 |" in text  # the paper's number on this dataset only
    assert "not comparable" not in text  # that warning is for synthetic runs


def test_mirrored_rows_run_one_after_another_on_every_device(tiny_cache, tmp_path):
    results = reproduce.reproduce(tmp_path, paper="ast", dataset="casme2", features=str(tiny_cache), quick=True,
                                  epochs=1, workers=2, strategy="mirrored")
    assert results["workers"] == 1 and results["backend"] == "tensorflow"
    fold = json.loads((tmp_path / "ast" / "ast" / "results.json").read_text())["folds"][0]
    assert (fold["strategy"], fold["replicas"]) == ("mirrored", 1)  # this machine's one CPU device


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="paper"):
        reproduce.reproduce(tmp_path, paper="vgg")
    with pytest.raises(ValueError, match="dataset"):
        reproduce.reproduce(tmp_path, dataset="imagenet", features=str(tmp_path))
    with pytest.raises(ValueError, match="features"):
        reproduce.reproduce(tmp_path, paper="ast", dataset="ckplus")


# README's reproduce commands, character for character.
README_COMMANDS = ["keras-fer reproduce --quick --out runs/quick",
                   "keras-fer reproduce --paper ceflnet --quick --out runs/ceflnet"]


@pytest.mark.slow
def test_quick_synthetic_run_of_all_five_papers(tmp_path, monkeypatch, capsys):
    """README's main command with --quick: every paper's full model, one fold, end to end from nothing."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(README_COMMANDS[0].split()[1:]) == 0
    printed = capsys.readouterr().out
    tmp_path = tmp_path / "runs" / "quick"
    results = json.loads((tmp_path / "reproduce.json").read_text())
    assert list(results["papers"]) == ["ast", "stcam", "ecnn_fsa", "ceflnet", "stanet"]
    for _paper, block in results["papers"].items():
        (row,) = block["rows"]
        accuracy = row["summary"]["accuracy"]["mean"]
        assert 0.0 <= accuracy <= 1.0 and row["n_folds"] == 1
        assert f"| `{row['model']}` |" in printed
    assert "not comparable with the papers' numbers" in printed
    for paper in results["papers"]:
        assert (tmp_path / paper / paper / "confusion_matrix.png").is_file()
    assert (tmp_path / "stanet/stanet/fold_01/history.csv").is_file()
    assert (tmp_path / "pretrained" / "stcam_baseline_quick_stem.h5").is_file()  # pre-trained in a worker, first
    assert results["papers"]["stcam"]["pretraining_seconds"] > 0 and "s of it pre-training the stem" in printed


def test_real_dataset_rows_that_train_end_to_end_are_listed_with_the_way_to_run_them(tiny_cache, tmp_path):
    results = reproduce.reproduce(tmp_path, paper="stcam", dataset="casme2", features=str(tiny_cache), epochs=1)
    rows = results["papers"]["stcam"]["rows"]
    assert len(rows) == 7 and all("keras-fer cv --data PREPARED/" in row["skipped"] for row in rows)
    assert reproduce.end_to_end_reason("ast") is None and reproduce.end_to_end_reason("ecnn_fsa") is None
    assert "flow" in reproduce.end_to_end_reason("stanet_sab")


@pytest.mark.slow
def test_quick_run_of_one_paper(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(README_COMMANDS[1].split()[1:]) == 0
    results = json.loads((tmp_path / "runs/ceflnet/reproduce.json").read_text())
    assert list(results["papers"]) == ["ceflnet"] and results["papers"]["ceflnet"]["rows"][0]["model"] == "ceflnet"
    assert "| `ceflnet` |" in capsys.readouterr().out


def test_epochs_below_ceflnets_warmup_shrink_the_warmup():
    from keras_fer.jobs.reproduce import _paper_recipe

    assert _paper_recipe("ceflnet", "synthetic", False, 3).warmup_epochs == 0  # 5 * 3 // 120
    assert _paper_recipe("ceflnet", "ckplus", False, 3).warmup_epochs == 0
    assert _paper_recipe("ceflnet", "synthetic", False, None).warmup_epochs == 5  # fits in the plan's 20: unchanged
    assert _paper_recipe("ceflnet", "dfew", False, 48).warmup_epochs == 5
    assert _paper_recipe("ast", "synthetic", False, 2).epochs == 2


def test_stcam_rows_read_the_frame_reader_and_the_learning_checks_schedule():
    """STCAM's synthetic rows read prepared crops with STCAM's sampler, whose peak is each sample's annotated apex
    (the readers pass the manifest's phases: tests/data/test_phases.py), not the last frame (where a synthetic
    expression is over)."""
    plan = reproduce.SYNTHETIC_PLANS["stcam"]
    assert plan.source == "frames" and plan.sampler == "stcam" and "peak" not in plan.model_kwargs
    assert reproduce.SYNTHETIC_DATA[plan.mode]["framing"] == "face"
    recipe = reproduce._paper_recipe("stcam", "synthetic", False, None)  # the rows: fine-tuning, a tenth of the rate
    assert (recipe.optimizer, recipe.learning_rate, recipe.weight_decay, recipe.schedule, recipe.epochs) == (
        "adam", 3e-5, 0.0, "constant", 8)
    # the reader's corner/centre crop resamples 30 px back to 32: it delayed learning (docs/models.md)
    assert recipe.augmentation == ("horizontal_flip", "temporal_jitter")
    pretraining = plan.pretraining  # the stem they start from: the learning check's schedule
    assert (pretraining["model"], pretraining["epochs"], pretraining["recipe"]["learning_rate"],
            pretraining["recipe"]["decay_epochs"]) == ("stcam_baseline", 30, 3e-4, (20,))
    assert reproduce.SYNTHETIC_DATA[pretraining["data"]]["n_subjects"] == 60


def test_stcam_rows_start_from_the_baseline_stem_pretrained_once_on_other_subjects(tmp_path, monkeypatch):
    """pretrained_stem trains the baseline on the pre-training data rendered with seed + 1 (other identities),
    keeps its stem by layer name, and a rerun reuses the file; each row's model loads the layers it shares."""
    import h5py
    import numpy as np

    from keras_fer.models import create_model

    monkeypatch.setitem(reproduce.SYNTHETIC_DATA, "macro_faces_pretraining",
                        dict(mode="macro", n_subjects=3, videos_per_class=1, size=32, n_frames=16, framing="face"))
    path = reproduce.pretrained_stem(str(tmp_path), "stcam", seed=0, quick=True)
    record = json.loads((tmp_path / "data" / "macro_faces_pretraining" / "videos" / "synthetic.json").read_text())
    assert (record["seed"], record["framing"], record["n_subjects"]) == (1, "face", 3)
    train = json.loads((tmp_path / "pretrained" / "stcam_baseline" / "train.json").read_text())
    assert train["model"] == "stcam_baseline" and train["epochs_run"] == 1

    def no_training(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr(reproduce.training, "train_model", no_training)
    assert reproduce.pretrained_stem(str(tmp_path), "stcam", seed=0, quick=True) == path
    folders = {"prepared": str(tmp_path / "data" / "macro_faces_pretraining" / "prepared"), "stem_weights": path}
    plan = reproduce.SYNTHETIC_PLANS["stcam"]
    _, _, _, model_kwargs, _ = reproduce.synthetic_row(plan, "stcam", folders, reproduce._paper_recipe(
        "stcam", "synthetic", True, 1), True, 1)
    assert model_kwargs == {**plan.model_kwargs, "stem_weights": path}
    model = create_model("stcam", 6, input="frames", **model_kwargs)
    stem = model.get_layer("inception_resnet3d_cam_stam")
    with h5py.File(path, "r") as saved:
        names = [name.decode() for name in saved.attrs["layer_names"]]
        assert "stem_1_conv" in names and not any("cam" in name or "stam" in name for name in names)
        assert set(stem.weights_info.loaded_layers) == set(names)
        for name in ("stem_1_conv", names[-1]):
            group = saved[name]
            stored = [np.asarray(group[weight]) for weight in group.attrs["weight_names"]]
            for got, want in zip(stem.get_layer(name).get_weights(), stored):
                np.testing.assert_array_equal(got, want)


def test_stanet_selects_its_epoch_on_more_than_one_validation_subject():
    """One micro subject is 6 clips: too few to select an epoch (the full model had selected epoch 1, at chance)."""
    plan = reproduce.SYNTHETIC_PLANS["stanet"]
    assert plan.validation_subjects > 1
    assert reproduce.SYNTHETIC_PLANS["ast"].validation_subjects == reproduce.SYNTHETIC_VALIDATION_SUBJECTS


def test_rows_wait_for_the_stem_they_start_from(monkeypatch):
    """In one process the stems are pre-trained first; rows keep the table's order; the seconds are returned."""
    calls = []
    monkeypatch.setattr(reproduce, "_pretrain", lambda task: calls.append(("stem", task["paper"])) or (task["paper"],
                                                                                                       2.5))
    monkeypatch.setattr(reproduce, "_run_job", lambda job: calls.append(("row", job["model"])) or job["model"])
    todo = [{"paper": "ast", "model": "ast"}, {"paper": "stcam", "model": "stcam"}]
    rows, pretrained = reproduce._run_jobs(todo, [{"paper": "stcam"}], workers=1)
    assert calls == [("stem", "stcam"), ("row", "ast"), ("row", "stcam")]
    assert rows == ["ast", "stcam"] and pretrained == {"stcam": 2.5}
