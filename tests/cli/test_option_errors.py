"""Issue 20, finding 6: a bad numeric option of prepare/extract/train/cv/evaluate/reproduce is a one-line error
naming the option (not the Python argument it becomes), and a manifest's impossible rows reach prepare's stderr."""
import os

import cv2
import numpy as np
import pytest

from keras_fer import cli

FIT = ["--model", "ecnn_fsa", "--sampler", "ecnn_fsa", "--quiet", "--no-tensorboard"]
# (command, its other options, the option, a bad value); {cache}, {prepared}, {folder}, {out} are filled in.
CASES = [
    ("prepare", ["--input", "{folder}", "--out", "{out}", "--detector", "full_frame"], option, value)
    for option, value in [("--detect-every", "0"), ("--size", "0"), ("--margin", "-1.0"), ("--detect-max-side", "0"),
                          ("--jpeg-quality", "0"), ("--workers", "0")]
] + [
    ("extract", ["--prepared", "{prepared}", "--stem", "resnet18", "--out", "{out}", "--no-progress"], option, value)
    for option, value in [("--input-size", "0"), ("--batch-size", "0"), ("--num-shards", "0"),
                          ("--process-index", "-1"), ("--num-processes", "0")]
] + [
    ("train", ["--data", "{cache}", "--out", "{out}"] + FIT, option, value)
    for option, value in [("--validation-size", "0"), ("--validation-size", "99"), ("--epochs", "0"),
                          ("--batch-size", "0"), ("--learning-rate", "-1.0"), ("--patience", "0"), ("--seed", "-1")]
] + [
    ("train", ["--data", "{prepared}", "--out", "{out}"] + FIT, "--image-size", "0"),
    ("cv", ["--data", "{cache}", "--out", "{out}"] + FIT, "--folds", "1"),
    ("cv", ["--data", "{cache}", "--out", "{out}"] + FIT, "--folds", "99"),
    ("evaluate", ["--model", "{out}/none.keras", "--data", "{cache}", "--out", "{out}"], "--batch-size", "0"),
    ("evaluate", ["--model", "{out}/none.keras", "--data", "{prepared}", "--out", "{out}"], "--image-size", "0"),
] + [
    ("reproduce", ["--out", "{out}", "--quick", "--paper", "ast"], option, value)
    for option, value in [("--epochs", "0"), ("--workers", "0"), ("--seed", "-1")]
]


@pytest.fixture(scope="module")
def frame_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("frames")
    for number in range(4):
        cv2.imwrite(str(folder / f"{number:04d}.png"), np.zeros((32, 32, 3), np.uint8))
    return folder


@pytest.mark.parametrize("command, others, option, value", CASES, ids=[f"{c[0]}{c[2]}={c[3]}" for c in CASES])
def test_a_bad_option_is_named(command, others, option, value, tiny_cache, prepared_stcam, frame_folder, tmp_path,
                               capsys):
    paths = {"cache": tiny_cache, "prepared": prepared_stcam, "folder": frame_folder, "out": tmp_path / "out"}
    argv = [command] + [part.format(**paths) for part in others] + [option, value]
    assert cli.main(argv) == 2
    lines = capsys.readouterr().err.rstrip().splitlines()  # extract notes "no --weights" on a line before
    assert lines[-1].startswith(f"keras-fer {command}: error: ") and ": error:" not in "".join(lines[:-1])
    assert f"`{option}` must " in lines[-1] and f"; received {option} {value}" in lines[-1]


def test_a_value_from_elsewhere_keeps_its_name(tiny_cache, tmp_path, capsys):
    # The recipe's epochs came from --set, not from --epochs: the error must not blame --epochs.
    argv = ["train", "--data", str(tiny_cache), "--out", str(tmp_path / "out"), "--set", "epochs=0"] + FIT
    assert cli.main(argv) == 2
    assert "`epochs` must be an integer >= 1; received epochs=0" in capsys.readouterr().err


def test_prepare_reports_impossible_manifest_rows(frame_folder, tmp_path, capsys):
    listing = tmp_path / "manifest.csv"
    listing.write_text(f"id,path,label,onset,apex,offset\nok,{frame_folder},a,0,1,3\nbad,{frame_folder},a,5,999,3\n")
    command = ["prepare", "--input", str(listing), "--detector", "full_frame", "--no-progress"]
    with pytest.warns(UserWarning, match="'bad': onset,apex,offset=5,999,3: not onset <= apex <= offset; left out"):
        assert cli.main(command + ["--out", str(tmp_path / "out")]) == 0
    assert "manifest" in capsys.readouterr().out and os.listdir(tmp_path / "out" / "crops") == ["ok"]
    assert cli.main(command + ["--out", str(tmp_path / "strict"), "--strict"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"keras-fer prepare: error: {listing}: 1 problem(s):\n  {listing}: sample 'bad'")
