"""keras_fer.data.cache: round trip, resume after a kill, refusal of bad features, stale and damaged caches."""
import json
import os
import pathlib
import subprocess
import sys

import cv2
import numpy as np
import pytest

from data_prep import sampling
from data_prep.manifest import read_csv
from keras_fer.data import cache
from keras_fer.stems import registry
from tests.data import helpers
from tests.processes import kill_when

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _all_records(cache_dir):
    info = cache.open_cache(cache_dir)
    records = [record for path in info.shard_files for record in cache.read_records(path)]
    return info, records


def test_round_trip_identical_values(tmp_path):
    samples = helpers.random_samples([3, 5, 2, 4, 6, 1, 3])
    features = helpers.random_features(samples, (2, 2, 3))
    helpers.write_random_cache(tmp_path, samples, features, num_shards=3)
    info, records = _all_records(tmp_path)
    assert sorted(r["id"] for r in records) == sorted(features)  # every sample exactly once
    for record in records:
        np.testing.assert_array_equal(record["features"], features[record["id"]])  # bit-identical float16
        assert record["features"].dtype == np.float16
    assert info.classes == ["a", "b", "c"] and info.feature_shape == (2, 2, 3)
    by_id = {r["id"]: r for r in info.records}
    assert by_id["clip004"]["label_index"] == 1 and by_id["clip004"]["subject"] == "S0"
    np.testing.assert_array_equal(by_id["clip001"]["frame_indices"], np.arange(5))
    # Deterministic assignment: sorted id i -> shard i % 3, and the shard's index agrees with its file size.
    assert [r["shard"] for r in info.records] == [i % 3 for i in range(7)]
    index = json.loads(pathlib.Path(cache.shard_path(tmp_path, 0, 3, ".json")).read_text())
    assert index["size"] == os.path.getsize(cache.shard_path(tmp_path, 0, 3))
    assert [e["id"] for e in index["records"]] == ["clip000", "clip003", "clip006"]


def test_extract_caches_the_sampler_superset_with_the_stem_values(tmp_path, prepared_stcam):
    result = helpers.extract_tiny(prepared_stcam, tmp_path / "cache")
    assert result == {"computed": 12, "skipped": 0, "complete": True}
    info, records = _all_records(tmp_path / "cache")
    assert info.config["sampler"] == "stcam" and info.config["face"]["size"] == helpers.CROP
    record = next(r for r in records if r["id"] == "macro_S02_happiness_1")
    phases = next(r for r in info.records if r["id"] == record["id"])["phases"]  # from the cache's manifest
    apex = phases["apex"]  # STCAM's frames run from the first frame to the annotated apex
    assert 6 <= apex < 15 and phases["onset"] < apex <= phases["offset"]
    superset = sampling.superset("stcam", 16, window=(0, apex), jitter=0.2)
    np.testing.assert_array_equal(record["frame_indices"], superset)
    assert superset[-1] == apex and record["sampler_frames"] == 16
    crops = os.path.join(prepared_stcam, "crops", record["id"])
    frames = np.stack([cv2.cvtColor(cv2.imread(os.path.join(crops, f"{i:06d}.jpg")), cv2.COLOR_BGR2RGB)
                       for i in superset])
    expected = helpers.tiny_stem()(helpers.scale(frames)).numpy()
    np.testing.assert_allclose(record["features"].astype(np.float32), expected, rtol=2e-3, atol=2e-3)
    # A rerun skips everything.
    assert helpers.extract_tiny(prepared_stcam, tmp_path / "cache") == {"computed": 0, "skipped": 12, "complete": True}


def test_a_sampler_needing_frames_that_were_not_prepared_names_the_crop_folder(tmp_path, prepared_stcam):
    with pytest.raises(ValueError, match=r"crops.*ecnn_fsa.*have no crop"):
        helpers.extract_tiny(prepared_stcam, tmp_path / "cache", sampler="ecnn_fsa")


_SLOW_WRITER = """
import sys, time
sys.path.insert(0, {root!r})
from keras_fer.data import prepared
from tests.data import helpers
load = prepared.load_crops
def slow_load(paths, size):
    time.sleep(0.4)
    return load(paths, size)
prepared.load_crops = slow_load
helpers.extract_tiny({prepared!r}, {out!r}, num_shards=1)
"""


def test_resume_after_the_writer_is_killed_mid_shard(tmp_path, prepared_ast):
    out = str(tmp_path / "cache")
    partial = os.path.join(out, "shards", ".shard-00000-of-00001.partial")
    script = _SLOW_WRITER.format(root=ROOT, prepared=prepared_ast, out=out)
    writer = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    kill_when(writer, lambda: os.path.isdir(partial)
              and sum(name.endswith(".tfrecord") for name in os.listdir(partial)) >= 3, timeout=120)
    done_before = sorted(name for name in os.listdir(partial) if name.endswith(".tfrecord"))
    assert 3 <= len(done_before) < 12
    assert not os.path.exists(cache.shard_path(out, 0, 1))  # nothing looks complete
    assert not os.path.exists(os.path.join(out, "manifest.csv"))
    with pytest.raises(cache.CacheIntegrityError, match="manifest.csv: missing; the cache is unfinished"):
        cache.open_cache(out)

    result = helpers.extract_tiny(prepared_ast, out, num_shards=1)
    assert result["complete"] and result["computed"] == 12 - len(done_before)
    assert not os.path.exists(partial)
    _, resumed = _all_records(out)
    helpers.extract_tiny(prepared_ast, tmp_path / "clean", num_shards=1)  # the same cache, never interrupted
    _, clean = _all_records(tmp_path / "clean")
    assert [r["id"] for r in resumed] == [r["id"] for r in clean]  # every sample exactly once, in order
    assert len({r["id"] for r in resumed}) == 12
    for got, want in zip(resumed, clean):
        np.testing.assert_allclose(got["features"].astype(np.float32), want["features"].astype(np.float32),
                                   rtol=2e-3, atol=2e-3)
        np.testing.assert_array_equal(got["frame_indices"], want["frame_indices"])


