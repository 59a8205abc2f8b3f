"""Fit a compiled model with honest checkpoint selection, resume after an interruption, and logs.

:func:`fit` wraps ``model.fit`` with the callbacks every run of ``keras-fer
train``/``cv``/``reproduce`` needs, all writing into one output folder:

| file | written by | for |
|---|---|---|
| ``backup/`` | ``keras.callbacks.BackupAndRestore`` | resume: a rerun after a crash or kill continues from the last finished epoch |
| ``history.csv`` | ``keras.callbacks.CSVLogger`` (appending) | per-epoch metrics of the whole run, resumed parts included |
| ``best.weights.h5`` | :class:`SelectBest` | the weights of the epoch chosen on the validation data |
| ``logs/`` | ``keras.callbacks.TensorBoard`` | ``tensorboard --logdir OUT/logs`` |

Model selection uses ``validation_data`` only (``monitor`` is a ``val_``
metric): the test side of a fold never reaches :func:`fit`. Without
validation data the last epoch is kept.

Example:

>>> result = fit(model, train, validation, epochs=30, out_dir="runs/fold0")   # doctest: +SKIP
>>> result.best_epoch, result.history["val_loss"][result.best_epoch - 1]         # doctest: +SKIP
(17, 0.41)
"""  # noqa: E501

import csv
import dataclasses
import math
import os

import keras
import numpy as np

from data_prep.checks import check_int
from data_prep.files import atomic_path

__all__ = ["EpochRandomness", "FitResult", "ResumedEarlyStopping", "SelectBest", "fit", "read_history"]

BEST_WEIGHTS = "best.weights.h5"
HISTORY = "history.csv"


@dataclasses.dataclass
class FitResult:
    """What :func:`fit` did.

    Attributes:
        history: metric name -> per-epoch values of the whole run (resumed parts included), as ``History.history``.
        best_epoch: the 1-based epoch whose weights the model holds (chosen on validation data), or the last epoch.
        monitor: the metric that chose it (None without validation data).
        epochs_run: epochs finished (fewer than asked when early stopping ended the run).
    """

    history: dict
    best_epoch: int
    monitor: object
    epochs_run: int


def _better(mode):
    return (lambda new, old: new < old) if mode == "min" else (lambda new, old: new > old)


def _mode(monitor, mode):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"`mode` must be 'auto', 'min' or 'max'; received mode={mode!r}")
    if mode != "auto":
        return mode
    return "min" if "loss" in monitor else "max"


def read_history(path):
    """Per-epoch metrics from a ``CSVLogger`` file, as ``History.history``.

    A rerun epoch replaces its earlier row; columns with no value (``NA``: ``val_`` metrics of a run without
    validation data) are left out.
    """
    if not os.path.isfile(path):
        return {}
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    by_epoch = {}
    for row in rows:
        by_epoch[int(row.pop("epoch"))] = row  # a row written twice (killed between two callbacks): keep the last
    history = {}
    for epoch in sorted(by_epoch):
        for key, value in by_epoch[epoch].items():
            history.setdefault(key, []).append(float(value) if value not in ("", "NA", None) else math.nan)
    return {key: values for key, values in history.items() if not all(math.isnan(v) for v in values)}


def _selected(history, monitor, mode):
    """(1-based epoch, value) of the best ``monitor`` value; ties go to the earliest epoch."""
    values = np.asarray(history.get(monitor, []), dtype=float)
    if values.size == 0 or np.all(np.isnan(values)):
        return None, None
    filled = np.where(np.isnan(values), np.inf if mode == "min" else -np.inf, values)
    index = int(np.argmin(filled) if mode == "min" else np.argmax(filled))
    return index + 1, float(values[index])


