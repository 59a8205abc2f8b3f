"""Annotated phases reach the samplers (issue 21): STCAM's peak is the apex, STANet reads onset..offset."""
import types

import numpy as np
import pytest

from data_prep import manifest, sampling
from keras_fer.data import cache, pipeline, prepared
from keras_fer.inference.classifier import Classifier
from tests.data import helpers

PHASES = {"onset": 2, "apex": 5, "offset": 9}


def test_phase_window():
    assert sampling.phase_window("stcam", 12, PHASES) == (0, 5)
    assert sampling.phase_window("stanet", 12, PHASES, num_frames=5) == (2, 9)
    assert sampling.phase_window("stcam", 12, PHASES, peak="middle") is None  # an explicit peak wins
    assert sampling.phase_window("stcam", 12, {"onset": "", "apex": "", "offset": ""}) is None
    assert sampling.phase_window("stanet", 12, {"onset": 2, "apex": 5, "offset": -1}) is None
    assert sampling.phase_window("ast", 12, PHASES) is None
    assert sampling.phase_window("stanet", 8, {"onset": "2", "apex": "5", "offset": "30"}) == (2, 7)


@pytest.mark.parametrize("seed", range(5))
def test_a_window_cuts_the_clip_for_the_sampler(seed):
    """sample(window=(s, e)) is the sampler on frames s..e, shifted back into the clip (NumPy reference)."""
    np.testing.assert_array_equal(sampling.sample("stcam", 30, training=True, seed=seed, window=(0, 12)),
                                  sampling.sample("stcam", 13, training=True, seed=seed))
    np.testing.assert_allclose(sampling.sample("stanet", 30, num_frames=6, window=(4, 14)),
                               4 + np.linspace(0, 10, 6))
    np.testing.assert_array_equal(sampling.superset("stanet", 30, num_frames=6, window=(4, 14)),
                                  4 + sampling.superset("stanet", 11, num_frames=6))
    with pytest.raises(ValueError, match="window"):
        sampling.sample("stcam", 10, window=(3, 10))


def _numbered_cache(folder):
    """Three clips of 12 frames whose feature is the frame number; phases (2, 5, 9), none, and apex only."""
    phases = [(2, 5, 9), (), (-1, 7, -1)]
    samples = [cache.CacheSample(id=f"clip{i}", label="ab"[i % 2], subject=f"S{i}", frame_indices=tuple(range(12)),
                                 sampler_frames=12, source_frames=tuple(range(12)), phases=phases[i])
               for i in range(3)]
    cache.write_cache(folder, samples, lambda todo: (np.arange(12, dtype=np.float16)[:, None] for _ in todo),
                      {"stem": "numbers", "sampler": None, "sampler_options": {}}, (1,), progress=False)
    return folder


def _drawn(dataset):
    return {sample_id.decode(): values[..., 0].numpy() for batch in dataset
            for sample_id, values in zip(batch[0]["id"].numpy(), batch[0]["features"])}


def test_the_cache_reader_draws_in_each_clips_window(tmp_path):
    folder = _numbered_cache(tmp_path / "cache")
    assert [r["phases"] for r in cache.open_cache(folder).records] == [
        {"onset": 2, "apex": 5, "offset": 9}, {"onset": None, "apex": None, "offset": None},
        {"onset": None, "apex": 7, "offset": None}]
    for training in (False, True):
        stcam = _drawn(pipeline.feature_dataset(folder, training=training, batch_size=3, sampler="stcam", seed=0,
                                                as_dict=True, include_ids=True, dtype="float32"))
        assert [stcam[c][-1] for c in ("clip0", "clip1", "clip2")] == [5, 11, 7]  # the apex; the last frame
        assert all(stcam[c][0] == 0 for c in stcam)
    stanet = _drawn(pipeline.feature_dataset(folder, training=False, batch_size=3, sampler="stanet",
                                             sampler_options={"num_frames": 5}, as_dict=True, include_ids=True,
                                             dtype="float32"))
    np.testing.assert_allclose(stanet["clip0"], [2, 3.75, 5.5, 7.25, 9], atol=0.01)  # 2 + 7 * k / 4, blended
    np.testing.assert_allclose(stanet["clip1"], np.linspace(0, 11, 5), atol=0.01)


@pytest.fixture(scope="module")
def every_frame(tmp_path_factory):
    """12 synthetic clips of 16 frames prepared without a sampler (every frame kept), with their phases."""
    return helpers.make_prepared(tmp_path_factory.mktemp("every_frame"), None, None)


def test_the_frame_reader_draws_up_to_each_clips_apex(every_frame):
    prepared_ast = every_frame
    rows = {row["id"]: row for row in manifest.read_csv(f"{prepared_ast}/manifest.csv")}
    dataset = pipeline.frame_dataset(prepared_ast, training=False, batch_size=12, sampler="stcam", as_dict=True,
                                     include_ids=True)
    batch = next(iter(dataset))[0]
    for sample_id, clip in zip(batch["id"].numpy(), batch["frames"].numpy()):
        row = rows[sample_id.decode()]
        apex = int(row["apex"])
        assert apex < int(row["n_frames"]) - 1  # the synthetic apex is not the last frame
        crops = prepared.load_crops([f"{prepared_ast}/{row['crops_dir']}/{frame:06d}.jpg"
                                     for frame in range(int(row["n_frames"]))], None).astype(float)
        nearest = [int(np.argmin(np.abs(crops - frame).mean(axis=(1, 2, 3)))) for frame in clip[[0, -1]]]
        assert nearest == [0, apex]  # (TensorFlow and OpenCV decode JPEG slightly differently)


def test_predict_reads_a_manifests_phases():
    """Classifier.positions: the test-time draw in the annotated window, as the readers draw (no model needed)."""
    stcam = types.SimpleNamespace(flow=None, sampler="stcam", sampler_options={})
    assert Classifier.positions(stcam, 30, {"onset": "3", "apex": "12", "offset": "20"}).tolist()[-1] == 12
    assert Classifier.positions(stcam, 30, {}).tolist()[-1] == 29
    stanet = types.SimpleNamespace(flow={"num_flows": 4}, sampler=None, sampler_options={})
    np.testing.assert_allclose(Classifier.positions(stanet, 30, {"onset": 3, "apex": 12, "offset": 19}),
                               [3, 7, 11, 15, 19])
    np.testing.assert_allclose(Classifier.positions(stanet, 9, None), [0, 2, 4, 6, 8])
