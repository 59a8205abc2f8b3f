"""Killing a child process at a chosen moment, for the kill -9 resume tests."""

import signal
import time


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
