"""Attention figures: spatial heatmaps overlaid on the face crops, and temporal weights over frames or clips.

* :func:`spatial_maps` turns the scores of a spatial attention layer, as
  :func:`keras_fer.models.attention_model` returns them, into one 2-D map per
  input frame, ``(B, T, h, w)`` in [0, 1]: STCAM's STAM (eq. 4-6), STANet's
  soft mask M (eq. 2), the non-local block of STCAM's table 8.
* :func:`upsample_maps` resizes maps bilinearly to the frame size and
  :func:`attention_overlay_figure` draws them over the frames, as STCAM's
  figure 7 ("split along the time axis and interpolated to the same spatial
  size as the input frame", then overlapped) and STANet's figure 5 do.
* :func:`temporal_weights_figure` draws per-frame (or per-clip) weights as
  bars, for example those of :func:`keras_fer.models.temporal_attention_model`
  (AST, ECNN-FSA eq. 2, STANet eq. 5 as in its figure 6, CEFLNet's emotional
  intensity A with the most emotional clip highlighted as in its figure 6),
  with per-frame class probabilities on a second axis.

Like :mod:`keras_fer.viz.plots`, every figure is built without ``pyplot`` (Agg
canvas, no global state) and, given ``path``, saved as a PNG atomically.

Example:

>>> import numpy as np
>>> scores = np.zeros((1, 2, 2, 2, 1), "float32")
>>> scores[0, :, 0, 1, 0] = 1.0                                    # top-right cell of both frames
>>> maps = spatial_maps(scores, "stam", num_frames=4)               # 2 attention steps over 4 frames
>>> maps.shape, maps[0, 3].tolist()
((1, 4, 2, 2), [[0.0, 1.0], [0.0, 0.0]])
>>> frames = np.zeros((4, 8, 8, 3), "uint8")
>>> figure = attention_overlay_figure(frames, maps[0])
>>> overlay = figure.axes[0].get_images()[1].get_array()           # the upsampled map of frame 0
>>> overlay.shape, float(overlay[0, 7]), float(overlay[7, 0])
((8, 8), 1.0, 0.0)
>>> figure = temporal_weights_figure(np.array([0.2, 0.5, 0.3]), chosen=1)
>>> [float(bar.get_height()) for bar in figure.axes[0].patches]
[0.2, 0.5, 0.3]
"""

import numbers
from collections.abc import Sequence

import cv2
import keras
import matplotlib
import numpy as np
from matplotlib.patches import Patch

from data_prep.checks import check_choice, check_int
from keras_fer.models.ceflnet import EIAN_NAME
from keras_fer.viz._common import check_path, check_title, finish_figure, new_figure

__all__ = [
    "NORMALIZATIONS",
    "SPATIAL_KINDS",
    "attention_overlay_figure",
    "spatial_maps",
    "temporal_weights_figure",
    "upsample_maps",
]

#: Score layouts :func:`spatial_maps` reads: STCAM's STAM ``(B, T, h, w, 1)``, STANet's soft mask
#: ``(B, T, h, w, C)``, a non-local block's affinity ``(B, T*h*w, T*h*w)``.
SPATIAL_KINDS = ("stam", "soft_mask", "non_local")
#: How :func:`spatial_maps` rescales the maps: not at all, min-max over each clip, min-max over each frame.
NORMALIZATIONS = ("none", "clip", "frame")
#: Colour of the bars, of the highlighted (chosen) bar and its edge.
BAR_COLOUR = "C0"
CHOSEN_COLOUR = "C1"
CHOSEN_EDGE_COLOUR = "black"
#: Legend label of the chosen bar; ``{unit}`` is ``"frame"`` or ``"clip"``.
CHOSEN_LABEL = "most emotional {unit}"
UNITS = ("frame", "clip")


def _to_numpy(scores, argument):
    try:
        array = np.asarray(keras.ops.convert_to_numpy(scores), dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"`{argument}` must be a numeric array; "
                         f"received {argument} of type {type(scores).__name__}") from None
    if not np.all(np.isfinite(array)):
        raise ValueError(f"`{argument}` must be finite (no NaN or inf)")
    return array


def _check_unit_range(array, argument, hint=""):
    if array.size and (array.min() < 0.0 or array.max() > 1.0):
        raise ValueError(f"`{argument}` must lie in [0, 1]{hint}; received {argument} in [{array.min():.4g}, "
                         f"{array.max():.4g}]")


