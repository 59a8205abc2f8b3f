"""keras_fer.data.pipeline: values against data_prep's sampler and interpolation, masks, seeds, worker shards."""
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from data_prep import sampling
from keras_fer.data import cache, pipeline
from tests.data import helpers


def _epoch(dataset):
    """{id: (features, mask, label)} of one pass, and the ids in the order they came."""
    seen, order = {}, []
    for inputs, labels in dataset:
        for i, sample_id in enumerate(inputs["id"].numpy()):
            sample_id = sample_id.decode()
            values = inputs["features"] if "features" in inputs else inputs["frames"]
            seen[sample_id] = (values[i].numpy(), inputs["mask"][i].numpy(), int(labels[i]))
            order.append(sample_id)
    return seen, order


@pytest.fixture(scope="module")
def stanet_cache(tmp_path_factory):
    """7 clips of 6..12 stored frames (every frame), for STANet's float positions."""
    samples = helpers.random_samples([6, 9, 12, 7, 8, 10, 11])
    features = helpers.random_features(samples, (2, 2, 3), seed=3)
    folder = tmp_path_factory.mktemp("stanet_cache")
    helpers.write_random_cache(folder, samples, features, "stanet", {"num_frames": 4}, num_shards=3)
    return folder, samples, features


def test_test_mode_matches_interpolate_frames(stanet_cache):
    folder, samples, features = stanet_cache
    dataset = pipeline.feature_dataset(folder, training=False, batch_size=3, as_dict=True, include_ids=True)
    seen, order = _epoch(dataset)
    assert sorted(order) == sorted(features) and len(order) == 7
    assert dataset.cardinality() == 3
    blended = 0
    for s in samples:
        values, mask, label = seen[s.id]
        positions = sampling.sample("stanet", len(s.frame_indices), num_frames=4)
        blended += int(np.any(positions % 1))
        expected = sampling.interpolate_frames(features[s.id], positions, frame_indices=np.array(s.frame_indices))
        assert values.dtype == np.float32 and values.shape == (4, 2, 2, 3)
        np.testing.assert_allclose(values, expected.astype(np.float32), rtol=1e-3, atol=1e-3)
        assert mask.all() and label == ["a", "b", "c"].index(s.label)
    assert blended == 5  # all but the 7- and 10-frame clips ((n - 1) / 3 integral) need fractional positions
    assert pipeline.class_names(folder) == ["a", "b", "c"]


def test_training_draws_change_per_epoch_and_repeat_with_the_seed(tmp_path):
    samples = helpers.random_samples([16] * 8)
    features = helpers.random_features(samples, (3,), seed=1)
    helpers.write_random_cache(tmp_path, samples, features, "ast", {"num_frames": 5, "stride": 2}, num_shards=3)

    def two_epochs(seed):
        dataset = pipeline.feature_dataset(tmp_path, training=True, batch_size=3, seed=seed, shuffle_buffer=4,
                                           as_dict=True, include_ids=True)
        return [_epoch(dataset) for _ in range(2)]

    (first, first_order), (second, second_order) = two_epochs(seed=7)
    (again, again_order), (again2, again2_order) = two_epochs(seed=7)
    assert first_order == again_order and second_order == again2_order  # same seed, same sequence
    for sample_id in first:
        np.testing.assert_array_equal(first[sample_id][0], again[sample_id][0])
        np.testing.assert_array_equal(second[sample_id][0], again2[sample_id][0])
    assert first_order != second_order  # reshuffled each epoch
    starts = {}
    for epoch in (first, second):
        for sample_id, (values, _, _) in epoch.items():
            stored = features[sample_id].astype(np.float32)
            # Each drawn clip is 5 stored frames 2 apart from some start: find it.
            matches = [start for start in range(16 - 8) if np.array_equal(values, stored[start:start + 9:2])]
            assert len(matches) == 1
            starts.setdefault(sample_id, []).append(matches[0])
    assert any(a != b for a, b in starts.values())  # new frames in the second epoch
    (other, _), _ = two_epochs(seed=8)
    assert any(not np.array_equal(other[i][0], first[i][0]) for i in first)


