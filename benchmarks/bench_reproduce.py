"""``keras-fer reproduce`` on the synthetic benchmark: rows trained in one process vs in 2 worker processes.

Run: ``python benchmarks/bench_reproduce.py [PAPER]`` (default ``ast``: 5 rows, two of them end to end). The
synthetic data is rendered, prepared and cached once, outside the timings; both runs then train the same rows
(same seeds, same folds) into fresh folders, one after the other in this run, and the script prints the wall
times, their ratio and the largest difference between the two runs' accuracies.
"""

import os
import shutil
import sys
import tempfile
import time

from keras_fer.jobs.reproduce import SYNTHETIC_PLANS, reproduce, synthetic_data


def main(paper="ast"):
    root = tempfile.mkdtemp(prefix="bench_reproduce_")
    try:
        mode = SYNTHETIC_PLANS[paper].mode
        data = os.path.join(root, "data", mode)
        synthetic_data(data, mode)
        times, accuracies = {}, {}
        for workers in (1, 2):
            out = os.path.join(root, f"workers_{workers}")
            shutil.copytree(os.path.join(root, "data"), os.path.join(out, "data"))  # reused, not timed
            start = time.perf_counter()
            results = reproduce(out, paper=paper, workers=workers)
            times[workers] = time.perf_counter() - start
            accuracies[workers] = [row["summary"]["accuracy"]["mean"] for row in results["papers"][paper]["rows"]
                                   if "summary" in row]
        difference = max(abs(a - b) for a, b in zip(accuracies[1], accuracies[2]))
        print(f"{paper}: {len(accuracies[1])} rows; 1 process {times[1]:.0f} s, 2 workers {times[2]:.0f} s, "
              f"ratio {times[1] / times[2]:.2f}; largest accuracy difference {difference:.3f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
