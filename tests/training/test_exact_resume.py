"""fit: a run interrupted and resumed in a fresh model and reader ends as the uninterrupted run (data and dropout)."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_fer.data.sources import ArraySource
from keras_fer.training import train
from tests.training.test_train import Interrupt


def _source():
    rng = np.random.default_rng(0)
    labels = np.arange(48) % 3
    inputs = rng.normal(size=(48, 6)).astype("float32")
    inputs[np.arange(48), labels] += 1.5
    return ArraySource(inputs, labels, [f"v{i}" for i in range(48)], [""] * 48, ["a", "b", "c"], input="features")


def _run(out_dir, callbacks=()):
    """A fresh process's view: model and reader made anew (same seed), then fit into ``out_dir``."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dropout(0.5),
                              keras.layers.Dense(3)])
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    source, epoch = _source(), tf.Variable(0, dtype=tf.int64)
    train_data = source.dataset(None, training=True, batch_size=8, seed=4, epoch=epoch)
    validation = source.dataset(None, training=False, batch_size=8)
    result = train.fit(model, train_data, validation, epochs=6, out_dir=out_dir, verbose=0, tensorboard=False,
                       callbacks=list(callbacks), epoch=epoch)
    return model, result


def test_a_resumed_run_is_the_uninterrupted_run(tmp_path):
    whole_model, whole = _run(tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "cut", [Interrupt(at_epoch=2)])
    model, resumed = _run(tmp_path / "cut")
    assert resumed.epochs_run == 6
    np.testing.assert_allclose(resumed.history["loss"], whole.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(resumed.history["val_loss"], whole.history["val_loss"], rtol=1e-5)
    assert resumed.best_epoch == whole.best_epoch
    for mine, theirs in zip(model.get_weights(), whole_model.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)


def test_epoch_randomness_sets_the_readers_epoch_and_the_dropout_seeds():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dropout(0.5)])
    epoch = tf.Variable(0, dtype=tf.int64)
    callback = train.EpochRandomness(epoch)
    callback.set_model(model)
    callback.on_train_begin()
    state = next(v for v in model.variables if v.name == "seed_generator_state")
    start = state.numpy().copy()
    model(np.ones((2, 4), "float32"), training=True)  # draws: the state moves on
    callback.on_epoch_begin(3)
    assert int(epoch.numpy()) == 3
    shift = 32 if start.dtype.itemsize == 8 else 20  # TensorFlow's int64 state, JAX's uint32 one
    np.testing.assert_array_equal(state.numpy(), start + np.array([0, 3 << shift], start.dtype))


def test_early_stopping_count_goes_on_after_a_resume():
    values = [1.0, 0.8, 0.9, 0.95, 0.85]  # best at epoch 2, then 3 epochs without improvement
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.stop_training = False
    whole = keras.callbacks.EarlyStopping(monitor="val_loss", mode="min", patience=4)
    whole.set_model(model)
    whole.on_train_begin()
    for epoch, value in enumerate(values[:3]):
        whole.on_epoch_end(epoch, {"val_loss": value})
    # killed after epoch 4's row was written but before its backup: the rerun starts at epoch index 3
    resumed = train.ResumedEarlyStopping("val_loss", "min", 4, values[:4])
    resumed.set_model(model)
    resumed.on_train_begin()
    resumed.on_epoch_begin(3)
    assert (resumed.wait, resumed.best, resumed.best_epoch) == (whole.wait, whole.best, whole.best_epoch) == (1, 0.8, 1)
    for callback in (whole, resumed):
        for epoch, value in enumerate(values[3:], 3):
            callback.on_epoch_end(epoch, {"val_loss": value})
        assert callback.wait == 3 and not model.stop_training
    resumed.on_epoch_end(5, {"val_loss": 0.9})
    assert model.stop_training  # four epochs without improvement, as in the uninterrupted run


def test_a_rerun_epoch_is_selected_again(tmp_path):
    """Killed after epoch 2's row but before its weights and backup: the rerun epoch 2 (same value) is saved."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    path = str(tmp_path / "best.weights.h5")
    select = train.SelectBest(path, "val_loss", "min", history=[1.0, 0.5])
    select.set_model(model)
    select.on_train_begin()
    select.on_epoch_begin(1)
    assert select.best == 1.0
    select.on_epoch_end(1, {"val_loss": 0.5})
    assert select.best == 0.5 and (tmp_path / "best.weights.h5").is_file()