def test_variable_lengths_are_padded_and_masked(tmp_path):
    samples = helpers.random_samples([3, 5, 2])
    features = helpers.random_features(samples, (2, 2, 1), seed=2)
    helpers.write_random_cache(tmp_path, samples, features, None, num_shards=1)
    dataset = pipeline.feature_dataset(tmp_path, training=False, batch_size=3, as_dict=True, include_ids=True)
    inputs, labels = next(iter(dataset))
    assert inputs["features"].shape == (3, 5, 2, 2, 1) and inputs["mask"].dtype == tf.bool
    for i, sample_id in enumerate(inputs["id"].numpy().astype(str)):
        length = features[sample_id].shape[0]
        np.testing.assert_array_equal(inputs["mask"][i], np.arange(5) < length)
        np.testing.assert_array_equal(inputs["features"][i, :length], features[sample_id].astype(np.float32))
        assert not np.any(inputs["features"][i, length:])


def test_short_clips_mask_ast_repeats(tmp_path):
    samples = helpers.random_samples([3, 9])  # 3 frames cannot give AST's 5 frames: the last one repeats
    features = helpers.random_features(samples, (2,), seed=4)
    helpers.write_random_cache(tmp_path, samples, features, "ast", {"num_frames": 5}, num_shards=1)
    seen, _ = _epoch(pipeline.feature_dataset(tmp_path, training=False, batch_size=2, as_dict=True, include_ids=True))
    assert sampling.sample("ast", 3, num_frames=5).tolist() == [0, 1, 2, 2, 2]
    np.testing.assert_array_equal(seen["clip000"][1], [True, True, True, False, False])
    expected = features["clip000"][[0, 1, 2, 2, 2]].astype(np.float32)
    expected[3:] = 0  # masked frames are zero, as the heads' FrameMask expects
    np.testing.assert_array_equal(seen["clip000"][0], expected)
    assert seen["clip001"][1].all()


def test_workers_read_disjoint_shards(stanet_cache):
    folder, _, features = stanet_cache
    parts = [set(_epoch(pipeline.feature_dataset(folder, training=True, batch_size=2, seed=0, num_workers=3,
                                                 worker_index=i, as_dict=True, include_ids=True))[0]) for i in range(3)]
    assert set.union(*parts) == set(features) and sum(map(len, parts)) == len(features)
    with pytest.raises(ValueError, match="num_workers"):
        pipeline.feature_dataset(folder, training=True, num_workers=4, worker_index=0)


def test_bad_caches_and_arguments_are_refused(stanet_cache, tmp_path):
    folder, _, _ = stanet_cache
    with pytest.raises(cache.CacheMismatchError, match=r"cache\.json"):
        pipeline.feature_dataset(folder, training=False, expected_config={"stem": "other"})
    with pytest.raises(ValueError, match="holds only the frames of sampler 'stanet'"):
        pipeline.feature_dataset(folder, training=False, sampler="ast")
    with pytest.raises(ValueError, match="`batch_size` must be an integer >= 1; received batch_size=0"):
        pipeline.feature_dataset(folder, training=False, batch_size=0)
    with pytest.raises(cache.CacheIntegrityError, match="cache.json: missing"):
        pipeline.feature_dataset(tmp_path, training=False)


def test_ceflnet_draws_keep_their_clip_structure(tmp_path):
    options = {"num_clips": 2, "clip_length": 3, "clip_overlap": 1, "frames_per_clip": 2, "start_range": 2,
               "kept_frames": 6}
    samples = helpers.random_samples([4, 9])  # 4 frames are stretched to 6 (float positions); 9 are clipped
    features = helpers.random_features(samples, (3,), seed=5)
    helpers.write_random_cache(tmp_path, samples, features, "ceflnet", options, num_shards=1)
    seen, _ = _epoch(pipeline.feature_dataset(tmp_path, training=False, batch_size=2, as_dict=True,
                                              include_ids=True))
    for s in samples:
        positions = sampling.sample("ceflnet", len(s.frame_indices), **options)  # (2, 2)
        expected = sampling.interpolate_frames(features[s.id], positions)
        values, mask, _ = seen[s.id]
        assert values.shape == (2, 2, 3) and mask.shape == (2, 2) and mask.all()
        np.testing.assert_allclose(values, expected.astype(np.float32), rtol=1e-3, atol=1e-3)


