"""Shared pieces of the feature-cache tests: a tiny seeded stem, prepared synthetic data, random caches."""
import os

import keras
import numpy as np

from data_prep import prepare, synthetic
from keras_fer.data import cache

CROP = 32
SAMPLER_OPTIONS = {"num_frames": 5}


def tiny_stem():
    """32x32x3 -> (2, 2, 4); seeded initialisers, so every build has the same weights (and cache hash)."""
    inputs = keras.Input((CROP, CROP, 3))
    x = keras.layers.Conv2D(4, 8, strides=8, kernel_initializer=keras.initializers.GlorotUniform(seed=1),
                            bias_initializer=keras.initializers.RandomNormal(seed=2))(inputs)  # (B, 4, 4, 4)
    x = keras.layers.MaxPooling2D(2)(x)  # (B, 2, 2, 4)
    return keras.Model(inputs, x, name="tiny_stem")


def scale(x):
    return keras.ops.cast(x, "float32") / 255.0


def make_prepared(folder, sampler="ast", sampler_options=None):
    """A prepared synthetic dataset: 12 clips (2 subjects x 6 classes) of 16 frames, 32x32 whole-frame crops."""
    rows = synthetic.generate_dataset(os.path.join(folder, "synthetic"), n_subjects=2, videos_per_class=1,
                                      size=CROP, n_frames=16)
    samples = prepare.collect_samples(os.path.join(folder, "synthetic", "manifest.csv"))
    options = prepare.PrepareOptions(detector="full_frame", margin=0.0, size=CROP, sampler=sampler,
                                     sampler_options=sampler_options)
    out = os.path.join(folder, "prepared")
    result = prepare.prepare(None, out, options, progress=False, samples=samples)
    assert len(result.manifest_rows) == len(rows) == 12
    return out


def extract_tiny(prepared_dir, out_dir, **kwargs):
    kwargs.setdefault("num_shards", 2)
    return cache.extract(prepared_dir, out_dir, stem="tiny", stem_model=tiny_stem(), preprocess=scale,
                         batch_size=8, progress=False, **kwargs)


def random_samples(lengths, sampler_frames=None, labels=("a", "b", "c")):
    """CacheSamples with ``lengths[i]`` stored frames each (every frame of a ``sampler_frames[i]``-frame clip)."""
    sampler_frames = lengths if sampler_frames is None else sampler_frames
    return [
        cache.CacheSample(id=f"clip{i:03d}", label=labels[i % len(labels)], subject=f"S{i % 2}",
                          frame_indices=tuple(range(length)), sampler_frames=frames,
                          source_frames=tuple(range(length)))
        for i, (length, frames) in enumerate(zip(lengths, sampler_frames))
    ]


def random_features(samples, feature_shape, seed=0):
    """{id: float16 array (n, *feature_shape)} of random values."""
    rng = np.random.default_rng(seed)
    return {s.id: rng.normal(size=(len(s.frame_indices),) + tuple(feature_shape)).astype(np.float16) for s in samples}


def write_random_cache(folder, samples, features, sampler=None, sampler_options=None, num_shards=2, **config):
    config = {"stem": "random", "sampler": sampler, "sampler_options": dict(sampler_options or {}), **config}
    shape = next(iter(features.values())).shape[1:]
    cache.write_cache(folder, samples, lambda todo: (features[s.id] for s in todo), config, shape,
                      num_shards=num_shards, progress=False)
    return folder
