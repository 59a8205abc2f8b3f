"""Result plots: confusion matrices (STCAM tables 10-11, ECNN-FSA tables 5, 10) and training curves.

Every function builds a fresh :class:`matplotlib.figure.Figure` on an Agg
canvas, never through ``pyplot``: no global figure state is created or leaks
between calls, nothing needs ``plt.show`` or ``plt.close``, and the functions
work on machines without a display. A notebook shows the returned figure by
leaving it as the last expression of a cell (or with ``display(figure)``) once the notebook has run
``%matplotlib inline`` (or imported ``matplotlib.pyplot``); without that a figure shows as ``<Figure ...>`` text.

With ``path`` the figure is also saved as a PNG, written to a temporary name in
the same folder and then renamed (``os.replace``), so a half-written PNG is
never seen under ``path``.

Example:

>>> import numpy as np
>>> figure = confusion_matrix_figure(np.array([[3, 1], [0, 2]]), ["happy", "sad"])
>>> figure.axes[0].get_images()[0].get_array().tolist()
[[0.75, 0.25], [0.0, 1.0]]
>>> figure = training_curves_figure({"loss": [1.0, 0.5], "val_loss": [1.1, 0.9]}, best_epoch=2)
>>> figure.axes[0].get_lines()[0].get_xdata().tolist()
[1, 2]
"""

from collections.abc import Mapping, Sequence

import numpy as np

from data_prep.checks import check_int
from keras_fer.viz._common import check_path, check_title, finish_figure, new_figure

__all__ = ["confusion_matrix_figure", "training_curves_figure"]

# Keys of a Keras ``History.history`` drawn in the loss panel and in the learning-rate panel.
LOSS_KEYS = ("loss", "val_loss")
LEARNING_RATE_KEY = "learning_rate"
BEST_EPOCH_LABEL = "selected (validation)"


def _check_counts(counts):
    """(K, K) float64 copy of ``counts`` after checking it is a square non-negative integer-valued matrix."""
    array = np.asarray(counts)
    if array.ndim != 2 or array.shape[0] != array.shape[1] or array.shape[0] == 0:
        raise ValueError(f"`counts` must be a square (K, K) matrix with K >= 1 (rows = true class, columns = "
                         f"predicted); received counts.shape={array.shape}")
    if array.dtype == bool or not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype,
                                                                                          np.floating)):
        raise ValueError(f"`counts` must hold integer counts; received counts.dtype={array.dtype}")
    values = array.astype(np.float64)
    if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
        raise ValueError(f"`counts` must hold integer-valued counts (for row fractions pass the counts and "
                         f"normalise=True); received counts={array.tolist()}")
    if np.any(values < 0):
        raise ValueError(f"`counts` must be non-negative; received counts={array.tolist()}")
    return values


def _check_class_names(class_names, num_classes):
    if isinstance(class_names, str) or not isinstance(class_names, Sequence):
        raise ValueError(f"`class_names` must be a list of {num_classes} strings; "
                         f"received class_names={class_names!r}")
    names = list(class_names)
    if len(names) != num_classes or not all(isinstance(name, str) for name in names):
        raise ValueError(f"`class_names` must be a list of {num_classes} strings (one per row of `counts`); "
                         f"received class_names={class_names!r}")
    return names


def confusion_matrix_figure(counts, class_names, normalise=True, title=None, path=None):
    """Confusion matrix as a heatmap with annotated cells (STCAM tables 10-11, ECNN-FSA tables 5, 10).

    Rows are true classes, columns predicted classes, as returned by
    :func:`keras_fer.evaluation.metrics.confusion_matrix`. When normalised each
    row is divided by its number of true samples (its recall on the diagonal,
    as in the papers' tables); a row with no sample (a class absent from the
    fold) is drawn as zeros, never NaN. The image holds the fractions (colour
    scale 0 to 1) and the cells are annotated in percent to one decimal
    (``"37.5%"``); with ``normalise=False`` the image and the annotations are
    the raw counts.

    Args:
        counts: (K, K) non-negative integer-valued counts (int array, or floats
            with integer values).
        class_names: K strings, the class of each row and column.
        normalise: True for row fractions, False for raw counts.
        title: figure title, or None.
        path: where to save the PNG, or None to only return the figure. The
            parent folder is created if missing.

    Returns:
        The :class:`matplotlib.figure.Figure`; ``figure.axes[0]`` is the
        matrix (its image array is the drawn (K, K) matrix), ``figure.axes[1]``
        the colour bar.

    Example:

    >>> figure = confusion_matrix_figure(np.array([[1, 1], [0, 0]]), ["a", "b"], normalise=True)
    >>> [text.get_text() for text in figure.axes[0].texts]
    ['50.0%', '50.0%', '0.0%', '0.0%']
    """
    values = _check_counts(counts)
    num_classes = values.shape[0]
    names = _check_class_names(class_names, num_classes)
    if not isinstance(normalise, bool):
        raise ValueError(f"`normalise` must be True or False; received normalise={normalise!r}")
    check_title(title)
    check_path(path)

    if normalise:
        support = values.sum(axis=1, keepdims=True)
        matrix = np.divide(values, support, out=np.zeros_like(values), where=support > 0)  # (K, K) rows sum to 1 or 0
        vmax = 1.0
        labels = [[f"{100.0 * value:.1f}%" for value in row] for row in matrix]
    else:
        matrix = values
        vmax = max(float(values.max()), 1.0)
        labels = [[f"{int(value)}" for value in row] for row in matrix]

    side = max(4.0, 0.6 * num_classes + 2.5)
    figure = new_figure((side + 1.0, side))
    axes = figure.add_subplot()
    image = axes.imshow(matrix, cmap="Blues", vmin=0.0, vmax=vmax, interpolation="nearest")
    colorbar = figure.colorbar(image, ax=axes)
    colorbar.set_label("fraction of the true class" if normalise else "samples")
    for row in range(num_classes):
        for column in range(num_classes):
            dark = matrix[row, column] > 0.5 * vmax
            axes.text(column, row, labels[row][column], ha="center", va="center", fontsize="small",
                      color="white" if dark else "black")
    ticks = np.arange(num_classes)
    axes.set_xticks(ticks, labels=names, rotation=45, ha="right", rotation_mode="anchor")
    axes.set_yticks(ticks, labels=names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    return finish_figure(figure, title, path, axes)


def _check_history(history):
    """``{key: (E,) float64}`` after checking keys, equal lengths >= 1 and finite-or-NaN values."""
    if not isinstance(history, Mapping) or not history:
        raise ValueError(f"`history` must be a non-empty dict of metric name -> per-epoch values (Keras "
                         f"`History.history`); received history={history!r}")
    series = {}
    for key, values in history.items():
        if not isinstance(key, str):
            raise ValueError(f"`history` keys must be metric names (strings); received key {key!r}")
        try:
            array = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"`history[{key!r}]` must be a list of numbers; "
                             f"received history[{key!r}]={values!r}") from None
        if array.ndim != 1 or array.size == 0:
            raise ValueError(f"`history[{key!r}]` must be a non-empty 1-D list of per-epoch values; "
                             f"received history[{key!r}]={values!r}")
        if np.any(np.isinf(array)):
            raise ValueError(f"`history[{key!r}]` values must be finite or NaN; received history[{key!r}]={values!r}")
        series[key] = array
    lengths = {key: array.size for key, array in series.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"`history` lists must all have the same length (one value per epoch); "
                         f"received lengths {lengths}")
    if LEARNING_RATE_KEY in series and np.any(series[LEARNING_RATE_KEY] < 0):
        raise ValueError(f"`history[{LEARNING_RATE_KEY!r}]` must be non-negative; "
                         f"received history[{LEARNING_RATE_KEY!r}]={history[LEARNING_RATE_KEY]!r}")
    return series


