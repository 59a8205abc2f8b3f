"""Training on every device of a machine, or of several: ``--strategy default|mirrored|multi-worker`` of
``train``, ``cv`` and ``reproduce``.

``mirrored`` keeps one copy of the model on each local device and splits
every batch between them, with the backend's own engine:
``tf.distribute.MirroredStrategy`` on TensorFlow,
``keras.distribution.DataParallel`` on JAX. ``multi-worker`` does the same
across machines with ``tf.distribute.MultiWorkerMirroredStrategy``
(TensorFlow only), configured by ``TF_CONFIG`` as TensorFlow documents it:
every machine runs the same command. The recipe's batch size is the
global batch (each of R devices computes batch / R clips of it) and the
recipe's learning rate is kept as it is: the update is the one a single
device makes on the same global batch.

In a multi-worker job the chief (the ``chief`` task, else worker 0) writes
the outputs; every other worker runs the same job in a temporary copy of
the output folder (:func:`output_folder`), so that it resumes from the same
state as the chief, and removes the copy at the end. The output folder must
therefore be on a file system that every worker sees.

Example:

>>> with scope("mirrored") as placement:          # doctest: +SKIP
...     model = build_model(...); model.fit(...)
>>> placement.replicas                            # doctest: +SKIP
2
"""

import contextlib
import dataclasses
import os
import shutil
import tempfile

import keras

from data_prep import cluster
from keras_fer import backends, keras_private

__all__ = ["STRATEGIES", "Placement", "is_chief", "multi_worker_strategy", "output_folder", "scope"]

STRATEGIES = ("default", "mirrored", "multi-worker")


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where a training run runs: ``strategy`` (one of :data:`STRATEGIES`), ``backend``, ``replicas`` (the
    model copies that share each batch, over all workers) and ``workers`` (the processes, one per machine)."""

    strategy: str
    backend: str
    replicas: int
    workers: int = 1

    def record(self):
        """The entries ``train.json`` and the results files record."""
        return dataclasses.asdict(self)


def _check(strategy):
    if strategy not in STRATEGIES:
        raise ValueError(f"`strategy` must be one of {', '.join(STRATEGIES)}; received strategy={strategy!r}")


_multi_worker = None


def multi_worker_strategy():
    """This process's ``tf.distribute.MultiWorkerMirroredStrategy``, made from ``TF_CONFIG`` on the first call.

    TensorFlow configures its collective operations when the strategy is
    made, which must come before any other TensorFlow operation of the
    process: ``keras-fer`` calls this first thing for ``--strategy
    multi-worker``, and a Python program must too.

    Raises:
        ValueError: not on the TensorFlow backend, no ``TF_CONFIG``, or TensorFlow already started.
    """
    global _multi_worker
    if _multi_worker is not None:
        return _multi_worker
    backends.check_supported()
    if backends.name() != "tensorflow":
        raise ValueError(f"--strategy multi-worker trains with TensorFlow's MultiWorkerMirroredStrategy; this "
                         f"process runs Keras on {backends.name()!r}: set KERAS_BACKEND=tensorflow")
    if not os.environ.get("TF_CONFIG"):
        raise ValueError('--strategy multi-worker needs TF_CONFIG on every worker, e.g. {"cluster": {"worker": '
                         '["host0:12345", "host1:12345"]}, "task": {"type": "worker", "index": 0}} '
                         "(docs/backends.md, Several machines)")
    cluster.process_share()  # a readable TF_CONFIG, or a ValueError that says what is wrong
    import tensorflow as tf

    try:
        _multi_worker = tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as error:
        raise ValueError(f"--strategy multi-worker: {error}; make the strategy (keras_fer.training.distribute."
                         "multi_worker_strategy()) before any other TensorFlow operation of the process") from None
    return _multi_worker


def is_chief(strategy="default"):
    """False only in a multi-worker job's workers other than the chief (they write no outputs)."""
    _check(strategy)
    return strategy != "multi-worker" or cluster.process_share()[0] == 0


_in_output_folder = False


