"""Visualisation: result plots (``plots``), attention figures (``attention``) and video embeddings (``embeddings``).

Every function returns a :class:`matplotlib.figure.Figure` built without
``pyplot`` (Agg canvas, no global state) and, given ``path``, saves a PNG
atomically (temporary name, then rename).
"""

from keras_fer.viz import attention, embeddings, plots
from keras_fer.viz.attention import attention_overlay_figure, spatial_maps, temporal_weights_figure, upsample_maps
from keras_fer.viz.embeddings import embedding_figure, embedding_model, project_embeddings, video_embeddings
from keras_fer.viz.plots import confusion_matrix_figure, training_curves_figure

__all__ = [
    "attention",
    "attention_overlay_figure",
    "confusion_matrix_figure",
    "embedding_figure",
    "embedding_model",
    "embeddings",
    "plots",
    "project_embeddings",
    "spatial_maps",
    "temporal_weights_figure",
    "training_curves_figure",
    "upsample_maps",
    "video_embeddings",
]