def _steps_of_frames(num_steps, num_frames):
    """For each of ``num_frames`` input frames, the attention step that covers it: ``floor(t * steps / frames)``."""
    return (np.arange(num_frames) * num_steps) // num_frames


def _min_max(maps, axes):
    """Rescale to [0, 1] over ``axes``; a constant block (nothing stands out) becomes all zeros."""
    low = maps.min(axis=axes, keepdims=True)
    span = maps.max(axis=axes, keepdims=True) - low
    return np.divide(maps - low, span, out=np.zeros_like(maps), where=span > 0)


def _non_local_maps(scores, grid, query):
    """(B, T', h, w) from a non-local affinity (B, N, N): the column mean, or the row of one query position."""
    if scores.ndim != 3 or scores.shape[1] != scores.shape[2]:
        raise ValueError(f"`scores` of kind 'non_local' must be a (B, N, N) affinity with N = T*h*w positions; "
                         f"received scores.shape={scores.shape}")
    if (not isinstance(grid, Sequence) or len(grid) != 3
            or any(isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1 for size in grid)):
        raise ValueError(f"`grid` must be the (T, h, w) of the non-local block's input, three positive integers "
                         f"(for STCAM: the input frames, height / 8 and width / 8 at block_a); "
                         f"received grid={grid!r}")
    grid = tuple(int(size) for size in grid)
    positions = scores.shape[1]
    if grid[0] * grid[1] * grid[2] != positions:
        raise ValueError(f"`grid` must have as many positions as the scores ({positions}); received grid={grid!r} "
                         f"with {grid[0] * grid[1] * grid[2]}")
    if query is None:
        received = scores.mean(axis=1)  # (B, N): mean over the queries i of f(x_i, x_j) / C(x)
    else:
        if isinstance(query, numbers.Integral) and not isinstance(query, bool):
            index = int(query)
        elif (isinstance(query, Sequence) and len(query) == 3
              and all(isinstance(q, numbers.Integral) and not isinstance(q, bool) for q in query)
              and all(0 <= q < size for q, size in zip(query, grid))):
            index = int(np.ravel_multi_index(tuple(int(q) for q in query), grid))
        else:
            index = -1
        if not 0 <= index < positions:
            raise ValueError(f"`query` must be None, a flat position in [0, {positions}) or a (t, y, x) inside "
                             f"the grid {grid}; received query={query!r}")
        received = scores[:, index, :]  # (B, N): what the query position attends to
    return received.reshape((scores.shape[0],) + grid)  # (B, T', h, w), positions in row-major (t, y, x)


