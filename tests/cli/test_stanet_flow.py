"""STANet from the command line (issue 21): `keras-fer flow`, then train, cv (LOSO), evaluate, predict, export."""
import json
import os

import pytest

from data_prep import prepare, synthetic
from keras_fer import cli

HAPPY = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "real_faces", "crema-d", "1001_DFA_HAP_XX.flv")
SMALL = ["--model-option", "filters=4,8,8", "--epochs", "1", "--batch-size", "4", "--quiet", "--no-tensorboard"]


@pytest.fixture(scope="module")
def micro(tmp_path_factory):
    """A prepared folder of 9 synthetic micro-expression clips (3 subjects x 3 classes, 16 frames at 32 px), every
    frame kept, with each clip's onset/apex/offset in its manifest."""
    root = tmp_path_factory.mktemp("micro")
    synthetic.generate_dataset(root / "videos", mode="micro", n_subjects=3, videos_per_class=1, size=32, n_frames=16)
    prepare.prepare(None, root / "prepared", prepare.PrepareOptions(detector="full_frame", margin=0.0, size=32),
                    progress=False, samples=prepare.collect_samples(str(root / "videos" / "manifest.csv")))
    return root / "prepared"


def test_docs_stanet_commands(micro, tmp_path, capsys, monkeypatch):
    # docs/training.md's STANet commands, as written, with small sizes appended.
    (tmp_path / "prepared").symlink_to(micro)
    os.symlink(os.path.abspath(HAPPY), tmp_path / "clip.mp4")
    monkeypatch.chdir(tmp_path)
    commands = [
        ("keras-fer flow --prepared prepared/ --out flow/", ["--num-flows", "4", "--size", "32", "--no-progress"]),
        ("keras-fer cv --data flow/ --model stanet --protocol loso --out runs/stanet_loso", SMALL),
        ("keras-fer train --data flow/ --model stanet --out runs/stanet", SMALL),
        ("keras-fer evaluate --model runs/stanet/model.keras --data flow/ --out runs/stanet_scores", []),
        ("keras-fer predict clip.mp4 --model runs/stanet", ["--no-progress"]),
        ("keras-fer export --model runs/stanet --out serving/", []),
    ]
    for command, more in commands:
        assert cli.main(command.split()[1:] + more) == 0, command
    out = capsys.readouterr().out

    cache = json.loads((tmp_path / "flow" / "cache.json").read_text())
    assert cache["config"]["flow"] == {"num_flows": 4, "size": 32, "method": "farneback", "bound": 0.5}
    results = json.loads((tmp_path / "runs" / "stanet_loso" / "results.json").read_text())
    assert len(results["folds"]) == 3  # leave one of the 3 subjects out
    info = json.loads((tmp_path / "runs" / "stanet" / "train.json").read_text())
    assert info["preparation"]["input"] == "flow" and info["preparation"]["flow"]["num_flows"] == 4
    prediction = json.loads(next(line for line in out.splitlines() if line.startswith('{"video"')))
    assert prediction["label"] in ("negative", "positive", "surprise")
    assert len(prediction["temporal_attention"]["weights"]) == 4 and len(prediction["frames_used"]) == 5
    # A manifest CSV gives the video's onset..offset: the flow covers that window, as in training.
    (tmp_path / "clips.csv").write_text(f"id,path,label,subject,onset,apex,offset\nhappy,{HAPPY},,,5,12,25\n")
    assert cli.main(["predict", "clips.csv", "--model", "runs/stanet", "--no-progress"]) == 0
    windowed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert windowed["frames_used"][0] == 5 and windowed["frames_used"][-1] == 25
    metadata = json.loads((tmp_path / "serving" / "stanet" / "1" / "assets" / "keras_fer.json").read_text())
    assert metadata["flow"]["size"] == 32 and metadata["input_kinds"]["serving_default"] == "flow"


def test_stanet_on_frames_says_to_compute_the_flow(micro, tmp_path, capsys):
    assert cli.main(["train", "--data", str(micro), "--model", "stanet", "--out", str(tmp_path / "x")] + SMALL) == 2
    assert "keras-fer flow --prepared PREPARED --out FLOW" in capsys.readouterr().err


def test_other_models_refuse_a_flow_cache(micro, tmp_path, capsys):
    assert cli.main(["flow", "--prepared", str(micro), "--out", str(tmp_path / "flow"), "--num-flows", "2",
                     "--size", "32", "--no-progress"]) == 0
    assert cli.main(["train", "--data", str(tmp_path / "flow"), "--model", "stcam_baseline", "--out",
                     str(tmp_path / "x"), "--epochs", "1", "--quiet"]) == 2
    assert "a flow cache (keras-fer flow) is for STANet's models" in capsys.readouterr().err
