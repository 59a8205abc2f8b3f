"""Video embeddings: the projections against scikit-learn and NumPy, the scatter content, reading them from models."""
import doctest
import os

import keras
import matplotlib.colors
import numpy as np
import pytest
from sklearn.decomposition import PCA

from keras_fer.models import attention_model, create_model, end_to_end
from keras_fer.viz import embedding_figure, embedding_model, embeddings, project_embeddings, video_embeddings
from tests.models.test_common import _tiny_head, _tiny_stem

RNG = np.random.default_rng(0)
NAMES = ["anger", "happy", "sad", "surprise"]


def _clusters(per_class=4, dim=6, spread=0.05):
    """Three tight, far-apart clusters: points of class k near 3 * e_k."""
    centres = 3.0 * np.eye(3, dim)
    points = np.concatenate([centre + spread * RNG.normal(size=(per_class, dim)) for centre in centres])
    return points, np.repeat(np.arange(3), per_class)


def test_doctests():
    assert doctest.testmod(embeddings).failed == 0


def test_pca_is_sklearn_and_the_svd_projection():
    points = RNG.normal(size=(12, 6)) * np.array([5.0, 3.0, 1.0, 0.5, 0.2, 0.1])
    coordinates = project_embeddings(points, method="pca")
    assert coordinates.shape == (12, 2)
    np.testing.assert_allclose(coordinates, PCA(n_components=2).fit_transform(points), rtol=1e-6, atol=1e-9)
    centred = points - points.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    expected = centred @ vt[:2].T  # scores on the first two principal axes, up to each axis' sign
    signs = np.sign(np.sum(expected * coordinates, axis=0))
    np.testing.assert_allclose(coordinates, expected * signs, rtol=1e-6, atol=1e-9)
    assert np.var(coordinates[:, 0]) > np.var(coordinates[:, 1])  # first axis carries the most variance


def test_pca_pads_a_missing_component():
    coordinates = project_embeddings(np.array([[1.0], [2.0], [4.0]]))
    np.testing.assert_allclose(np.abs(coordinates[:, 0]), np.abs([1.0, 2.0, 4.0] - np.mean([1.0, 2.0, 4.0])))
    np.testing.assert_array_equal(coordinates[:, 1], 0.0)


def test_tsne_tiny_n_is_seeded_and_keeps_clusters():
    points, labels = _clusters(per_class=3)  # N = 9: perplexity (9 - 1) / 3
    first = project_embeddings(points, method="tsne", seed=3)
    assert first.shape == (9, 2) and np.all(np.isfinite(first))
    np.testing.assert_array_equal(project_embeddings(points, method="tsne", seed=3), first)
    distances = np.linalg.norm(first[:, None] - first[None], axis=-1)
    same = labels[:, None] == labels[None]
    assert distances[same & ~np.eye(9, dtype=bool)].max() < distances[~same].min()
    tiny = project_embeddings(points[:3], method="tsne")  # three videos still give a drawing
    assert tiny.shape == (3, 2) and np.all(np.isfinite(tiny))
    np.testing.assert_array_equal(project_embeddings(points, method="tsne", perplexity=2.0, seed=1),
                                  project_embeddings(points, method="tsne", perplexity=2.0, seed=1))


@pytest.mark.parametrize("points, kwargs, match", [
    (np.zeros((1, 3)), {}, "N >= 2"),
    (np.zeros(5), {}, r"\(N, D\)"),
    (np.array([[0.0, np.nan], [1.0, 1.0]]), {}, "finite"),
    (np.zeros((4, 3)), {"method": "umap"}, "method"),
    (np.zeros((4, 3)), {"seed": -1}, "seed"),
    (np.zeros((4, 3)), {"seed": 1.5}, "seed"),
    (np.zeros((4, 3)), {"method": "tsne", "perplexity": 4}, "perplexity"),
    (np.zeros((4, 3)), {"perplexity": 1.0}, "perplexity"),
])
def test_project_bad_arguments(points, kwargs, match):
    with pytest.raises(ValueError, match=match):
        project_embeddings(points, **kwargs)


def test_embedding_figure_scatter_per_class(tmp_path):
    points, labels = _clusters()
    path = tmp_path / "emb" / "pca.png"
    figure = embedding_figure(points, labels, NAMES, title="CEFLNet", path=path)
    axes = figure.axes[0]
    coordinates = project_embeddings(points)
    collections = axes.collections
    assert [collection.get_label() for collection in collections] == NAMES[:3]  # "surprise" has no video
    for index, collection in enumerate(collections):
        np.testing.assert_allclose(collection.get_offsets(), coordinates[labels == index])
        assert matplotlib.colors.to_hex(collection.get_facecolor()[0]) == matplotlib.colors.to_hex(f"C{index}")
    assert [text.get_text() for text in axes.get_legend().get_texts()] == NAMES[:3]
    assert axes.get_xlabel().startswith("PC 1 (") and axes.get_ylabel().startswith("PC 2 (")
    assert axes.get_title() == "CEFLNet"
    with open(path, "rb") as file:
        assert file.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.listdir(path.parent) == ["pca.png"]
    figure = embedding_figure(points, labels, NAMES[:3], method="tsne", seed=2)
    tsne = project_embeddings(points, method="tsne", seed=2)
    for index, collection in enumerate(figure.axes[0].collections):
        np.testing.assert_allclose(collection.get_offsets(), tsne[labels == index])
    assert figure.axes[0].get_xlabel() == "t-SNE 1"