def test_the_ast_head_trains_on_the_cache(stanet_cache):
    from keras_fer.models import create_model

    folder, _, _ = stanet_cache
    head = create_model("ast", 3, input="features", feature_shape=(4, 2, 2, 3))
    head.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    dataset = pipeline.feature_dataset(folder, training=True, batch_size=2, seed=0)
    features, labels = next(iter(dataset))
    assert features.shape == (2, 4, 2, 2, 3) and labels.dtype == tf.int32
    history = head.fit(dataset, epochs=2, verbose=0, shuffle=False)
    assert len(history.history["loss"]) == 2 and np.all(np.isfinite(history.history["loss"]))


def test_frame_dataset_matches_the_crops(prepared_ast):
    dataset = pipeline.frame_dataset(prepared_ast, training=False, batch_size=4, as_dict=True, include_ids=True)
    seen, order = _epoch(dataset)
    assert len(order) == 12
    sample_id = "macro_S01_fear_1"
    frames, mask, label = seen[sample_id]
    crops = os.path.join(prepared_ast, "crops", sample_id)
    indices = sampling.sample("ast", 16, num_frames=5)
    expected = np.stack([tf.io.decode_jpeg(tf.io.read_file(os.path.join(crops, f"{i:06d}.jpg"))).numpy()
                         for i in indices])
    np.testing.assert_array_equal(frames, expected.astype(np.float32))
    assert frames.shape == (5, helpers.CROP, helpers.CROP, 3) and mask.all()
    assert label == pipeline.class_names(prepared_ast).index("fear")


def test_frame_dataset_blends_float_positions_and_draws_per_epoch(prepared_ast):
    # Prepared with AST's sampler, the folder holds every frame of these 16-frame clips, so STANet can read it.
    with pytest.raises(ValueError, match="holds only the frames of sampler 'ast'"):
        pipeline.frame_dataset(prepared_ast, training=False, sampler="stanet", sampler_options={"num_frames": 4})
    dataset = pipeline.frame_dataset(prepared_ast, training=True, batch_size=4, seed=3, as_dict=True, include_ids=True,
                                     image_size=16)
    (first, _), (second, _) = _epoch(dataset), _epoch(dataset)
    assert next(iter(first.values()))[0].shape == (5, 16, 16, 3)
    assert any(not np.array_equal(first[i][0], second[i][0]) for i in first)


def test_batch_draws_match_per_clip_draws():
    lengths = np.array([3, 5, 2])
    values = np.concatenate([np.arange(n) for n in lengths]).astype(np.int64)
    seeds = np.array([4, -9, 2**62], np.int64)
    lower, upper, weight, mask = pipeline._draw_batch(None, {}, True, lengths, values, lengths, seeds, [(-1, -1)] * 3)
    assert lower.shape == upper.shape == weight.shape == mask.shape == (3, 5)
    for row, n in enumerate(lengths):
        np.testing.assert_array_equal(lower[row], np.r_[np.arange(n), np.zeros(5 - n, int)])
        np.testing.assert_array_equal(mask[row], np.arange(5) < n)
    options = {"num_frames": 4}
    lower, upper, weight, mask = pipeline._draw_batch("stanet", options, True, np.array([12, 9]),
                                                      np.r_[np.arange(12), np.arange(9)].astype(np.int64),
                                                      np.array([12, 9]), np.array([1, 2], np.int64),
                                                      [(-1, -1), (2, 7)])
    for row, (n, seed, window) in enumerate([(12, 1, None), (9, 2, (2, 7))]):
        expected = pipeline.draw_frames("stanet", options, True, n, np.arange(n), seed, window)
        for got, want in zip((lower, upper, weight, mask), expected):
            np.testing.assert_array_equal(got[row], want)