@pytest.mark.parametrize("bad", [np.nan, np.inf, 1e6])
def test_non_finite_features_are_refused_before_writing(tmp_path, bad):
    samples = helpers.random_samples([2, 3, 2])
    features = helpers.random_features(samples, (3,))
    features["clip001"] = features["clip001"].astype(np.float32)
    features["clip001"][1, 2] = bad
    with pytest.raises(cache.NonFiniteFeaturesError, match="clip001"):
        helpers.write_random_cache(tmp_path, samples, features, num_shards=1)
    partial = os.path.join(tmp_path, "shards", ".shard-00000-of-00001.partial")
    assert sorted(name for name in os.listdir(partial) if name.endswith(".tfrecord")) == ["000000.tfrecord"]
    assert not os.path.exists(cache.shard_path(tmp_path, 0, 1))


def test_processes_split_the_shards_and_the_last_writes_the_manifest(tmp_path):
    samples = helpers.random_samples([2, 3, 4, 2, 1])
    features = helpers.random_features(samples, (4,))
    config = {"stem": "random", "sampler": None, "sampler_options": {}}

    def run(index):
        return cache.write_cache(tmp_path, samples, lambda todo: (features[s.id] for s in todo), config, (4,),
                                 num_shards=3, process_index=index, num_processes=2, progress=False)

    assert run(1) == {"computed": 2, "skipped": 0, "complete": False}  # shard 1: samples 1 and 4
    assert not os.path.exists(tmp_path / "manifest.csv")
    assert run(0) == {"computed": 3, "skipped": 0, "complete": True}  # shards 0 (samples 0, 3) and 2 (2)
    assert [row["id"] for row in read_csv(tmp_path / "manifest.csv")] == sorted(features)


def test_stale_configuration_is_refused_naming_cache_json(tmp_path):
    samples = helpers.random_samples([2, 3])
    features = helpers.random_features(samples, (4,))
    helpers.write_random_cache(tmp_path, samples, features, num_shards=1, stem_weights="v1")
    with pytest.raises(cache.CacheMismatchError, match=r"cache\.json.*another configuration.*stem_weights"):
        helpers.write_random_cache(tmp_path, samples, features, num_shards=1, stem_weights="v2")
    with pytest.raises(cache.CacheMismatchError, match=r"cache\.json.*another sample list"):
        helpers.write_random_cache(tmp_path, samples[:1], features, num_shards=1, stem_weights="v1")
    with pytest.raises(cache.CacheMismatchError, match=r"cache\.json: the cache has hash"):
        cache.open_cache(tmp_path, expected_hash="0" * 64)
    good = cache.open_cache(tmp_path)
    assert cache.open_cache(tmp_path, expected_hash=good.hash, expected_config=good.config).num_samples == 2


def test_truncated_or_missing_shard_and_duplicate_sample_name_the_file(tmp_path):
    samples = helpers.random_samples([2, 3, 4])
    helpers.write_random_cache(tmp_path, samples, helpers.random_features(samples, (4,)), num_shards=2)
    shard = cache.shard_path(tmp_path, 1, 2)
    data = pathlib.Path(shard).read_bytes()
    with open(shard, "wb") as handle:
        handle.write(data[:-7])
    with pytest.raises(cache.CacheIntegrityError, match=f"{shard}: truncated"):
        cache.open_cache(tmp_path)
    with pytest.raises(cache.CacheIntegrityError, match="shard-00001-of-00002.tfrecord: unreadable shard"):
        cache.read_records(shard)
    os.remove(shard)
    with pytest.raises(cache.CacheIntegrityError, match=f"{shard}: missing shard"):
        cache.open_cache(tmp_path)
    with open(shard, "wb") as handle:
        handle.write(data)
    manifest = os.path.join(tmp_path, "manifest.csv")
    lines = pathlib.Path(manifest).read_text().splitlines()
    with open(manifest, "w") as handle:
        handle.write("\n".join(lines + [lines[2]]) + "\n")
    with pytest.raises(cache.CacheIntegrityError, match=r"manifest\.csv line 5: sample 'clip001' is named twice"):
        cache.open_cache(tmp_path)


def test_clip_stems_are_not_cached_per_frame():
    with pytest.raises(ValueError, match="c3d.*clip stem.*frame_dataset"):
        registry.build_stem("c3d")
    with pytest.raises(ValueError, match="`stem` must be one of"):
        registry.build_stem("vgg")


def test_a_rerun_removes_the_leftovers_of_a_killed_writer(tmp_path):
    samples = helpers.random_samples([2, 3, 4])
    features = helpers.random_features(samples, (4,))
    helpers.write_random_cache(tmp_path, samples, features, num_shards=2)
    shards = tmp_path / "shards"
    (shards / ".shard-00000-of-00002.partial").mkdir()  # killed after the rename, before the cleanup
    os.remove(cache.shard_path(tmp_path, 1, 2))  # killed while concatenating shard 1
    (shards / ".shard-00001-of-00002.tfrecord.partial-999").write_bytes(b"half")
    helpers.write_random_cache(tmp_path, samples, features, num_shards=2)
    assert sorted(os.listdir(shards)) == ["shard-00000-of-00002.json", "shard-00000-of-00002.tfrecord",
                                          "shard-00001-of-00002.json", "shard-00001-of-00002.tfrecord"]
    _, records = _all_records(tmp_path)
    assert sorted(r["id"] for r in records) == sorted(features)