def spatial_maps(scores, kind, num_frames=None, *, grid=None, query=None, normalize=None):
    """Per-frame 2-D attention maps ``(B, T, h, w)`` in [0, 1] from a spatial attention layer's scores.

    Kinds (``scores`` as :func:`keras_fer.models.attention_model` returns them):

    * ``"stam"``: STCAM's spatial-temporal attention (eq. 4-6), ``(B, T', h, w, 1)``
      sigmoid weights in (0, 1); the channel axis is dropped.
    * ``"soft_mask"``: STANet's soft mask M (eq. 2), ``(B, T, h, w, C)`` in
      [0, 1] as the end-to-end model unfolds it per frame; the map is the
      mean over the channels (M weights every channel separately; the mean
      is how strongly a position is enhanced overall). For the per-frame
      stem alone, ``(N, h, w, C)``, pass ``scores[None]`` (one clip of N frames).
    * ``"non_local"``: a non-local block's normalised affinity ``(B, N, N)``
      with ``N = T' * h * w`` positions in row-major ``(t, y, x)`` order and
      ``grid = (T', h, w)``. With ``query=None`` the map is the attention
      each position *receives*, the mean over all query rows i of
      ``f(x_i, x_j) / C(x)`` (column mean); with ``query`` it is the row of
      that one query position (what it attends to).

    The time axis of the scores (``T'``) may be shorter than the input's
    ``num_frames`` (a network that strides in time). Each input frame t then
    gets the map of step ``floor(t * T' / num_frames)``: the steps split the
    frames into ``T'`` equal consecutive runs, the frames a stride of
    ``num_frames / T'`` covers (nearest-step upsampling in time; the paper
    "split [the maps] along the time axis"). STCAM's network here keeps the
    time axis (``T' = T``), so there the mapping is the identity.

    ``normalize``: ``"none"`` keeps the values (STAM's and the soft mask's
    are absolute weights in [0, 1], comparable between frames and videos);
    ``"clip"`` rescales each clip's maps by min-max over ``(T, h, w)``;
    ``"frame"`` rescales every frame on its own. A constant clip (or frame)
    becomes all zeros. ``None`` (default) is ``"clip"`` for ``"non_local"``
    (its values are about ``1 / N``, too small to see, and the dot-product
    mode's can be negative) and ``"none"`` otherwise. The paper does not say
    how its maps are scaled; we keep absolute values where they exist,
    because rescaling would show noise as attention.

    Args:
        scores: array-like (NumPy, tensor), the layout of ``kind``.
        kind: one of :data:`SPATIAL_KINDS`.
        num_frames: frames of the input clip (``>= T'``), or None for ``T'``.
        grid: ``"non_local"`` only, ``(T', h, w)`` of the block's input.
        query: ``"non_local"`` only, None, a flat position or ``(t, y, x)``.
        normalize: one of :data:`NORMALIZATIONS`, or None for the kind's default.

    Returns:
        float32 NumPy array ``(B, num_frames, h, w)`` in [0, 1].

    Raises:
        ValueError: a bad argument, scores of the wrong shape, or values outside
            [0, 1] with ``normalize="none"``.

    Example:

    >>> affinity = np.full((1, 4, 4), 0.25)
    >>> affinity[0, :, 3] += 0.1; affinity[0, :, :3] -= 0.1 / 3    # every query looks more at position 3
    >>> spatial_maps(affinity, "non_local", grid=(1, 2, 2))[0, 0].tolist()
    [[0.0, 0.0], [0.0, 1.0]]
    """
    check_choice(kind, SPATIAL_KINDS, "kind")
    if normalize is None:
        normalize = "clip" if kind == "non_local" else "none"
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"`normalize` must be None or one of {NORMALIZATIONS}; received normalize={normalize!r}")
    if kind != "non_local" and (grid is not None or query is not None):
        raise ValueError(f"`grid` and `query` must be None with kind={kind!r} (they are for kind='non_local'); "
                         f"received grid={grid!r}, query={query!r}")
    values = _to_numpy(scores, "scores")
    if kind == "stam":
        if values.ndim != 5 or values.shape[-1] != 1:
            raise ValueError(f"`scores` of kind 'stam' must be (B, T, h, w, 1); received scores.shape={values.shape}")
        _check_unit_range(values, "scores")
        maps = values[..., 0]  # (B, T', h, w)
    elif kind == "soft_mask":
        if values.ndim != 5:
            raise ValueError(f"`scores` of kind 'soft_mask' must be (B, T, h, w, C) (for the per-frame stem's "
                             f"(N, h, w, C) pass scores[None]); received scores.shape={values.shape}")
        _check_unit_range(values, "scores")
        maps = values.mean(axis=-1)  # (B, T, h, w)
    else:
        maps = _non_local_maps(values, grid, query)  # (B, T', h, w)
    if maps.shape[0] == 0 or maps.shape[1] == 0:
        raise ValueError(f"`scores` must hold at least one clip and one step; received scores.shape={values.shape}")
    steps = maps.shape[1]
    if num_frames is None:
        num_frames = steps
    num_frames = check_int(num_frames, "num_frames", minimum=1)
    if num_frames < steps:
        raise ValueError(f"`num_frames` must be at least the {steps} attention steps of the scores; "
                         f"received num_frames={num_frames!r}")
    if normalize == "clip":
        maps = _min_max(maps, (1, 2, 3))
    elif normalize == "frame":
        maps = _min_max(maps, (2, 3))
    else:
        _check_unit_range(maps, "scores", " (pass normalize='clip' to rescale them)")
    return maps[:, _steps_of_frames(steps, num_frames)].astype(np.float32)  # (B, num_frames, h, w)


def _check_maps(maps, argument="maps"):
    values = _to_numpy(maps, argument)
    if values.ndim != 3 or 0 in values.shape:
        raise ValueError(f"`{argument}` must be (T, h, w) with every size >= 1 (one clip of spatial_maps); "
                         f"received {argument}.shape={values.shape}")
    _check_unit_range(values, argument, " (see spatial_maps' normalize)")
    return values.astype(np.float32)


