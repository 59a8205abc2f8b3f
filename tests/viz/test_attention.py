"""Attention figures: maps against NumPy, the figures' image data, bars and lines, and one example per paper."""
import doctest
import os

import keras
import matplotlib.colors
import numpy as np
import pytest
import tensorflow as tf
from matplotlib.figure import Figure

from keras_fer.models import attention_model, create_model, temporal_attention_model
from keras_fer.models.ceflnet import most_emotional_clip
from keras_fer.viz import attention, attention_overlay_figure, spatial_maps, temporal_weights_figure, upsample_maps

RNG = np.random.default_rng(0)


def _hex(colour):
    return matplotlib.colors.to_hex(colour)


def _softmax_rows(logits):
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _min_max(x, axes):
    low, high = x.min(axis=axes, keepdims=True), x.max(axis=axes, keepdims=True)
    return (x - low) / (high - low)


def _overlays(figure):
    """(frame image, map image) arrays of every panel (the colour bar is the last axes)."""
    return [(np.asarray(axes.get_images()[0].get_array()), np.ma.getdata(axes.get_images()[1].get_array()))
            for axes in figure.axes[:-1]]


def _quadrant_means(image):
    half = image.shape[0] // 2
    return np.array([[image[:half, :half].mean(), image[:half, half:].mean()],
                     [image[half:, :half].mean(), image[half:, half:].mean()]])


def _bars(figure):
    patches = figure.axes[0].patches
    heights = np.array([bar.get_height() for bar in patches])
    centres = np.array([bar.get_x() + bar.get_width() / 2 for bar in patches])
    return patches, heights, centres


def test_doctests():
    assert doctest.testmod(attention).failed == 0


# ----------------------------------------------------------------------------------------------------------- maps


