"""keras-fer train / cv / evaluate / reproduce on tiny data (the commands only orchestrate keras_fer.evaluation)."""
import json
import os

import numpy as np
import pytest

from keras_fer import cli
from keras_fer.data import cache

COMMON = ["--sampler", "ecnn_fsa", "--model", "ecnn_fsa", "--epochs", "3", "--batch-size", "4", "--quiet",
          "--no-tensorboard", "--set", "learning_rate=0.05", "--validation-size", "1"]


def test_train_then_evaluate(tiny_cache, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "--data", str(tiny_cache), "--out", str(out)] + COMMON) == 0
    info = json.loads((out / "train.json").read_text())
    assert info["recipe"]["epochs"] == 3 and info["recipe"]["learning_rate"] == 0.05
    assert len(info["validation_ids"]) == 4  # one subject of six
    assert (out / "model.keras").is_file() and (out / "training_curves.png").is_file()
    assert "selected on 4 validation samples" in capsys.readouterr().out
    assert info["preparation"]["input"] == "features" and info["preparation"]["sampler"] == "ecnn_fsa"
    # This cache was written by hand (no face settings, stem "random"): predict says it cannot rebuild its input.
    assert cli.main(["predict", "--model", str(out), "--no-progress", "x.mp4"]) == 2
    assert "was not made by `keras-fer prepare`" in capsys.readouterr().err

    scored = tmp_path / "scored"
    ids = tmp_path / "ids.txt"
    ids.write_text("clip00\nclip07\nclip14\n")
    assert cli.main(["evaluate", "--model", str(out / "model.keras"), "--data", str(tiny_cache), "--sampler",
                     "ecnn_fsa", "--ids", str(ids), "--out", str(scored)]) == 0
    report = json.loads((scored / "result.json").read_text())
    assert report["n_samples"] == 3 and (scored / "confusion_matrix.png").is_file()
    assert "3 samples: accuracy" in capsys.readouterr().out


def test_cv_writes_results_and_prints_the_table(tiny_cache, tmp_path, capsys):
    out = tmp_path / "cv"
    assert cli.main(["cv", "--data", str(tiny_cache), "--out", str(out), "--folds", "3"] + COMMON) == 0
    results = json.loads((out / "results.json").read_text())
    assert [f["fold"] for f in results["folds"]] == ["fold_01", "fold_02", "fold_03"]
    printed = capsys.readouterr().out
    assert "| mean |" in printed and "over 3 folds" in printed
    for name in ("results.csv", "results.md", "confusion_matrix.png", "fold_02/predictions.csv"):
        assert os.path.isfile(out / name), name


def test_errors_are_clear(tiny_cache, tmp_path, capsys):
    assert cli.main(["cv", "--data", str(tmp_path), "--out", str(tmp_path / "x"), "--model", "ecnn_fsa"]) == 2
    assert "neither a feature cache" in capsys.readouterr().err
    assert cli.main(["train", "--data", str(tiny_cache), "--out", str(tmp_path / "y"), "--model", "ecnn_fsa",
                     "--set", "epoch=3"]) == 2
    assert "unknown recipe fields ['epoch']" in capsys.readouterr().err
    assert cli.main(["cv", "--data", str(tiny_cache), "--out", str(tmp_path / "z"), "--model", "ecnn_fsa",
                     "--protocol", "dataset"]) == 2
    assert "needs --dataset" in capsys.readouterr().err
    assert cli.main(["evaluate", "--model", str(tmp_path / "none.keras"), "--data", str(tiny_cache), "--out",
                     str(tmp_path / "w")]) == 2
    assert "no such model file" in capsys.readouterr().err
    assert cli.main(["reproduce", "--paper", "nope", "--out", str(tmp_path / "r")]) == 2
    assert "`--paper` must be 'all' or one of" in capsys.readouterr().err


# The commands of README's training section, character for character.
README_COMMANDS = [
    "keras-fer train --data features/ --model ast --out runs/ast",
    "keras-fer evaluate --model runs/ast/model.keras --data features/ --out runs/ast_scores",
    "keras-fer cv --data features/ --model ast --out runs/ast_cv",
    "keras-fer cv --data features/ --model ast_lstm --protocol loso --out runs/ast_lstm_loso",
]