class SelectBest(keras.callbacks.Callback):
    """Save the weights whenever the validation ``monitor`` improves (strictly: ties keep the earlier epoch).

    Unlike ``ModelCheckpoint``, the best value so far survives a resume: it is
    taken from the interrupted run's values (``history``, from ``history.csv``)
    of the epochs before the first one this run trains (a row of an epoch that
    is run again, killed before its backup, does not count).

    Args:
        path: the weights file (``.weights.h5``), written to a temporary name and renamed.
        monitor: a ``val_`` metric of ``logs``.
        mode: ``"min"`` or ``"max"``.
        history: the ``monitor`` values of the interrupted run, epoch by epoch (empty for a fresh run).
    """

    def __init__(self, path, monitor, mode, history=()):
        super().__init__()
        self.path, self.monitor, self.mode, self.history = path, monitor, mode, list(history)
        self.best = None
        self._better = _better(mode)
        self._started = False

    def on_train_begin(self, logs=None):
        self._started = False

    def on_epoch_begin(self, epoch, logs=None):
        if not self._started:
            self._started = True
            _, self.best = _selected({self.monitor: self.history[:epoch]}, self.monitor, self.mode)

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise ValueError(f"SelectBest: the epoch's logs have no {self.monitor!r} (they have {sorted(logs or {})}); "
                             "pass validation data, or monitor a metric the model computes.")
        value = float(value)
        if math.isnan(value) or (self.best is not None and not self._better(value, self.best)):
            return
        self.best = value
        with atomic_path(self.path, suffix=".weights.h5") as partial:
            self.model.save_weights(partial)


def _epoch_state(initial, epoch):
    """A seed generator's state at the start of ``epoch``: ``[a, b + epoch * 2**32]`` for TensorFlow's int64
    state, ``[a, b + epoch * 2**20]`` (modulo 2**32) for JAX's uint32 one (each dropout call adds 1 to ``b``: an
    epoch of fewer than 2**20 calls has its own seeds)."""
    shift = 32 if np.iinfo(initial.dtype).bits == 64 else 20
    step = (epoch << shift) % (1 << np.iinfo(initial.dtype).bits)
    return initial + np.asarray([0, step], initial.dtype)  # unsigned arithmetic wraps


class EpochRandomness(keras.callbacks.Callback):
    """Makes an epoch's randomness a function of its number, so that a resumed run repeats the uninterrupted one.

    ``BackupAndRestore`` saves the weights and the optimizer, not the
    readers' pass count nor the model's ``SeedGenerator`` states (dropout):
    a process restarted at epoch k would draw epoch 0's data and masks again.
    Before each epoch this sets ``epoch`` (the int64 ``tf.Variable`` given
    to the readers as their ``epoch``; see
    :func:`keras_fer.data.pipeline.per_epoch`) to the epoch, and every seed
    generator of the model to its state at the start of training offset by
    the epoch (:func:`_epoch_state`: an epoch's own stream of seeds).

    Args:
        epoch: the readers' epoch variable, or None (seed generators only).
    """

    def __init__(self, epoch=None):
        super().__init__()
        self.epoch = epoch
        self._initial = None

    def on_train_begin(self, logs=None):
        generators = [v for v in self.model.variables if v.name == "seed_generator_state"]
        self._initial = [(v, keras.ops.convert_to_numpy(v.value)) for v in generators]

    def on_epoch_begin(self, epoch, logs=None):
        if self.epoch is not None:
            self.epoch.assign(epoch)
        for variable, initial in self._initial:
            variable.assign(_epoch_state(initial, epoch))


class ResumedEarlyStopping(keras.callbacks.EarlyStopping):
    """``EarlyStopping`` whose count survives a resume: before the first epoch it runs, it replays the ``monitor``
    values of the epochs before it (``history``: the values of the interrupted run, from ``history.csv``)."""

    def __init__(self, monitor, mode, patience, history):
        super().__init__(monitor=monitor, mode=mode, patience=patience)
        self.history = list(history)
        self._replayed = False

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._replayed = False

    def on_epoch_begin(self, epoch, logs=None):
        if not self._replayed:  # ``epoch`` is where BackupAndRestore resumed: later rows are rerun
            self._replayed = True
            for done, value in enumerate(self.history[:epoch]):
                self.on_epoch_end(done, {self.monitor: value})


def _known_batches(data):
    """The batches of one pass of ``data`` when it is a ``tf.data.Dataset`` that knows them, else None."""
    cardinality = getattr(data, "cardinality", None)
    batches = int(cardinality()) if callable(cardinality) else -1
    return batches if batches > 0 else None


