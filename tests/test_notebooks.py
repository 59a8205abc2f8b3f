"""Every notebook of notebooks/ runs top to bottom in a Jupyter kernel, and is stored with its outputs cleared.

Each ``notebooks/<name>.ipynb`` is generated from its source ``notebooks/<name>.py`` (jupytext's percent format)
by scripts/make_notebooks.py; the stored notebooks must be exactly what it writes.

The notebooks run with nbclient in the "python3" kernel (the interpreter running the tests, checked below),
each in a scratch folder where the repository's test data sit at the same relative path as in a checkout
(``tests/fixtures``), so that they write nothing into the repository.
"""

import os
import pathlib
import re
import sys

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOURCES = sorted((ROOT / "notebooks").glob("*.py"))
KERNEL = "python3"
#: Seconds one cell may run (the longest, notebook 03's reproduce, takes about 40 s on 2 CPU cores).
CELL_TIMEOUT = 300


def _scratch(tmp_path):
    """A working folder with ``tests/fixtures`` linked to the repository's test data."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "fixtures").symlink_to(ROOT / "tests" / "fixtures")
    return tmp_path


def _execute(notebook, cwd, timeout=CELL_TIMEOUT):
    """Run every cell in a fresh kernel started in ``cwd``; a failing cell raises CellExecutionError naming it."""
    NotebookClient(notebook, kernel_name=KERNEL, timeout=timeout, resources={"metadata": {"path": str(cwd)}}).execute()
    return notebook


def test_the_notebooks_are_there():
    assert [path.name for path in NOTEBOOKS] == [
        "01_quickstart.ipynb", "02_prepare_real_dataset.ipynb", "03_reproduce_a_table.ipynb",
        "04_where_the_attention_looks.ipynb", "05_export_and_serving.ipynb"]


def test_every_notebook_has_a_source_and_every_source_a_notebook():
    assert [path.stem for path in SOURCES] == [path.stem for path in NOTEBOOKS]


def _make_notebooks():
    """scripts/make_notebooks.py as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_notebooks", ROOT / "scripts" / "make_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_notebooks_are_what_the_generator_makes_from_their_sources(tmp_path):
    """The notebooks/*.py sources are the notebooks' text: each stored .ipynb is what the generator writes."""
    _make_notebooks().main(tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == [path.name for path in NOTEBOOKS]
    for path in NOTEBOOKS:
        assert (tmp_path / path.name).read_text(encoding="utf-8") == path.read_text(encoding="utf-8"), (
            f"{path.name} is not what scripts/make_notebooks.py makes from {path.stem}.py: "
            "edit the .py source, then run python scripts/make_notebooks.py notebooks")


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: path.stem)
def test_magics_commented_in_the_source_are_real_magics_in_the_notebook(path):
    """jupytext comments magics in a percent script (``# %matplotlib inline``); the notebook gets them back."""
    commented = [line[2:] for line in path.read_text(encoding="utf-8").splitlines()
                 if re.match(r"# %[a-z]", line)]
    notebook = nbformat.read(path.with_suffix(".ipynb"), as_version=4)
    code_lines = [line for cell in notebook.cells if cell.cell_type == "code" for line in cell.source.splitlines()]
    assert all(line in code_lines for line in commented), path.name
    assert not [line for line in code_lines if re.match(r"# %[a-z]", line)], path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_is_stored_with_outputs_cleared(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == KERNEL
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# ")
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {index} has stored outputs: clear them"
            assert cell.execution_count is None, f"{path.name} cell {index} has an execution count: clear it"


def test_kernel_runs_this_interpreter(tmp_path):
    """The "python3" kernel is the interpreter (virtual environment) that runs the tests and has keras-fer."""
    notebook = _execute(new_notebook(cells=[new_code_cell("import sys\nprint(sys.executable)")]), tmp_path,
                        timeout=60)
    printed = notebook.cells[0].outputs[0]["text"].strip()
    assert os.path.realpath(printed) == os.path.realpath(sys.executable)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_top_to_bottom(path, tmp_path):
    before = sorted(os.listdir(ROOT / "notebooks"))
    notebook = _execute(nbformat.read(path, as_version=4), _scratch(tmp_path))
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    # Every notebook draws figures, and they reach the notebook as images (not as "<Figure ...>" text).
    assert any("image/png" in output.get("data", {}) for output in outputs), f"{path.name} shows no image"
    as_text = [output for output in outputs if "image/png" not in output.get("data", {})
               and str(output.get("data", {}).get("text/plain", "")).startswith("<Figure size")]
    assert not as_text, f"{path.name} shows a figure as text (no inline matplotlib backend?)"
    assert sorted(os.listdir(ROOT / "notebooks")) == before  # nothing written beside the notebooks
