"""Killing a child process at a chosen moment, and comparing what the resumed run learned, for the kill -9
resume tests."""

import os
import signal
import time

import numpy as np

from keras_fer.training import train


def kill_when(process, ready, timeout):
    """SIGKILL ``process`` (a ``subprocess.Popen`` with ``stderr=PIPE``) once ``ready()`` is true, polled until
    ``timeout`` seconds; fail with its stderr when it ended before."""
    deadline = time.time() + timeout
    try:
        while time.time() < deadline and process.poll() is None:
            if ready():
                break
            time.sleep(0.02)
        assert process.poll() is None, process.stderr.read().decode()[-3000:]
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()


def same_history(resumed_dir, whole_dir):
    """The ``history.csv`` of the resumed run in ``resumed_dir`` is the uninterrupted run's, epoch by epoch."""
    resumed = train.read_history(os.path.join(resumed_dir, train.HISTORY))
    whole = train.read_history(os.path.join(whole_dir, train.HISTORY))
    assert sorted(resumed) == sorted(whole) and len(whole["loss"]) > 0
    for key in whole:
        np.testing.assert_allclose(resumed[key], whole[key], rtol=1e-4, atol=1e-6, err_msg=key)
