"""Starting TensorFlow without its C++ log lines on stderr, unless they are asked for.

``keras-fer`` calls :func:`start_tensorflow` once its options are parsed; ``prepare``'s spawned workers call
:func:`start_tensorflow_like_parent` so that they are as quiet as the command that started them.
"""

import contextlib
import os
import sys
import tempfile

__all__ = ["QUIET_ENV", "start_single_threaded_worker", "start_tensorflow", "start_tensorflow_like_parent",
           "stderr_held"]

#: Set to "1" by :func:`start_tensorflow` when it hid the logs: spawned worker processes inherit it.
QUIET_ENV = "KERAS_FER_QUIET_TENSORFLOW"


@contextlib.contextmanager
def stderr_held():
    """Hold what is written to file descriptor 2 (C++ logs included); replay it if the block raises."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            sys.stderr.flush()
            os.dup2(saved, 2)
            held.seek(0)
            os.write(2, held.read())
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def start_tensorflow(show_logs=False):
    """Import TensorFlow without its log lines on stderr, unless ``show_logs``.

    TF_CPP_MIN_LOG_LEVEL=3 hides TensorFlow's C++ info, warning and error lines (oneDNN, CPU features, tf.data
    buffers; on CPUs with AVX-512, oneDNN's "supports DT_HALF only on platforms with AVX-512" error line while
    a model trains on float16 features, which changes nothing); a failure still raises its Python exception.
    The lines printed before TensorFlow reads it (absl's InitializeLog notice, the CUDA stub) and the device
    probe's CUDA error are held while TensorFlow starts. A TF_CPP_MIN_LOG_LEVEL the user set is kept and
    nothing is held.
    """
    if show_logs or ("TF_CPP_MIN_LOG_LEVEL" in os.environ and os.environ.get(QUIET_ENV) != "1"):
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ[QUIET_ENV] = "1"
    with stderr_held():
        import tensorflow as tf

        tf.config.list_physical_devices()


def start_tensorflow_like_parent():
    """In a spawned worker: start TensorFlow quietly when the parent did (it needs TensorFlow too), else nothing."""
    if os.environ.get(QUIET_ENV) == "1":
        start_tensorflow()


def start_single_threaded_worker():
    """Initializer of ``keras-fer reproduce``'s spawned workers: TensorFlow started as quietly as the parent did,
    with one thread per op (the processes already share the cores). It lives here, not in keras_fer, so that
    unpickling it does not import TensorFlow (and print its log lines) before the logs are hidden."""
    start_tensorflow_like_parent()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
