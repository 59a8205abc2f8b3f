"""Helpers shared by the viz modules: a pyplot-free figure, argument checks, the title and the atomic PNG save."""

import os

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from data_prep.files import atomic_path

# Resolution of the saved PNGs (dots per inch).
DPI = 120


def new_figure(figsize):
    """A pyplot-free figure with an Agg canvas (so ``savefig`` and ``canvas.draw`` work headless)."""
    figure = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def check_title(title):
    if title is not None and not isinstance(title, str):
        raise ValueError(f"`title` must be a string or None; received title={title!r}")


def check_path(path):
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"`path` must be a file path (str or os.PathLike) or None; received path={path!r}")


def finish_figure(figure, title, path, axes=None):
    """``figure`` with its title (on ``axes``, or the figure's when None), saved as a PNG at ``path`` if given."""
    if title is not None:
        if axes is None:
            figure.suptitle(title)
        else:
            axes.set_title(title)
    if path is not None:
        save_png(figure, path)
    return figure


def save_png(figure, path):
    """Save ``figure`` as a PNG at ``path`` atomically: temporary name in the same folder, then ``os.replace``.

    The parent folder is created if it does not exist. On any error the
    temporary file is removed and the error propagates; ``path`` is untouched.
    """
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=DPI)
