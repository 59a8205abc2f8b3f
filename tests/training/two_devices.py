"""Run as a script: train a small model under a strategy on two logical CPU devices; save what it learned.

``python -m tests.training.two_devices STRATEGY N OUT.npz``, with ``KERAS_BACKEND`` set: N clips train in
batches of 4, 5 others validate in one batch (odd: padded for two devices). The two devices are made before
the backend starts (TensorFlow: logical devices; JAX: ``XLA_FLAGS``), so this must be its own process.
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

from keras_fer.training import distribute  # noqa: E402


def main(strategy, n, out):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n + 5, 6)).astype("float32")
    y = rng.integers(0, 3, size=n + 5)
    keras.utils.set_random_seed(0)
    with distribute.scope(strategy) as placement:
        data = distribute.for_replicas(tf.data.Dataset.from_tensor_slices((x[:n], y[:n])).batch(4),
                                       placement.replicas, training=True)
        validation = distribute.for_replicas(tf.data.Dataset.from_tensor_slices((x[n:], y[n:])).batch(8),
                                             placement.replicas, training=False)
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])
        model.compile(keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      weighted_metrics=["accuracy"])  # as the recipes compile
        history = model.fit(data, validation_data=validation, epochs=3, verbose=0, shuffle=False).history
    weights = {f"weight_{i}": np.asarray(w) for i, w in enumerate(model.get_weights())}
    np.savez(out, replicas=placement.replicas, val_loss=history["val_loss"], val_accuracy=history["val_accuracy"],
             steps=len(list(data)), **weights)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
