"""The console script starts at once: --help without TensorFlow, and no TensorFlow log lines unless asked for."""
import configparser
import os
import pathlib
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest

import keras_fer_cli
from data_prep.faces import DETECTORS
from data_prep.sampling import SAMPLERS
from data_prep.tensorflow_logs import QUIET_ENV, start_tensorflow, stderr_held
from keras_fer import cli
from keras_fer.export import FORMATS
from keras_fer.models import get_spec, list_models
from keras_fer.stems.registry import list_stems

ROOT = pathlib.Path(__file__).resolve().parents[2]
REAL_FACES = ROOT / "tests" / "fixtures" / "real_faces"
COMMANDS = ["list-layers", "list-models", "prepare", "extract", "flow", "train", "cv", "evaluate", "reproduce",
            "predict", "export"]


def _entry_point():
    """``module:function`` of the ``keras-fer`` console script in setup.cfg."""
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    scripts = dict(line.split(" = ") for line in setup["options.entry_points"]["console_scripts"].split("\n") if line)
    return scripts["keras-fer"]


def _keras_fer(*argv):
    """Run the console script's entry point in a fresh process; its last stdout line says what it imported."""
    module, function = _entry_point().split(":")
    code = (f"import sys, {module}\ntry:\n    code = {module}.{function}(sys.argv[1:])\nexcept SystemExit as exit:\n"
            f"    code = exit.code\nprint('tensorflow imported:', 'tensorflow' in sys.modules)\nsys.exit(code)")
    environ = dict(os.environ, PYTHONPATH=str(ROOT))
    environ.pop("TF_CPP_MIN_LOG_LEVEL", None)  # tests/conftest.py sets it; a user's shell does not
    environ.pop(QUIET_ENV, None)
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=environ,
                          cwd=ROOT, timeout=300)


@pytest.mark.parametrize("argv", [["--help"], ["--version"]] + [[command, "--help"] for command in COMMANDS])
def test_help_does_not_import_tensorflow_and_prints_nothing_on_stderr(argv):
    done = _keras_fer(*argv)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.splitlines()[-1] == "tensorflow imported: False"
    assert done.stdout.startswith("usage: keras-fer") or done.stdout.startswith("keras-fer 0.")


def test_every_command_has_a_body():
    parsed = keras_fer_cli.build_parser()._subparsers._group_actions[0].choices
    assert list(parsed) == COMMANDS == list(cli.COMMANDS)


def _names(text):
    """``"a, b or c"`` -> ``["a", "b", "c"]``."""
    return re.split(r", | or ", text)


def test_help_lists_match_the_registries(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "1000")  # one line per option

    def command_help(command):
        with pytest.raises(SystemExit):
            keras_fer_cli.build_parser().parse_args([command, "--help"])
        return capsys.readouterr().out

    papers = sorted({get_spec(name).paper for name in list_models()})
    prepare, extract, export = command_help("prepare"), command_help("extract"), command_help("export")
    assert re.search(r"--sampler \{([^}]*)\}", prepare)[1].split(",") == list(SAMPLERS)
    assert re.search(r"--sampler \{([^}]*)\}", extract)[1].split(",") == [*SAMPLERS, "none"]
    assert re.search(r"--detector \{([^}]*)\}", prepare)[1].split(",") == list(DETECTORS)
    assert _names(re.search(r"^ +--stem STEM +(.*)$", extract, re.M)[1]) == list_stems(cacheable=True)
    assert re.search(r"--format \{([^}]*)\}", export)[1].split(",") == list(FORMATS)
    listed = re.search(r"^ +--paper PAPER +only this paper's models: (.*)$", command_help("list-models"), re.M)[1]
    assert sorted(_names(listed)) == papers
    listed = re.search(r"^ +--paper PAPER +(.*) \(default\)$", command_help("reproduce"), re.M)[1]
    assert sorted(_names(listed)) == sorted([*papers, "all"])


def test_a_command_that_imports_tensorflow_prints_no_log_lines():
    done = _keras_fer("list-models", "--paper", "ast")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.splitlines()[-1] == "tensorflow imported: True"


def test_prepare_without_a_tensorflow_detector_does_not_import_it(tmp_path):
    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 25, (64, 48))
    for value in range(5):
        writer.write(np.full((48, 64, 3), 40 * value, np.uint8))
    writer.release()
    done = _keras_fer("prepare", "--input", str(video), "--out", str(tmp_path / "prepared"), "--detector",
                      "full_frame", "--size", "32", "--no-progress")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.splitlines()[-1] == "tensorflow imported: False"
    assert (tmp_path / "prepared" / "manifest.csv").is_file()


@pytest.mark.slow
def test_training_prints_no_tensorflow_log_lines(tiny_cache, tmp_path):
    # Before: absl's InitializeLog notice, the CUDA stub twice, CPU features, cuInit and tf_record lines (8 on stderr).
    # On AVX-512 CPUs oneDNN also logs an error line about float16 features (TF_CPP_MIN_LOG_LEVEL=3 hides it).
    done = _keras_fer("train", "--data", str(tiny_cache), "--out", str(tmp_path / "run"), "--sampler", "ecnn_fsa",
                      "--model", "ecnn_fsa", "--epochs", "1", "--batch-size", "4", "--validation-size", "1",
                      "--quiet", "--no-tensorboard")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "trained ecnn_fsa" in done.stdout


def test_tensorflow_logs_stay_when_asked_for(monkeypatch):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL")
    monkeypatch.delenv(QUIET_ENV, raising=False)
    start_tensorflow(show_logs=True)  # --verbose
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")  # the user's own setting is kept
    start_tensorflow()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL")
    start_tensorflow()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"


def test_held_stderr_is_shown_when_starting_fails(capfd):
    with stderr_held():
        os.write(2, b"a C++ notice\n")
    assert capfd.readouterr().err == ""
    with pytest.raises(ImportError), stderr_held():
        os.write(2, b"why the import failed\n")
        raise ImportError("no module")
    assert capfd.readouterr().err == "why the import failed\n"


def test_prepare_workers_start_tensorflow_as_quietly_as_the_command(tmp_path):
    # Spawned workers import TensorFlow for their detector; before they did it through the parent's quiet start,
    # each printed absl's notice and the CUDA stub's lines.
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("1001_DFA_ANG_XX.flv", "1001_DFA_HAP_XX.flv"):
        (folder / name).symlink_to(REAL_FACES / "crema-d" / name)
    done = _keras_fer("prepare", "--input", str(folder), "--out", str(tmp_path / "prepared"), "--detector",
                      "blazeface", "--workers", "2", "--size", "64", "--no-progress")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "prepared 2" in done.stdout


def test_reproduce_workers_start_from_a_module_without_tensorflow():
    # A spawned worker unpickles its initializer first: were it in keras_fer, TensorFlow would start (and print its
    # log lines) before the initializer could hide them, as `keras-fer reproduce` did (10 lines with 2 workers).
    from keras_fer.jobs import reproduce

    initializer = reproduce.start_single_threaded_worker
    code = f"import sys, {initializer.__module__}; print('tensorflow' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
