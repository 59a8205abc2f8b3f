"""The feature cache's layout: file names, the configuration hash, records and the cache's errors.

See :mod:`keras_fer.data.cache` for the layout and its guarantees.
"""

import dataclasses
import hashlib
import json
import os

import numpy as np

__all__ = [
    "CACHE_FORMAT",
    "MANIFEST_COLUMNS",
    "CacheError",
    "CacheInfo",
    "CacheIntegrityError",
    "CacheMismatchError",
    "CacheSample",
    "NonFiniteFeaturesError",
    "check_features",
    "config_hash",
    "content_digests",
    "differences",
    "edited_entries",
    "example",
    "is_cache_dir",
    "partial_dir",
    "phase_columns",
    "read_cache_json",
    "read_json",
    "read_records",
    "samples_hash",
    "shard_path",
]

#: 2: ``cache.json`` records a sha256 of each of its entries and every shard index the sha256 of its shard.
#: 3: the manifest records each sample's annotated onset/apex/offset, which the samplers read.
CACHE_FORMAT = 3
MANIFEST_COLUMNS = ("id", "label", "label_index", "subject", "shard", "record", "n_cached", "sampler_frames",
                    "frame_indices", "source_frames", "onset", "apex", "offset")


class CacheError(ValueError):
    """A feature cache cannot be used; the message names the file and the problem."""


class CacheMismatchError(CacheError):
    """The cache was written with another configuration (stem, weights, face settings, sampler, version)."""


class CacheIntegrityError(CacheError):
    """A file of the cache is missing, damaged or edited, a sample is named twice, or the cache is unfinished."""


class NonFiniteFeaturesError(CacheError):
    """A sample's features hold NaN or infinite values (or values beyond float16's range)."""


@dataclasses.dataclass(frozen=True)
class CacheSample:
    """One sample to cache.

    Attributes:
        id: unique sample id.
        label: class name ("" for an unlabelled sample).
        subject: subject id (for subject-independent splits), may be "".
        frame_indices: sampler-space indices of the frames to cache, sorted, unique.
        sampler_frames: the ``n_frames`` the sampler is called with.
        source_frames: the source video frame of each cached frame (same length).
        crops_dir: absolute folder of the face crops ("" when features come from elsewhere).
        phases: ``(onset, apex, offset)`` annotated, in sampler-space frame numbers (-1: not annotated), or
            ``()`` when none is; the samplers read them (:func:`data_prep.sampling.phase_window`).
    """

    id: str
    label: str
    subject: str
    frame_indices: tuple
    sampler_frames: int
    source_frames: tuple
    crops_dir: str = ""
    phases: tuple = ()


@dataclasses.dataclass
class CacheInfo:
    """A checked, finished cache (from :func:`open_cache`).

    Attributes:
        cache_dir: the cache folder.
        config: the config dict of ``cache.json``.
        hash: its sha256.
        classes: sorted class names; record ``label`` indexes them.
        feature_shape: shape of one frame's features, e.g. (7, 7, 512).
        shard_files: the shard files, in shard order.
        records: one dict per sample (the manifest columns, parsed), in shard then record order.
    """

    cache_dir: str
    config: dict
    hash: str
    classes: list
    feature_shape: tuple
    shard_files: list
    records: list

    @property
    def num_samples(self):
        return len(self.records)


def shard_path(cache_dir, shard, num_shards, suffix=".tfrecord"):
    """``CACHE/shards/shard-00003-of-00016.tfrecord`` (``suffix=".json"``: its index)."""
    return os.path.join(os.fspath(cache_dir), "shards", f"shard-{shard:05d}-of-{num_shards:05d}{suffix}")


def partial_dir(cache_dir, shard, num_shards):
    """The hidden folder a shard is written in before it is finished."""
    return os.path.join(os.fspath(cache_dir), "shards", f".shard-{shard:05d}-of-{num_shards:05d}.partial")


def read_json(path, what):
    """A JSON file of the cache; :class:`CacheIntegrityError` naming it when it is missing or unreadable."""
    if not os.path.isfile(path):
        raise CacheIntegrityError(f"{path}: missing ({what})")
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CacheIntegrityError(f"{path}: not readable JSON ({what}): {error}") from error


