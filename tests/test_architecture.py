"""The layering of docs/architecture.md is what import-linter checks, and its contracts do fail on a bad import."""

import pathlib
import re
import shutil
import subprocess
import sys

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
LINT_IMPORTS = shutil.which("lint-imports", path=str(pathlib.Path(sys.executable).parent))


def _layers():
    (contract,) = [c for c in CONFIG["contracts"] if c["type"] == "layers"]
    return contract["layers"]


def test_the_architecture_page_lists_the_checked_layers():
    """Each layer of the import-linter contract is a row of docs/architecture.md's table, in the same order."""
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| \d+ \| (.+?) \| ", page, flags=re.M)
    documented = [" | ".join(re.findall(r"`(keras_fer[\w.]*)`", row)) for row in rows]
    assert documented[: len(_layers())] == _layers()
    assert "`data_prep`" in rows[-1]


def _lint(tree):
    return subprocess.run([LINT_IMPORTS, "--no-cache"], cwd=tree, capture_output=True, text=True, check=False,
                          env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"})


@pytest.fixture()
def tree(tmp_path):
    """A copy of the two packages and pyproject.toml, where imports can be broken on purpose."""
    for package in ("keras_fer", "data_prep"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "*.hdf5"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


@pytest.mark.skipif(LINT_IMPORTS is None, reason="import-linter is not installed (the test extra has it)")
def test_the_contracts_hold_and_fail_on_an_upward_import_or_a_circle(tree):
    assert _lint(tree).returncode == 0, _lint(tree).stdout
    layer = tree / "keras_fer" / "layers" / "context_attention.py"
    original = layer.read_text(encoding="utf-8")
    layer.write_text(original + "\nfrom keras_fer.cli import main  # an upward import\n", encoding="utf-8")
    result = _lint(tree)
    assert result.returncode != 0 and "keras_fer.layers is not allowed to import keras_fer.cli" in result.stdout
    layer.write_text(original, encoding="utf-8")
    spec = tree / "keras_fer" / "models" / "spec.py"
    spec.write_text(spec.read_text(encoding="utf-8") + "\nfrom keras_fer.models import registry  # a circle\n",
                    encoding="utf-8")
    result = _lint(tree)
    assert result.returncode != 0 and "No cycles are allowed in keras_fer.models" in result.stdout
    (tree / "data_prep" / "bad.py").write_text("import keras_fer\n", encoding="utf-8")
    assert "data_prep.bad -> keras_fer" in _lint(tree).stdout
