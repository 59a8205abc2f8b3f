"""The recipes' spatial augmentations of a clip: corner/centre crop, rescale and horizontal flip, seeded per clip.

STCAM (sec. 4.2, "Data augmentation"): random horizontal flip and a crop at
one of the four corners or the centre, 224 of 240. STANet (sec. 4.1): corner
crop and rescaling by 0.9, 1.0 or 1.1 (CASME I/II), corner crop and horizontal
flip (SMIC-HS). :class:`ClipAugmentation` holds a recipe's spatial ones
(:func:`from_recipe`); :func:`augment_clip` applies them to one clip
``(..., H, W, C)`` with stateless random ops keyed by the clip's draw seed, so
a training pass's augmentation is a function of (seed, epoch) as the readers'
frame draws are (:func:`keras_fer.data.pipeline.per_epoch`). The readers call
it in training only; evaluation reads the frames unchanged.

Every frame of a clip gets the same crop, scale and flip. In order:

1. ``"corner_center_crop"``: one of five positions (top-left, top-right,
   bottom-left, bottom-right, centre), drawn uniformly; a square of
   ``crop_fraction = crop_size / frame_size`` of the side (rounded) is cut
   there and resized back (bilinear) to the clip's size. The model reads one
   frame size in training and test, so the papers' 224 crop of a 240 frame
   is a 240/224 zoom of the reader's frames at whatever size they are (32 px
   in the tests: a 30 px crop), and evaluation reads the whole frame rather
   than the paper's centre crop.
2. ``"rescale"``: one of ``scales`` drawn uniformly; the frames are resized
   (bilinear) by it, then cut (scale > 1) or zero-padded (scale < 1) back to
   the clip's size at the position drawn in step 1 (the centre without a
   crop). The paper says neither how nor where; we read "corner crop +
   rescale" as one position for both.
3. ``"horizontal_flip"``: half the clips, mirrored left-right.

Optical flow (last axis of 2 channels, dx and dy, STANet's input) is
augmented as the image it came from: a mirror negates dx; a crop resized back
or a rescale multiplies dx and dy by the zoom of each axis (displacements in
pixels grow with the image), without clipping again. Cached stem features
(``input == "features"``) get no spatial augmentation: the maps were computed
from the unaugmented frames.

Example:

>>> from keras_fer.data import augment
>>> spec = augment.ClipAugmentation(("horizontal_flip", "corner_center_crop"), crop_fraction=224 / 240)
>>> clip = augment.augment_clip(tf.zeros((7, 32, 32, 3)), tf.constant(5, tf.int64), spec)  # doctest: +SKIP
"""

import dataclasses

import tensorflow as tf

__all__ = ["POSITIONS", "SPATIAL", "ClipAugmentation", "augment_clip", "from_recipe", "mirror"]

#: The spatial augmentations of :data:`keras_fer.training.recipes.AUGMENTATIONS` (``temporal_jitter`` is the
#: sampler's training draw).
SPATIAL = ("corner_center_crop", "rescale", "horizontal_flip")
#: Crop positions in the order drawn: (top, left) as fractions of the free space.
POSITIONS = ((0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0), (0.5, 0.5))
_CENTRE = 4


@dataclasses.dataclass(frozen=True)
class ClipAugmentation:
    """A recipe's spatial augmentations of a clip (see the module).

    Args:
        names: names from :data:`SPATIAL` (others, such as ``"temporal_jitter"``, are not spatial: refused).
        crop_fraction: side of the corner/centre crop over the frame's side, in (0, 1].
        scales: the factors of ``"rescale"``, each > 0.
    """

    names: tuple = ()
    crop_fraction: float = 1.0
    scales: tuple = ()

    def __post_init__(self):
        unknown = [name for name in self.names if name not in SPATIAL]
        if isinstance(self.names, str) or unknown:
            raise ValueError(f"`names` must be a tuple of names from {SPATIAL}; received names={self.names!r}")
        if not (isinstance(self.crop_fraction, (int, float)) and 0 < self.crop_fraction <= 1):
            raise ValueError(f"`crop_fraction` must be in (0, 1]; received crop_fraction={self.crop_fraction!r}")
        if "rescale" in self.names and (not self.scales or any(
                not isinstance(s, (int, float)) or s <= 0 for s in self.scales)):
            raise ValueError(f"`scales` must be positive numbers for 'rescale'; received scales={self.scales!r}")

    def record(self):
        """What a training job writes about it (JSON)."""
        return {"names": list(self.names), "crop_fraction": self.crop_fraction, "scales": list(self.scales)}


def from_recipe(recipe):
    """The spatial augmentations of a :class:`~keras_fer.training.recipes.Recipe` (None when it has none);
    ``crop_fraction`` is ``crop_size / frame_size``."""
    names = tuple(name for name in recipe.augmentation if name in SPATIAL)
    if not names:
        return None
    fraction = 1.0 if recipe.crop_size is None else recipe.crop_size / recipe.frame_size
    return ClipAugmentation(names, crop_fraction=fraction, scales=tuple(recipe.scales))


