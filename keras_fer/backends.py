"""The Keras backend keras-fer runs on (``KERAS_BACKEND``), and the one thing that differs between backends.

keras-fer's layers, models and training run unchanged on TensorFlow (the
default) and on JAX (``pip install "keras-fer[jax]"``, then
``KERAS_BACKEND=jax``); the ``tf.data`` readers feed both. What differs is
how an inference pass is compiled outside ``model.fit``/``predict``: a
``tf.function`` on TensorFlow, a ``jax.jit`` of ``model.stateless_call`` on
JAX (:func:`inference_function`); exporting needs TensorFlow
(:func:`require_tensorflow`). PyTorch is not supported (untested: its
Linux wheel pulls gigabytes of CUDA libraries).

Example:

>>> import keras
>>> import numpy as np
>>> from keras_fer import backends
>>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
>>> run = backends.inference_function(model)
>>> run(np.zeros((3, 4), "float32")).shape                                   # doctest: +SKIP
(3, 2)
"""

import weakref

import keras

__all__ = ["SUPPORTED", "InferenceFunction", "check_supported", "inference_function", "name", "require_tensorflow"]

SUPPORTED = ("tensorflow", "jax")


def name():
    """The Keras backend in use: ``"tensorflow"`` or ``"jax"``."""
    return keras.backend.backend()


def check_supported(what="keras-fer"):
    """Raise a ``RuntimeError`` that names the backend when it is not one keras-fer supports."""
    if name() not in SUPPORTED:
        raise RuntimeError(f"{what} runs on the Keras backends {' and '.join(SUPPORTED)}; KERAS_BACKEND is "
                           f"{name()!r}. Set KERAS_BACKEND=tensorflow or KERAS_BACKEND=jax.")


def require_tensorflow(what):
    """Raise a ``RuntimeError`` naming ``what`` when the backend is not TensorFlow.

    SavedModel, ONNX and TFLite are TensorFlow's formats. A ``.keras`` file does not depend on the backend it
    was trained on, so a JAX-trained model exports from a TensorFlow process: ``keras-fer export`` always runs
    on TensorFlow.
    """
    if name() != "tensorflow":
        raise RuntimeError(f"{what} needs the TensorFlow backend; KERAS_BACKEND is {name()!r}. Save the model "
                           "(.keras files do not depend on the backend) and export it with KERAS_BACKEND=tensorflow, "
                           "or use `keras-fer export`, which always runs on TensorFlow.")


class InferenceFunction:
    """``forward(call, x)`` compiled for the backend, where ``call(y)`` is ``model(y, training=False)``.

    Called with a NumPy batch, it returns the backend's arrays (``np.asarray`` reads them). The model is held
    weakly: the compiled function does not keep it alive.

    Args:
        model: a ``keras.Model``.
        forward: ``forward(call, x) -> outputs`` using ``keras.ops`` only; None: ``call(x)``.
        jit_compile: XLA compilation on TensorFlow (JAX always compiles with XLA).
        input_signature: TensorFlow's ``[tf.TensorSpec]`` to trace once; None: retrace per new input shape.
            Ignored on JAX, which traces once per input shape anyway.
    """

    def __init__(self, model, forward=None, *, jit_compile=False, input_signature=None):
        check_supported()
        forward = forward or (lambda call, x: call(x))
        model_ref = weakref.ref(model)
        self._model_ref, self._jax = model_ref, None
        if name() == "jax":
            import jax

            def stateless(trainable, non_trainable, x):
                def call(y):
                    return model_ref().stateless_call(trainable, non_trainable, y, training=False)[0]

                return forward(call, x)

            self._jax = jax
            self._function = jax.jit(stateless)
        else:
            import tensorflow as tf

            def traced(x):
                return forward(lambda y: model_ref()(y, training=False), x)

            self._function = tf.function(traced, input_signature=input_signature, jit_compile=jit_compile,
                                         reduce_retracing=input_signature is None, autograph=False)

    def _state(self):
        model = self._model_ref()
        return ([v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables])

    def __call__(self, x):
        if self._jax is not None:
            return self._function(*self._state(), x)
        return self._function(x)

    def output_shapes(self, shape, dtype):
        """The outputs' shapes (a structure like the outputs) for an input of ``shape`` and ``dtype``, traced
        once without computing."""
        if self._jax is not None:
            spec = self._jax.ShapeDtypeStruct(shape, dtype)
            outputs = self._jax.eval_shape(self._function, *self._state(), spec)
        else:
            import tensorflow as tf

            outputs = self._function.get_concrete_function(tf.TensorSpec(shape, dtype)).structured_outputs
        return keras.tree.map_structure(lambda output: tuple(output.shape), outputs)


def inference_function(model, forward=None, **options):
    """:class:`InferenceFunction` of ``model``: an inference pass compiled once per input shape."""
    return InferenceFunction(model, forward, **options)
