"""``keras-fer --help`` and friends: wall time and stderr lines, before and after the TensorFlow-free entry point.

Run: ``python benchmarks/bench_cli_startup.py [--before 8f9fb7c] [--repeats 5]``. ``--before`` is a revision of this
repository (default: the last commit whose console script imported TensorFlow first); its ``keras_fer`` and
``data_prep`` are extracted with ``git archive`` into a temporary folder. Each case runs the ``keras-fer`` entry point
named in that tree's ``setup.cfg`` in a fresh ``python -c`` process (PYTHONPATH = that tree, TF_CPP_MIN_LOG_LEVEL
unset, as in a user's shell), before and after taking turns so that both see the same machine load; ``prepare``
(Haar on one real CREMA-D clip) writes into a fresh temporary folder each run. It prints one Markdown row per
command: median and slowest wall seconds and stderr lines, before and after.
"""

import argparse
import configparser
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIP = os.path.join(ROOT, "tests", "fixtures", "real_faces", "crema-d", "1001_DFA_ANG_XX.flv")
# {out}: a fresh folder for each run.
CASES = [["--help"], ["train", "--help"], ["predict", "--help"], ["list-models"],
         ["prepare", "--input", CLIP, "--detector", "haar", "--no-progress", "--out", "{out}"]]


def entry_point(tree):
    """``(module, function)`` of the ``keras-fer`` console script in ``tree``'s setup.cfg."""
    setup = configparser.ConfigParser()
    setup.read(os.path.join(tree, "setup.cfg"))
    for line in setup["options.entry_points"]["console_scripts"].splitlines():
        name, _, target = line.partition(" = ")
        if name == "keras-fer":
            return tuple(target.split(":"))
    raise ValueError(f"{tree}/setup.cfg: no keras-fer console script")


def timed(tree, argv):
    """Wall seconds and stderr lines of ``keras-fer ARGV`` run from ``tree``."""
    module, function = entry_point(tree)
    code = f"import sys, {module}\nsys.exit({module}.{function}(sys.argv[1:]))"
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = tree
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", code, *(arg.replace("{out}", out) for arg in argv)],
                              capture_output=True, text=True, env=env, cwd=tree)
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"keras-fer {' '.join(argv)} in {tree} failed:\n{done.stderr}")
    return seconds, len(done.stderr.splitlines())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="8f9fb7c", help="revision before the change (default 8f9fb7c)")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each case and tree (default 5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as before:
        archive = subprocess.run(["git", "-C", ROOT, "archive", args.before, "keras_fer", "data_prep", "setup.cfg"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", before], input=archive, check=True)
        print(f"before: {args.before} ({'.'.join(entry_point(before))}); after: working tree "
              f"({'.'.join(entry_point(ROOT))}); {args.repeats} runs each, {os.cpu_count()} CPUs")
        print("| command | before: median s | before: max s | before: stderr lines | after: median s | "
              "after: max s | after: stderr lines |")
        print("|---|---|---|---|---|---|---|")
        for argv in CASES:
            runs = {before: [], ROOT: []}
            for _ in range(args.repeats):
                for tree in runs:
                    runs[tree].append(timed(tree, argv))
            cells = []
            for tree in (before, ROOT):
                seconds, lines = [s for s, _ in runs[tree]], [n for _, n in runs[tree]]
                cells += [f"{statistics.median(seconds):.2f}", f"{max(seconds):.2f}", str(max(lines))]
            shown = " ".join(os.path.relpath(arg, ROOT) if arg == CLIP else arg for arg in argv)
            print(f"| `keras-fer {shown}` | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