@contextlib.contextmanager
def output_folder(out_dir, strategy="default"):
    """The folder this process writes a job's outputs into: ``out_dir``, except on a multi-worker job's
    workers other than the chief, where it is a temporary copy of ``out_dir`` (what an interrupted job left
    there: every worker must resume from the same epoch; TensorBoard logs are not copied), removed on exit.
    Inside another ``output_folder`` it is ``out_dir`` itself."""
    global _in_output_folder
    out_dir = os.fspath(out_dir)
    if _in_output_folder or is_chief(strategy):
        yield out_dir
        return
    scratch = tempfile.mkdtemp(prefix="keras-fer-worker-")
    copy = os.path.join(scratch, "out")
    if os.path.isdir(out_dir):
        shutil.copytree(out_dir, copy, ignore=shutil.ignore_patterns("logs"))
    _in_output_folder = True
    try:
        yield copy
    finally:
        _in_output_folder = False
        shutil.rmtree(scratch, ignore_errors=True)


@contextlib.contextmanager
def scope(strategy="default"):
    """Build, compile and fit the model inside this context to train it under ``strategy``; yields the
    :class:`Placement`.

    Raises:
        ValueError: an unknown strategy.
    """
    _check(strategy)
    backends.check_supported()
    backend = backends.name()
    if strategy == "default":
        yield Placement(strategy, backend, 1)
    elif backend == "jax":
        devices = keras.distribution.list_devices()
        previous = keras.distribution.distribution()
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        try:
            yield Placement(strategy, backend, len(devices))
        finally:
            keras.distribution.set_distribution(previous)
    elif strategy == "multi-worker":
        workers = multi_worker_strategy()
        with workers.scope(), keras_private.multi_worker_fit():
            yield Placement(strategy, backend, workers.num_replicas_in_sync, cluster.process_share()[1])
    else:
        import tensorflow as tf

        mirrored = tf.distribute.MirroredStrategy()
        with mirrored.scope():
            yield Placement(strategy, backend, mirrored.num_replicas_in_sync)


def for_replicas(dataset, replicas, *, training):
    """``dataset`` of ``(inputs, labels)`` batches made to split evenly over ``replicas`` devices.

    Both backends need a batch whose size is a multiple of the replicas (JAX
    refuses another; TensorFlow would weight an uneven split's samples
    unequally). Training batches are cut to the nearest multiple below (at
    most ``replicas - 1`` clips of an epoch's last batch are left out, other
    ones each epoch as the readers shuffle per epoch). Validation batches are
    padded instead, with copies of their first clip weighted 0 and the real
    clips weighted ``padded / real``, so that no clip is lost and the mean
    loss and the metrics are those of the real clips; they yield
    ``(inputs, labels, weights)``. With one replica ``dataset`` is returned
    unchanged.

    Across workers the dataset is sharded by data, said explicitly
    (``AutoShardPolicy.DATA``): every worker reads the same seeded order and
    keeps its own replicas' part of each global batch, so that an epoch sees
    every clip once over all workers and every worker runs the same number
    of steps. Sharding by file would not: a fold's clips are spread unevenly
    over a cache's shard files, and the readers shuffle over all of them.
    """
    if replicas == 1:
        return dataset
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    dataset = dataset.with_options(options)

    def size(labels):
        return tf.shape(labels)[0]

    if training:
        def cut(inputs, labels):
            keep = size(labels) - size(labels) % replicas
            return tf.nest.map_structure(lambda t: t[:keep], (inputs, labels))

        return dataset.map(cut).filter(lambda inputs, labels: size(labels) > 0)

    def pad(inputs, labels):
        real = size(labels)
        padded = (real + replicas - 1) // replicas * replicas
        repeat = tf.zeros([padded - real], tf.int32)

        def extend(t):
            return tf.concat([t, tf.gather(t, repeat)], axis=0)

        weights = tf.concat([tf.fill([real], tf.cast(padded, tf.float32) / tf.cast(real, tf.float32)),
                             tf.zeros([padded - real])], axis=0)
        return tf.nest.map_structure(extend, inputs), extend(labels), weights

    return dataset.map(pad)