def test_float16_output_drop_remainder_and_unordered_reads(stanet_cache):
    folder, _, _ = stanet_cache
    reference, _ = _epoch(pipeline.feature_dataset(folder, training=False, batch_size=3, as_dict=True,
                                                   include_ids=True))
    half = pipeline.feature_dataset(folder, training=False, batch_size=3, as_dict=True, include_ids=True,
                                    dtype="float16", drop_remainder=True)
    assert half.cardinality() == 2
    assert half.element_spec[0]["features"].shape == (3, 4, 2, 2, 3)  # static batch size
    seen, order = _epoch(half)
    assert len(order) == 6
    for sample_id, (values, mask, _label) in seen.items():
        assert values.dtype == np.float16
        np.testing.assert_array_equal(values.astype(np.float32), reference[sample_id][0])
        np.testing.assert_array_equal(mask, reference[sample_id][1])
    unordered = pipeline.feature_dataset(folder, training=True, batch_size=2, seed=1, deterministic=False,
                                         as_dict=True, include_ids=True)
    assert sorted(_epoch(unordered)[1]) == sorted(reference)  # every sample once, none skipped


def test_variable_lengths_in_training_keep_every_frame(tmp_path):
    samples = helpers.random_samples([3, 5, 2, 4])
    features = helpers.random_features(samples, (2, 1), seed=6)
    helpers.write_random_cache(tmp_path, samples, features, None, num_shards=2)
    dataset = pipeline.feature_dataset(tmp_path, training=True, batch_size=3, seed=0, as_dict=True,
                                       include_ids=True)
    for inputs, _ in dataset:
        width = inputs["features"].shape[1]
        assert width == max(features[i].shape[0] for i in inputs["id"].numpy().astype(str))
        for i, sample_id in enumerate(inputs["id"].numpy().astype(str)):
            length = features[sample_id].shape[0]
            np.testing.assert_array_equal(inputs["mask"][i], np.arange(width) < length)
            np.testing.assert_array_equal(inputs["features"][i, :length], features[sample_id].astype(np.float32))
            assert not np.any(inputs["features"][i, length:])


def test_ids_read_only_those_samples_in_both_modes(stanet_cache):
    folder, samples, features = stanet_cache
    chosen = [samples[0].id, samples[3].id, samples[5].id]
    for training in (False, True):
        dataset = pipeline.feature_dataset(folder, training=training, batch_size=2, as_dict=True, include_ids=True,
                                           seed=0, ids=chosen)
        seen, order = _epoch(dataset)
        assert sorted(order) == sorted(chosen)
        assert dataset.cardinality() == 2  # 3 samples in batches of 2: the progress bar knows the length


def test_ids_errors_name_the_problem(stanet_cache):
    folder, samples, _ = stanet_cache
    with pytest.raises(ValueError, match="no sample \\['nope'\\]"):
        pipeline.feature_dataset(folder, training=False, ids=[samples[0].id, "nope"])
    with pytest.raises(ValueError, match="twice"):
        pipeline.feature_dataset(folder, training=False, ids=[samples[0].id, samples[0].id])
    with pytest.raises(ValueError, match="empty"):
        pipeline.feature_dataset(folder, training=False, ids=[])
    with pytest.raises(ValueError, match="string"):
        pipeline.feature_dataset(folder, training=False, ids=samples[0].id)


def test_frame_dataset_ids(prepared_ast):
    ids = [row.id for row in cache.prepared_samples(prepared_ast)][:2]
    dataset = pipeline.frame_dataset(prepared_ast, training=False, batch_size=4, as_dict=True, include_ids=True,
                                     ids=ids)
    seen, order = _epoch(dataset)
    assert order == ids
