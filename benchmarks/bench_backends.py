"""Training step time of each paper's model on TensorFlow and on JAX (Keras 3 backends), side by side.

Run: ``python benchmarks/bench_backends.py [--rounds 3] [--steps 5]``. Each round runs one process per backend
(``KERAS_BACKEND`` is fixed when Keras is imported), TensorFlow and JAX taking turns so that both see the same
machine load. In each process every model is built as ``keras-fer train`` builds it (the paper recipe's
optimizer and loss; heads on cached features at the paper's feature shapes, STCAM also end to end at 32 px),
and ``train_on_batch`` on 8 random clips runs ``steps`` times after two warm-up steps (tracing and
compilation). It prints one Markdown row per model: the median step time over rounds on each backend and
the ratio JAX / TensorFlow (below 1: JAX is faster).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BATCH = 8
# (row, registry name, input, model options)
MODELS = [
    ("ast", "ast", "features", {}),
    ("ast_lstm", "ast_lstm", "features", {}),
    ("stcam head", "stcam", "features", {}),
    ("stcam end to end, 7x32x32", "stcam", "frames", {"frame_size": 32}),
    ("ecnn_fsa", "ecnn_fsa", "features", {}),
    ("ecnn_score_fusion", "ecnn_score_fusion", "features", {}),
    ("ceflnet", "ceflnet", "features", {}),
    ("ceflnet_sal", "ceflnet_sal", "features", {}),
    ("stanet", "stanet", "features", {}),
]


def _inputs(model, rng):
    shape = [BATCH] + [8 if size is None else size for size in model.inputs[0].shape[1:]]
    return rng.normal(size=shape).astype("float32") if model.inputs[0].dtype != "uint8" else \
        rng.integers(0, 256, size=shape).astype("uint8")


def worker(steps):
    """In one backend: ``{row: seconds per step}`` as JSON on stdout."""
    import keras
    import numpy as np

    import keras_fer  # noqa: F401
    from keras_fer.models import get_spec
    from keras_fer.training import recipes

    times = {}
    for row, name, input, options in MODELS:
        keras.utils.set_random_seed(0)
        recipe = recipes.get_recipe(get_spec(name).paper, batch_size=BATCH)
        model = recipes.build_model(recipe, 6, 10, model=name, input=input, **options)
        rng = np.random.default_rng(0)
        x, y = _inputs(model, rng), np.arange(BATCH) % 6
        if recipe.label_smoothing:
            y = np.eye(6, dtype="float32")[y]
        for _ in range(2):
            model.train_on_batch(x, y)
        start = time.perf_counter()
        for _ in range(steps):
            model.train_on_batch(x, y)
        times[row] = (time.perf_counter() - start) / steps
    print(json.dumps({"backend": keras.backend.backend(), "times": times}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.steps)
    results = {"tensorflow": [], "jax": []}
    for _ in range(args.rounds):
        for backend in results:
            env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
            done = subprocess.run([sys.executable, __file__, "--worker", "--steps", str(args.steps)], env=env,
                                  capture_output=True, text=True, check=False)
            if done.returncode != 0:
                sys.exit(f"{backend} worker failed:\n{done.stderr[-3000:]}")
            results[backend].append(json.loads(done.stdout.strip().splitlines()[-1])["times"])
    print(f"{os.cpu_count()} CPU cores, batch {BATCH}, median of {args.rounds} rounds of {args.steps} steps\n")
    print("| model | TensorFlow s/step | JAX s/step | JAX / TensorFlow |")
    print("|---|---|---|---|")
    for row, *_ in MODELS:
        tf_time = statistics.median(r[row] for r in results["tensorflow"])
        jax_time = statistics.median(r[row] for r in results["jax"])
        print(f"| {row} | {tf_time:.4f} | {jax_time:.4f} | {jax_time / tf_time:.2f} |")


if __name__ == "__main__":
    main()
