"""A prepared folder's face crops are checked when it is read: missing, empty or undecodable crops are named."""
import os
import shutil

import pytest

from keras_fer import cli
from keras_fer.data import sources

# ast_cnn (a small CNN from scratch) on the 32x32 crops of the prepared AST fixture (5 frames).
TRAIN = ["--model", "ast_cnn", "--model-option", "frame_size=32", "--model-option", "num_frames=5", "--epochs", "1",
         "--batch-size", "4", "--quiet", "--no-tensorboard", "--validation-size", "1"]


@pytest.fixture
def copy(prepared_ast, tmp_path):
    """A copy of the session's prepared folder (12 clips of 16 crops) that a test may damage."""
    return str(shutil.copytree(prepared_ast, tmp_path / "prepared"))


def _crop(folder, sample, frame):
    return os.path.join(folder, "crops", sample, f"{frame:06d}.jpg")


def _train(folder, out, capsys):
    code = cli.main(["train", "--data", folder, "--out", str(out)] + TRAIN)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("keras-fer train: error: ") and "Traceback" not in err, err
    return err


def test_a_missing_or_empty_crop_is_named_before_training(copy, tmp_path, capsys):
    missing = _crop(copy, "macro_S01_fear_1", 4)
    os.remove(missing)
    with pytest.raises(FileNotFoundError, match=f"{missing}: missing face crop of sample 'macro_S01_fear_1'"):
        sources.open_source(copy)
    assert f"{missing}: missing face crop of sample 'macro_S01_fear_1'" in _train(copy, tmp_path / "a", capsys)
    shutil.copy(_crop(copy, "macro_S01_fear_1", 5), missing)
    empty = _crop(copy, "macro_S01_anger_1", 3)
    open(empty, "wb").close()
    assert f"{empty}: empty face crop of sample 'macro_S01_anger_1'" in _train(copy, tmp_path / "b", capsys)


def test_an_undecodable_crop_met_while_training_is_named(copy, tmp_path, capsys):
    for frame in range(16):  # every crop of the sample: whichever frames the sampler draws
        with open(_crop(copy, "macro_S02_happiness_1", frame), "wb") as handle:
            handle.write(b"not a JPEG " * 40)
    err = _train(copy, tmp_path / "run", capsys)
    assert f"{_crop(copy, 'macro_S02_happiness_1', 0)}: cannot decode the face crop of sample " in err
    assert err.rstrip().endswith("(and 11 more); prepare these samples again")
