"""Every file of a feature cache is verified when it is read: damaged shards, edited or missing cache.json."""
import gc
import json
import os
import shutil
import subprocess
import sys

import pytest

from keras_fer import cli
from keras_fer.data import cache, pipeline
from tests.data import helpers

TRAIN = ["--sampler", "ecnn_fsa", "--model", "ecnn_fsa", "--epochs", "1", "--batch-size", "4", "--quiet",
         "--no-tensorboard", "--validation-size", "1"]


@pytest.fixture
def copy(tiny_cache, tmp_path):
    """A copy of the session's tiny cache (24 clips, 2 shards) that a test may damage."""
    return shutil.copytree(tiny_cache, tmp_path / "features")


def _damage(path, how):
    """Zero or flip 64 bytes in the middle of a file, keeping its size."""
    with open(path, "rb") as handle:
        data = bytearray(handle.read())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64) if how == "zero" else bytes(b ^ 0xFF for b in data[middle:middle + 64])
    with open(path, "r+b") as handle:  # in place: same size, same inode
        handle.write(data)


def _edit_cache_json(folder, edit):
    path = os.path.join(folder, "cache.json")
    with open(path) as handle:
        info = json.load(handle)
    edit(info)
    with open(path, "w") as handle:
        json.dump(info, handle)


def _one_line_error(capsys, command):
    err = capsys.readouterr().err
    assert err.startswith(f"keras-fer {command}: error: ") and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("how", ["zero", "flip"])
def test_a_damaged_shard_of_the_same_size_is_named(copy, how):
    shard = cache.shard_path(copy, 1, 2)
    _damage(shard, how)
    with pytest.raises(cache.CacheIntegrityError, match=f"{shard}: damaged shard: its sha256 is .* Delete it"):
        cache.open_cache(copy)
    assert len(cache.damaged_shards(copy)) == 1 and shard in cache.damaged_shards(copy)[0]


def test_the_advice_for_a_damaged_shard_works(tmp_path):
    samples = helpers.random_samples([2, 3, 4])
    features = helpers.random_features(samples, (4,))
    helpers.write_random_cache(tmp_path, samples, features)
    shard = cache.shard_path(tmp_path, 0, 2)
    _damage(shard, "flip")
    with pytest.raises(cache.CacheIntegrityError, match="Delete it and its .json and run keras-fer extract again"):
        cache.open_cache(tmp_path)
    os.remove(shard)
    os.remove(cache.shard_path(tmp_path, 0, 2, ".json"))
    helpers.write_random_cache(tmp_path, samples, features)  # the same extract again: only that shard is rewritten
    assert cache.open_cache(tmp_path).num_samples == 3


def test_train_evaluate_and_cv_on_a_damaged_shard_fail_with_one_line(copy, tmp_path, capsys):
    assert cli.main(["train", "--data", str(copy), "--out", str(tmp_path / "run")] + TRAIN) == 0
    shard = cache.shard_path(copy, 0, 2)
    _damage(shard, "zero")
    assert cli.main(["train", "--data", str(copy), "--out", str(tmp_path / "again")] + TRAIN) == 2
    assert f"{shard}: damaged shard" in _one_line_error(capsys, "train")
    assert cli.main(["cv", "--data", str(copy), "--out", str(tmp_path / "cv"), "--folds", "2"] + TRAIN) == 2
    assert f"{shard}: damaged shard" in _one_line_error(capsys, "cv")
    assert cli.main(["evaluate", "--model", str(tmp_path / "run" / "model.keras"), "--data", str(copy),
                     "--out", str(tmp_path / "scores")]) == 2
    assert f"{shard}: damaged shard" in _one_line_error(capsys, "evaluate")


def test_a_shard_damaged_after_it_was_verified_is_named_not_a_raw_traceback(copy, tmp_path, capsys):
    """The shard is hashed once per process; damage met later while training (TensorFlow's DataLossError)
    is still an error naming the shard."""
    cache.open_cache(copy)  # verified: this process will not hash it again while size, time and inode stay
    shard = cache.shard_path(copy, 0, 2)
    stat = os.stat(shard)
    _damage(shard, "zero")
    os.utime(shard, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    cache.open_cache(copy)  # still taken as verified
    assert cli.main(["train", "--data", str(copy), "--out", str(tmp_path / "run")] + TRAIN) == 2
    assert f"{shard}: damaged shard" in _one_line_error(capsys, "train")
    # The failed iterator is gone now, not left to interpreter exit (where its reader threads wait for the GIL:
    # the hang seen once after the raw traceback in `keras-fer cv`).
    assert not [o for o in gc.get_objects() if type(o).__name__ == "OwnedIterator"]


def test_cv_on_a_damaged_shard_exits_with_an_error_and_no_hang(copy, tmp_path):
    _damage(cache.shard_path(copy, 1, 2), "flip")
    done = subprocess.run([sys.executable, "-m", "keras_fer.cli", "cv", "--data", str(copy), "--out",
                           str(tmp_path / "cv"), "--folds", "2"] + TRAIN, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"{cache.shard_path(copy, 1, 2)}: damaged shard" in done.stderr


@pytest.mark.parametrize(("edit", "entry"), [
    (lambda info: info["classes"].reverse(), "classes"),
    (lambda info: info["config"].update(stem="vggface16"), "config"),
    (lambda info: info.update(feature_shape=[3, 2]), "feature_shape"),
    (lambda info: info.update(num_samples=23), "num_samples"),
], ids=["classes", "config", "feature_shape", "num_samples"])
def test_an_edited_cache_json_is_named_with_the_entry(copy, tmp_path, capsys, edit, entry):
    _edit_cache_json(copy, edit)
    pattern = f"{copy}/cache.json: edited after keras-fer extract wrote it: {entry} no longer match"
    with pytest.raises(cache.CacheIntegrityError, match=pattern):
        cache.open_cache(copy)
    with pytest.raises(cache.CacheIntegrityError, match=pattern):
        pipeline.class_names(copy)
    assert cli.main(["train", "--data", str(copy), "--out", str(tmp_path / "run")] + TRAIN) == 2
    assert pattern in _one_line_error(capsys, "train")


def test_a_missing_cache_json_is_named_as_missing(copy, tmp_path, capsys):
    os.remove(os.path.join(copy, "cache.json"))
    for read in (cache.open_cache, pipeline.class_names):
        with pytest.raises(cache.CacheIntegrityError, match=f"{copy}/cache.json: missing"):
            read(copy)
    for command in ("train", "cv"):
        assert cli.main([command, "--data", str(copy), "--out", str(tmp_path / command)] + TRAIN) == 2
        err = _one_line_error(capsys, command)
        assert f"{copy}/cache.json: missing" in err and "column" not in err


@pytest.mark.parametrize("version", [1, 2])
def test_a_cache_of_a_previous_format_asks_for_a_new_extract(copy, version):
    def older(info):  # format 1 had no sha256 of its entries or shards, format 2 no phases in its manifest
        info.update(format=version)
        if version == 1:
            del info["sha256"]

    _edit_cache_json(copy, older)
    with pytest.raises(cache.CacheIntegrityError, match=rf"cache\.json: cache format {version}, this keras-fer "
                                                        r"reads format 3 .* run keras-fer extract again"):
        cache.open_cache(copy)
