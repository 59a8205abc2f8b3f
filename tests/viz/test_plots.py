"""Plots: the figures' content (image arrays, annotations, tick labels, line data), the PNGs and the argument checks."""
import doctest
import os

import matplotlib.colors
import matplotlib.image
import numpy as np
import pytest
from matplotlib.figure import Figure

from keras_fer.evaluation.metrics import confusion_matrix
from keras_fer.viz import confusion_matrix_figure, plots, training_curves_figure

COUNTS = np.array([[3, 1, 0], [0, 0, 0], [1, 1, 2]])  # class 1 absent from y_true
NAMES = ["anger", "happy", "sad"]
HISTORY = {
    "loss": [1.5, 1.0, 0.7, 0.6],
    "accuracy": [0.3, 0.5, 0.7, 0.8],
    "val_loss": [1.6, 1.2, 1.1, 1.3],
    "val_accuracy": [0.25, 0.45, 0.5, 0.45],
    "learning_rate": [1e-3, 1e-3, 1e-4, 1e-4],
}


def _texts(axes):
    return [text.get_text() for text in axes.texts]


def _panel(figure, name):
    matches = [axes for axes in figure.axes if axes.get_ylabel() == name]
    assert len(matches) == 1, [axes.get_ylabel() for axes in figure.axes]
    return matches[0]


def _data_lines(axes):
    """Lines labelled with a history key (the best-epoch line excluded)."""
    return {line.get_label(): line for line in axes.get_lines() if line.get_label() != plots.BEST_EPOCH_LABEL}


def _check_png(path):
    with open(path, "rb") as file:
        assert file.read(8) == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 0 and image.shape[1] > 0
    return image


def test_doctests():
    assert doctest.testmod(plots).failed == 0


