"""Video embeddings: read them from a model, project them to 2-D (PCA or t-SNE), plot them per class.

CEFLNet's figure 7 shows "the t-SNE feature visualization" of the video
representations that its classifier reads; :func:`video_embeddings` gets the
same vector from any model of this package (the input of its last Dense
layer by default), :func:`project_embeddings` projects a set of them to 2-D
and :func:`embedding_figure` draws one scatter per class. Like
:mod:`keras_fer.viz.plots`, the figure is built without ``pyplot`` and,
given ``path``, saved as a PNG atomically.

Example:

>>> import numpy as np
>>> points = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 3.0], [5.0, 0.0, 2.0], [7.0, 0.0, 2.0]])
>>> figure = embedding_figure(points, [0, 0, 1, 1], ["happy", "sad"], method="pca")
>>> [collection.get_label() for collection in figure.axes[0].collections]
['happy', 'sad']
>>> np.allclose(figure.axes[0].collections[0].get_offsets(), project_embeddings(points)[:2])
True
"""

import numbers
from collections.abc import Sequence

import keras
import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from data_prep.checks import check_choice, check_int
from keras_fer.keras_private import inbound_nodes, is_functional, nodes_by_depth
from keras_fer.viz._common import check_path, check_title, finish_figure, new_figure

__all__ = ["METHODS", "embedding_figure", "embedding_model", "project_embeddings", "video_embeddings"]

#: 2-D projections of :func:`project_embeddings`.
METHODS = ("pca", "tsne")
#: t-SNE's perplexity when there are enough points (scikit-learn's default).
TSNE_PERPLEXITY = 30.0


