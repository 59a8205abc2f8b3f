"""A built-in, seeded benchmark of procedurally rendered facial-expression videos.

No licensed face data can ship with keras-fer, so this module draws cartoon
faces (head, eyes with irises, brows, nose, mouth) whose parts move like
facial action units, writes them as video files plus a dataset manifest
(:data:`data_prep.manifest.SOURCE_COLUMNS`), and so lets the same
preparation, samplers and protocols run on it as on a real dataset.

Subjects differ in face shape (aspect, eye spacing, mouth width, brow
thickness), skin tone, background, position, scale and lighting (a brightness
ramp across the frame), and in a resting face: each subject's neutral brows
and mouth corners sit slightly off zero, by amounts that overlap weak
expressions. An expression is a vector over four movements

========  =======================================================
unit      positive / negative value
========  =======================================================
brow      raise / lower (the inner ends tilt with it)
corners   mouth corners up / down
mouth     jaw opening (0 closed, 1 wide open)
eyes      widen / squint
========  =======================================================

scaled over time by an intensity profile that rises from ``onset`` to
``apex``, holds, and falls back to neutral at ``offset`` (frame indices in the
manifest, ``onset <= apex <= offset``). Distractors run through every video:
blinks, smooth head motion (shift and roll), lighting flicker, per-frame
Gaussian pixel noise, and neutral frames before and after the expression.

Modes (:data:`MODES`), all with balanced classes, so chance is
``1 / number of classes``:

======  ===================================================  =======  ======
mode    what is hard                                         classes  chance
======  ===================================================  =======  ======
macro   full-length expressions of varying intensity         6        16.7 %
sparse  the expression fills at most 25 % of the frames      6        16.7 %
micro   weak (15-35 % of macro), short expressions           3        33.3 %
order   two movements whose temporal order is the class      2        50.0 %
======  ===================================================  =======  ======

Every knob of a mode is a field of :class:`ModeSettings` (pass
``settings=dataclasses.replace(MODES["micro"], noise_std=2.0)`` to
:func:`generate_dataset`). The defaults keep classes overlapping (weak
apexes, subject resting faces, noise, head motion), so no model should reach
100 %.

Determinism: every video draws from its own generator seeded with
``(seed, mode, subject, class, repetition)`` and every identity from
``(seed, subject)``, so the same arguments give identical pixels, on any
subset of the dataset, and a subject looks the same in every mode.

Example:

>>> from data_prep.synthetic import generate_dataset
>>> rows = generate_dataset("synthetic/", mode="sparse", n_subjects=4)   # doctest: +SKIP
>>> rows[0]["label"], rows[0]["subject"], rows[0]["onset"]             # doctest: +SKIP
('anger', 'S01', '17')
"""

import dataclasses
import math
import os

import cv2
import numpy as np

from data_prep import files, manifest
from data_prep.checks import check_choice, check_int

__all__ = [
    "ACTION_UNITS",
    "FACE_FRAMED_SCALE",
    "FRAMINGS",
    "MODES",
    "FaceIdentity",
    "ModeSettings",
    "expression_program",
    "generate_dataset",
    "random_identity",
    "render_video",
]

ACTION_UNITS = ("brow", "corners", "mouth", "eyes")
FPS = 25.0
_SUBPIXEL_BITS = 4  # cv2 drawing with `shift`: coordinates in 1/16 pixel, so weak movements still show
_SUBPIXEL = 1 << _SUBPIXEL_BITS
_ROLL_DEGREES_PER_SHIFT = 40.0  # head_motion 0.12 -> roll up to about 5 degrees
_MODE_CODES = {"macro": 1, "sparse": 2, "micro": 3, "order": 4}
#: ``generate_dataset``'s framings: the face where the identity stands in the scene, or centred and filling the
#: frame as a face detector's square crop frames it.
FRAMINGS = ("scene", "face")
#: A face-framed identity's half height as a share of the frame: the face box (2 half heights) with the 15 %
#: margin that ``data_prep.faces.crop_face`` adds, so the frame is what a detector's crop of the scene would be.
FACE_FRAMED_SCALE = 1.0 / (2.0 * 1.15)