def _panels(keys):
    """Groups of history keys, one per subplot: loss first, then each metric with its ``val_`` twin, then lr."""
    panels = []
    loss = [key for key in LOSS_KEYS if key in keys]
    if loss:
        panels.append(("loss", loss))
    grouped = set(loss) | {LEARNING_RATE_KEY}
    for key in keys:
        if key in grouped:
            continue
        name = key[len("val_"):] if key.startswith("val_") else key
        pair = [candidate for candidate in (name, f"val_{name}") if candidate in keys]
        panels.append((name, pair))
        grouped.update(pair)
    if LEARNING_RATE_KEY in keys:
        panels.append((LEARNING_RATE_KEY, [LEARNING_RATE_KEY]))
    return panels


def training_curves_figure(history, best_epoch=None, title=None, path=None):
    """Per-epoch training curves from a Keras ``History.history``, one subplot per metric.

    Subplots, top to bottom, sharing the epoch axis (epochs counted from 1):
    ``loss`` with ``val_loss``; each other metric with its ``val_`` twin
    (training solid, validation dashed, same colour; a ``val_`` key without a
    training twin gets its own subplot); ``learning_rate``, if present, on a
    log y axis (zeros, e.g. the end of a cosine schedule, are left out of the
    log axis; a rate that is zero at every epoch is drawn on a linear axis).
    NaN values leave gaps. With ``best_epoch`` a vertical line labelled
    ``"selected (validation)"`` marks the epoch chosen on the validation split
    in every subplot.

    Args:
        history: dict metric name -> list of per-epoch values (e.g. ``loss``,
            ``accuracy``, ``val_loss``, ``val_accuracy``, ``learning_rate``);
            all lists of the same length >= 1, values finite or NaN,
            ``learning_rate`` non-negative.
        best_epoch: 1-based selected epoch in ``[1, E]``, or None.
        title: figure title, or None.
        path: where to save the PNG, or None to only return the figure. The
            parent folder is created if missing.

    Returns:
        The :class:`matplotlib.figure.Figure`; each axes' y label is the
        panel's metric name (``"loss"``, ``"accuracy"``, ``"learning_rate"``)
        and each line's label its history key.

    Example:

    >>> figure = training_curves_figure({"loss": [0.9, 0.4], "accuracy": [0.5, 0.8]})
    >>> [axes.get_ylabel() for axes in figure.axes]
    ['loss', 'accuracy']
    """
    series = _check_history(history)
    num_epochs = next(iter(series.values())).size
    if best_epoch is not None:
        best_epoch = check_int(best_epoch, "best_epoch", 1, num_epochs)
    check_title(title)
    check_path(path)

    panels = _panels(list(series))
    figure = new_figure((6.4, 2.4 * len(panels) + 0.6))
    all_axes = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    epochs = np.arange(1, num_epochs + 1)
    for index, (axes, (name, keys)) in enumerate(zip(all_axes, panels)):
        colour = f"C{index % 10}"  # one colour per panel, shared by the training and validation curves
        for key in keys:
            axes.plot(epochs, series[key], color=colour, linestyle="--" if key.startswith("val_") else "-",
                      marker="o", markersize=2.5, label=key)
        if name == LEARNING_RATE_KEY and np.any(series[LEARNING_RATE_KEY] > 0):
            axes.set_yscale("log", nonpositive="mask")
        if best_epoch is not None:
            axes.axvline(best_epoch, color="grey", linestyle=":", label=BEST_EPOCH_LABEL)
        axes.set_ylabel(name)
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    all_axes[-1].set_xlabel("epoch")
    all_axes[-1].xaxis.get_major_locator().set_params(integer=True)
    return finish_figure(figure, title, path)
