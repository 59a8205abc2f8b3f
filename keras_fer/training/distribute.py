"""Training on every device of a machine: ``--strategy default|mirrored`` of ``train``, ``cv`` and ``reproduce``.

``mirrored`` keeps one copy of the model on each local device and splits
every batch between them, with the backend's own engine:
``tf.distribute.MirroredStrategy`` on TensorFlow,
``keras.distribution.DataParallel`` on JAX. The recipe's batch size is the
global batch (each of R devices computes batch / R clips of it) and the
recipe's learning rate is kept as it is: the update is the one a single
device makes on the same global batch.

Example:

>>> with scope("mirrored") as placement:          # doctest: +SKIP
...     model = build_model(...); model.fit(...)
>>> placement.replicas                            # doctest: +SKIP
2
"""

import contextlib
import dataclasses

import keras

from keras_fer import backends

__all__ = ["STRATEGIES", "Placement", "scope"]

STRATEGIES = ("default", "mirrored")


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where a training run runs: ``strategy`` (one of :data:`STRATEGIES`), ``backend`` and ``replicas`` (the
    model copies that share each batch)."""

    strategy: str
    backend: str
    replicas: int

    def record(self):
        """The entries ``train.json`` and the results files record."""
        return dataclasses.asdict(self)


def _check(strategy):
    if strategy not in STRATEGIES:
        raise ValueError(f"`strategy` must be one of {', '.join(STRATEGIES)}; received strategy={strategy!r}")


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
    """
    if replicas == 1:
        return dataset
    import tensorflow as tf

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
