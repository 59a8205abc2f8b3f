"""Visualisation: confusion matrices and training curves (``plots``); attention heatmaps come later.

Every function returns a :class:`matplotlib.figure.Figure` built without
``pyplot`` (Agg canvas, no global state) and, given ``path``, saves a PNG
atomically (temporary name, then rename).
"""

from keras_fer.viz import plots
from keras_fer.viz.plots import confusion_matrix_figure, training_curves_figure

__all__ = ["confusion_matrix_figure", "plots", "training_curves_figure"]
