"""keras_fer.training.train.fit: selection on validation data, resume after an interruption, logs."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_fer.training import train


def _data(seed, n=32):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n).astype("int32")
    x = rng.normal(size=(n, 6)).astype("float32")
    x[np.arange(n), y] += 1.5
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(8)


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


class Interrupt(keras.callbacks.Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise KeyboardInterrupt("simulated kill")


def test_resume_continues_from_the_last_finished_epoch_and_matches_an_uninterrupted_run(tmp_path):
    train_data, validation = _data(0), _data(1)
    full = _model()
    whole = train.fit(full, train_data, validation, epochs=6, out_dir=tmp_path / "whole", verbose=0, tensorboard=False)

    model = _model()
    with pytest.raises(KeyboardInterrupt):
        train.fit(model, train_data, validation, epochs=6, out_dir=tmp_path / "cut", verbose=0, tensorboard=False,
                  callbacks=[Interrupt(at_epoch=2)])
    assert (tmp_path / "cut" / "backup").is_dir()
    # killed in epoch 3 before its row and backup were written: epochs 1-2 are kept, epoch 3 runs again
    assert len(train.read_history(tmp_path / "cut" / "history.csv")["loss"]) == 2
    resumed = train.fit(_model(), train_data, validation, epochs=6, out_dir=tmp_path / "cut", verbose=0,
                        tensorboard=False)
    assert resumed.epochs_run == 6 and not (tmp_path / "cut" / "backup").exists()
    np.testing.assert_allclose(resumed.history["loss"], whole.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(resumed.history["val_loss"], whole.history["val_loss"], rtol=1e-5)
    assert resumed.best_epoch == whole.best_epoch


def test_the_best_validation_epoch_is_selected_and_loaded(tmp_path):
    train_data, validation = _data(0), _data(1)
    model = _model()
    result = train.fit(model, train_data, validation, epochs=5, out_dir=tmp_path, monitor="val_accuracy",
                       verbose=0, tensorboard=True)
    accuracies = result.history["val_accuracy"]
    assert result.best_epoch == int(np.argmax(accuracies)) + 1  # ties: the earliest
    assert model.evaluate(validation, verbose=0, return_dict=True)["accuracy"] == pytest.approx(max(accuracies))
    assert (tmp_path / "best.weights.h5").is_file() and any((tmp_path / "logs").iterdir())


def test_without_validation_the_last_epoch_is_kept(tmp_path):
    result = train.fit(_model(), _data(0), None, epochs=3, out_dir=tmp_path, verbose=0, tensorboard=False)
    assert result.best_epoch == 3 and result.monitor is None


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="epochs"):
        train.fit(_model(), _data(0), _data(1), epochs=0, out_dir=tmp_path)
    with pytest.raises(ValueError, match="val_"):
        train.fit(_model(), _data(0), _data(1), epochs=1, out_dir=tmp_path, monitor="loss")
    with pytest.raises(ValueError, match="patience"):
        train.fit(_model(), _data(0), _data(1), epochs=1, out_dir=tmp_path, patience=0)


def test_one_training_iterator_per_epoch(tmp_path, monkeypatch):
    """Steps given to Keras: the iterator made when an epoch ends serves the next (Keras made two per epoch)."""
    train_data = _data(0)
    made = []
    original = tf.data.Dataset.__iter__

    def counting(dataset):
        if dataset is train_data:
            made.append(dataset)
        return original(dataset)

    monkeypatch.setattr(tf.data.Dataset, "__iter__", counting)
    result = train.fit(_model(), train_data, None, epochs=4, out_dir=tmp_path, verbose=0, tensorboard=False)
    assert result.epochs_run == 4 and 1 <= len(made) <= 5  # one per epoch, plus an unread one after the last


def test_known_batches():
    assert train._known_batches(_data(0)) == 4
    assert train._known_batches(_data(0).filter(lambda x, y: tf.reduce_all(y >= 0))) is None  # unknown
    assert train._known_batches(np.zeros((4, 6))) is None
    assert train._known_batches(None) is None
