"""The five papers' frame samplers: pure, seeded functions from a frame count to frame positions.

Every sampler takes the number of frames of a video (after face preparation)
and returns which frames a model sees:

| paper | rule | returns |
|---|---|---|
| AST | ``num_frames`` (20) frames at one fixed stride | int indices, shape ``(num_frames,)`` |
| STCAM | first frame, peak frame, 5 evenly between | int indices, shape ``(7,)`` |
| ECNN-FSA | one frame from each of ``num_segments`` (5) equal segments | int indices, shape ``(num_segments,)`` |
| CEFLNet | 7 clips x 5 frames from 75 consecutive frames of a 105-frame video | float positions, shape ``(7, 5)`` |
| STANet | linear interpolation to ``num_frames`` (20) frames | float positions, shape ``(num_frames,)`` |

Integer indices are frames to take as they are. Float positions lie in
``[0, n_frames - 1]``; :func:`interpolate_frames` blends the two neighbouring
frames of each position (integral positions give the frame unchanged).
:func:`superset` lists every frame a sampler can touch in any draw, so that
preparation and the feature cache keep only those.

Test mode (``training=False``) is deterministic and needs no seed; training
mode draws from ``numpy.random.default_rng(seed)``, so the same seed gives the
same frames.

Example:

>>> from data_prep.sampling import sample, sample_stcam
>>> sample_stcam(13).tolist()
[0, 2, 4, 6, 8, 10, 12]
>>> sample("ecnn_fsa", 10).tolist()
[1, 3, 5, 7, 9]
"""
import numbers

import numpy as np

from data_prep.checks import check_choice, check_int

__all__ = [
    "PHASE_WINDOWS",
    "SAMPLERS",
    "interpolate_frames",
    "phase_window",
    "sample",
    "sample_ast",
    "sample_ceflnet",
    "sample_ecnn_fsa",
    "sample_stanet",
    "sample_stcam",
    "superset",
]


def _check_training(training):
    if not isinstance(training, bool):
        raise ValueError(f"`training` must be True or False; received training={training!r}")


# --------------------------------------------------------------------------- AST