def _check_embeddings(embeddings):
    try:
        values = np.asarray(keras.ops.convert_to_numpy(embeddings), dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"`embeddings` must be a numeric (N, D) array; "
                         f"received embeddings of type {type(embeddings).__name__}") from None
    if values.ndim != 2 or values.shape[0] < 2 or values.shape[1] < 1:
        raise ValueError(f"`embeddings` must be (N, D) with N >= 2 videos and D >= 1; "
                         f"received embeddings.shape={values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError("`embeddings` must be finite (no NaN or inf)")
    return values


def _project(values, method, seed, perplexity):
    """``(coordinates (N, 2), axis labels)``; see :func:`project_embeddings`."""
    count, dim = values.shape
    if method == "pca":
        components = min(2, count, dim)
        pca = PCA(n_components=components, svd_solver="full", random_state=seed)
        projected = pca.fit_transform(values)  # (N, components)
        coordinates = np.zeros((count, 2))
        coordinates[:, :components] = projected
        ratios = list(pca.explained_variance_ratio_) + [0.0] * (2 - components)
        labels = [f"PC {index + 1} ({ratio:.0%} of variance)" for index, ratio in enumerate(ratios)]
        return coordinates, labels
    if perplexity is None:
        perplexity = min(TSNE_PERPLEXITY, (count - 1) / 3.0)
    elif isinstance(perplexity, bool) or not isinstance(perplexity, numbers.Real) or not 0 < perplexity < count:
        raise ValueError(f"`perplexity` must be None or a number in (0, N) = (0, {count}); "
                         f"received perplexity={perplexity!r}")
    tsne = TSNE(n_components=2, perplexity=float(perplexity), init="pca" if dim >= 2 else "random",
                learning_rate="auto", random_state=seed)
    return tsne.fit_transform(values).astype(np.float64), ["t-SNE 1", "t-SNE 2"]


def project_embeddings(embeddings, method="pca", seed=0, perplexity=None):
    """2-D coordinates of N embeddings by PCA or t-SNE (CEFLNet figure 7 uses t-SNE).

    ``"pca"``: scikit-learn's ``PCA`` (full SVD of the centred data, signs made
    deterministic by scikit-learn), the scores on the first two principal
    components; with D = 1 (or N = 2 and D = 1) the missing component is 0.
    ``"tsne"``: scikit-learn's ``TSNE`` (PCA initialisation, automatic
    learning rate, ``random_state=seed``: the same seed gives the same
    points). Its perplexity must stay below N; None uses
    ``min(30, (N - 1) / 3)``: scikit-learn's 30 when there are enough points,
    else the largest value whose ``3 * perplexity + 1`` nearest neighbours
    (what Barnes-Hut t-SNE uses) all exist, so that a handful of videos can
    still be drawn.

    Args:
        embeddings: ``(N, D)`` finite values, N >= 2.
        method: one of :data:`METHODS`.
        seed: non-negative int.
        perplexity: t-SNE only: None or a number in (0, N).

    Returns:
        float64 ``(N, 2)``.

    Example:

    >>> project_embeddings(np.array([[0.0, 1.0], [0.0, 3.0]])).round(6).tolist()
    [[-1.0, 0.0], [1.0, 0.0]]
    """
    values = _check_embeddings(embeddings)
    check_choice(method, METHODS, "method")
    seed = check_int(seed, "seed", minimum=0)
    if method == "pca" and perplexity is not None:
        raise ValueError(f"`perplexity` must be None with method='pca' (it is for method='tsne'); "
                         f"received perplexity={perplexity!r}")
    return _project(values, method, seed, perplexity)[0]


def _check_labels(labels, count, num_classes):
    try:
        array = np.asarray(labels)
    except (TypeError, ValueError):
        raise ValueError(f"`labels` must be {count} class indices; received labels={labels!r}") from None
    if (array.shape != (count,) or array.dtype == bool or not np.issubdtype(array.dtype, np.integer)
            or np.any(array < 0) or np.any(array >= num_classes)):
        raise ValueError(f"`labels` must be {count} integer class indices in [0, {num_classes}) (one per row of "
                         f"`embeddings`); received labels={labels!r}")
    return array


def embedding_figure(embeddings, labels, class_names, *, method="pca", seed=0, title=None, path=None):
    """A 2-D scatter of video embeddings, one colour and legend entry per class (CEFLNet figure 7).

    The points are :func:`project_embeddings` ``(embeddings, method, seed)``;
    class k is drawn in colour ``"C{k % 10}"`` as one scatter labelled
    ``class_names[k]``; classes without a video get no scatter.

    Args:
        embeddings: ``(N, D)``, e.g. from :func:`video_embeddings`.
        labels: ``(N,)`` integer class indices in [0, K).
        class_names: K strings.
        method: ``"pca"`` or ``"tsne"``.
        seed: non-negative int, t-SNE's random state.
        title: axes title, or None.
        path: where to save the PNG, or None to only return the figure.

    Returns:
        The :class:`matplotlib.figure.Figure`; ``figure.axes[0].collections``
        are the scatters in class order, each labelled with its class name,
        its offsets the projected points of that class in input order.
    """
    values = _check_embeddings(embeddings)
    if isinstance(class_names, str) or not isinstance(class_names, Sequence) or not class_names or not all(
            isinstance(name, str) for name in class_names):
        raise ValueError(f"`class_names` must be a non-empty list of strings; received class_names={class_names!r}")
    names = list(class_names)
    classes = _check_labels(labels, len(values), len(names))
    check_choice(method, METHODS, "method")
    seed = check_int(seed, "seed", minimum=0)
    check_title(title)
    check_path(path)

    coordinates, axis_labels = _project(values, method, seed, None)
    figure = new_figure((6.4, 4.8))
    axes = figure.add_subplot()
    for index, name in enumerate(names):
        members = classes == index
        if np.any(members):
            axes.scatter(coordinates[members, 0], coordinates[members, 1], s=24, color=f"C{index % 10}",
                         label=name, alpha=0.85, edgecolors="none")
    axes.set_xlabel(axis_labels[0])
    axes.set_ylabel(axis_labels[1])
    axes.legend(fontsize="small", loc="best")
    axes.grid(alpha=0.3)
    return finish_figure(figure, title, path, axes)


def _find(model, match):
    """``(nested models from ``model`` inwards, layer)`` for the last layer in graph order with ``match(layer)``."""
    for layer in reversed(model.layers):
        if match(layer):
            return [model], layer
        if isinstance(layer, keras.Model):
            found = _find(layer, match)
            if found is not None:
                return [model] + found[0], found[1]
    return None


def _node_in(model, layer):
    """The call of ``layer`` that belongs to ``model``'s graph (a layer shared by several models has several)."""
    own = {id(node) for nodes in nodes_by_depth(model).values() for node in nodes}
    calls = [node for node in inbound_nodes(layer) if id(node) in own]
    if len(calls) != 1:
        raise ValueError(f"video_embeddings: layer {layer.name!r} is called {len(calls)} times in model "
                         f"{model.name!r}; name a layer that is called once")
    return calls[0]


def _single(tensors):
    return tensors[0] if len(tensors) == 1 else list(tensors)


def embedding_model(model, layer=None):
    """A model with ``model``'s weights that outputs its video embedding instead of the logits.

    Args:
        model: a functional ``keras.Model`` (a head, or an end-to-end model
            whose nested stem and head are searched too).
        layer: None for the **input** of the last ``Dense`` layer (the vector
            the classifier reads: AST's mean context vector, ECNN-FSA's
            regression input, CEFLNet's clip-aware representation, STANet's
            pooled frames, STCAM's first FC output), or the name of a layer
            whose **output** is the embedding.

    Returns:
        A functional ``keras.Model`` from ``model``'s inputs to that tensor.

    Raises:
        ValueError: no Dense layer, no layer of that name, or a layer called
            more than once inside the model.
    """
    if not is_functional(model):
        raise ValueError(f"`model` must be a functional keras.Model; received model={model!r}")
    if layer is None:
        found = _find(model, lambda candidate: isinstance(candidate, keras.layers.Dense))
        if found is None:
            raise ValueError(f"video_embeddings: model {model.name!r} has no Dense layer; pass `layer`")
    elif isinstance(layer, str):
        found = _find(model, lambda candidate: candidate.name == layer)
        if found is None:
            raise ValueError(f"video_embeddings: model {model.name!r} has no layer named {layer!r}")
    else:
        raise ValueError(f"`layer` must be None or a layer name; received layer={layer!r}")
    path, target = found
    stages = []
    for outer, inner in zip(path, path[1:]):
        stages.append(keras.Model(outer.inputs, _single(_node_in(outer, inner).input_tensors)))
    node = _node_in(path[-1], target)
    tensors = node.input_tensors if layer is None else node.output_tensors
    stages.append(keras.Model(path[-1].inputs, tensors[0]))
    inputs = [keras.Input(tensor.shape[1:], dtype=tensor.dtype, name=f"input_{index}")
              for index, tensor in enumerate(model.inputs)]
    x = _single(inputs)
    for stage in stages:
        x = stage(x)
    return keras.Model(_single(inputs), x, name=f"{model.name}_embedding")


def video_embeddings(model, inputs, layer=None, batch_size=32):
    """One embedding vector per video: :func:`embedding_model` run on ``inputs``, flattened to ``(N, D)``.

    Args:
        model: see :func:`embedding_model`.
        inputs: what ``model`` takes, ``(N, ...)`` (frames, or cached features for a head).
        layer: see :func:`embedding_model`.
        batch_size: positive int, videos per forward pass.

    Returns:
        float32 NumPy ``(N, D)``; an embedding with more axes (a per-frame
        layer) is flattened in row-major order.

    Example:

    >>> features = keras.Input((4,))
    >>> hidden = keras.layers.Dense(3, activation="relu", name="hidden")(features)
    >>> head = keras.Model(features, keras.layers.Dense(2, name="logits")(hidden))
    >>> video_embeddings(head, np.ones((5, 4), "float32")).shape
    (5, 3)
    """
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    embedding = embedding_model(model, layer)
    outputs = np.asarray(embedding.predict(inputs, batch_size=batch_size, verbose=0), dtype=np.float32)
    return outputs.reshape(len(outputs), -1)