def config_hash(config):
    """sha256 of a config dict in canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_digests(info):
    """``{key: sha256 of its value}`` of every entry but ``sha256`` of a record (``cache.json``, ``train.json``)."""
    return {key: config_hash(value) for key, value in info.items() if key != "sha256"}


def edited_entries(info):
    """The sorted keys of a record whose value no longer matches the sha256 recorded in its ``sha256`` entry."""
    recorded, found = info.get("sha256") or {}, content_digests(info)
    return sorted(key for key in set(recorded) | set(found) if recorded.get(key) != found.get(key))


def is_cache_dir(path):
    """Whether ``path`` is (or was) a feature cache: it holds ``cache.json`` or ``shards/``."""
    return os.path.isfile(os.path.join(path, "cache.json")) or os.path.isdir(os.path.join(path, "shards"))


def read_cache_json(cache_dir):
    """``cache.json``, checked against the sha256 of each entry recorded when it was written.

    Raises:
        CacheIntegrityError: the file is missing or unreadable, of another format, or an entry (``classes``,
            ``config``, ``feature_shape``, ...) was edited; the message names the file and the entries.
    """
    path = os.path.join(os.fspath(cache_dir), "cache.json")
    info = read_json(path, "the feature cache's configuration, written by keras-fer extract")
    if info.get("format") != CACHE_FORMAT:
        raise CacheIntegrityError(
            f"{path}: cache format {info.get('format')!r}, this keras-fer reads format {CACHE_FORMAT} (its "
            "shards carry a sha256, its manifest the annotated phases); run keras-fer extract again into a new "
            "folder.")
    edited = edited_entries(info)
    if edited:
        raise CacheIntegrityError(
            f"{path}: edited after keras-fer extract wrote it: {', '.join(edited)} no longer match the sha256 "
            "recorded with them; the features were made for the recorded values. Restore the file, or run "
            "keras-fer extract again into a new folder.")
    return info


def phase_columns(phases):
    """The manifest's ``onset``, ``apex`` and ``offset`` cells of a sample's ``phases`` ("" when not annotated)."""
    values = tuple(phases) or (-1, -1, -1)
    return {name: "" if value is None or value < 0 else int(value)
            for name, value in zip(("onset", "apex", "offset"), values)}


def samples_hash(samples):
    """sha256 of the sample list (ids, labels, subjects, cached frames, phases), recorded in ``cache.json``."""
    digest = hashlib.sha256()
    for sample in samples:
        digest.update(json.dumps([sample.id, sample.label, sample.subject, list(sample.frame_indices),
                                  sample.sampler_frames, list(sample.phases)]).encode("utf-8"))
    return digest.hexdigest()


def differences(old, new):
    """``{key: (old value, new value)}`` of the keys whose values differ."""
    keys = sorted(set(old) | set(new))
    return {key: (old.get(key), new.get(key)) for key in keys if old.get(key) != new.get(key)}


def example(sample, label_index, features):
    """One sample's record, a serialised ``tf.train.Example`` (see :mod:`keras_fer.data.cache`)."""
    import tensorflow as tf

    def ints(values):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))

    data = np.ascontiguousarray(features, dtype="<f2")
    return tf.train.Example(features=tf.train.Features(feature={
        "id": tf.train.Feature(bytes_list=tf.train.BytesList(value=[sample.id.encode("utf-8")])),
        "label": ints([label_index]),
        "features": tf.train.Feature(bytes_list=tf.train.BytesList(value=[data.tobytes()])),
        "shape": ints(data.shape),
        "frame_indices": ints(sample.frame_indices),
        "sampler_frames": ints([sample.sampler_frames]),
    })).SerializeToString()


def check_features(sample, features, feature_shape):
    """float16 copy of ``features`` of shape (n_cached, *feature_shape); refuse NaN/inf and wrong shapes."""
    features = np.asarray(features)
    expected = (len(sample.frame_indices),) + tuple(feature_shape)
    if features.shape != expected:
        raise ValueError(f"sample {sample.id!r}: features of shape {features.shape}, expected {expected} "
                         "(one map per cached frame)")
    with np.errstate(over="ignore"):  # values beyond float16's range become inf and are refused below
        half = features.astype(np.float16)
    if not np.all(np.isfinite(half)):
        bad = int(np.count_nonzero(~np.isfinite(half)))
        where = "NaN or infinite" if not np.all(np.isfinite(features)) else "beyond float16's range (+-65504)"
        raise NonFiniteFeaturesError(
            f"sample {sample.id!r} (crops {sample.crops_dir or 'n/a'}): {bad} feature values are {where}; "
            "nothing was written for it. Check the stem's weights and preprocessing.")
    return half


def read_records(shard_file):
    """Every record of one shard file as dicts (NumPy values), for checks and tests; names the file on error.

    Returns:
        list of dicts with ``id`` (str), ``label`` (int), ``features`` (float16
        array), ``frame_indices`` (int64 array), ``sampler_frames`` (int).
    """
    import tensorflow as tf

    records = []
    try:
        for raw in tf.data.TFRecordDataset(shard_file).as_numpy_iterator():
            example = tf.train.Example.FromString(raw).features.feature
            shape = tuple(example["shape"].int64_list.value)
            records.append({
                "id": example["id"].bytes_list.value[0].decode("utf-8"),
                "label": int(example["label"].int64_list.value[0]),
                "features": np.frombuffer(example["features"].bytes_list.value[0], "<f2").reshape(shape),
                "frame_indices": np.asarray(example["frame_indices"].int64_list.value, np.int64),
                "sampler_frames": int(example["sampler_frames"].int64_list.value[0]),
            })
    except (tf.errors.DataLossError, tf.errors.NotFoundError) as error:
        raise CacheIntegrityError(f"{shard_file}: unreadable shard ({type(error).__name__}: {error.message})") from None
    return records