@pytest.mark.parametrize("labels, names, kwargs, match", [
    ([0, 1, 2], NAMES, {}, "labels"),
    ([0, 1, 2, 4], NAMES, {}, "labels"),
    ([0.0, 1.0, 2.0, 3.0], NAMES, {}, "labels"),
    ([0, 1, 2, 3], "abcd", {}, "class_names"),
    ([0, 1, 2, 3], [], {}, "class_names"),
    ([0, 1, 2, 3], NAMES, {"method": "lda"}, "method"),
    ([0, 1, 2, 3], NAMES, {"title": 1}, "title"),
    ([0, 1, 2, 3], NAMES, {"path": 1}, "path"),
])
def test_embedding_figure_bad_arguments(labels, names, kwargs, match):
    with pytest.raises(ValueError, match=match):
        embedding_figure(RNG.normal(size=(4, 3)), labels, names, **kwargs)


def _two_layer_head():
    features = keras.Input((4,), name="features")
    hidden = keras.layers.Dense(3, activation="relu", name="hidden")(features)
    return keras.Model(features, keras.layers.Dense(2, name="logits")(hidden), name="two_layer")


def test_video_embeddings_of_a_tiny_head():
    head = _two_layer_head()
    x = RNG.normal(size=(5, 4)).astype("float32")
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in head.get_layer("hidden").weights)
    expected = np.maximum(x @ kernel + bias, 0.0)  # the input of the last Dense
    np.testing.assert_allclose(video_embeddings(head, x, batch_size=2), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(video_embeddings(head, x, layer="hidden"), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(video_embeddings(head, x, layer="logits"), head(x), rtol=1e-5, atol=1e-6)
    assert embedding_model(head).output.shape == (None, 3)


def test_video_embeddings_inside_an_end_to_end_model_and_shared_head():
    head = _tiny_head()  # context attention -> mean -> Dense(3)
    model = end_to_end(_tiny_stem(), head, (4, 8, 8, 3), preprocessing="unit")
    other = end_to_end(_tiny_stem(), head, (4, 8, 8, 3), preprocessing="unit")  # the head is shared: two calls
    frames = RNG.integers(0, 256, size=(3, 4, 8, 8, 3), dtype=np.uint8)
    vectors = video_embeddings(model, frames)
    assert vectors.shape == (3, 6)
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in head.layers[-1].weights)
    np.testing.assert_allclose(vectors @ kernel + bias, model(frames), rtol=1e-4, atol=1e-5)  # logits = W v + b
    np.testing.assert_allclose(video_embeddings(other, frames) @ kernel + bias, other(frames), rtol=1e-4, atol=1e-5)
    # A per-frame layer of the nested stem is flattened: (N, T * D).
    per_frame = video_embeddings(model, frames, layer="unfold")
    assert per_frame.shape == (3, 4 * 6)
    model(frames)  # the original model still works, its attention layer still has one call per model
    assert sorted(attention_model(model)(frames)) == ["context_attention", "logits"]


def test_video_embeddings_of_a_paper_model_feed_the_figure():
    head = create_model("ceflnet", 3, input="features", feature_shape=(7, 2, 16))
    features = RNG.normal(size=(6, 7, 2, 16)).astype("float32")
    vectors = video_embeddings(head, features)
    assert vectors.shape == (6, 16)  # the clip-aware representation M the classifier reads
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in head.get_layer("classifier").weights)
    np.testing.assert_allclose(vectors @ kernel + bias, head(features), rtol=1e-4, atol=1e-5)
    figure = embedding_figure(vectors, [0, 1, 2, 0, 1, 2], NAMES[:3], method="tsne")
    assert sum(len(collection.get_offsets()) for collection in figure.axes[0].collections) == 6


def test_video_embeddings_bad_arguments():
    head = _two_layer_head()
    x = np.zeros((2, 4), "float32")
    with pytest.raises(ValueError, match="no layer named"):
        video_embeddings(head, x, layer="pool5")
    with pytest.raises(ValueError, match="layer"):
        video_embeddings(head, x, layer=3)
    with pytest.raises(ValueError, match="batch_size"):
        video_embeddings(head, x, batch_size=0)
    inputs = keras.Input((4,))
    with pytest.raises(ValueError, match="no Dense layer"):
        video_embeddings(keras.Model(inputs, keras.layers.ReLU()(inputs)), x)
    with pytest.raises(ValueError, match="functional"):
        embedding_model("model")