def fit(model, train_data, validation_data=None, *, epochs, out_dir, monitor="val_loss", mode="auto", patience=None,
        tensorboard=True, verbose="auto", class_weight=None, callbacks=None, epoch=None):
    """Train ``model`` (compiled) into ``out_dir``; returns a :class:`FitResult` and leaves the selected weights loaded.

    A rerun with the same ``out_dir`` after an interruption resumes from the
    last finished epoch (``BackupAndRestore``); a finished run is not
    repeated: its backup is gone, so call :func:`fit` only for unfinished work
    (``keras-fer cv`` skips folds whose results exist).

    Args:
        model: a compiled ``keras.Model``.
        train_data: a ``tf.data.Dataset`` (or anything ``model.fit`` takes as ``x`` with labels inside).
        validation_data: data for model selection (never the test fold), or None (keep the last epoch).
        epochs: int >= 1.
        out_dir: folder for the backup, ``history.csv``, ``best.weights.h5`` and TensorBoard ``logs/``.
        monitor: the validation metric that selects the epoch (default ``val_loss``: smoother than accuracy on
            the small validation splits carved from FER training folds).
        mode: ``"auto"`` (``min`` for losses, else ``max``), ``"min"`` or ``"max"``.
        patience: None, or stop after this many epochs without improvement (:class:`ResumedEarlyStopping`:
            its count goes on after a resume).
        tensorboard: write TensorBoard logs.
        verbose: Keras's ``verbose`` (``"auto"``: progress bars).
        class_weight: passed to ``model.fit``.
        callbacks: more Keras callbacks (run before the backup is saved).
        epoch: the int64 ``tf.Variable`` that ``train_data``'s readers take as their ``epoch``, or None; set to
            each epoch's number before its batches are read (:class:`EpochRandomness`), so that a resumed run
            sees the data of the uninterrupted one.

    Raises:
        ValueError: bad arguments.
    """
    epochs = check_int(epochs, "epochs", minimum=1)
    if patience is not None:
        patience = check_int(patience, "patience", minimum=1)
    if validation_data is not None and not monitor.startswith("val_"):
        raise ValueError(f"`monitor` must be a validation metric ('val_...') so that selection never sees training "
                         f"or test data; received monitor={monitor!r}")
    mode = _mode(monitor, mode)
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    history_path = os.path.join(out_dir, HISTORY)
    best_path = os.path.join(out_dir, BEST_WEIGHTS)
    backup_dir = os.path.join(out_dir, "backup")
    if not os.path.isdir(backup_dir):  # a fresh start (no backup to resume from): old files are not this run's
        for stale in (history_path, best_path):
            if os.path.exists(stale):
                os.remove(stale)
    previous = read_history(history_path)

    callbacks = [EpochRandomness(epoch)] + list(callbacks or []) + [keras.callbacks.CSVLogger(history_path,
                                                                                               append=True)]
    if validation_data is not None:
        callbacks.append(SelectBest(best_path, monitor, mode, previous.get(monitor, [])))
        if patience is not None:
            callbacks.append(ResumedEarlyStopping(monitor, mode, patience, previous.get(monitor, [])))
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(os.path.join(out_dir, "logs"), write_graph=False))
    callbacks.append(keras.callbacks.BackupAndRestore(backup_dir))  # last: saves after the epoch's row is written

    # Steps given: Keras keeps the iterator it makes when an epoch ends for the next epoch, instead of making
    # another at the start (one tf.data iterator per epoch, not two; BENCHMARKS.md, "keras-fer reproduce").
    model.fit(train_data, validation_data=validation_data, epochs=epochs, callbacks=callbacks, verbose=verbose,
              class_weight=class_weight, shuffle=False,  # the tf.data readers shuffle, seeded
              steps_per_epoch=_known_batches(train_data), validation_steps=_known_batches(validation_data))
    history = read_history(history_path)
    epochs_run = len(next(iter(history.values()), []))
    if validation_data is None:
        return FitResult(history=history, best_epoch=epochs_run, monitor=None, epochs_run=epochs_run)
    best_epoch, _ = _selected(history, monitor, mode)
    if best_epoch is None or not os.path.isfile(best_path):
        raise ValueError(f"fit: {monitor!r} was never finite in {history_path}; no epoch can be selected.")
    model.load_weights(best_path)
    return FitResult(history=history, best_epoch=best_epoch, monitor=monitor, epochs_run=epochs_run)