# Expressions as (brow, corners, mouth, eyes) at full intensity, loosely after FACS prototypes; the
# shared units (brow lowering in anger and disgust, widening in fear and surprise) make them overlap.
# The strongest unit of every prototype is 1, so the apex intensity is the `peak` drawn per video.
_MACRO_CLASSES = {
    "anger": (-1.0, -0.3, 0.0, -0.5),
    "disgust": (-0.5, -0.7, 0.25, -1.0),
    "fear": (0.8, -0.5, 0.45, 1.0),
    "happiness": (0.0, 1.0, 0.15, -0.35),
    "sadness": (0.35, -1.0, 0.0, -0.3),
    "surprise": (1.0, 0.0, 1.0, 1.0),
}
# Micro-expression datasets (CASME II, SMIC) use three to five coarse classes.
_MICRO_CLASSES = {
    "negative": (-1.0, -0.6, 0.0, -0.5),
    "positive": (0.0, 1.0, 0.0, -0.4),
    "surprise": (1.0, 0.0, 0.4, 1.0),
}
# Two single movements; the class is which comes first.
_ORDER_MOVEMENTS = {"brow": (1.0, 0.0, 0.0, 0.0), "mouth": (0.0, 0.0, 1.0, 0.0)}
_ORDER_CLASSES = ("brow_then_mouth", "mouth_then_brow")


@dataclasses.dataclass(frozen=True)
class ModeSettings:
    """The knobs of one benchmark mode.

    Args:
        classes: class names, in label order.
        peak: ``(low, high)`` apex intensity, drawn uniformly per video (1 is
            the full prototype movement).
        duration: ``(low, high)`` share of the frames from onset to offset,
            drawn uniformly per video (for ``order``: per movement).
        hold: share of the expression's duration spent at the apex.
        min_frames: fewest frames from onset to offset.
        resting_face: subjects' neutral brows and mouth corners are offset by
            up to this much (of a full movement).
        noise_std: per-frame Gaussian pixel noise, in 0-255 units.
        head_motion: largest head shift, as a share of the face's half
            height; the head's roll reaches 40 times this, in degrees.
        blink_rate: expected blinks per 25 frames.
        flicker: largest frame-to-frame brightness change, as a share.
    """

    classes: tuple
    peak: tuple = (0.35, 1.0)
    duration: tuple = (0.6, 0.95)
    hold: float = 0.3
    min_frames: int = 3
    resting_face: float = 0.2
    noise_std: float = 5.0
    head_motion: float = 0.12
    blink_rate: float = 0.6
    flicker: float = 0.03


MODES = {
    "macro": ModeSettings(classes=tuple(_MACRO_CLASSES)),
    "sparse": ModeSettings(classes=tuple(_MACRO_CLASSES), peak=(0.4, 1.0), duration=(0.12, 0.25), hold=0.2),
    "micro": ModeSettings(classes=tuple(_MICRO_CLASSES), peak=(0.15, 0.35), duration=(0.12, 0.22), hold=0.1,
                          resting_face=0.1, noise_std=3.0, head_motion=0.06),
    "order": ModeSettings(classes=_ORDER_CLASSES, peak=(0.5, 1.0), duration=(0.2, 0.35), hold=0.2),
}
SPARSE_MAX_SHARE = MODES["sparse"].duration[1]


@dataclasses.dataclass(frozen=True)
class FaceIdentity:
    """What makes one synthetic subject look like itself.

    Attributes:
        centre: face centre as a share of the frame's ``(width, height)``.
        scale: face half height as a share of the frame's shorter side.
        aspect: face half width / half height.
        eye_spacing: eye centres' distance from the midline, in half heights.
        mouth_width: mouth corners' distance from the midline, in half heights.
        brow_thickness: brow stroke width, in half heights.
        skin: RGB skin colour, 0-255.
        background: RGB background colour, 0-255.
        brightness: overall light level (1 is as drawn).
        light_direction: angle of the brightness ramp, radians.
        light_strength: brightness change across the frame, as a share.
        resting: neutral ``(brow, corners, mouth, eyes)`` of this face.
        expressiveness: multiplies every expression's intensity.
    """

    centre: tuple
    scale: float
    aspect: float
    eye_spacing: float
    mouth_width: float
    brow_thickness: float
    skin: tuple
    background: tuple
    brightness: float
    light_direction: float
    light_strength: float
    resting: tuple
    expressiveness: float