@pytest.mark.slow
def test_readme_commands(tmp_path, monkeypatch, capsys):
    """README's commands as written, on a 10-subject cache of every frame, with the AST recipe cut to 2 epochs."""
    import dataclasses

    from keras_fer.training import recipes

    rng = np.random.default_rng(1)
    samples, features = [], {}
    for i in range(20):
        label = "abc"[i % 3]
        samples.append(cache.CacheSample(id=f"v{i:02d}", label=label, subject=f"S{i // 2:02d}",
                                         frame_indices=tuple(range(6)), sampler_frames=6,
                                         source_frames=tuple(range(6))))
        features[samples[-1].id] = (rng.normal(size=(6, 4)) + np.eye(4)["abc".index(label)]).astype(np.float16)
    cache.write_cache(tmp_path / "features", samples, lambda todo: (features[s.id] for s in todo),
                      {"stem": "random", "sampler": None, "sampler_options": {}}, (4,), num_shards=2, progress=False)
    short = {**recipes.RECIPES, "ast": dataclasses.replace(recipes.RECIPES["ast"], epochs=2)}
    monkeypatch.setattr(recipes, "RECIPES", short)
    monkeypatch.chdir(tmp_path)
    for command in README_COMMANDS:
        assert cli.main(command.split()[1:]) == 0, command
    printed = capsys.readouterr().out
    assert "model runs/ast/model.keras" in printed and "20 samples: accuracy" in printed
    assert "over 10 folds" in printed  # 10-fold, then leave-one-subject-out over 10 subjects
    assert len(json.loads((tmp_path / "runs/ast_lstm_loso/results.json").read_text())["folds"]) == 10


def test_epochs_below_ceflnets_warmup_shrink_it_in_train_and_cv():
    """`keras-fer cv --data CACHE --model ceflnet --epochs 2` stopped on CEFLNet's 5 warm-up epochs; train and cv
    now shrink them as reproduce does (one rule: recipes.fitted_warmup)."""
    import keras_fer_cli

    for command in ("cv", "train"):
        args = keras_fer_cli.build_parser().parse_args([command, "--data", "cache", "--model", "ceflnet", "--epochs",
                                                        "2", "--out", "runs"])
        recipe = cli._recipe(args)
        assert (recipe.epochs, recipe.warmup_epochs) == (2, 0)


def test_multi_worker_without_tf_config_is_a_clear_error(tiny_cache, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert cli.main(["train", "--data", str(tiny_cache), "--out", str(tmp_path / "x"), "--strategy",
                     "multi-worker"] + COMMON) == 2
    assert "keras-fer train: error: --strategy multi-worker needs TF_CONFIG" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.fixture(scope="module")
def every_frame(tmp_path_factory):
    """A prepared folder kept with every frame (prepare without --sampler): 12 clips of 16 frames, 32x32."""
    from tests.data import helpers

    return helpers.make_prepared(tmp_path_factory.mktemp("every_frame"), None, None)


def test_an_end_to_end_model_follows_its_paper_and_the_data(every_frame, tmp_path, capsys, monkeypatch):
    # docs/training.md's command: no --sampler and no --model-option; AST's sampler draws the frames (the folder
    # keeps every frame), and the model is built for them (the recipe's 50 epochs).
    (tmp_path / "prepared").symlink_to(every_frame)
    monkeypatch.chdir(tmp_path)
    command = "keras-fer train --data prepared/ --model ast_cnn --out runs/ast_cnn"
    assert cli.main(command.split()[1:] + ["--quiet", "--no-tensorboard"]) == 0
    info = json.loads((tmp_path / "runs" / "ast_cnn" / "train.json").read_text())
    assert info["preparation"]["sampler"] == "ast" and info["preparation"]["image_size"] == 32
    assert info["epochs_run"] == 50
    # evaluate draws the folder as the model's training did (AST's sampler), without being told
    assert cli.main(["evaluate", "--model", "runs/ast_cnn/model.keras", "--data", "prepared", "--out", "scored"]) == 0
    assert json.loads((tmp_path / "scored" / "result.json").read_text())["n_samples"] == 12
    # A model option that contradicts the data is an error that says which options decide, not a Keras error.
    assert cli.main(["train", "--data", "prepared", "--model", "ast_cnn", "--epochs", "1", "--out", "x",
                     "--model-option", "frame_size=64"]) == 2
    err = capsys.readouterr().err
    assert "model 'ast_cnn' reads inputs of shape" in err and "build the model for the data with --model-option" \
        in err