def _check_size(size):
    if (not isinstance(size, Sequence) or len(size) != 2
            or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in size)):
        raise ValueError(f"`size` must be (height, width), two positive integers; received size={size!r}")
    return int(size[0]), int(size[1])


def upsample_maps(maps, size):
    """Bilinear resize of maps ``(T, h, w)`` to ``size = (H, W)``, the way STCAM's figure 7 fits them to the frames.

    OpenCV's ``INTER_LINEAR`` with half-pixel centres (pixel i of the output
    samples the map at ``(i + 0.5) * h / H - 0.5``, clamped at the borders),
    the same values as ``tf.image.resize(method="bilinear", antialias=False)``.
    Every output value is a convex combination of map values, so maps in
    [0, 1] stay in [0, 1].

    Args:
        maps: ``(T, h, w)`` in [0, 1].
        size: ``(H, W)``.

    Returns:
        float32 ``(T, H, W)`` in [0, 1].

    Example:

    >>> upsample_maps(np.array([[[0.0, 1.0]]]), (1, 4)).tolist()
    [[[0.0, 0.25, 0.75, 1.0]]]
    """
    values = _check_maps(maps)
    height, width = _check_size(size)
    resized = [cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR) for frame in values]
    return np.clip(np.stack(resized).reshape(len(values), height, width), 0.0, 1.0)  # (T, H, W)


def _check_frames(frames):
    array = np.asarray(frames)
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[-1] != 3 or 0 in array.shape:
        raise ValueError(f"`frames` must be uint8 RGB face crops (T, H, W, 3) (convert floats with "
                         f"np.clip(x, 0, 255).astype(np.uint8)); received frames.dtype={array.dtype}, "
                         f"frames.shape={array.shape}")
    return array


def _check_frame_indices(frame_indices, count):
    """(count,) float64 x positions (or labels), strictly increasing; None -> 0 .. count - 1."""
    if frame_indices is None:
        return np.arange(count)
    try:
        indices = np.asarray(frame_indices)
    except (TypeError, ValueError):
        raise ValueError(f"`frame_indices` must be {count} increasing numbers; "
                         f"received frame_indices={frame_indices!r}") from None
    if (indices.shape != (count,) or indices.dtype == bool or not np.issubdtype(indices.dtype, np.number)
            or not np.all(np.isfinite(indices)) or np.any(np.diff(indices) <= 0)):
        raise ValueError(f"`frame_indices` must be {count} strictly increasing numbers (one per frame, e.g. the "
                         f"video frame numbers); received frame_indices={frame_indices!r}")
    return indices


def _check_cmap(cmap):
    if not isinstance(cmap, str) or cmap not in matplotlib.colormaps:
        raise ValueError(f"`cmap` must be the name of a Matplotlib colormap (e.g. 'jet', 'viridis'); "
                         f"received cmap={cmap!r}")


def _shown(count, max_frames):
    """Indices of at most ``max_frames`` of ``count`` frames, evenly spread, first and last included."""
    if count <= max_frames:
        return np.arange(count)
    return np.floor(np.linspace(0, count - 1, max_frames) + 0.5).astype(int)


def _label(index):
    return f"{index:g}" if isinstance(index, (float, np.floating)) else f"{index}"