def random_identity(rng, resting_face=0.2):
    """A random :class:`FaceIdentity` drawn from ``rng`` (a ``numpy.random.Generator``)."""
    # Skin tones between dark brown and pale, as a blend of two anchors plus a small hue shift.
    dark, light = np.array([90.0, 56.0, 38.0]), np.array([240.0, 205.0, 180.0])
    skin = dark + rng.uniform(0.0, 1.0) * (light - dark) + rng.uniform(-12, 12, 3)
    background = rng.uniform(40, 200) + rng.uniform(-30, 30, 3)
    resting = (rng.uniform(-resting_face, resting_face), rng.uniform(-resting_face, resting_face), 0.0,
               rng.uniform(-resting_face, resting_face))
    return FaceIdentity(
        centre=(float(0.5 + rng.uniform(-0.06, 0.06)), float(0.5 + rng.uniform(-0.05, 0.05))),
        scale=float(rng.uniform(0.33, 0.42)),
        aspect=float(rng.uniform(0.68, 0.86)),
        eye_spacing=float(rng.uniform(0.30, 0.40)),
        mouth_width=float(rng.uniform(0.24, 0.34)),
        brow_thickness=float(rng.uniform(0.045, 0.075)),
        skin=tuple(float(v) for v in np.clip(skin, 0, 255)),
        background=tuple(float(v) for v in np.clip(background, 0, 255)),
        brightness=float(rng.uniform(0.8, 1.1)),
        light_direction=float(rng.uniform(0, 2 * math.pi)),
        light_strength=float(rng.uniform(0.0, 0.35)),
        resting=tuple(float(v) for v in resting),
        expressiveness=float(rng.uniform(0.8, 1.15)),
    )


def _profile(n_frames, onset, apex, hold_end, offset):
    """Intensity in [0, 1] per frame: smooth rise onset->apex, 1 until hold_end, smooth fall to 0 at offset."""
    t = np.arange(n_frames, dtype=np.float64)
    rise = np.clip((t - onset) / max(apex - onset, 1), 0, 1)
    fall = np.clip((offset - t) / max(offset - hold_end, 1), 0, 1)
    smooth = lambda x: x * x * (3 - 2 * x)  # noqa: E731  (smoothstep)
    values = np.where(t <= apex, smooth(rise), np.where(t <= hold_end, 1.0, smooth(fall)))
    values[(t < onset) | (t > offset)] = 0.0
    return values


