"""Exact resume, data side: a training pass's shuffles and draws depend on (seed, epoch), not on the passes before."""
import numpy as np
import pytest
import tensorflow as tf

from keras_fer.data import pipeline
from keras_fer.data.sources import ArraySource
from tests.data import helpers


def _pass(dataset):
    """The ids in the order they came and their values (features or frames) of one pass."""
    order, values = [], []
    for inputs, _ in dataset:
        order += [i.decode() for i in inputs["id"].numpy()]
        values.append((inputs["features"] if "features" in inputs else inputs["frames"]).numpy())
    return order, np.concatenate(values)


def _check_epoch_three(make):
    """Pass 3 of a reader that ran passes 0-2 == pass 0 of a fresh reader at epoch 3 (int or variable)."""
    reader = make(0)
    passes = [_pass(reader) for _ in range(4)]
    tf.random.set_seed(123)  # TF's global seed plays no part
    fresh = _pass(make(3))
    variable = tf.Variable(3, dtype=tf.int64)
    fresh_variable = _pass(make(variable))
    for other in (fresh, fresh_variable):
        assert other[0] == passes[3][0]
        np.testing.assert_array_equal(other[1], passes[3][1])
    assert len({tuple(order) for order, _ in passes}) == 4  # every epoch its own order
    variable.assign(1)  # a variable read at the start of each pass
    again = _pass(make(variable))
    assert again[0] == passes[1][0]


def test_feature_reader_epoch_depends_only_on_seed_and_epoch(tmp_path):
    samples = helpers.random_samples([16] * 12)
    features = helpers.random_features(samples, (3,), seed=1)
    helpers.write_random_cache(tmp_path, samples, features, "ast", {"num_frames": 5, "stride": 2}, num_shards=3)
    _check_epoch_three(lambda epoch: pipeline.feature_dataset(
        tmp_path, training=True, batch_size=5, seed=7, shuffle_buffer=4, as_dict=True, include_ids=True, epoch=epoch))
    test = pipeline.feature_dataset(tmp_path, training=False, batch_size=5, as_dict=True, include_ids=True, epoch=3)
    first, second = _pass(test), _pass(test)
    assert first[0] == second[0] and np.array_equal(first[1], second[1])  # evaluation stays fixed


def test_frame_reader_epoch_depends_only_on_seed_and_epoch(prepared_ast):
    _check_epoch_three(lambda epoch: pipeline.frame_dataset(
        prepared_ast, training=True, batch_size=4, seed=3, as_dict=True, include_ids=True, image_size=8,
        epoch=epoch))


def test_array_source_epoch_depends_only_on_seed_and_epoch():
    n = 20
    source = ArraySource(np.arange(n, dtype=np.float32)[:, None], np.zeros(n, int), [f"v{i}" for i in range(n)],
                         [""] * n, ["a"], input="features")

    def order(epoch):
        return [np.concatenate([x.numpy()[:, 0] for x, _ in dataset])
                for dataset in [source.dataset(None, training=True, batch_size=6, seed=2, epoch=epoch)]
                for _ in range(2)]

    first = order(0)
    assert not np.array_equal(first[0], first[1])
    np.testing.assert_array_equal(order(1)[0], first[1])


def test_epoch_is_checked(tmp_path):
    samples = helpers.random_samples([16] * 3)
    helpers.write_random_cache(tmp_path, samples, helpers.random_features(samples, (3,)), "ast", {"num_frames": 5})
    with pytest.raises(ValueError, match="`epoch` must be"):
        pipeline.feature_dataset(tmp_path, training=True, epoch=-1)
    with pytest.raises(ValueError, match="an int64 tf.Variable"):
        pipeline.feature_dataset(tmp_path, training=True, epoch=tf.Variable(0))