def attention_overlay_figure(frames, maps, *, frame_indices=None, alpha=0.5, cmap="jet", title=None, path=None,
                             max_frames=8):
    """Attention maps upsampled to the face crops and overlaid on them, one panel per frame (STCAM figure 7c).

    Each map (from :func:`spatial_maps`, one clip) is resized bilinearly to
    the frame size with :func:`upsample_maps` and drawn over its frame with
    the colormap ``cmap`` on a fixed [0, 1] scale (warm = high weight, as in
    STCAM's figure 7) at opacity ``alpha``; a colour bar gives the scale.
    With more than ``max_frames`` frames, ``max_frames`` are shown, evenly
    spread from the first to the last.

    Args:
        frames: uint8 RGB face crops ``(T, H, W, 3)``, the model's input frames
            (for STANet's flow input: the face crops the flow was computed from).
        maps: ``(T, h, w)`` in [0, 1].
        frame_indices: ``(T,)`` strictly increasing numbers naming the frames
            in the panel titles (e.g. video frame numbers); None: 0 .. T - 1.
        alpha: opacity of the map in [0, 1].
        cmap: a Matplotlib colormap name.
        title: figure title, or None.
        path: where to save the PNG, or None to only return the figure.
        max_frames: positive int, the most panels drawn.

    Returns:
        The :class:`matplotlib.figure.Figure`. ``figure.axes[:-1]`` are the
        panels, titled ``"frame <index>"``; each holds two images, the frame
        (``get_images()[0]``) and the upsampled map ``(H, W)``
        (``get_images()[1]``); ``figure.axes[-1]`` is the colour bar.

    Example:

    >>> maps = np.zeros((3, 2, 2)); maps[1, 1, 1] = 1.0
    >>> figure = attention_overlay_figure(np.zeros((3, 4, 4, 3), "uint8"), maps, frame_indices=[10, 20, 30])
    >>> [axes.get_title() for axes in figure.axes[:-1]]
    ['frame 10', 'frame 20', 'frame 30']
    """
    frames = _check_frames(frames)
    values = _check_maps(maps)
    if len(values) != len(frames):
        raise ValueError(f"`maps` must have one map per frame ({len(frames)} frames); received {len(values)} maps")
    indices = _check_frame_indices(frame_indices, len(frames))
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"`alpha` must be a number in [0, 1]; received alpha={alpha!r}")
    _check_cmap(cmap)
    check_title(title)
    check_path(path)
    max_frames = check_int(max_frames, "max_frames", minimum=1)

    shown = _shown(len(frames), max_frames)
    upsampled = upsample_maps(values[shown], frames.shape[1:3])  # (n, H, W)
    height, width = frames.shape[1:3]
    panel = 2.2
    figure = new_figure((panel * len(shown) * width / max(height, width) + 1.2, panel + (0.5 if title else 0.2)))
    panels = figure.subplots(1, len(shown), squeeze=False)[0]
    for axes, frame, heatmap, index in zip(panels, frames[shown], upsampled, indices[shown]):
        axes.imshow(frame, interpolation="nearest")
        image = axes.imshow(heatmap, cmap=cmap, alpha=float(alpha), vmin=0.0, vmax=1.0, interpolation="nearest")
        axes.set_title(f"frame {_label(index)}", fontsize="small")
        axes.set_axis_off()
    colorbar = figure.colorbar(image, ax=list(panels), shrink=0.9)
    colorbar.set_label("attention")
    return finish_figure(figure, title, path)


def _check_weights(weights):
    values = _to_numpy(weights, "weights")
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"`weights` must be a non-empty 1-D array (T,) of one weight per frame or clip; "
                         f"received weights.shape={values.shape}")
    if np.any(values < 0):
        raise ValueError(f"`weights` must be non-negative; received weights={values.tolist()}")
    return values


def _check_frame_scores(frame_scores, count):
    values = _to_numpy(frame_scores, "frame_scores")
    if values.ndim != 2 or values.shape[0] != count or values.shape[1] == 0:
        raise ValueError(f"`frame_scores` must be (T, C) class probabilities with T = {count} (one row per bar); "
                         f"received frame_scores.shape={values.shape}")
    _check_unit_range(values, "frame_scores", " (pass probabilities, e.g. softmax of the logits)")
    return values


def _check_names(class_names, count):
    if class_names is None:
        return [f"class {index}" for index in range(count)] if count is not None else None
    if isinstance(class_names, str) or not isinstance(class_names, Sequence) or not all(
            isinstance(name, str) for name in class_names):
        raise ValueError(f"`class_names` must be a list of strings; received class_names={class_names!r}")
    names = list(class_names)
    if count is not None and len(names) != count:
        raise ValueError(f"`class_names` must have one name per column of `frame_scores` ({count}); "
                         f"received {len(names)}: class_names={names!r}")
    return names