def _window(rng, n_frames, length, hold, earliest=0, latest=None):
    """``(onset, apex, hold_end, offset)`` of a ``length``-frame event starting in [earliest, latest]."""
    latest = n_frames - length if latest is None else latest
    onset = int(rng.integers(earliest, latest + 1))
    offset = onset + length - 1
    hold_frames = int(round(hold * length))
    apex = onset + max(1, (length - 1 - hold_frames) // 2)
    hold_end = min(apex + hold_frames, offset - 1)
    return onset, apex, hold_end, offset


def _length(rng, settings, n_frames, share=None):
    low, high = settings.duration
    share = rng.uniform(low, high) if share is None else share
    longest = max(settings.min_frames, int(math.floor(high * n_frames)))
    return int(np.clip(int(round(share * n_frames)), settings.min_frames, longest))


def expression_program(mode, class_index, n_frames, rng, settings=None):
    """The movements of one video: per-frame action units and the expression's timing.

    Args:
        mode: a key of :data:`MODES`.
        class_index: index into the mode's classes.
        n_frames: video length.
        rng: ``numpy.random.Generator``.
        settings: :class:`ModeSettings` (None: ``MODES[mode]``).

    Returns:
        ``(units, onset, apex, offset)``: ``units`` float ``(n_frames, 4)``
        over :data:`ACTION_UNITS` (before the subject's resting face and
        expressiveness), and frame indices with ``onset <= apex <= offset``.
        For ``order`` the onset is the first movement's, the apex the first
        movement's apex, the offset the second movement's.
    """
    settings = MODES[mode] if settings is None else settings
    if not 0 <= class_index < len(settings.classes):
        raise ValueError(f"`class_index` must be in [0, {len(settings.classes)}) for mode {mode!r}; "
                         f"received class_index={class_index!r}")
    peak = rng.uniform(*settings.peak)
    if mode == "order":
        length = _length(rng, settings, n_frames)
        gap = int(rng.integers(0, max(1, n_frames // 10) + 1))
        if 2 * length + gap > n_frames:
            raise ValueError(f"`n_frames` must be long enough for two {length}-frame movements in mode 'order'; "
                             f"received n_frames={n_frames!r}")
        first = _window(rng, n_frames, length, settings.hold, latest=n_frames - 2 * length - gap)
        second = tuple(value + length + gap for value in first)
        order = ("brow", "mouth") if class_index == 0 else ("mouth", "brow")
        units = np.zeros((n_frames, len(ACTION_UNITS)))
        for movement, window in zip(order, (first, second)):
            units += peak * _profile(n_frames, *window)[:, None] * np.asarray(_ORDER_MOVEMENTS[movement])[None, :]
        return units, first[0], first[1], second[3]
    prototype = {"micro": _MICRO_CLASSES}.get(mode, _MACRO_CLASSES)[settings.classes[class_index]]
    length = _length(rng, settings, n_frames)
    window = _window(rng, n_frames, length, settings.hold)
    units = peak * _profile(n_frames, *window)[:, None] * np.asarray(prototype)[None, :]
    return units, window[0], window[1], window[3]


def _distractors(rng, n_frames, settings):
    """Blink closure (T,), head pose (T, 3) as (dx, dy, roll) and brightness flicker (T,)."""
    blink = np.zeros(n_frames)
    for _ in range(rng.poisson(settings.blink_rate * n_frames / 25.0)):
        start = int(rng.integers(0, n_frames))
        for step, closure in enumerate((0.6, 1.0, 0.5)):
            if start + step < n_frames:
                blink[start + step] = max(blink[start + step], closure)
    t = np.arange(n_frames) / max(n_frames, 1)
    pose = np.zeros((n_frames, 3))
    for axis in range(3):
        for frequency in (rng.uniform(0.3, 1.2), rng.uniform(1.5, 3.0)):
            pose[:, axis] += rng.uniform(-0.5, 0.5) * np.sin(2 * np.pi * (frequency * t + rng.uniform()))
    pose *= settings.head_motion
    pose[:, 2] *= _ROLL_DEGREES_PER_SHIFT
    flicker = 1.0 + settings.flicker * np.clip(rng.standard_normal(n_frames), -1, 1)
    return blink, pose, flicker


def _bezier(start, control, end, n=9):
    s = np.linspace(0, 1, n)[:, None]
    return (1 - s) ** 2 * start + 2 * (1 - s) * s * control + s ** 2 * end


def _draw_face(canvas, identity, units, blink, pose):
    """Draw one face on the RGB uint8 ``canvas`` (in place) with the given units, blink and pose."""
    height, width = canvas.shape[:2]
    brow, corners, mouth, eyes = units
    radius = identity.scale * min(height, width)
    dx, dy, roll = pose
    centre = np.array([identity.centre[0] * width + dx * radius, identity.centre[1] * height + dy * radius])
    angle = math.radians(roll)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])

    def to_pixels(points):
        points = np.atleast_2d(np.asarray(points, dtype=np.float64)) * radius
        return np.round((points @ rotation.T + centre) * _SUBPIXEL).astype(np.int32)

    def px(length):
        return max(1, int(round(length * radius * _SUBPIXEL)))

    skin = tuple(identity.skin)
    dark = tuple(0.35 * v for v in identity.skin)
    line = cv2.LINE_AA
    degrees = math.degrees(angle)
    head = tuple(int(v) for v in to_pixels([0.0, 0.0])[0])
    cv2.ellipse(canvas, head, (px(identity.aspect), px(1.0)), degrees, 0, 360, skin, -1, line, _SUBPIXEL_BITS)
    # Eyes: sclera ellipse whose height follows widening/squinting and blinks; iris clipped to it.
    openness = max(0.0, (1.0 + 0.55 * eyes) * (1.0 - blink))
    for side in (-1, 1):
        eye = [side * identity.eye_spacing, -0.15]
        eye_centre = tuple(int(v) for v in to_pixels(eye)[0])
        half_height = 0.075 * openness
        if half_height * radius >= 0.5:
            cv2.ellipse(canvas, eye_centre, (px(0.13), px(half_height)), degrees, 0, 360, (245, 245, 240), -1,
                        line, _SUBPIXEL_BITS)
            cv2.ellipse(canvas, eye_centre, (px(min(0.06, half_height)), px(min(0.06, half_height))), 0, 0, 360,
                        (45, 30, 20), -1, line, _SUBPIXEL_BITS)
        else:
            closed = to_pixels([[eye[0] - 0.13, eye[1]], [eye[0] + 0.13, eye[1]]])
            cv2.polylines(canvas, [closed], False, dark, max(1, int(round(0.02 * radius))), line, _SUBPIXEL_BITS)
        # Brows: lift with `brow`; the inner end moves twice as far as the outer one (frown / worry).
        brow_y = -0.36 - 0.11 * brow
        inner = [side * (identity.eye_spacing - 0.14), brow_y - 0.05 * brow]
        outer = [side * (identity.eye_spacing + 0.15), brow_y + 0.03]
        middle = [side * identity.eye_spacing, brow_y - 0.04 - 0.02 * brow]
        cv2.polylines(canvas, [to_pixels(_bezier(np.array(inner), np.array(middle), np.array(outer)))], False,
                      (60, 40, 30), max(1, int(round(identity.brow_thickness * radius))), line, _SUBPIXEL_BITS)
    nose = to_pixels([[0.0, -0.08], [-0.05, 0.2], [0.06, 0.2]])
    cv2.polylines(canvas, [nose], False, dark, max(1, int(round(0.02 * radius))), line, _SUBPIXEL_BITS)
    # Mouth: corners move up/down, the lower lip drops with the jaw; an open mouth is a dark polygon.
    mouth_y = 0.5
    left = np.array([-identity.mouth_width * (1 + 0.1 * corners), mouth_y - 0.1 * corners])
    right = np.array([-left[0], left[1]])
    upper_control = np.array([0.0, mouth_y - 0.02 - 0.05 * mouth + 0.06 * max(corners, 0)])
    lower_control = np.array([0.0, mouth_y + 0.02 + 0.35 * mouth + 0.1 * max(corners, 0)])
    upper = _bezier(left, upper_control, right)
    lower = _bezier(left, lower_control, right)
    lips = (150, 60, 60)
    if mouth > 0.05:
        cv2.fillPoly(canvas, [to_pixels(np.concatenate([upper, lower[::-1]]))], (60, 20, 25), line, _SUBPIXEL_BITS)
    thickness = max(1, int(round(0.03 * radius)))
    cv2.polylines(canvas, [to_pixels(upper)], False, lips, thickness, line, _SUBPIXEL_BITS)
    cv2.polylines(canvas, [to_pixels(lower)], False, lips, thickness, line, _SUBPIXEL_BITS)


def _frame_shape(size):
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        height = width = int(size)
    elif isinstance(size, (tuple, list)) and len(size) == 2 and all(isinstance(v, (int, np.integer)) for v in size):
        height, width = (int(v) for v in size)
    else:
        raise ValueError(f"`size` must be an integer or a (height, width) pair of integers; received size={size!r}")
    if min(height, width) < 16:
        raise ValueError(f"`size` must be at least 16 pixels on each side; received size={size!r}")
    return height, width


def render_video(identity, units, size=112, blink=None, head_pose=None, flicker=None, noise_std=0.0, seed=0):
    """Render a face video from per-frame action units.

    Args:
        identity: :class:`FaceIdentity`.
        units: float ``(T, 4)`` over :data:`ACTION_UNITS`, added to the
            identity's resting face after scaling by its expressiveness.
        size: frame side, or ``(height, width)``; any resolution >= 16.
        blink: None or ``(T,)`` eye closure in [0, 1].
        head_pose: None or ``(T, 3)``: shift x, y (in face half heights) and
            roll (degrees).
        flicker: None or ``(T,)`` brightness factor per frame.
        noise_std: Gaussian pixel noise, 0-255 units (0: none).
        seed: seeds the noise.

    Returns:
        RGB uint8 ``(T, height, width, 3)``.

    Example:

    >>> import numpy as np
    >>> face = random_identity(np.random.default_rng(0))
    >>> render_video(face, np.zeros((4, 4)), size=32).shape
    (4, 32, 32, 3)
    """
    height, width = _frame_shape(size)
    units = np.asarray(units, dtype=np.float64)
    if units.ndim != 2 or units.shape[1] != len(ACTION_UNITS):
        raise ValueError(f"`units` must have shape (T, {len(ACTION_UNITS)}); received units.shape={units.shape}")
    n_frames = units.shape[0]
    blink = np.zeros(n_frames) if blink is None else np.asarray(blink, dtype=np.float64)
    head_pose = np.zeros((n_frames, 3)) if head_pose is None else np.asarray(head_pose, dtype=np.float64)
    flicker = np.ones(n_frames) if flicker is None else np.asarray(flicker, dtype=np.float64)
    if blink.shape != (n_frames,) or head_pose.shape != (n_frames, 3) or flicker.shape != (n_frames,):
        raise ValueError(f"`blink`, `head_pose`, `flicker` must have shapes ({n_frames},), ({n_frames}, 3), "
                         f"({n_frames},); received blink.shape={blink.shape}, head_pose.shape={head_pose.shape}, "
                         f"flicker.shape={flicker.shape}")
    if noise_std < 0:
        raise ValueError(f"`noise_std` must be >= 0; received noise_std={noise_std!r}")
    moved = np.asarray(identity.resting)[None, :] + identity.expressiveness * units  # (T, 4)
    frames = np.empty((n_frames, height, width, 3), dtype=np.uint8)
    for index in range(n_frames):
        frames[index] = np.asarray(identity.background, dtype=np.float64).round().astype(np.uint8)
        _draw_face(frames[index], identity, moved[index], blink[index], head_pose[index])
    # Lighting: a linear brightness ramp across the frame, times the per-frame flicker.
    ys, xs = np.mgrid[0:height, 0:width]
    ramp = (np.cos(identity.light_direction) * (xs / width - 0.5)
            + np.sin(identity.light_direction) * (ys / height - 0.5))  # (H, W)
    light = identity.brightness * (1.0 + identity.light_strength * ramp)  # (H, W)
    video = frames.astype(np.float32) * (flicker[:, None, None, None] * light[None, :, :, None]).astype(np.float32)
    if noise_std > 0:
        video += np.random.default_rng(seed).normal(0.0, noise_std, video.shape).astype(np.float32)
    return np.clip(np.round(video), 0, 255).astype(np.uint8)


def _write_video(path, frames):
    """Write RGB frames as MJPG AVI (OpenCV's built-in encoder: no FFmpeg needed), atomically."""
    height, width = frames.shape[1:3]
    with files.atomic_path(path, suffix=".avi") as temporary:
        writer = cv2.VideoWriter(temporary, cv2.VideoWriter_fourcc(*"MJPG"), FPS, (width, height))
        if not writer.isOpened():
            raise OSError(f"{path}: OpenCV cannot open an MJPG AVI writer")
        try:
            writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 95)
            for frame in frames:
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        finally:
            writer.release()


def _settings_record(mode, n_subjects, videos_per_class, size, n_frames, seed, settings, framing):
    record = dict(mode=mode, n_subjects=n_subjects, videos_per_class=videos_per_class, size=list(_frame_shape(size)),
                  n_frames=n_frames, seed=seed, framing=framing, settings=dataclasses.asdict(settings))
    record["settings"]["classes"] = list(settings.classes)
    record["settings"]["peak"] = list(settings.peak)
    record["settings"]["duration"] = list(settings.duration)
    return record


def generate_dataset(out_dir, mode="macro", n_subjects=10, videos_per_class=3, size=112, n_frames=32, seed=0,
                     settings=None, framing="scene"):
    """Render a synthetic benchmark: ``out_dir/videos/*.avi``, ``manifest.csv`` and ``synthetic.json``.

    Args:
        out_dir: output folder (created). Videos already there under the
            same names are overwritten.
        mode: "macro", "sparse", "micro" or "order" (see the module).
        n_subjects: identities, ids ``S01``, ``S02``, ...
        videos_per_class: videos per subject and class.
        size: frame side or ``(height, width)``.
        n_frames: frames per video (>= 16; "sparse" and "order" need room
            for short events among neutral frames).
        seed: the same seed gives identical pixels.
        settings: None for ``MODES[mode]``, or a :class:`ModeSettings`.
        framing: ``"scene"`` (each identity's own face position and size) or ``"face"``: every face centred
            at :data:`FACE_FRAMED_SCALE`, as a face detector's crop frames it (the same identities and
            videos otherwise), for models that train on face crops from scratch.

    Returns:
        The manifest rows (dicts over ``SOURCE_COLUMNS``; paths relative to
        ``out_dir``), subject by subject, class by class.
    """
    check_choice(mode, sorted(MODES), "mode")
    settings = MODES[mode] if settings is None else settings
    if not isinstance(settings, ModeSettings):
        raise ValueError(f"`settings` must be None or a ModeSettings; received settings={settings!r}")
    n_subjects = check_int(n_subjects, "n_subjects", minimum=1)
    videos_per_class = check_int(videos_per_class, "videos_per_class", minimum=1)
    n_frames = check_int(n_frames, "n_frames", minimum=16)
    seed = check_int(seed, "seed", minimum=0)
    check_choice(framing, FRAMINGS, "framing")
    _frame_shape(size)
    out_dir = os.fspath(out_dir)
    videos = os.path.join(out_dir, "videos")
    os.makedirs(videos, exist_ok=True)
    rows = []
    for subject in range(n_subjects):
        identity = random_identity(np.random.default_rng([seed, 0, subject]), settings.resting_face)
        if framing == "face":
            identity = dataclasses.replace(identity, centre=(0.5, 0.5), scale=FACE_FRAMED_SCALE)
        subject_id = f"S{subject + 1:02d}"
        for class_index, label in enumerate(settings.classes):
            for repetition in range(videos_per_class):
                rng = np.random.default_rng([seed, 1, _MODE_CODES[mode], subject, class_index, repetition])
                units, onset, apex, offset = expression_program(mode, class_index, n_frames, rng, settings)
                blink, pose, flicker = _distractors(rng, n_frames, settings)
                frames = render_video(identity, units, size, blink, pose, flicker, settings.noise_std,
                                      seed=int(rng.integers(2 ** 31)))
                sample_id = f"{mode}_{subject_id}_{label}_{repetition + 1}"
                _write_video(os.path.join(videos, f"{sample_id}.avi"), frames)
                rows.append(dict(id=sample_id, path=f"videos/{sample_id}.avi", label=label, subject=subject_id,
                                 onset=onset, apex=apex, offset=offset))
    manifest.write_csv(os.path.join(out_dir, "manifest.csv"), manifest.SOURCE_COLUMNS, rows)
    files.write_json(os.path.join(out_dir, "synthetic.json"),
                     _settings_record(mode, n_subjects, videos_per_class, size, n_frames, seed, settings, framing))
    return rows