def test_confusion_matrix_normalised_content():
    figure = confusion_matrix_figure(COUNTS, NAMES, title="fold 1")
    assert isinstance(figure, Figure)
    assert len(figure.axes) == 2  # matrix and colour bar
    axes = figure.axes[0]
    image = np.ma.getdata(axes.get_images()[0].get_array())
    expected = np.array([[0.75, 0.25, 0.0], [0.0, 0.0, 0.0], [0.25, 0.25, 0.5]])
    np.testing.assert_allclose(image, expected)
    assert not np.isnan(image).any()
    assert axes.get_images()[0].get_clim() == (0.0, 1.0)
    assert _texts(axes) == ["75.0%", "25.0%", "0.0%", "0.0%", "0.0%", "0.0%", "25.0%", "25.0%", "50.0%"]
    # Each annotation sits on its cell: text k at (column, row) = (k % 3, k // 3).
    assert [text.get_position() for text in axes.texts] == [(k % 3, k // 3) for k in range(9)]
    assert [label.get_text() for label in axes.get_xticklabels()] == NAMES
    assert [label.get_text() for label in axes.get_yticklabels()] == NAMES
    assert axes.get_xlabel() == "predicted" and axes.get_ylabel() == "true"
    assert axes.get_title() == "fold 1"


def test_confusion_matrix_agrees_with_metrics():
    y_true = np.array([0, 0, 0, 1, 2, 2, 2])
    y_pred = np.array([0, 1, 0, 1, 2, 0, 2])
    figure = confusion_matrix_figure(confusion_matrix(y_true, y_pred, 4), NAMES + ["surprise"])
    image = np.ma.getdata(figure.axes[0].get_images()[0].get_array())
    np.testing.assert_allclose(image, confusion_matrix(y_true, y_pred, 4, normalise=True))
    assert _texts(figure.axes[0])[:4] == ["66.7%", "33.3%", "0.0%", "0.0%"]


def test_confusion_matrix_counts_content():
    figure = confusion_matrix_figure(COUNTS.astype(np.float32), NAMES, normalise=False)
    axes = figure.axes[0]
    np.testing.assert_array_equal(np.ma.getdata(axes.get_images()[0].get_array()), COUNTS)
    assert axes.get_images()[0].get_clim() == (0.0, 3.0)
    assert _texts(axes) == ["3", "1", "0", "0", "0", "0", "1", "1", "2"]
    assert axes.get_title() == ""


def test_confusion_matrix_text_colour_readable():
    figure = confusion_matrix_figure(np.array([[9, 1], [0, 0]]), ["a", "b"])
    colours = [matplotlib.colors.to_hex(text.get_color()) for text in figure.axes[0].texts]
    assert colours == ["#ffffff", "#000000", "#000000", "#000000"]  # white only on the dark (90%) cell


def test_confusion_matrix_png(tmp_path):
    path = tmp_path / "nested" / "cm.png"
    figure = confusion_matrix_figure(COUNTS, NAMES, path=path)
    assert isinstance(figure, Figure)
    _check_png(path)
    assert os.listdir(path.parent) == ["cm.png"]  # no temporary file left
    confusion_matrix_figure(COUNTS, NAMES, normalise=False, path=str(path))  # overwrites in place
    _check_png(path)
    assert os.listdir(path.parent) == ["cm.png"]


def test_failed_save_leaves_nothing(tmp_path, monkeypatch):
    path = tmp_path / "cm.png"
    path.write_bytes(b"previous")

    def broken_savefig(self, fname, **kwargs):
        with open(fname, "wb") as file:
            file.write(b"\x89PNG half")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(OSError, match="disk full"):
        confusion_matrix_figure(COUNTS, NAMES, path=path)
    assert os.listdir(tmp_path) == ["cm.png"]
    assert path.read_bytes() == b"previous"


def test_no_pyplot_state():
    from matplotlib import pyplot

    before = pyplot.get_fignums()
    confusion_matrix_figure(COUNTS, NAMES)
    training_curves_figure(HISTORY)
    assert pyplot.get_fignums() == before


@pytest.mark.parametrize("counts, names, kwargs, match", [
    (np.array([1, 2]), ["a", "b"], {}, "counts"),                              # 1-D
    (np.zeros((2, 3), dtype=int), ["a", "b"], {}, "counts"),                   # not square
    (np.zeros((0, 0), dtype=int), [], {}, "counts"),                           # empty
    (np.array([[1, -1], [0, 2]]), ["a", "b"], {}, "non-negative"),
    (np.array([[0.5, 0.5], [0.0, 1.0]]), ["a", "b"], {}, "integer-valued"),    # fractions instead of counts
    (np.array([[1.0, np.nan], [0.0, 1.0]]), ["a", "b"], {}, "integer-valued"),
    (np.array([[True, False], [False, True]]), ["a", "b"], {}, "dtype"),
    (np.array([["1", "0"], ["0", "1"]]), ["a", "b"], {}, "dtype"),
    (np.eye(2, dtype=int), ["a", "b", "c"], {}, "class_names"),
    (np.eye(2, dtype=int), "ab", {}, "class_names"),
    (np.eye(2, dtype=int), ["a", 1], {}, "class_names"),
    (np.eye(2, dtype=int), ["a", "b"], {"normalise": 1}, "normalise"),
    (np.eye(2, dtype=int), ["a", "b"], {"title": 3}, "title"),
    (np.eye(2, dtype=int), ["a", "b"], {"path": 3}, "path"),
])
def test_confusion_matrix_bad_arguments(counts, names, kwargs, match):
    with pytest.raises(ValueError, match=match):
        confusion_matrix_figure(counts, names, **kwargs)


def test_training_curves_content():
    figure = training_curves_figure(HISTORY, best_epoch=3, title="AST")
    assert isinstance(figure, Figure)
    assert [axes.get_ylabel() for axes in figure.axes] == ["loss", "accuracy", "learning_rate"]
    assert figure.get_suptitle() == "AST"
    for name, keys in [("loss", ["loss", "val_loss"]), ("accuracy", ["accuracy", "val_accuracy"]),
                       ("learning_rate", ["learning_rate"])]:
        axes = _panel(figure, name)
        lines = _data_lines(axes)
        assert sorted(lines) == sorted(keys)
        for key in keys:
            np.testing.assert_array_equal(lines[key].get_xdata(), [1, 2, 3, 4])
            np.testing.assert_allclose(lines[key].get_ydata(), HISTORY[key])
            assert lines[key].get_linestyle() == ("--" if key.startswith("val_") else "-")
        assert len({matplotlib.colors.to_hex(line.get_color()) for line in lines.values()}) == 1
        best = [line for line in axes.get_lines() if line.get_label() == plots.BEST_EPOCH_LABEL]
        assert len(best) == 1
        np.testing.assert_array_equal(best[0].get_xdata(), [3, 3])
        assert plots.BEST_EPOCH_LABEL in [text.get_text() for text in axes.get_legend().get_texts()]
    # Different metrics get different colours; learning rate on a log axis, the others linear.
    colours = [matplotlib.colors.to_hex(_data_lines(axes)[key].get_color())
               for axes, key in zip(figure.axes, ["loss", "accuracy", "learning_rate"])]
    assert len(set(colours)) == 3
    assert [axes.get_yscale() for axes in figure.axes] == ["linear", "linear", "log"]
    assert figure.axes[-1].get_xlabel() == "epoch"


def test_training_curves_without_best_epoch_or_learning_rate():
    history = {"loss": [0.9], "val_loss": [1.0], "val_uar": [0.4], "top_k": [0.7]}
    figure = training_curves_figure(history)
    assert [axes.get_ylabel() for axes in figure.axes] == ["loss", "uar", "top_k"]
    assert sorted(_data_lines(_panel(figure, "uar"))) == ["val_uar"]  # validation-only metric: its own panel
    for axes in figure.axes:
        assert all(line.get_label() != plots.BEST_EPOCH_LABEL for line in axes.get_lines())
        np.testing.assert_array_equal(axes.get_lines()[0].get_xdata(), [1])


def test_training_curves_nan_and_zero_learning_rate():
    history = {"loss": [1.0, np.nan, 0.5], "learning_rate": [0.0, 0.0, 0.0]}
    figure = training_curves_figure(history, best_epoch=1)
    np.testing.assert_array_equal(_data_lines(_panel(figure, "loss"))["loss"].get_ydata(), [1.0, np.nan, 0.5])
    assert _panel(figure, "learning_rate").get_yscale() == "linear"  # nothing positive to put on a log axis
    history = {"loss": [1.0, 0.5], "learning_rate": [1e-3, 0.0]}  # cosine schedule ending at zero
    assert _panel(training_curves_figure(history), "learning_rate").get_yscale() == "log"


def test_training_curves_png(tmp_path):
    path = tmp_path / "curves.png"
    figure = training_curves_figure(HISTORY, best_epoch=2, path=path)
    assert isinstance(figure, Figure)
    image = _check_png(path)
    assert image.shape[0] > image.shape[1]  # panels stacked vertically
    assert os.listdir(tmp_path) == ["curves.png"]


@pytest.mark.parametrize("history, kwargs, match", [
    ({}, {}, "history"),
    ([("loss", [1.0])], {}, "history"),
    ({"loss": [1.0, 0.5], "val_loss": [1.0]}, {}, "same length"),
    ({"loss": []}, {}, "loss"),
    ({"loss": [[1.0], [0.5]]}, {}, "loss"),
    ({"loss": [1.0, np.inf]}, {}, "finite"),
    ({"loss": ["a", "b"]}, {}, "loss"),
    ({1: [1.0]}, {}, "keys"),
    ({"loss": [1.0], "learning_rate": [-1e-3]}, {}, "learning_rate"),
    ({"loss": [1.0, 0.5]}, {"best_epoch": 0}, "best_epoch"),
    ({"loss": [1.0, 0.5]}, {"best_epoch": 3}, "best_epoch"),
    ({"loss": [1.0, 0.5]}, {"best_epoch": 2.0}, "best_epoch"),
    ({"loss": [1.0, 0.5]}, {"best_epoch": True}, "best_epoch"),
    ({"loss": [1.0, 0.5]}, {"title": ["a"]}, "title"),
    ({"loss": [1.0, 0.5]}, {"path": 1.5}, "path"),
])
def test_training_curves_bad_arguments(history, kwargs, match):
    with pytest.raises(ValueError, match=match):
        training_curves_figure(history, **kwargs)