def temporal_weights_figure(weights, *, frame_indices=None, frame_scores=None, class_names=None, chosen=None,
                            source=None, unit=None, title=None, path=None):
    """Temporal attention weights as bars over frames or clips, optionally with per-frame class probabilities.

    One bar per step at ``frame_indices`` (its height is the weight), for
    example :func:`keras_fer.models.temporal_attention_model`'s ``(T,)``
    weights of one video: AST's and ECNN-FSA's column means, STANet's w
    (eq. 5, figure 6), CEFLNet's intensity A over 7 clips (eq. 6). With
    ``chosen`` one bar is highlighted (another colour, a black edge and the
    legend entry ``"most emotional clip"``; CEFLNet's P_e = argmax A, its
    figure 6's orange boxes). With ``frame_scores`` a second y axis (right,
    [0, 1]) draws each class's probability per step as a line labelled with
    its class name.

    Args:
        weights: ``(T,)`` non-negative weights.
        frame_indices: ``(T,)`` strictly increasing x positions (e.g. video
            frame numbers, or each clip's first frame); None: 0 .. T - 1.
            Bars are 0.8 of the smallest spacing wide.
        frame_scores: None or ``(T, C)`` probabilities in [0, 1] at the same x.
        class_names: C names for the lines (None: ``"class 0"``, ...); used
            only with ``frame_scores``.
        chosen: None or the position in [0, T) of the bar to highlight.
        source: None or where the weights come from (the ``source`` string of
            ``temporal_attention_model``), shown in the bars' legend label
            ``"attention weight (<source>)"``.
        unit: ``"frame"`` or ``"clip"``, the x axis label; None is ``"clip"``
            when ``source`` is CEFLNet's ``"emotional_intensity_activation"``,
            else ``"frame"``.
        title: axes title, or None.
        path: where to save the PNG, or None to only return the figure.

    Returns:
        The :class:`matplotlib.figure.Figure`: ``figure.axes[0]`` holds the
        bars (``axes.patches``, in step order), ``figure.axes[1]`` (only with
        ``frame_scores``) the probability lines, labelled by class.

    Example:

    >>> figure = temporal_weights_figure([0.1, 0.6, 0.3], frame_indices=[0, 10, 20], chosen=1,
    ...                                  source="emotional_intensity_activation")
    >>> [float(bar.get_x() + bar.get_width() / 2) for bar in figure.axes[0].patches], figure.axes[0].get_xlabel()
    ([0.0, 10.0, 20.0], 'clip')
    """
    values = _check_weights(weights)
    count = values.size
    indices = _check_frame_indices(frame_indices, count)
    scores = None if frame_scores is None else _check_frame_scores(frame_scores, count)
    names = _check_names(class_names, None if scores is None else scores.shape[1])
    if chosen is not None:
        chosen = check_int(chosen, "chosen", 0, count - 1)
    if source is not None and not isinstance(source, str):
        raise ValueError(f"`source` must be a string or None; received source={source!r}")
    if unit is None:
        unit = "clip" if source == EIAN_NAME else "frame"
    check_choice(unit, UNITS, "unit")
    check_title(title)
    check_path(path)

    x = indices.astype(np.float64)
    width = 0.8 * (float(np.min(np.diff(x))) if count > 1 else 1.0)
    figure = new_figure((max(5.0, min(12.0, 0.35 * count + 3.0)) + (1.5 if scores is not None else 0.0), 3.4))
    axes = figure.add_subplot()
    label = "attention weight" if source is None else f"attention weight ({source})"
    bars = axes.bar(x, values, width=width, color=BAR_COLOUR, label=label)
    handles = [bars]
    if chosen is not None:
        bar = bars.patches[int(chosen)]
        bar.set_facecolor(CHOSEN_COLOUR)
        bar.set_edgecolor(CHOSEN_EDGE_COLOUR)
        bar.set_linewidth(1.5)
        handles.append(Patch(facecolor=CHOSEN_COLOUR, edgecolor=CHOSEN_EDGE_COLOUR,
                             label=CHOSEN_LABEL.format(unit=unit)))
    axes.set_xlabel(unit)
    axes.set_ylabel("attention weight")
    axes.set_ylim(0.0, max(float(values.max()) * 1.15, 1e-12))
    if count <= 25:
        axes.set_xticks(x, labels=[_label(index) for index in indices])
    axes.legend(handles=handles, loc="upper left", fontsize="small")
    if scores is not None:
        twin = axes.twinx()
        for column, name in enumerate(names):
            twin.plot(x, scores[:, column], color=f"C{(column + 2) % 10}", marker="o", markersize=3, label=name)
        twin.set_ylim(0.0, 1.0)
        twin.set_ylabel("class probability")
        twin.legend(loc="center left", bbox_to_anchor=(1.12, 0.5), fontsize="small")
    return finish_figure(figure, title, path, axes)
