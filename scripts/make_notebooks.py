"""Writes notebooks/*.ipynb from their sources notebooks/*.py (jupytext's "percent" format), outputs cleared.

Each notebook has one plain Python source beside it: ``# %%`` starts a code cell, ``# %% [markdown]`` a
Markdown cell (its lines commented with ``# ``), and magics are commented (``# %matplotlib inline``); jupytext
reads them back as real magics. Edit the ``.py`` sources, then run ``python scripts/make_notebooks.py notebooks``
from the repository root. ``tests/test_notebooks.py`` checks that each stored ``.ipynb`` is what this script
makes from its source, and runs them.

Only the cells' type and text are taken from jupytext: the notebooks get stable cell ids, no cell metadata,
no outputs and the ``python3`` kernelspec, so that regenerating changes nothing.
"""

import pathlib
import sys

import jupytext
import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

SOURCES = pathlib.Path(__file__).resolve().parents[1] / "notebooks"
FORMAT = "py:percent"
NEW_CELL = {"code": new_code_cell, "markdown": new_markdown_cell, "raw": new_raw_cell}


def sources(source_dir=SOURCES):
    """The notebooks' source scripts, in name order."""
    return sorted(pathlib.Path(source_dir).glob("*.py"))


def notebook_from_source(path):
    """The notebook of one percent-format source: its cells' text, outputs cleared, the python3 kernel."""
    cells = []
    for index, cell in enumerate(jupytext.read(path, fmt=FORMAT).cells):
        cells.append(NEW_CELL[cell.cell_type](cell.source))
        cells[-1]["id"] = f"cell-{index:02d}"  # stable ids: regenerating changes nothing
    notebook = new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    })
    nbformat.validate(notebook)
    return notebook


def main(out_dir, source_dir=SOURCES):
    """Write ``<name>.ipynb`` into ``out_dir`` for every ``<name>.py`` of ``source_dir``."""
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for path in sources(source_dir):
        nbformat.write(notebook_from_source(path), out / f"{path.stem}.ipynb")
        print("wrote", out / f"{path.stem}.ipynb")


if __name__ == "__main__":
    main(sys.argv[1])
