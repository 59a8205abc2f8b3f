"""``--strategy mirrored`` (keras_fer.training.distribute): two devices learn what one device learns."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_fer.training import distribute

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(tmp_path, backend, strategy, n):
    out = tmp_path / f"{backend}-{strategy}-{n}.npz"
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": ROOT}
    done = subprocess.run([sys.executable, "-m", "tests.training.two_devices", strategy, str(n), str(out)], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(np.load(out))


@pytest.mark.backend("tensorflow")  # each backend runs in its own process: once per suite is enough
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_two_devices_learn_what_one_device_learns(tmp_path, backend):
    pytest.importorskip(backend)
    one, two = _run(tmp_path, backend, "default", 10), _run(tmp_path, backend, "mirrored", 10)
    assert (int(one["replicas"]), int(two["replicas"])) == (1, 2)
    for key in one:
        if key.startswith("weight_"):
            np.testing.assert_allclose(two[key], one[key], atol=1e-5, err_msg=key)
    # validation's one batch of 5 clips is padded to 6 for two devices: the padding changes neither metric
    np.testing.assert_allclose(two["val_loss"], one["val_loss"], rtol=1e-5)
    np.testing.assert_allclose(two["val_accuracy"], one["val_accuracy"], rtol=1e-6)
    assert not np.allclose(one["weight_0"], _run(tmp_path, backend, "default", 9)["weight_0"], atol=1e-5)


def test_uneven_last_training_batch_is_cut_to_a_multiple_of_the_replicas():
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices((np.arange(11.0), np.arange(11))).batch(4)
    sizes = [int(labels.shape[0]) for _, labels in distribute.for_replicas(data, 2, training=True)]
    assert sizes == [4, 4, 2]
    single = tf.data.Dataset.from_tensor_slices((np.arange(9.0), np.arange(9))).batch(4)
    assert [int(y.shape[0]) for _, y in distribute.for_replicas(single, 2, training=True)] == [4, 4]


def test_validation_batches_are_padded_with_zero_weights_and_every_clip_kept():
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices(({"a": np.arange(7.0)}, np.arange(7))).batch(4)
    batches = list(distribute.for_replicas(data, 3, training=False))
    labels = np.concatenate([np.asarray(y) for _, y, _ in batches])
    weights = np.concatenate([np.asarray(w) for _, _, w in batches])
    assert [len(np.asarray(y)) for _, y, _ in batches] == [6, 3]
    np.testing.assert_array_equal(labels[weights > 0], np.arange(7))
    np.testing.assert_allclose(weights, [1.5] * 4 + [0, 0] + [1, 1, 1])
    np.testing.assert_array_equal(np.asarray(batches[0][0]["a"]), [0, 1, 2, 3, 0, 0])


def test_one_replica_leaves_the_data_alone_and_unknown_strategies_are_named():
    data = object()
    assert distribute.for_replicas(data, 1, training=True) is data
    with pytest.raises(ValueError, match="strategy"), distribute.scope("multi_gpu"):
        pass


def _tf_config(monkeypatch, kind, index, chief=False):
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"], **({"chief": ["127.0.0.1:3"]} if chief else {})}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}}))


@pytest.mark.backend("tensorflow")  # it checks the backend first
def test_multi_worker_says_what_it_needs(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="needs TF_CONFIG on every worker"):
        distribute.multi_worker_strategy()
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="not a TensorFlow cluster configuration"):
        distribute.multi_worker_strategy()
    monkeypatch.setattr(distribute.backends, "name", lambda: "jax")
    with pytest.raises(ValueError, match="set KERAS_BACKEND=tensorflow"):
        distribute.multi_worker_strategy()


def test_the_chief_is_the_chief_task_else_worker_0(monkeypatch):
    _tf_config(monkeypatch, "worker", 0)
    assert distribute.is_chief("multi-worker")
    _tf_config(monkeypatch, "worker", 0, chief=True)
    assert not distribute.is_chief("multi-worker") and distribute.is_chief("mirrored")
    _tf_config(monkeypatch, "chief", 0, chief=True)
    assert distribute.is_chief("multi-worker")


def test_other_workers_write_in_a_temporary_copy_of_the_output_folder(monkeypatch, tmp_path):
    out = tmp_path / "out"
    (out / "fold_01" / "logs").mkdir(parents=True)
    (out / "fold_01" / "history.csv").write_text("epoch,loss\n0,1.0\n")
    _tf_config(monkeypatch, "worker", 0)
    with distribute.output_folder(out, "multi-worker") as folder:
        assert folder == str(out)
    _tf_config(monkeypatch, "worker", 1)
    with distribute.output_folder(out, "multi-worker") as folder:
        assert folder != str(out) and (tmp_path / "out" / "fold_01" / "history.csv").is_file()
        copy = os.path.join(folder, "fold_01")
        assert sorted(os.listdir(copy)) == ["history.csv"]  # TensorBoard logs are not copied
        with distribute.output_folder(copy, "multi-worker") as inner:
            assert inner == copy  # a job inside a job writes where the outer one does
        with open(os.path.join(copy, "result.json"), "w") as handle:
            handle.write("{}")
    assert not os.path.exists(folder) and not (out / "fold_01" / "result.json").exists()
