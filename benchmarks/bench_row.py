"""One row of ``keras-fer reproduce`` on the synthetic benchmark, timed in one TensorFlow thread (as in a worker).

Run: ``python benchmarks/bench_row.py [MODEL [PAPER]]`` (default ``ecnn_fsa_s006`` of ``ecnn_fsa``). The data
are rendered, prepared and cached under ``--data`` first (reused by a rerun, not timed). It prints the row's
seconds, its accuracy, and how many tf.data iterators Keras made (``iter`` on a dataset) and the seconds spent
making them. Compare two versions of the code by running it on each, one after the other.
"""

import argparse
import shutil
import tempfile
import time

import tensorflow as tf


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", default="ecnn_fsa_s006")
    parser.add_argument("paper", nargs="?", default="ecnn_fsa")
    parser.add_argument("--data", default="/tmp/keras_fer_bench_synthetic", help="synthetic data folder (reused)")
    parser.add_argument("--epochs", type=int, help="epochs of the row (default: the synthetic plan's)")
    args = parser.parse_args(argv)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from keras_fer.jobs import reproduce

    folders = reproduce.stand_in_caches(reproduce.synthetic_data(args.data, "macro"), [args.model])
    made = [0, 0.0]
    original = tf.data.Dataset.__iter__

    def counted(dataset):
        started = time.perf_counter()
        iterator = original(dataset)
        made[0], made[1] = made[0] + 1, made[1] + time.perf_counter() - started
        return iterator

    tf.data.Dataset.__iter__ = counted
    out_dir = tempfile.mkdtemp(prefix="bench_row_")
    try:
        job = dict(paper=args.paper, model=args.model, dataset="synthetic", quick=False, epochs=args.epochs,
                   folders=folders, out_dir=out_dir, verbose=0, seed=0, strategy="default", features=None,
                   data_root=None)
        started = time.perf_counter()
        row = reproduce._run_job(job)
        seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    accuracy = row["summary"]["accuracy"]
    print(f"{args.model}: {seconds:.1f} s, accuracy {accuracy['mean']:.4f} over {accuracy['n_folds']} folds; "
          f"{made[0]} iterators made in {made[1]:.1f} s", flush=True)


if __name__ == "__main__":
    main()