def test_stam_maps_are_the_scores_per_frame():
    scores = RNG.uniform(size=(2, 3, 4, 5, 1)).astype("float32")
    maps = spatial_maps(scores, "stam")
    assert maps.shape == (2, 3, 4, 5) and maps.dtype == np.float32
    np.testing.assert_allclose(maps, scores[..., 0], rtol=1e-6)
    np.testing.assert_allclose(spatial_maps(tf.constant(scores), "stam", normalize="frame"),
                               _min_max(scores[..., 0], (2, 3)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(spatial_maps(scores, "stam", normalize="clip"),
                               _min_max(scores[..., 0], (1, 2, 3)), rtol=1e-5, atol=1e-6)


def test_shorter_time_axis_maps_each_step_to_the_frames_it_covers():
    scores = np.stack([np.full((2, 2, 1), value) for value in (0.1, 0.5, 0.9)])[None]  # (1, 3, 2, 2, 1)
    maps = spatial_maps(scores, "stam", num_frames=7)
    # 7 frames over 3 steps: frame t takes step floor(3 t / 7) -> runs of 3, 2, 2 frames.
    np.testing.assert_allclose(maps[0, :, 0, 0], [0.1, 0.1, 0.1, 0.5, 0.5, 0.9, 0.9], rtol=1e-6)
    np.testing.assert_allclose(spatial_maps(scores[:, :2], "stam", num_frames=5)[0, :, 1, 1], [0.1] * 3 + [0.5] * 2,
                               rtol=1e-6)
    np.testing.assert_array_equal(spatial_maps(scores, "stam", num_frames=3), spatial_maps(scores, "stam"))


def test_soft_mask_maps_are_the_channel_mean():
    scores = RNG.uniform(size=(2, 3, 4, 4, 5)).astype("float32")
    np.testing.assert_allclose(spatial_maps(scores, "soft_mask"), scores.mean(axis=-1), rtol=1e-5)
    # A constant frame normalised on its own becomes zeros, never NaN.
    constant = np.full((1, 2, 3, 3, 2), 0.4, "float32")
    constant[0, 1, 0, 0] = 1.0
    maps = spatial_maps(constant, "soft_mask", normalize="frame")
    np.testing.assert_array_equal(maps[0, 0], np.zeros((3, 3)))
    assert maps[0, 1, 0, 0] == 1.0 and maps[0, 1].sum() == 1.0


def test_non_local_maps_received_attention_and_query_rows():
    grid = (3, 2, 4)  # T', h, w: 24 positions
    affinity = _softmax_rows(RNG.normal(size=(2, 24, 24)))
    received = affinity.mean(axis=1).reshape(2, *grid)  # column mean over the queries
    maps = spatial_maps(affinity, "non_local", grid=grid)
    assert maps.shape == (2, 3, 2, 4)
    np.testing.assert_allclose(maps, _min_max(received, (1, 2, 3)), rtol=1e-5, atol=1e-6)
    assert maps.min() == 0.0 and maps.max() == 1.0
    for b in range(2):
        assert np.unravel_index(np.argmax(maps[b]), grid) == np.unravel_index(np.argmax(received[b]), grid)
    # Column means of row-stochastic scores are in [0, 1]: they can be drawn unscaled.
    np.testing.assert_allclose(spatial_maps(affinity, "non_local", grid=grid, normalize="none"), received,
                               rtol=1e-5)
    # One query position: its row, as flat index or (t, y, x); row-major (t, y, x) order.
    flat = np.ravel_multi_index((1, 0, 3), grid)
    row = spatial_maps(affinity, "non_local", grid=grid, query=flat, normalize="none")
    np.testing.assert_allclose(row, affinity[:, flat].reshape(2, *grid), rtol=1e-5)
    np.testing.assert_array_equal(spatial_maps(affinity, "non_local", grid=grid, query=(1, 0, 3)),
                                  spatial_maps(affinity, "non_local", grid=grid, query=flat))
    # Dot-product scores can be negative: only rescaled maps are in [0, 1].
    with pytest.raises(ValueError, match="normalize='clip'"):
        spatial_maps(affinity - 0.5, "non_local", grid=grid, normalize="none")
    assert spatial_maps(affinity - 0.5, "non_local", grid=grid).min() == 0.0


@pytest.mark.parametrize("scores, kind, kwargs, match", [
    (np.zeros((1, 2, 2, 2, 1)), "cam", {}, "kind"),
    (np.zeros((1, 2, 2, 2)), "stam", {}, r"\(B, T, h, w, 1\)"),
    (np.zeros((1, 2, 2, 2, 3)), "stam", {}, r"\(B, T, h, w, 1\)"),
    (np.full((1, 2, 2, 2, 1), 1.5), "stam", {}, r"\[0, 1\]"),
    (np.full((1, 2, 2, 2, 1), np.nan), "stam", {}, "finite"),
    (np.zeros((1, 2, 2, 2)), "soft_mask", {}, r"scores\[None\]"),
    (np.zeros((1, 2, 2, 2, 1)), "stam", {"num_frames": 1}, "num_frames"),
    (np.zeros((1, 2, 2, 2, 1)), "stam", {"num_frames": 2.0}, "num_frames"),
    (np.zeros((1, 2, 2, 2, 1)), "stam", {"normalize": "max"}, "normalize"),
    (np.zeros((1, 2, 2, 2, 1)), "stam", {"grid": (2, 2, 2)}, "grid"),
    (np.zeros((1, 2, 2, 2, 1)), "stam", {"query": 0}, "query"),
    (np.zeros((1, 0, 2, 2, 1)), "stam", {}, "at least one"),
    (np.full((1, 8, 8), 0.125), "non_local", {}, "grid"),
    (np.full((1, 8, 8), 0.125), "non_local", {"grid": (2, 2, 3)}, "positions"),
    (np.full((1, 8, 4), 0.125), "non_local", {"grid": (2, 2, 2)}, r"\(B, N, N\)"),
    (np.full((1, 8, 8), 0.125), "non_local", {"grid": (2, 2, 2), "query": 8}, "query"),
    (np.full((1, 8, 8), 0.125), "non_local", {"grid": (2, 2, 2), "query": (0, 2, 0)}, "query"),
    (np.full((1, 8, 8), 0.125), "non_local", {"grid": (2, 2, 2), "query": True}, "query"),
    ("abc", "stam", {}, "numeric"),
])
def test_spatial_maps_bad_arguments(scores, kind, kwargs, match):
    with pytest.raises(ValueError, match=match):
        spatial_maps(scores, kind, **kwargs)


# ------------------------------------------------------------------------------------------------------ overlay


def test_upsample_maps_is_tensorflows_bilinear_resize():
    maps = RNG.uniform(size=(3, 4, 5)).astype("float32")
    up = upsample_maps(maps, (16, 13))
    assert up.shape == (3, 16, 13) and up.dtype == np.float32
    expected = tf.image.resize(maps[..., None], (16, 13), method="bilinear", antialias=False).numpy()[..., 0]
    np.testing.assert_allclose(up, expected, atol=1e-5)
    assert up.min() >= maps.min() - 1e-6 and up.max() <= maps.max() + 1e-6  # convex combinations
    assert upsample_maps(np.ones((1, 2, 2)), (5, 5)).min() == 1.0
    with pytest.raises(ValueError, match="size"):
        upsample_maps(maps, (16,))
    with pytest.raises(ValueError, match=r"\(T, h, w\)"):
        upsample_maps(maps[0], (4, 4))


def test_overlay_hot_cell_lights_its_quadrant():
    frames = RNG.integers(0, 256, size=(3, 16, 16, 3), dtype=np.uint8)
    maps = np.zeros((3, 2, 2), "float32")
    maps[0, 0, 1] = 1.0  # frame 0: top right
    maps[1, 1, 0] = 1.0  # frame 1: bottom left
    maps[2] = 0.25  # frame 2: flat
    figure = attention_overlay_figure(frames, maps, frame_indices=[4, 9, 30], alpha=0.4, cmap="viridis",
                                      title="STAM block_a")
    assert isinstance(figure, Figure)
    assert len(figure.axes) == 4  # three panels and the colour bar
    assert figure.get_suptitle() == "STAM block_a"
    assert [axes.get_title() for axes in figure.axes[:-1]] == ["frame 4", "frame 9", "frame 30"]
    assert figure.axes[-1].get_ylabel() == "attention"
    overlays = _overlays(figure)
    for (frame, heatmap), expected_frame in zip(overlays, frames):
        np.testing.assert_array_equal(frame, expected_frame)
        assert heatmap.shape == (16, 16)
        assert heatmap.min() >= 0.0 and heatmap.max() <= 1.0
    top_right = _quadrant_means(overlays[0][1])
    assert np.argmax(top_right) == 1 and top_right[0, 1] > 0.7 and top_right[1, 0] < 0.02
    assert overlays[0][1][0, 15] == 1.0 and overlays[0][1][15, 0] == 0.0
    bottom_left = _quadrant_means(overlays[1][1])
    assert np.argmax(bottom_left) == 2 and bottom_left[1, 0] > 0.7 and bottom_left[0, 1] < 0.02
    # Bilinear with half-pixel centres: pixel i samples cell coordinate (i + 0.5) / 8 - 0.5, clamped to [0, 1].
    share = np.clip((np.arange(16) + 0.5) / 8 - 0.5, 0.0, 1.0)  # weight of cell 1 along one axis
    np.testing.assert_allclose(overlays[0][1], np.outer(1 - share, share), atol=1e-6)
    np.testing.assert_allclose(overlays[1][1], np.outer(share, 1 - share), atol=1e-6)
    np.testing.assert_allclose(overlays[2][1], 0.25, rtol=1e-6)
    np.testing.assert_allclose(np.stack([heatmap for _, heatmap in overlays]), upsample_maps(maps, (16, 16)))
    image = figure.axes[0].get_images()[1]
    assert image.get_clim() == (0.0, 1.0)  # a fixed scale, not stretched per frame
    assert image.get_alpha() == 0.4 and image.get_cmap().name == "viridis"


def test_overlay_shows_at_most_max_frames_evenly(tmp_path):
    frames = np.zeros((10, 12, 20, 3), np.uint8)
    maps = np.linspace(0, 1, 10)[:, None, None] * np.ones((10, 3, 5))
    path = tmp_path / "overlay" / "stam.png"
    figure = attention_overlay_figure(frames, maps, max_frames=4, path=path)
    assert [axes.get_title() for axes in figure.axes[:-1]] == ["frame 0", "frame 3", "frame 6", "frame 9"]
    for (_, heatmap), index in zip(_overlays(figure), [0, 3, 6, 9]):
        assert heatmap.shape == (12, 20)
        np.testing.assert_allclose(heatmap, maps[index, 0, 0], rtol=1e-6)
    with open(path, "rb") as file:
        assert file.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.listdir(path.parent) == ["stam.png"]


@pytest.mark.parametrize("frames, maps, kwargs, match", [
    (np.zeros((2, 8, 8, 3), np.float32), np.zeros((2, 2, 2)), {}, "uint8"),
    (np.zeros((2, 8, 8), np.uint8), np.zeros((2, 2, 2)), {}, "uint8"),
    (np.zeros((2, 8, 8, 3), np.uint8), np.zeros((3, 2, 2)), {}, "one map per frame"),
    (np.zeros((2, 8, 8, 3), np.uint8), np.zeros((2, 2, 2, 1)), {}, r"\(T, h, w\)"),
    (np.zeros((2, 8, 8, 3), np.uint8), np.full((2, 2, 2), 2.0), {}, "normalize"),
    (np.zeros((2, 8, 8, 3), np.uint8), np.zeros((2, 2, 2)), {"frame_indices": [3, 3]}, "frame_indices"),
    (np.zeros((2, 8, 8, 3), np.uint8), np.zeros((2, 2, 2)), {"frame_indices": [1]}, "frame_indices"),
    (np.zeros((2, 8, 8, 3), np.uint8), np.zeros((2, 2, 2)), {"alpha": 1.5}, "alpha"),
    (np.zeros((2, 8, 8, 3), np.uint8), np.zeros((2, 2, 2)), {"cmap": "nope"}, "cmap"),
    (np.zeros((2, 8, 8, 3), np.uint8), np.zeros((2, 2, 2)), {"max_frames": 0}, "max_frames"),
    (np.zeros((2, 8, 8, 3), np.uint8), np.zeros((2, 2, 2)), {"title": 1}, "title"),
    (np.zeros((2, 8, 8, 3), np.uint8), np.zeros((2, 2, 2)), {"path": 1}, "path"),
])
def test_overlay_bad_arguments(frames, maps, kwargs, match):
    with pytest.raises(ValueError, match=match):
        attention_overlay_figure(frames, maps, **kwargs)


# ----------------------------------------------------------------------------------------------- temporal weights


def test_temporal_weights_bars_chosen_and_class_lines(tmp_path):
    weights = np.array([0.1, 0.4, 0.2, 0.3])
    frame_indices = np.array([3, 7, 15, 20])  # video frame numbers, irregular spacing
    scores = _softmax_rows(RNG.normal(size=(4, 3)))
    path = tmp_path / "timeline.png"
    figure = temporal_weights_figure(weights, frame_indices=frame_indices, frame_scores=scores,
                                     class_names=["anger", "happy", "sad"], chosen=1, source="context_attention",
                                     title="video 1", path=path)
    assert len(figure.axes) == 2
    axes, twin = figure.axes
    patches, heights, centres = _bars(figure)
    np.testing.assert_allclose(heights, weights)
    np.testing.assert_allclose(centres, frame_indices)
    np.testing.assert_allclose([bar.get_width() for bar in patches], 0.8 * 4)  # 0.8 of the smallest spacing
    colours = [_hex(bar.get_facecolor()) for bar in patches]
    assert colours[1] == _hex(attention.CHOSEN_COLOUR)
    assert {colours[i] for i in (0, 2, 3)} == {_hex(attention.BAR_COLOUR)}
    assert _hex(patches[1].get_edgecolor()) == _hex(attention.CHOSEN_EDGE_COLOUR)
    assert [text.get_text() for text in axes.get_legend().get_texts()] == [
        "attention weight (context_attention)", "most emotional frame"]
    assert axes.get_xlabel() == "frame" and axes.get_title() == "video 1"
    assert [label.get_text() for label in axes.get_xticklabels()] == ["3", "7", "15", "20"]
    lines = twin.get_lines()
    assert [line.get_label() for line in lines] == ["anger", "happy", "sad"]
    for column, line in enumerate(lines):
        np.testing.assert_allclose(line.get_xdata(), frame_indices)
        np.testing.assert_allclose(line.get_ydata(), scores[:, column])
    assert twin.get_ylim() == (0.0, 1.0) and twin.get_ylabel() == "class probability"
    with open(path, "rb") as file:
        assert file.read(8) == b"\x89PNG\r\n\x1a\n"


def test_temporal_weights_defaults_and_clip_unit():
    figure = temporal_weights_figure([0.25, 0.75])
    assert len(figure.axes) == 1
    patches, heights, centres = _bars(figure)
    np.testing.assert_allclose(heights, [0.25, 0.75])
    np.testing.assert_allclose(centres, [0, 1])
    assert {_hex(bar.get_facecolor()) for bar in patches} == {_hex(attention.BAR_COLOUR)}
    assert [text.get_text() for text in figure.axes[0].get_legend().get_texts()] == ["attention weight"]
    figure = temporal_weights_figure(np.full(7, 1 / 7), chosen=6, source="emotional_intensity_activation")
    assert figure.axes[0].get_xlabel() == "clip"
    assert "most emotional clip" in [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    figure = temporal_weights_figure([1.0], frame_scores=[[0.2, 0.8]])  # one step; default class names
    assert [line.get_label() for line in figure.axes[1].get_lines()] == ["class 0", "class 1"]
    assert figure.axes[0].patches[0].get_width() == pytest.approx(0.8)


@pytest.mark.parametrize("weights, kwargs, match", [
    ([], {}, "weights"),
    ([[0.5, 0.5]], {}, "weights"),
    ([0.5, -0.1], {}, "non-negative"),
    ([0.5, np.nan], {}, "finite"),
    ([0.5, 0.5], {"frame_indices": [2, 1]}, "frame_indices"),
    ([0.5, 0.5], {"frame_indices": [1, 2, 3]}, "frame_indices"),
    ([0.5, 0.5], {"frame_scores": [[0.5, 0.5]]}, "frame_scores"),
    ([0.5, 0.5], {"frame_scores": [[0.5, 1.5], [0.5, 0.5]]}, "probabilities"),
    ([0.5, 0.5], {"frame_scores": [[0.5, 0.5], [0.5, 0.5]], "class_names": ["a"]}, "class_names"),
    ([0.5, 0.5], {"class_names": "ab"}, "class_names"),
    ([0.5, 0.5], {"chosen": 2}, "chosen"),
    ([0.5, 0.5], {"chosen": 1.0}, "chosen"),
    ([0.5, 0.5], {"source": 3}, "source"),
    ([0.5, 0.5], {"unit": "second"}, "unit"),
    ([0.5, 0.5], {"title": 3}, "title"),
    ([0.5, 0.5], {"path": 3}, "path"),
])
def test_temporal_weights_bad_arguments(weights, kwargs, match):
    with pytest.raises(ValueError, match=match):
        temporal_weights_figure(weights, **kwargs)


def test_no_pyplot_state():
    from matplotlib import pyplot

    before = pyplot.get_fignums()
    attention_overlay_figure(np.zeros((2, 4, 4, 3), np.uint8), np.zeros((2, 2, 2)))
    temporal_weights_figure([0.5, 0.5], frame_scores=[[0.5, 0.5], [0.5, 0.5]])
    assert pyplot.get_fignums() == before


# ------------------------------------------------------------------------------- one example per paper, end to end

FRAMES = RNG.integers(0, 256, size=(2, 3, 32, 32, 3), dtype=np.uint8)  # B = 2 clips of 3 frames, 32x32


def _check_overlay(frames, maps):
    """Draw one clip's maps and check each panel's map is the bilinear upsampling of the clip's map."""
    figure = attention_overlay_figure(frames, maps)
    overlays = _overlays(figure)
    assert len(overlays) == len(frames)
    expected = upsample_maps(maps, frames.shape[1:3])
    for (frame, heatmap), frame_expected, heatmap_expected in zip(overlays, frames, expected):
        np.testing.assert_array_equal(frame, frame_expected)
        np.testing.assert_allclose(heatmap, heatmap_expected)
        assert heatmap.shape == frames.shape[1:3] and heatmap.min() >= 0.0 and heatmap.max() <= 1.0


def _check_weights_figure(weights, **kwargs):
    figure = temporal_weights_figure(weights, **kwargs)
    _, heights, _ = _bars(figure)
    np.testing.assert_allclose(heights, weights, rtol=1e-6)
    return figure


def test_stcam_stam_maps_and_equal_weights():
    model = create_model("stcam", 3, input="frames", frame_size=32, num_frames=3, hidden_units=8)
    outputs = attention_model(model)(FRAMES)
    stam = sorted(key for key in outputs if key.endswith("_stam"))
    assert stam == ["block_a_stam", "block_b_stam", "block_c_stam", "reduction_a_stam", "reduction_b_stam"]
    for key in stam:
        scores = keras.ops.convert_to_numpy(outputs[key])
        maps = spatial_maps(scores, "stam", num_frames=3)
        assert maps.shape == (2, 3) + scores.shape[2:4]
        np.testing.assert_allclose(maps, scores[..., 0], rtol=1e-6)
    maps = spatial_maps(outputs["block_a_stam"], "stam", num_frames=3)
    assert maps.shape == (2, 3, 4, 4)  # 32 / 8
    assert maps.min() > 0.0 and maps.max() < 1.0  # sigmoid weights, drawn unscaled
    _check_overlay(FRAMES[0], maps[0])
    weights, source = temporal_attention_model(model)
    assert source == "none: equal weights"  # STCAM has no temporal attention layer
    _check_weights_figure(keras.ops.convert_to_numpy(weights(FRAMES)["temporal_attention"])[0], source=source)


def test_stcam_non_local_received_attention():
    model = create_model("stcam_nl_embedded_gaussian", 3, input="frames", frame_size=32, num_frames=3,
                         hidden_units=8)
    outputs = attention_model(model)(FRAMES)
    stem = model.get_layer("inception_resnet3d_nl_embedded_gaussian")
    grid = tuple(stem.get_layer("block_a_nonlocal").input.shape[1:4])
    assert grid == (3, 4, 4)
    affinity = keras.ops.convert_to_numpy(outputs["block_a_nonlocal"]).astype(np.float64)
    assert affinity.shape == (2, 48, 48)
    np.testing.assert_allclose(affinity.sum(axis=-1), 1.0, rtol=1e-5)
    maps = spatial_maps(affinity, "non_local", grid=grid)
    np.testing.assert_allclose(maps, _min_max(affinity.mean(axis=1).reshape(2, *grid), (1, 2, 3)), rtol=1e-4,
                               atol=1e-5)
    _check_overlay(FRAMES[1], maps[1])
    query = spatial_maps(affinity, "non_local", grid=grid, query=(1, 2, 2))
    assert query.shape == (2, 3, 4, 4)
    _check_overlay(FRAMES[1], query[1])


def test_stanet_soft_mask_and_temporal_weights():
    flow = RNG.uniform(-1.0, 1.0, size=(2, 3, 32, 32, 2)).astype("float32")
    model = create_model("stanet", 3, input="frames", frame_size=(32, 32), filters=(4, 8, 8), feature_shape=(3, 8))
    outputs = attention_model(model)(flow)
    mask = keras.ops.convert_to_numpy(outputs["soft_mask_branch"])
    assert mask.shape == (2, 3, 4, 4, 8)
    maps = spatial_maps(mask, "soft_mask")
    np.testing.assert_allclose(maps, mask.mean(axis=-1), rtol=1e-5)
    _check_overlay(FRAMES[0], maps[0])  # the face crops the flow was computed from
    temporal, source = temporal_attention_model(model)
    assert source == "temporal_attention"
    weights = keras.ops.convert_to_numpy(temporal(flow)["temporal_attention"])
    np.testing.assert_allclose(weights, keras.ops.convert_to_numpy(outputs["temporal_attention"]), rtol=1e-5)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)
    figure = _check_weights_figure(weights[0], frame_indices=[0, 1, 2], source=source)
    assert figure.axes[0].get_xlabel() == "frame"


@pytest.mark.parametrize("name, layer, options", [
    ("ast", "context_attention", {"projection_units": 8, "units": 4}),
    ("ecnn_fsa", "frame_self_attention", {}),
])
def test_ast_and_ecnn_fsa_frame_weights(name, layer, options):
    model = create_model(name, 3, input="frames", frame_size=32, num_frames=3, **options)
    scores = keras.ops.convert_to_numpy(attention_model(model)(FRAMES)[layer])
    assert scores.shape == (2, 3, 3)
    temporal, source = temporal_attention_model(model)
    assert source == layer
    outputs = temporal(FRAMES)
    weights = keras.ops.convert_to_numpy(outputs["temporal_attention"])
    np.testing.assert_allclose(weights, scores.mean(axis=1), rtol=1e-5, atol=1e-7)  # the video = mean_t sum_i a_ti f_i
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(outputs["logits"]))
    # A timeline as `keras-fer predict` draws it: video frame numbers, the video's class probabilities at each frame.
    figure = _check_weights_figure(weights[0], frame_indices=[0, 12, 24], source=source,
                                   frame_scores=np.repeat(probabilities[:1], 3, axis=0),
                                   chosen=int(weights[0].argmax()))
    lines = figure.axes[1].get_lines()
    assert len(lines) == 3
    np.testing.assert_allclose(lines[2].get_ydata(), [probabilities[0, 2]] * 3, rtol=1e-6)


def test_ceflnet_clip_intensity_and_most_emotional_clip():
    clips = RNG.integers(0, 256, size=(2, 7, 2, 32, 32, 3), dtype=np.uint8)
    model = create_model("ceflnet", 3, input="frames", frame_size=32, feature_shape=(7, 2, 512))
    outputs = attention_model(model)(clips)
    intensity = keras.ops.convert_to_numpy(outputs["emotional_intensity_activation"])
    assert intensity.shape == (2, 7)
    temporal, source = temporal_attention_model(model)
    assert source == "emotional_intensity_activation"
    weights = keras.ops.convert_to_numpy(temporal(clips)["temporal_attention"])
    np.testing.assert_allclose(weights, intensity, rtol=1e-5)
    chosen = most_emotional_clip(outputs)
    np.testing.assert_array_equal(chosen, intensity.argmax(axis=1))
    clip_starts = np.arange(7) * 10  # 15-frame windows overlapping by 5
    figure = _check_weights_figure(weights[1], frame_indices=clip_starts, chosen=int(chosen[1]), source=source)
    patches, _, centres = _bars(figure)
    np.testing.assert_allclose(centres, clip_starts)
    highlighted = [i for i, bar in enumerate(patches) if _hex(bar.get_facecolor()) == _hex(attention.CHOSEN_COLOUR)]
    assert highlighted == [int(np.argmax(intensity[1]))]
    assert figure.axes[0].get_xlabel() == "clip"
