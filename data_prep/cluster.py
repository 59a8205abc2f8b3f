"""This process's share of a job split across processes or machines: ``--process-index/--num-processes``,
or TensorFlow's ``TF_CONFIG``.

A cluster job (Slurm, Kubernetes) runs the same command on every machine with
``TF_CONFIG`` set as TensorFlow documents it, e.g.
``{"cluster": {"worker": ["host0:12345", "host1:12345"]}, "task": {"type": "worker", "index": 1}}``.
``keras-fer prepare`` and ``extract`` then take the share of that task: the
chief (if the cluster names one) is process 0, the workers follow in order;
``ps`` and ``evaluator`` tasks are not counted.

Example:

>>> process_share(None, None, environ={"TF_CONFIG": '{"cluster": {"worker": ["a:1", "b:1"]}, '
...                                                  '"task": {"type": "worker", "index": 1}}'})
(1, 2)
>>> process_share(None, None, environ={})
(0, 1)
"""

import json
import os
import socket

from data_prep.checks import check_int

__all__ = ["loopback_tf_configs", "process_share"]


def _from_tf_config(text):
    try:
        config = json.loads(text)
        cluster, task = config["cluster"], config["task"]
        chiefs, workers = len(cluster.get("chief", ())), len(cluster.get("worker", ()))
        kind, index = task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"TF_CONFIG is not a TensorFlow cluster configuration ({type(error).__name__}: {error}); "
                         f'expected {{"cluster": {{"worker": [...]}}, "task": {{"type": "worker", "index": N}}}}') \
            from None
    if kind not in ("chief", "worker"):
        raise ValueError(f"TF_CONFIG: task type {kind!r} takes no share of the work (only chief and worker tasks do)")
    return (index if kind == "chief" else chiefs + index), chiefs + workers


def process_share(process_index=None, num_processes=None, environ=None):
    """``(process_index, num_processes)``: with neither given, ``TF_CONFIG``'s task if it is set, else ``(0, 1)``;
    otherwise the ones given (a missing one is 0, or 1 for ``num_processes``).

    Raises:
        ValueError: an index out of range, or an unreadable ``TF_CONFIG``.
    """
    environ = os.environ if environ is None else environ
    if process_index is None and num_processes is None:
        process_index, num_processes = _from_tf_config(environ["TF_CONFIG"]) if environ.get("TF_CONFIG") else (0, 1)
    process_index = 0 if process_index is None else process_index
    num_processes = 1 if num_processes is None else num_processes
    check_int(num_processes, "num_processes", minimum=1)
    check_int(process_index, "process_index", minimum=0)
    if process_index >= num_processes:
        raise ValueError(f"`process_index` must be < num_processes ({num_processes}); "
                         f"received process_index={process_index!r}")
    return process_index, num_processes


def loopback_tf_configs(count):
    """``count`` ``TF_CONFIG`` values, worker 0 first, for a cluster of ``count`` workers on this machine's
    loopback address (ports free when asked): a multi-worker job tried on one machine (tests, benchmarks)."""
    sockets = [socket.socket() for _ in range(check_int(count, "count", minimum=1))]
    for one in sockets:
        one.bind(("127.0.0.1", 0))
    workers = [f"127.0.0.1:{one.getsockname()[1]}" for one in sockets]
    for one in sockets:
        one.close()
    return [json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
            for index in range(count)]