def _ast_stride(n_frames, num_frames, stride):
    """The stride AST uses: the given one, or the largest that fits ``num_frames`` in the video."""
    if stride is not None:
        return stride
    if num_frames == 1:
        return 1
    return max(1, (n_frames - 1) // (num_frames - 1))


def sample_ast(n_frames, *, num_frames=20, stride=None, training=False, seed=None):
    """AST: ``num_frames`` frames sampled at one fixed frame rate.

    Deshmukh et al. (2021), section 3, "Implementation details": "for both training and
    testing our model takes 20 frames at a time sampled at fixed fps rates".

    The paper does not say which rate; with ``stride=None`` we use the largest
    integer stride at which ``num_frames`` frames fit in the video, because it
    covers the whole expression at one constant rate. A given ``stride`` (for
    example ``round(video_fps / target_fps)``) is used as it is.

    The paper does not say where the frames start; in test mode the sampled
    span is centred in the video, in training mode its start is drawn uniformly
    from every start that fits (a random temporal crop), because these are the
    usual deterministic/augmented pair.

    Videos shorter than the span (``n_frames < num_frames``, or fewer than
    ``(num_frames - 1) * stride + 1`` frames with a given stride): the paper
    does not say; we take frames from frame 0 at the fixed stride while the
    video lasts and repeat the last one taken, because this keeps the frame
    rate fixed, as the paper requires, instead of stretching time. The repeats
    are the trailing equal indices, so a caller can mask them.

    Args:
        n_frames: number of frames in the video, >= 1.
        num_frames: frames per sample (the paper: 20).
        stride: frames between two samples, or None for the largest that fits.
        training: draw a random start (True) or centre the span (False).
        seed: seed of the training draw; ignored in test mode.
        test_frames: ``"centred"`` (start 14, offsets 1, 4, 7, 10, 13) or
            ``"code"`` (start 15, offsets 0, 3, 6, 9, 12); ignored in training.

    Returns:
        int64 array of shape ``(num_frames,)``, non-decreasing frame indices.

    Example:

    >>> sample_ast(100).tolist()[:4]
    [2, 7, 12, 17]
    """
    n_frames = check_int(n_frames, "n_frames", minimum=1)
    num_frames = check_int(num_frames, "num_frames", minimum=1)
    if stride is not None:
        stride = check_int(stride, "stride", minimum=1)
    _check_training(training)
    step = _ast_stride(n_frames, num_frames, stride)
    span = (num_frames - 1) * step + 1
    if span > n_frames:
        taken = np.arange(0, n_frames, step, dtype=np.int64)
        padding = np.full(num_frames - taken.size, taken[-1], dtype=np.int64)
        return np.concatenate([taken, padding])
    slack = n_frames - span
    if training:
        start = int(np.random.default_rng(seed).integers(0, slack + 1))
    else:
        start = slack // 2
    return start + step * np.arange(num_frames, dtype=np.int64)


def _superset_ast(n_frames, *, num_frames=20, stride=None):
    step = _ast_stride(n_frames, num_frames, stride)
    span = (num_frames - 1) * step + 1
    if span > n_frames:
        return np.arange(0, n_frames, step, dtype=np.int64)
    starts = np.arange(n_frames - span + 1)
    return (starts[:, None] + step * np.arange(num_frames)[None, :]).ravel()


# --------------------------------------------------------------------------- STCAM

_STCAM_FRAMES = 7


def _stcam_peak(n_frames, peak):
    if isinstance(peak, str):
        if peak == "last":
            return n_frames - 1
        if peak == "middle":
            return (n_frames - 1) // 2
    elif isinstance(peak, numbers.Integral) and not isinstance(peak, bool):
        if 0 <= peak < n_frames:
            return int(peak)
        raise ValueError(f"`peak` must be a frame index in [0, {n_frames - 1}]; received peak={peak!r}")
    raise ValueError(f'`peak` must be "last", "middle" or a frame index; received peak={peak!r}')


def _stcam_positions(n_frames, peak, jitter):
    """Nominal positions ``k * peak / 6``, their spacing, test indices and the inclusive training ranges."""
    peak_index = _stcam_peak(n_frames, peak)
    slots = np.arange(_STCAM_FRAMES, dtype=np.int64)
    intervals = _STCAM_FRAMES - 1
    nominal = slots * peak_index / intervals
    # k * peak / 6 rounded half up, in exact integer arithmetic: (2 k peak + 6) // 12.
    centre = (2 * slots * peak_index + intervals) // (2 * intervals)
    # A jittered position x lies in [p - jitter * spacing, p + jitter * spacing); its index is floor(x + 0.5).
    low = np.floor((2 * (slots - jitter) * peak_index + intervals) / (2 * intervals)).astype(np.int64)
    high = np.ceil((2 * (slots + jitter) * peak_index + intervals) / (2 * intervals)).astype(np.int64) - 1
    low = np.clip(np.minimum(low, centre), 0, peak_index)
    high = np.clip(np.maximum(high, centre), 0, peak_index)
    low[0], high[0] = 0, 0
    low[-1], high[-1] = peak_index, peak_index
    return nominal, peak_index / intervals, centre, low, high


def _check_jitter(jitter):
    if isinstance(jitter, bool) or not isinstance(jitter, numbers.Real) or not 0.0 <= jitter <= 0.5:
        raise ValueError(f"`jitter` must be a number in [0, 0.5]; received jitter={jitter!r}")
    return float(jitter)


def sample_stcam(n_frames, *, peak="last", jitter=0.5, training=False, seed=None):
    """STCAM: 7 frames, the first (neutral), 5 evenly between, the peak last.

    Chen et al., STCAM, experiments, "Frames selection": "we selected the neutral
    face (the first frame of the sequence) as the first frame and the peak
    expression (the last frame of CK+ and Oulu-CASIA sequences, and the middle
    frame of MMI) as the last frame, and then sampled evenly between ... It
    should be noted that sample jittering was applied to augment the training
    data". The 7 nominal positions are ``k * peak / 6``, rounded half up.

    The paper does not say how large the jitter is; in training we move each
    of the 5 in-between positions ``p`` by a uniform draw from
    ``[-jitter * spacing, jitter * spacing)`` (``jitter`` 0.5 by default) and
    round half up, and keep the first and the peak frame fixed, because they
    define the neutral-to-peak progression. The moves are symmetric, so on
    average the frames stay where the paper puts them, and with at most half
    the spacing neighbouring ranges only meet at their edge frame, so the
    frames stay in time order. The middle frame of an even-length video is the
    earlier of the two central frames.

    Videos shorter than 7 frames (or whose peak comes before frame 6): frames
    repeat (for 4 frames ending at the peak: 0, 1, 1, 2, 2, 3, 3), because the
    paper's even spacing then falls between frames; the order still runs from
    neutral to peak. A 1-frame video gives 7 times frame 0.

    Args:
        n_frames: number of frames in the video, >= 1.
        peak: "last" (CK+, Oulu-CASIA), "middle" (MMI), or the index of an
            annotated apex frame.
        jitter: largest move of an in-between frame, as a fraction of the
            spacing, in [0, 0.5]; used only in training.
        training: jitter the in-between frames (True) or not (False).
        seed: seed of the training draw; ignored in test mode.
        test_frames: ``"centred"`` (start 14, offsets 1, 4, 7, 10, 13) or
            ``"code"`` (start 15, offsets 0, 3, 6, 9, 12); ignored in training.

    Returns:
        int64 array of shape ``(7,)``, non-decreasing, first 0, last the peak.

    Example:

    >>> sample_stcam(25, peak="middle").tolist()
    [0, 2, 4, 6, 8, 10, 12]
    """
    n_frames = check_int(n_frames, "n_frames", minimum=1)
    jitter = _check_jitter(jitter)
    _check_training(training)
    nominal, spacing, centre, low, high = _stcam_positions(n_frames, peak, jitter)
    if not training:
        return centre
    moves = np.random.default_rng(seed).uniform(-1.0, 1.0, size=_STCAM_FRAMES) * (jitter * spacing)
    # The first and the peak frame have one-frame ranges, so the clip also keeps them fixed.
    return np.clip(np.floor(nominal + moves + 0.5).astype(np.int64), low, high)


def _superset_stcam(n_frames, *, peak="last", jitter=0.5):
    *_, low, high = _stcam_positions(n_frames, peak, _check_jitter(jitter))
    return np.concatenate([np.arange(lo, hi + 1) for lo, hi in zip(low, high)])


# --------------------------------------------------------------------------- ECNN-FSA


def sample_ecnn_fsa(n_frames, *, num_segments=5, training=False, seed=None):
    """ECNN-FSA: the video cut into ``num_segments`` equal segments, one frame from each.

    Chen et al. (2023), section 2.1, implementation details: "first split [the
    video into n segments and take one frame] from each segment. The default
    value of n is set to 5" (part of the sentence is lost in the paper's text).
    The paper does not say which frame of a segment; we take a random one in
    training and the centre one in test, the usual segment sampling of video
    networks (TSN), because it augments training and keeps testing
    deterministic.

    Segment ``k`` covers the time ``[k * n_frames / n, (k + 1) * n_frames / n)``
    and frame ``i`` the time ``[i, i + 1)``. Test mode takes the frame under the
    segment's centre; training mode the frame under a uniformly drawn time of
    the segment (uniform over its frames when ``n`` divides ``n_frames``).

    The paper does not say how to split a length that ``n`` does not divide;
    these equal-time segments need no rounding rule and no dropped frames.
    Videos shorter than ``n`` frames: segments are shorter than a frame and
    neighbouring segments share frames (3 frames, test: 0, 0, 1, 2, 2); the
    paper is silent and this keeps one frame per segment in time order.

    Args:
        n_frames: number of frames in the video, >= 1.
        num_segments: segments, one frame each (the paper: 5).
        training: draw a random frame per segment (True) or the centre (False).
        seed: seed of the training draw; ignored in test mode.
        test_frames: ``"centred"`` (start 14, offsets 1, 4, 7, 10, 13) or
            ``"code"`` (start 15, offsets 0, 3, 6, 9, 12); ignored in training.

    Returns:
        int64 array of shape ``(num_segments,)``, non-decreasing frame indices.

    Example:

    >>> sample_ecnn_fsa(23).tolist()
    [2, 6, 11, 16, 20]
    """
    n_frames = check_int(n_frames, "n_frames", minimum=1)
    num_segments = check_int(num_segments, "num_segments", minimum=1)
    _check_training(training)
    segments = np.arange(num_segments, dtype=np.int64)
    if not training:
        return ((2 * segments + 1) * n_frames) // (2 * num_segments)
    offsets = np.random.default_rng(seed).random(num_segments)
    picked = np.floor((segments + offsets) * n_frames / num_segments).astype(np.int64)
    upper = ((segments + 1) * n_frames + num_segments - 1) // num_segments - 1
    return np.minimum(picked, upper)


def _superset_ecnn_fsa(n_frames, *, num_segments=5):
    # The segments tile the video's time, so a training draw can land on every frame.
    del num_segments
    return np.arange(n_frames)


# --------------------------------------------------------------------------- CEFLNet

_CEFLNET_LONG_VIDEOS = ("clip", "resample")


def _ceflnet_geometry(num_clips, clip_length, clip_overlap, frames_per_clip, start_range, kept_frames,
                      long_videos):
    """Validate CEFLNet's options; return the number of consecutive frames the clips cover."""
    num_clips = check_int(num_clips, "num_clips", minimum=1)
    clip_length = check_int(clip_length, "clip_length", minimum=1)
    clip_overlap = check_int(clip_overlap, "clip_overlap", minimum=0)
    frames_per_clip = check_int(frames_per_clip, "frames_per_clip", minimum=1)
    start_range = check_int(start_range, "start_range", minimum=1)
    kept_frames = check_int(kept_frames, "kept_frames", minimum=1)
    if clip_overlap >= clip_length:
        raise ValueError(f"`clip_overlap` must be smaller than `clip_length` ({clip_length}); "
                         f"received clip_overlap={clip_overlap!r}")
    if frames_per_clip > clip_length:
        raise ValueError(f"`frames_per_clip` must be <= `clip_length` ({clip_length}); "
                         f"received frames_per_clip={frames_per_clip!r}")
    covered = num_clips * (clip_length - clip_overlap) + clip_overlap
    if start_range - 1 + covered > kept_frames:
        raise ValueError(
            f"`kept_frames` must hold the last start plus the clips ({start_range - 1} + {covered}); "
            f"received kept_frames={kept_frames!r}"
        )
    check_choice(long_videos, _CEFLNET_LONG_VIDEOS, "long_videos")
    return covered


def _ceflnet_positions(n_frames, virtual, kept_frames, long_videos):
    """Map indices of the 105-frame (``kept_frames``) video to positions in the real one."""
    virtual = np.asarray(virtual, dtype=np.float64)
    if n_frames >= kept_frames and long_videos == "clip":
        return virtual
    if kept_frames == 1:
        return np.zeros_like(virtual)
    return virtual * (n_frames - 1) / (kept_frames - 1)


#: CEFLNet's test-time frames: our centred reading of the paper, or the authors' released code's.
CEFLNET_TEST_FRAMES = ("centred", "code")


def sample_ceflnet(n_frames, *, num_clips=7, clip_length=15, clip_overlap=5, frames_per_clip=5, start_range=30,
                   kept_frames=105, long_videos="clip", training=False, seed=None, test_frames="centred"):
    """CEFLNet: 7 clips of 5 frames from 75 consecutive frames of a 105-frame video.

    Liu et al. (2022), section 4.1: "We kept each video to 105 frames via
    interpolation and clipping. ... A randomly selected frame within the first
    30 frames was used as the starting frame and the following 75 consecutive
    frames were extracted. We split the 75 frames into seven sub-videos, each of
    which had 15 frames, with five frames overlapping between each sub-video.
    ... five frames were randomly sampled from each sub-video". Clip ``k``
    covers frames ``start + 10 k`` to ``start + 10 k + 14`` of the 105.

    Videos shorter than 105 frames are stretched to 105 by linear interpolation
    (virtual frame ``v`` is position ``v * (n_frames - 1) / 104``), as the paper
    did; a 1-frame video gives position 0 everywhere. Longer videos are clipped
    to their first 105 frames (``long_videos="clip"``, our reading of
    "clipping") or, with ``long_videos="resample"``, squeezed to 105 by the same
    interpolation. With clipping, frames after 104 are never used.

    The paper describes only training; in test mode we start at frame 14, the
    centre of the first 30, and take from each 15-frame clip the centres of 5
    equal parts (offsets 1, 4, 7, 10, 13), because a deterministic evaluation
    needs a fixed, centred choice (as ECNN-FSA's centre frames)
    (``test_frames="centred"``). The authors' released code
    (CVLab-Liuyuanyuan/CEFLNet, ``data/NewDataset.py``) starts at frame 15
    (``start_range // 2``) and takes offsets 0, 3, 6, 9, 12 (every
    ``clip_length // frames_per_clip``-th frame from the window's first)
    (``test_frames="code"``, the reading that goes with ``ceflnet_official``).
    At the paper's geometry the two pick the same frames (14 + 10 k + 1, 4,
    7, 10, 13 = 15 + 10 k + 0, 3, 6, 9, 12); they differ in other geometries
    (an odd ``start_range``, or an even ``clip_length // frames_per_clip``).
    In training the 5 frames of a clip are drawn without replacement and kept
    in order.

    Args:
        n_frames: number of frames in the video, >= 1.
        num_clips: clips per video (the paper: 7).
        clip_length: frames per clip window (15).
        clip_overlap: frames shared by neighbouring windows (5).
        frames_per_clip: frames drawn per window (5).
        start_range: the start is drawn among the first ``start_range`` frames (30).
        kept_frames: length every video is brought to (105).
        long_videos: "clip" or "resample" for videos longer than ``kept_frames``.
        training: random start and frames (True) or the fixed test choice (False).
        seed: seed of the training draw; ignored in test mode.
        test_frames: ``"centred"`` (start 14, offsets 1, 4, 7, 10, 13) or
            ``"code"`` (start 15, offsets 0, 3, 6, 9, 12); ignored in training.

    Returns:
        float64 array of shape ``(num_clips, frames_per_clip)``: positions in
        ``[0, n_frames - 1]``, integral when no interpolation is needed
        (``n_frames >= kept_frames``, ``long_videos="clip"``). Feed them to
        :func:`interpolate_frames`.

    Example:

    >>> sample_ceflnet(200)[0].tolist()
    [15.0, 18.0, 21.0, 24.0, 27.0]
    >>> bool(np.array_equal(sample_ceflnet(200, test_frames="code"), sample_ceflnet(200)))
    True
    >>> sample_ceflnet(200, frames_per_clip=3)[0].tolist()
    [16.0, 21.0, 26.0]
    >>> sample_ceflnet(200, frames_per_clip=3, test_frames="code")[0].tolist()
    [15.0, 20.0, 25.0]
    """
    n_frames = check_int(n_frames, "n_frames", minimum=1)
    _ceflnet_geometry(num_clips, clip_length, clip_overlap, frames_per_clip, start_range, kept_frames, long_videos)
    _check_training(training)
    check_choice(test_frames, CEFLNET_TEST_FRAMES, "test_frames")
    window_starts = (clip_length - clip_overlap) * np.arange(num_clips, dtype=np.int64)
    if training:
        rng = np.random.default_rng(seed)
        start = int(rng.integers(0, start_range))
        offsets = np.stack(
            [np.sort(rng.choice(clip_length, size=frames_per_clip, replace=False)) for _ in range(num_clips)]
        )
    elif test_frames == "code":
        start = start_range // 2
        step = clip_length // frames_per_clip
        offsets = np.broadcast_to(step * np.arange(frames_per_clip, dtype=np.int64), (num_clips, frames_per_clip))
    else:
        start = (start_range - 1) // 2
        parts = np.arange(frames_per_clip, dtype=np.int64)
        centres = ((2 * parts + 1) * clip_length) // (2 * frames_per_clip)
        offsets = np.broadcast_to(centres, (num_clips, frames_per_clip))
    virtual = start + window_starts[:, None] + offsets
    return _ceflnet_positions(n_frames, virtual, kept_frames, long_videos)


def _superset_ceflnet(n_frames, *, num_clips=7, clip_length=15, clip_overlap=5, frames_per_clip=5, start_range=30,
                      kept_frames=105, long_videos="clip"):
    covered = _ceflnet_geometry(num_clips, clip_length, clip_overlap, frames_per_clip, start_range, kept_frames,
                                long_videos)
    virtual = np.arange(start_range - 1 + covered)
    return _ceflnet_positions(n_frames, virtual, kept_frames, long_videos)


# --------------------------------------------------------------------------- STANet


def sample_stanet(n_frames, *, num_frames=20, training=False, seed=None):
    """STANet: every video brought to ``num_frames`` frames by linear interpolation.

    STANet, section 4.1: "Linear interpolation is used to interpolate all
    training and test samples into 20 frames". Position ``j`` is
    ``j * (n_frames - 1) / (num_frames - 1)``: the first and last frames are
    kept and time is resampled evenly, for longer and shorter videos alike
    (a 1-frame video gives position 0 everywhere). Optical flow is then
    computed between adjacent interpolated frames (:mod:`data_prep.flow`).

    Args:
        n_frames: number of frames in the video, >= 1.
        num_frames: frames after interpolation (the paper: 20).
        training: accepted for a uniform interface; the paper interpolates the
            same way in training and test, so it changes nothing.
        seed: accepted for a uniform interface; unused.

    Returns:
        float64 array of shape ``(num_frames,)``: increasing positions in
        ``[0, n_frames - 1]``. Feed them to :func:`interpolate_frames`.

    Example:

    >>> sample_stanet(39).tolist()[:3]
    [0.0, 2.0, 4.0]
    """
    n_frames = check_int(n_frames, "n_frames", minimum=1)
    num_frames = check_int(num_frames, "num_frames", minimum=1)
    _check_training(training)
    del seed  # The paper's interpolation is deterministic.
    if num_frames == 1:
        return np.zeros(1)
    return np.arange(num_frames) * ((n_frames - 1) / (num_frames - 1))


def _superset_stanet(n_frames, *, num_frames=20):
    return sample_stanet(n_frames, num_frames=num_frames)


# --------------------------------------------------------------------------- registry

SAMPLERS = {
    "ast": sample_ast,
    "stcam": sample_stcam,
    "ecnn_fsa": sample_ecnn_fsa,
    "ceflnet": sample_ceflnet,
    "stanet": sample_stanet,
}

_SUPERSETS = {
    "ast": _superset_ast,
    "stcam": _superset_stcam,
    "ecnn_fsa": _superset_ecnn_fsa,
    "ceflnet": _superset_ceflnet,
    "stanet": _superset_stanet,
}


def _check_paper(paper):
    check_choice(paper, sorted(SAMPLERS), "paper")


#: The annotated phases that bound the part of a clip each paper's sampler reads: STCAM's frames run from the
#: first (neutral) frame to the peak expression (sec. 4.2, "Frames selection"), STANet interpolates the
#: micro-expression, onset to offset (sec. 4.1). The other papers sample the whole clip.
PHASE_WINDOWS = {"stcam": ("first", "apex"), "stanet": ("onset", "offset")}


def phase_window(paper, n_frames, phases, **options):
    """The ``(start, end)`` frames (inclusive) that the sampler of ``paper`` reads, from a clip's annotated phases.

    STCAM reads frames ``0..apex`` (its peak is then the apex) unless a ``peak`` other than ``"last"`` is given
    (``peak="middle"`` for MMI without annotations); STANet reads ``onset..offset``. Frames past the clip are
    clipped to it.

    Args:
        paper: a key of :data:`SAMPLERS`.
        n_frames: frames in the clip, >= 1.
        phases: dict with ``onset``, ``apex``, ``offset`` (int, or None / "" / -1 when not annotated).
        **options: the sampler's options.

    Returns:
        ``(start, end)``, or None when the sampler reads the whole clip (another paper, or a phase it needs is not
        annotated).

    Example:

    >>> phase_window("stcam", 30, {"onset": 3, "apex": 12, "offset": 25})
    (0, 12)
    """
    _check_paper(paper)
    wanted = PHASE_WINDOWS.get(paper)
    if wanted is None or (paper == "stcam" and options.get("peak", "last") != "last"):
        return None
    bounds = []
    for name in wanted:
        value = 0 if name == "first" else phases.get(name)
        if value is None or value == "" or int(value) < 0:
            return None
        bounds.append(min(int(value), n_frames - 1))
    return bounds[0], max(bounds)


def _in_window(n_frames, window):
    if window is None:
        return 0, n_frames
    start, end = (int(v) for v in window)
    if not 0 <= start <= end < n_frames:
        raise ValueError(f"`window` must be (start, end) with 0 <= start <= end < n_frames={n_frames}; "
                         f"received window={window!r}")
    return start, end - start + 1


def sample(paper, n_frames, *, training=False, seed=None, window=None, **options):
    """Run the sampler of ``paper`` ("ast", "stcam", "ecnn_fsa", "ceflnet", "stanet").

    Args:
        paper: a key of :data:`SAMPLERS`.
        n_frames: number of frames in the video, >= 1.
        training: the training draw (True) or the deterministic test choice.
        seed: seed of the training draw.
        window: None (the whole clip), or ``(start, end)``: the sampler reads frames ``start..end`` only, as if
            the clip were cut there (:func:`phase_window`); the positions returned are the clip's.
        **options: the sampler's own keyword arguments (for example
            ``peak="middle"`` for STCAM); an unknown one raises TypeError.

    Returns:
        What the paper's sampler returns: int indices or float positions.

    Example:

    >>> sample("stcam", 25, peak="middle").tolist()
    [0, 2, 4, 6, 8, 10, 12]
    """
    _check_paper(paper)
    start, length = _in_window(n_frames, window)
    positions = SAMPLERS[paper](length, training=training, seed=seed, **options)
    return positions if window is None else positions + start


def superset(paper, n_frames, window=None, **options):
    """Every frame the sampler of ``paper`` can touch, in any training or test draw.

    For samplers that return float positions, both neighbours (floor and ceil)
    of every reachable position are included, so :func:`interpolate_frames`
    can run on the kept frames alone (pass them as ``frame_indices``).

    Args:
        paper: a key of :data:`SAMPLERS`.
        n_frames: number of frames in the video, >= 1.
        window: None, or the ``(start, end)`` the sampler reads (see :func:`sample`).
        **options: the sampler's keyword arguments other than ``training`` and
            ``seed`` (they change which frames are reachable).

    Returns:
        int64 array, sorted unique frame indices in ``[0, n_frames - 1]``.

    Example:

    >>> superset("stcam", 13, jitter=0.0).tolist()
    [0, 2, 4, 6, 8, 10, 12]
    """
    _check_paper(paper)
    for name in ("training", "seed"):
        if name in options:
            raise ValueError(f"`superset` covers every training and test draw; do not pass `{name}`.")
    start, length = _in_window(n_frames, window)
    SAMPLERS[paper](length, **options)  # validates n_frames and the options
    positions = np.asarray(_SUPERSETS[paper](length, **options), dtype=np.float64).ravel()
    frames = np.concatenate([np.floor(positions), np.ceil(positions)]).astype(np.int64)
    return start + np.unique(np.clip(frames, 0, length - 1))


# --------------------------------------------------------------------------- interpolation


def _slots_of(available, wanted):
    """Where each wanted frame index sits in the sorted ``available`` indices; ValueError if absent."""
    slots = np.minimum(np.searchsorted(available, wanted), available.size - 1)
    absent = np.unique(wanted[available[slots] != wanted])
    if absent.size:
        raise ValueError(f"`positions` need frames {absent.tolist()}, which are not in `frame_indices`.")
    return slots


def interpolate_frames(frames, positions, *, frame_indices=None):
    """Frames at (possibly fractional) positions: a linear blend of the two neighbouring frames.

    ``out[p] = (1 - w) * frames[floor(p)] + w * frames[floor(p) + 1]`` with
    ``w = p - floor(p)``; an integral position returns its frame unchanged.
    Works for images ``(N, H, W, 3)``, feature maps ``(N, 7, 7, 512)`` or
    vectors ``(N, D)``: any trailing shape.

    Args:
        frames: array (or sequence of equal-shape arrays) of shape ``(N, ...)``.
        positions: float or int array of any shape, from a sampler; values in
            ``[0, n_frames - 1]``.
        frame_indices: None when ``frames`` holds every frame of the video.
            When only some frames were kept (for example :func:`superset`),
            their original indices, sorted, one per entry of ``frames``; every
            neighbour a position needs must be among them.

    Returns:
        array of shape ``positions.shape + frames.shape[1:]``. Floating inputs
        keep their dtype (the blend is computed in float32, or float64 for
        float64 input); integer inputs such as uint8 images are blended,
        rounded and returned in their own dtype.

    Example:

    >>> import numpy as np
    >>> frames = np.array([[0.0], [10.0], [20.0]])
    >>> interpolate_frames(frames, np.array([0.5, 2.0])).tolist()
    [[5.0], [20.0]]
    """
    frames = np.asarray(frames)
    if frames.ndim < 1 or frames.shape[0] < 1:
        raise ValueError(f"`frames` must have shape (N, ...) with N >= 1; received frames.shape={frames.shape}")
    positions = np.asarray(positions)
    if positions.dtype == bool or not (
        np.issubdtype(positions.dtype, np.integer) or np.issubdtype(positions.dtype, np.floating)
    ):
        raise ValueError(f"`positions` must be an int or float array; received positions.dtype={positions.dtype}")
    if frame_indices is None:
        available = np.arange(frames.shape[0])
    else:
        available = np.asarray(frame_indices)
        if available.shape != (frames.shape[0],) or not np.issubdtype(available.dtype, np.integer):
            raise ValueError(
                f"`frame_indices` must be {frames.shape[0]} integers, one per frame; "
                f"received frame_indices={frame_indices!r}"
            )
        if np.any(np.diff(available) <= 0):
            raise ValueError(f"`frame_indices` must be sorted and unique; received frame_indices={frame_indices!r}")
    if not np.all(np.isfinite(positions)) or np.any(positions < available[0]) or np.any(positions > available[-1]):
        raise ValueError(
            f"`positions` must lie in [{available[0]}, {available[-1]}]; received positions from "
            f"{np.min(positions)} to {np.max(positions)}"
        )
    lower = np.floor(positions).astype(np.int64)
    upper = np.ceil(positions).astype(np.int64)
    lower_slot = _slots_of(available, lower)
    upper_slot = _slots_of(available, upper)
    if np.issubdtype(positions.dtype, np.integer):
        return frames[lower_slot]
    compute_dtype = np.float64 if frames.dtype == np.float64 else np.float32
    weight = (positions - lower).astype(compute_dtype).reshape(positions.shape + (1,) * (frames.ndim - 1))
    lower_frames = frames[lower_slot].astype(compute_dtype)
    upper_frames = frames[upper_slot].astype(compute_dtype)
    blended = lower_frames + weight * (upper_frames - lower_frames)  # (*positions.shape, ...)
    if np.issubdtype(frames.dtype, np.integer):
        limits = np.iinfo(frames.dtype)
        return np.clip(np.rint(blended), limits.min, limits.max).astype(frames.dtype)
    return blended.astype(frames.dtype)

