"""Optical flow of prepared clips for STANet, held in memory, and its flip augmentation.

:func:`flow_source` computes, for every sample of a ``keras-fer prepare``
folder, the flow of its onset..offset window interpolated to the sampler's
frames (STANet section 4.1), and serves it as an in-memory
:class:`~keras_fer.data.sources.ArraySource` with :func:`mirror_flow` as its
training augmentation.
"""

import os

import cv2
import numpy as np

from data_prep import flow, manifest
from data_prep.sampling import interpolate_frames, sample
from keras_fer.data import cache, prepared
from keras_fer.data.sources import ArraySource

__all__ = ["flow_source", "mirror_flow"]


def _window(row, prepared_dir):
    """A sample's annotated (onset, offset) frames, or a ValueError that names the sample and the file."""
    try:
        return int(row["onset"]), int(row["offset"])
    except (KeyError, ValueError):
        raise ValueError(f"{os.path.join(prepared_dir, 'manifest.csv')}: sample {row['id']!r} has no onset and offset "
                         f"frame (onset={row.get('onset', '')!r}, offset={row.get('offset', '')!r}); STANet's flow "
                         "is computed over the onset..offset window: prepare from a manifest CSV (or a dataset "
                         "adapter) that gives both") from None


def flow_source(prepared_dir, num_flows=10, size=32, bound=0.5):
    """STANet's input for every prepared sample: flow of the onset..offset window (its learning check's recipe)."""
    rows = {row["id"]: row for row in manifest.read_csv(os.path.join(prepared_dir, "manifest.csv"))}
    samples = cache.prepared_samples(prepared_dir, sampler=None)
    classes = sorted({s.label for s in samples})
    clips = []
    for s in samples:
        onset, offset = _window(rows[s.id], prepared_dir)
        video = prepared.load_crops([os.path.join(s.crops_dir, f"{frame:06d}.jpg") for frame in s.source_frames],
                                    None)
        positions = onset + sample("stanet", offset - onset + 1, num_frames=num_flows + 1)
        frames = interpolate_frames(video, positions)
        fields = np.stack(list(flow.flow_sequence(frames, method="farneback")))  # (T, H, W, 2) pixels
        scale = size / video.shape[1]
        fields = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in fields]) * scale
        clips.append(flow.normalize_flow(fields, bound=bound))

    return ArraySource(np.stack(clips).astype("float32"), [classes.index(s.label) for s in samples],
                       [s.id for s in samples], [s.subject for s in samples], classes, input="frames",
                       augment=mirror_flow)


def mirror_flow(x, y):
    """Training augmentation of a flow batch (B, T, H, W, 2): mirror half the clips left-right; dx changes sign."""
    import tensorflow as tf

    flipped = tf.reverse(x, axis=[3]) * tf.constant([-1.0, 1.0])
    keep = tf.random.uniform(tf.shape(x)[:1]) < 0.5
    return tf.where(keep[:, None, None, None, None], x, flipped), y
