"""Training throughput of two local workers (``--strategy multi-worker``) against one process, side by side.

Run: ``python benchmarks/bench_multi_worker.py [--rounds 2] [--steps 12]``. Each round trains every model
below once in one process (``default`` strategy) and once in two worker processes on loopback addresses
(``TF_CONFIG`` with ``127.0.0.1`` ports, MultiWorkerMirroredStrategy), taking turns so that both see the same
machine load. Each run builds the model as ``keras-fer train`` does (the paper recipe's optimizer and loss;
global batch 16), fits one warm-up epoch (tracing), then one timed epoch of ``steps`` global batches of
random clips through ``keras_fer.training.distribute``. It prints one Markdown row per model: the median
clips per second over rounds with one process and with two workers, and the ratio two / one (above 1: two
workers train faster).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from data_prep import cluster

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BATCH = 16
# (row, registry name, input, model options)
MODELS = [
    ("ecnn_fsa head", "ecnn_fsa", "features", {}),
    ("ast head", "ast", "features", {}),
    ("stcam end to end", "stcam", "frames", {"frame_size": 32}),
]


def worker(steps, strategy):
    """One process of a run: ``{row: clips per second}`` as JSON on stdout (from the chief)."""
    from keras_fer.training import distribute

    if strategy == "multi-worker":
        distribute.multi_worker_strategy()  # before any other TensorFlow operation
    import keras
    import numpy as np
    import tensorflow as tf

    import keras_fer  # noqa: F401
    from keras_fer.models import get_spec
    from keras_fer.training import recipes

    speeds = {}
    for row, name, input, options in MODELS:
        keras.utils.set_random_seed(0)
        recipe = recipes.get_recipe(get_spec(name).paper, batch_size=BATCH)
        with distribute.scope(strategy) as placement:
            model = recipes.build_model(recipe, 6, steps, model=name, input=input, **options)
            shape = [steps * BATCH] + [8 if size is None else size for size in model.inputs[0].shape[1:]]
            rng = np.random.default_rng(0)
            x = rng.integers(0, 256, size=shape).astype("uint8") if model.inputs[0].dtype == "uint8" else \
                rng.normal(size=shape).astype("float32")
            y = np.arange(steps * BATCH) % 6
            if recipe.label_smoothing:
                y = np.eye(6, dtype="float32")[y]
            data = distribute.for_replicas(tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH),
                                           placement.replicas, training=True)
            model.fit(data.take(2), epochs=1, verbose=0)  # tracing
            start = time.perf_counter()
            model.fit(data, epochs=1, verbose=0)
            speeds[f"{row}, input {tuple(shape[1:])}"] = steps * BATCH / (time.perf_counter() - start)
    if distribute.is_chief(strategy):
        print(json.dumps(speeds))


def _run(workers, steps):
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}
    command = [sys.executable, __file__, "--worker", "--steps", str(steps)]
    if workers == 1:
        done = subprocess.run(command + ["--strategy", "default"], env=env, capture_output=True, text=True,
                              check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])
    processes = [subprocess.Popen(command + ["--strategy", "multi-worker"], stdout=subprocess.PIPE, text=True,
                                  env={**env, "TF_CONFIG": config})
                 for config in cluster.loopback_tf_configs(workers)]
    outputs = [process.communicate()[0] for process in processes]
    if any(process.returncode for process in processes):
        raise SystemExit("a worker failed")
    return json.loads(outputs[0].strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--strategy", default="default", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.steps, args.strategy)
    results = {1: [], 2: []}
    for _ in range(args.rounds):
        for workers in results:
            results[workers].append(_run(workers, args.steps))
    print(f"{os.cpu_count()} CPU cores; global batch {BATCH}; median of {args.rounds} rounds, {args.steps} steps "
          "each\n")
    print("| model | one process, clips/s | two workers, clips/s | two / one |")
    print("|---|---|---|---|")
    for row in results[1][0]:
        one = statistics.median(run[row] for run in results[1])
        two = statistics.median(run[row] for run in results[2])
        print(f"| {row} | {one:.1f} | {two:.1f} | {two / one:.2f}x |")


if __name__ == "__main__":
    main()