def _key(seed, stream):
    return tf.stack([tf.cast(seed, tf.int64), tf.constant(stream, tf.int64)])


def _offsets(position, free_height, free_width):
    """(top, left) of a window at ``position`` (index into :data:`POSITIONS`) with that much free space."""
    fractions = tf.gather(tf.constant(POSITIONS, tf.float32), position)  # (2,)
    free = tf.cast(tf.stack([free_height, free_width]), tf.float32)
    offsets = tf.cast(tf.floor(fractions * free), tf.int32)
    return offsets[0], offsets[1]


def _zoom_flow(frames, zoom_height, zoom_width, flow):
    if not flow:
        return frames
    return frames * tf.stack([zoom_width, zoom_height])  # dx with the width, dy with the height


def _crop_back(frames, position, fraction, flow):
    """(N, H, W, C): the ``fraction`` square at ``position``, resized back to (H, W)."""
    height, width = tf.shape(frames)[1], tf.shape(frames)[2]
    side_h = tf.maximum(1, tf.cast(tf.round(tf.cast(height, tf.float32) * fraction), tf.int32))
    side_w = tf.maximum(1, tf.cast(tf.round(tf.cast(width, tf.float32) * fraction), tf.int32))
    top, left = _offsets(position, height - side_h, width - side_w)
    crop = frames[:, top:top + side_h, left:left + side_w]  # (N, h, w, C)
    resized = tf.image.resize(crop, tf.stack([height, width]), method="bilinear")  # (N, H, W, C)
    return _zoom_flow(resized, tf.cast(height / side_h, tf.float32), tf.cast(width / side_w, tf.float32), flow)


def _rescale(frames, position, scale, flow):
    """(N, H, W, C) resized by ``scale``, then cut or zero-padded back to (H, W) at ``position``."""
    height, width = tf.shape(frames)[1], tf.shape(frames)[2]
    new_h = tf.maximum(1, tf.cast(tf.round(tf.cast(height, tf.float32) * scale), tf.int32))
    new_w = tf.maximum(1, tf.cast(tf.round(tf.cast(width, tf.float32) * scale), tf.int32))
    resized = tf.image.resize(frames, tf.stack([new_h, new_w]), method="bilinear")  # (N, h, w, C)
    resized = _zoom_flow(resized, tf.cast(new_h / height, tf.float32), tf.cast(new_w / width, tf.float32), flow)
    pad_h, pad_w = tf.maximum(height - new_h, 0), tf.maximum(width - new_w, 0)
    top, left = _offsets(position, pad_h, pad_w)
    padded = tf.pad(resized, [[0, 0], [top, pad_h - top], [left, pad_w - left], [0, 0]])  # (N, >=H, >=W, C)
    top, left = _offsets(position, tf.shape(padded)[1] - height, tf.shape(padded)[2] - width)
    return padded[:, top:top + height, left:left + width]  # (N, H, W, C)


def mirror(frames):
    """Frames ``(..., H, W, C)`` mirrored left-right; optical flow (C = 2: dx, dy) also negates dx."""
    mirrored = tf.reverse(frames, axis=[-2])
    if frames.shape[-1] == 2:
        mirrored = mirrored * tf.constant([-1.0, 1.0], mirrored.dtype)
    return mirrored


def augment_clip(clip, seed, augmentation):
    """One clip ``(..., H, W, C)`` (frames, or flow with C = 2) augmented by ``augmentation``, keyed by ``seed``.

    Args:
        clip: the clip's frames; every frame gets the same crop, scale and flip.
        seed: int64 scalar tensor, the clip's draw seed.
        augmentation: a :class:`ClipAugmentation` or None (the clip unchanged).

    Returns:
        The augmented clip, same shape and dtype.
    """
    if augmentation is None or not augmentation.names:
        return clip
    names, flow = augmentation.names, clip.shape[-1] == 2
    shape = tf.shape(clip)
    frames = tf.cast(tf.reshape(clip, tf.concat([[-1], shape[-3:]], 0)), tf.float32)  # (N, H, W, C)
    position = tf.constant(_CENTRE)
    if "corner_center_crop" in names:
        position = tf.random.stateless_uniform([], _key(seed, 0), minval=0, maxval=len(POSITIONS), dtype=tf.int32)
        if augmentation.crop_fraction < 1:
            frames = _crop_back(frames, position, augmentation.crop_fraction, flow)
    if "rescale" in names:
        pick = tf.random.stateless_uniform([], _key(seed, 1), minval=0, maxval=len(augmentation.scales),
                                           dtype=tf.int32)
        frames = _rescale(frames, position, tf.gather(tf.constant(augmentation.scales, tf.float32), pick), flow)
    if "horizontal_flip" in names:
        flip = tf.random.stateless_uniform([], _key(seed, 2)) < 0.5
        frames = tf.cond(flip, lambda: mirror(frames), lambda: frames)
    frames = tf.ensure_shape(tf.reshape(frames, shape), clip.shape)
    if clip.dtype.is_integer:
        return tf.saturate_cast(tf.round(frames), clip.dtype)
    return tf.cast(frames, clip.dtype)
