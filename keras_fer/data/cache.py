"""The feature cache: a stem's float16 feature maps of every prepared sample, in shards, written once.

``keras-fer extract`` (:func:`extract`) runs a stem over the face crops of
``keras-fer prepare`` and writes, for every sample, the features of every
frame its paper's sampler can draw in any epoch
(``data_prep.sampling.superset``), so that the readers of
:mod:`keras_fer.data.pipeline` draw a new jittered sample each epoch without
running the stem again. Memory stays independent of the dataset's size: one
shard's samples are streamed through the stem and written one at a time.

Layout::

    CACHE/
      cache.json                         the config, its sha256 ("hash"), classes, shard count, sample-list hash
      manifest.csv                       one row per sample (MANIFEST_COLUMNS); written when every shard exists
      shards/shard-00003-of-00016.tfrecord  one tf.train.Example per sample (below)
      shards/shard-00003-of-00016.json      the shard's index: its byte size and one entry per record

A record holds ``features`` (the float16 maps of the cached frames, raw
little-endian bytes, shape ``(n_cached, *feature_shape)``), ``shape``,
``frame_indices`` (sampler-space index of each cached map, sorted),
``sampler_frames`` (the ``n_frames`` the sampler is called with), ``label``
(index into ``cache.json``'s sorted ``classes``; -1 for an unlabelled sample)
and ``id``.

Frame numbering. The sampler is called with the manifest's ``n_frames`` and
its indices are source frame numbers when no frame was dropped in preparation
(the ``hold`` and ``interpolate`` no-face policies, and every ``--sampler``
preparation). With ``--no-face-policy drop`` (possible only without a
prepare-time sampler) the dropped frames have no crop. The papers do not
say how frames without a face count; we call the sampler on the kept crops
in order (``sampler_frames = n_crops``, index ``i`` = the ``i``-th kept crop)
because that is what the sampler would see had the video been cut without
those frames; ``source_frames`` in the manifest keeps the source numbers.

The config (:func:`cache_config`) is everything that determines the
features: stem name, input size, preprocessing, the sha256 of the stem's
weight values (and of its weights file when one was loaded), the face
settings of ``prepare.json``, the sampler and its options, the feature dtype
and the package version. Its sha256 is the cache's ``hash``; a rerun or a
reader asking for another configuration gets :class:`CacheMismatchError`
naming ``cache.json``. (A randomly initialised stem, ``weights=None``, for
tests, hashes to the same value only when built with the same seed.)

Writing and resuming. Samples are sorted by id and sample ``i`` goes to shard
``i % num_shards``, so every rerun and every process computes the same
assignment (``cache.json`` records the sample list's hash and the shard count;
a rerun over another sample list is refused). A shard is written in the hidden
folder ``shards/.shard-....partial/``: each finished sample is one small
TFRecord file written under a temporary name and renamed, so a process killed
at any moment loses at most the sample it was computing, and a rerun skips
the finished samples of the partial shard. When all of a shard's samples are
there they are concatenated (TFRecord files concatenate) into the shard file,
the index is written and renamed, then the shard file is renamed: a shard file
under its final name is always complete, and finished shards are skipped. A
``flock`` on the partial folder stops two processes from writing one shard.
``manifest.csv`` is assembled (atomically) by whichever run finds every shard
finished. Processes or machines sharing a folder split the work with
``process_index``/``num_processes`` (shard ``s`` belongs to process
``s % num_processes``).

Bad input is refused, never skipped: NaN or infinite features (also values
beyond float16's range) raise :class:`NonFiniteFeaturesError` naming the
sample before anything is written; :func:`open_cache` raises
:class:`CacheMismatchError` for a stale hash, :class:`CacheIntegrityError`
for a missing or truncated shard (its size disagrees with its index), a
sample named twice in the manifest, or an unfinished cache, each naming the file.

Stems: per-frame stems of :mod:`keras_fer.stems` (:data:`FRAME_STEMS`:
``vggface16`` (7x7x512 at 224x224), ``ecnn_vgg16``, ``resnet18``,
``fer2013_mini_xception`` (its first output, the 128-d features)), or any
single-input ``keras.Model`` given as ``stem_model`` (named by ``stem``). The clip
stems (``c3d``, ``inception_resnet3d``) and ``flow_cnn`` (optical-flow
input) are trained end to end on frames (:func:`keras_fer.data.pipeline.frame_dataset`);
they are not cached per frame.

Example:

>>> from keras_fer.data import cache
>>> cache.extract("prepared/", "features/", stem="vggface16",
...               weights="rcmalli_vggface_tf_notop_vgg16.h5")   # doctest: +SKIP
>>> cache.open_cache("features/").num_samples                   # doctest: +SKIP
16372
"""

import dataclasses
import errno
import fcntl
import hashlib
import json
import math
import os
import shutil

import numpy as np

from data_prep import manifest as prepared_manifest
from data_prep import sampling

__all__ = [
    "CACHE_FORMAT",
    "FRAME_STEMS",
    "MANIFEST_COLUMNS",
    "CacheError",
    "CacheInfo",
    "CacheIntegrityError",
    "CacheMismatchError",
    "CacheSample",
    "NonFiniteFeaturesError",
    "build_stem",
    "cache_config",
    "config_hash",
    "extract",
    "open_cache",
    "prepared_samples",
    "read_prepare_settings",
    "read_records",
    "shard_path",
    "write_cache",
]

CACHE_FORMAT = 1
MANIFEST_COLUMNS = ("id", "label", "label_index", "subject", "shard", "record", "n_cached", "sampler_frames",
                    "frame_indices", "source_frames")
FRAME_STEMS = ("vggface16", "ecnn_vgg16", "resnet18", "fer2013_mini_xception")
_NOT_CACHEABLE = {
    "c3d": "a clip stem (16-frame clips in, one map out)",
    "inception_resnet3d": "a clip stem (STCAM's 7-frame clips in, one vector out)",
    "flow_cnn": "STANet's stem, which reads optical flow, not face crops",
}
_DEFAULT_SHARD_SIZE = 64  # samples per shard when num_shards is not given (~70 MB for AST's 20+ VGGFace maps)


class CacheError(ValueError):
    """A feature cache cannot be used; the message names the file and the problem."""


class CacheMismatchError(CacheError):
    """The cache was written with another configuration (stem, weights, face settings, sampler, version)."""


class CacheIntegrityError(CacheError):
    """A shard is missing or truncated, a manifest names a sample twice, or the cache is unfinished."""


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
    """

    id: str
    label: str
    subject: str
    frame_indices: tuple
    sampler_frames: int
    source_frames: tuple
    crops_dir: str = ""


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


# --------------------------------------------------------------------------- paths and small helpers


def shard_path(cache_dir, shard, num_shards, suffix=".tfrecord"):
    """``CACHE/shards/shard-00003-of-00016.tfrecord`` (``suffix=".json"``: its index)."""
    return os.path.join(os.fspath(cache_dir), "shards", f"shard-{shard:05d}-of-{num_shards:05d}{suffix}")


def _partial_dir(cache_dir, shard, num_shards):
    return os.path.join(os.fspath(cache_dir), "shards", f".shard-{shard:05d}-of-{num_shards:05d}.partial")


def _write_json(path, data):
    temporary = prepared_manifest.temporary_name(path)
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _read_json(path, what):
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


def _samples_hash(samples):
    digest = hashlib.sha256()
    for sample in samples:
        digest.update(json.dumps([sample.id, sample.label, sample.subject, list(sample.frame_indices),
                                  sample.sampler_frames]).encode("utf-8"))
    return digest.hexdigest()


def _differences(old, new):
    keys = sorted(set(old) | set(new))
    return {key: (old.get(key), new.get(key)) for key in keys if old.get(key) != new.get(key)}


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}.")
    return value


# --------------------------------------------------------------------------- records


def _example(sample, label_index, features):
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


def _check_features(sample, features, feature_shape):
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


# --------------------------------------------------------------------------- writing


def _check_cache_json(cache_dir, config, samples, num_shards, classes, feature_shape):
    """Write ``cache.json`` on the first run; on a rerun refuse another config, sample list or shard count."""
    path = os.path.join(cache_dir, "cache.json")
    wanted = {
        "format": CACHE_FORMAT,
        "config": config,
        "hash": config_hash(config),
        "num_shards": num_shards,
        "num_samples": len(samples),
        "samples_sha256": _samples_hash(samples),
        "classes": list(classes),
        "feature_shape": list(feature_shape),
        "feature_dtype": "float16",
    }
    if os.path.exists(path):
        existing = _read_json(path, "the cache's configuration")
        if existing.get("hash") != wanted["hash"]:
            raise CacheMismatchError(
                f"{path}: the cache was written with another configuration (hash {existing.get('hash')}, this run "
                f"{wanted['hash']}); differences (cache, this run): "
                f"{_differences(existing.get('config', {}), config)}. Use another output folder, or the same "
                "settings to resume.")
        others = _differences({k: existing.get(k) for k in wanted}, wanted)
        if others:
            raise CacheMismatchError(
                f"{path}: the cache holds another sample list or layout; differences (cache, this run): "
                f"{others}. Prepare into the same folder with the same samples, or use another output folder.")
        return
    _write_json(path, wanted)


def _lock(folder):
    """An exclusive, non-blocking flock on ``folder/.lock``; released when the process ends, even by SIGKILL."""
    handle = open(os.path.join(folder, ".lock"), "a")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        handle.close()
        if error.errno in (errno.EAGAIN, errno.EACCES):
            raise CacheError(f"{folder}: another process is writing this shard; give each process its own "
                             "process_index") from None
        raise
    return handle


def _write_record_file(path, record):
    import tensorflow as tf

    temporary = prepared_manifest.temporary_name(path)
    with tf.io.TFRecordWriter(temporary) as writer:
        writer.write(record)
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _write_shard(cache_dir, shard, num_shards, shard_samples, features_fn, label_of, feature_shape, config_sha,
                 on_sample):
    """Write one shard (resuming its partial folder); return the number of samples computed by this call."""
    final = shard_path(cache_dir, shard, num_shards)
    partial = _partial_dir(cache_dir, shard, num_shards)
    os.makedirs(partial, exist_ok=True)
    lock = _lock(partial)
    try:
        if os.path.exists(final):  # another process finished it while this one waited for the listing
            return 0
        names = [f"{position:06d}.tfrecord" for position in range(len(shard_samples))]
        todo = [(name, sample) for name, sample in zip(names, shard_samples)
                if not os.path.exists(os.path.join(partial, name))]
        for name in os.listdir(partial):  # temporary files of a killed writer
            if ".partial-" in name:
                os.remove(os.path.join(partial, name))
        shards_dir = os.path.dirname(final)
        for name in os.listdir(shards_dir):  # a killed writer's half-concatenated shard or index
            if name.startswith(f".{os.path.basename(final)[:-len('.tfrecord')]}.") and ".partial-" in name:
                os.remove(os.path.join(shards_dir, name))
        computed = 0
        if todo:
            stream = features_fn([sample for _, sample in todo])
            for (name, sample), features in zip(todo, stream):
                half = _check_features(sample, features, feature_shape)
                _write_record_file(os.path.join(partial, name), _example(sample, label_of(sample), half))
                computed += 1
                on_sample()
            if computed != len(todo):
                raise CacheError(f"{final}: the feature function yielded {computed} arrays for {len(todo)} samples")
        # Every sample is in the partial folder: concatenate, write the index, then rename the shard.
        entries, offset = [], 0
        temporary = prepared_manifest.temporary_name(final)
        with open(temporary, "wb") as out:
            for name, sample in zip(names, shard_samples):
                with open(os.path.join(partial, name), "rb") as handle:
                    data = handle.read()
                out.write(data)
                entries.append({"id": sample.id, "offset": offset, "length": len(data)})
                offset += len(data)
            out.flush()
            os.fsync(out.fileno())
        _write_json(shard_path(cache_dir, shard, num_shards, ".json"),
                    {"hash": config_sha, "shard": shard, "num_shards": num_shards, "size": offset, "records": entries})
        os.replace(temporary, final)
    finally:
        lock.close()
    shutil.rmtree(partial, ignore_errors=True)
    return computed


def _manifest_rows(samples, num_shards, classes):
    rows = []
    for index, sample in enumerate(samples):
        shard = index % num_shards
        rows.append({
            "id": sample.id, "label": sample.label,
            "label_index": classes.index(sample.label) if sample.label else -1,
            "subject": sample.subject, "shard": shard, "record": index // num_shards,
            "n_cached": len(sample.frame_indices), "sampler_frames": sample.sampler_frames,
            "frame_indices": " ".join(str(int(i)) for i in sample.frame_indices),
            "source_frames": " ".join(str(int(i)) for i in sample.source_frames),
        })
    return rows


def write_cache(cache_dir, samples, features_fn, config, feature_shape, *, num_shards=None, process_index=0,
                num_processes=1, progress=True):
    """Write (or resume) a feature cache from any source of features; :func:`extract` builds on it.

    Args:
        cache_dir: output folder (created).
        samples: :class:`CacheSample` objects with unique ids (sorted by id here).
        features_fn: function of a list of samples returning an iterable of
            arrays in the same order, one ``(len(sample.frame_indices),
            *feature_shape)`` array per sample, computed lazily (a generator),
            so that memory stays constant.
        config: JSON-serialisable dict of everything that determines the
            features; it must hold ``sampler`` (a paper name or None) and
            ``sampler_options`` (dict), which the readers use.
        feature_shape: shape of one frame's features, e.g. ``(7, 7, 512)``.
        num_shards: shard count, or None for ``ceil(len(samples) / 64)``.
        process_index: this process's share: shards ``s`` with
            ``s % num_processes == process_index``.
        num_processes: processes (or machines) sharing the work.
        progress: show a tqdm progress bar.

    Returns:
        dict: ``computed`` (samples computed by this call), ``skipped``
        (samples of this process found finished), ``complete`` (every shard
        exists and ``manifest.csv`` is written).

    Raises:
        CacheMismatchError: the folder holds a cache of another config or sample list.
        NonFiniteFeaturesError: a sample's features are not finite.
        ValueError: a bad argument.
    """
    from tqdm.auto import tqdm

    cache_dir = os.fspath(cache_dir)
    samples = sorted(samples, key=lambda sample: sample.id)
    if not samples:
        raise ValueError("`samples` is empty: nothing to cache.")
    ids = [sample.id for sample in samples]
    for previous, current in zip(ids, ids[1:]):
        if previous == current:
            raise ValueError(f"`samples` names sample {current!r} twice.")
    for key in ("sampler", "sampler_options"):
        if key not in config:
            raise ValueError(f"`config` must hold {key!r} (the readers draw frames with it), "
                             f"got keys {sorted(config)}.")
    if num_shards is None:
        num_shards = math.ceil(len(samples) / _DEFAULT_SHARD_SIZE)
    _check_int(num_shards, "num_shards", 1)
    if num_shards > len(samples):
        raise ValueError(f"`num_shards` ({num_shards}) must not exceed the number of samples ({len(samples)}).")
    _check_int(num_processes, "num_processes", 1)
    _check_int(process_index, "process_index", 0)
    if process_index >= num_processes:
        raise ValueError(f"`process_index` must be < num_processes ({num_processes}), got {process_index}.")
    feature_shape = tuple(int(size) for size in feature_shape)
    classes = sorted({sample.label for sample in samples if sample.label})
    os.makedirs(os.path.join(cache_dir, "shards"), exist_ok=True)
    _check_cache_json(cache_dir, config, samples, num_shards, classes, feature_shape)
    sha = config_hash(config)

    def label_of(sample):
        return classes.index(sample.label) if sample.label else -1

    mine = [shard for shard in range(num_shards) if shard % num_processes == process_index]
    todo = [shard for shard in mine if not os.path.exists(shard_path(cache_dir, shard, num_shards))]
    for shard in set(mine) - set(todo):  # a writer killed between the shard's rename and this cleanup
        shutil.rmtree(_partial_dir(cache_dir, shard, num_shards), ignore_errors=True)
    skipped = sum(len(samples[shard::num_shards]) for shard in mine if shard not in todo)
    computed = 0
    with tqdm(total=sum(len(samples[shard::num_shards]) for shard in mine), initial=skipped, desc="extract",
              unit="clip", disable=not progress) as bar:
        for shard in todo:
            computed += _write_shard(cache_dir, shard, num_shards, samples[shard::num_shards], features_fn, label_of,
                                     feature_shape, sha, bar.update)
    complete = all(os.path.exists(shard_path(cache_dir, shard, num_shards)) for shard in range(num_shards))
    if complete:
        prepared_manifest.write_csv(os.path.join(cache_dir, "manifest.csv"), MANIFEST_COLUMNS,
                                    _manifest_rows(samples, num_shards, classes))
    return {"computed": computed, "skipped": skipped, "complete": complete}


# --------------------------------------------------------------------------- prepared samples and stems


def read_prepare_settings(prepared_dir):
    """The options of ``keras-fer prepare`` stored in ``prepared_dir/prepare.json`` (``sampler_options`` filled in)."""
    path = os.path.join(prepared_dir, "prepare.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: missing; is {prepared_dir} the output folder of `keras-fer prepare`?")
    with open(path, encoding="utf-8") as handle:
        settings = json.load(handle)
    settings["sampler_options"] = settings.get("sampler_options") or {}
    return settings


def _crops_of(prepared_dir, row, where):
    """(sampler-space frame numbers, source frame numbers, crop paths, sampler_frames) of one prepared sample."""
    crops_dir = os.path.join(prepared_dir, row["crops_dir"] or f"crops/{row['id']}")
    frames_csv = os.path.join(crops_dir, "frames.csv")
    if not os.path.isfile(frames_csv):
        raise FileNotFoundError(f"{frames_csv}: missing ({where}, sample {row['id']!r}); prepare the sample again")
    frame_rows = prepared_manifest.read_csv(frames_csv, required=("frame_index", "file", "status"))
    kept = sorted((int(r["frame_index"]), os.path.join(crops_dir, r["file"])) for r in frame_rows if r["file"])
    if not kept:
        raise ValueError(f"{frames_csv}: sample {row['id']!r} has no face crop")
    dropped = any(r["status"] == "dropped" for r in frame_rows)
    source = np.asarray([frame for frame, _ in kept], np.int64)
    if dropped:
        return np.arange(len(kept)), source, [path for _, path in kept], len(kept)
    return source, source, [path for _, path in kept], int(row["n_frames"])


def prepared_samples(prepared_dir, sampler=None, sampler_options=None):
    """The :class:`CacheSample` of every sample of a ``keras-fer prepare`` folder, with the frames to cache.

    The cached frames are ``superset(sampler, sampler_frames, **sampler_options)``
    (every frame the sampler can draw), or every crop when ``sampler`` is None.

    Args:
        prepared_dir: output folder of ``keras-fer prepare``.
        sampler: paper name, or None for every crop.
        sampler_options: the sampler's options (dict) or None.

    Returns:
        list of :class:`CacheSample`, in manifest order.

    Raises:
        ValueError: a needed frame has no crop (the folder was prepared for
            another sampler), naming the sample's crop folder.
    """
    prepared_dir = os.fspath(prepared_dir)
    manifest_path = os.path.join(prepared_dir, "manifest.csv")
    rows = prepared_manifest.read_csv(manifest_path, required=prepared_manifest.PREPARED_COLUMNS)
    options = dict(sampler_options or {})
    samples, seen = [], {}
    for line, row in enumerate(rows, start=2):
        where = f"{manifest_path} line {line}"
        if row["id"] in seen:
            raise ValueError(f"{where}: sample {row['id']!r} is named twice (first on line {seen[row['id']]})")
        seen[row["id"]] = line
        numbers, source, paths, sampler_frames = _crops_of(prepared_dir, row, where)
        if sampler is None:
            wanted = numbers
        else:
            wanted = sampling.superset(sampler, sampler_frames, **options)
        slots = np.searchsorted(numbers, wanted)
        slots = np.minimum(slots, len(numbers) - 1)
        missing = wanted[numbers[slots] != wanted]
        if missing.size:
            raise ValueError(
                f"{os.path.dirname(paths[0])}: sampler {sampler!r} {options} needs frames {missing[:10].tolist()} "
                f"of sample {row['id']!r}, which have no crop (prepared with another --sampler?)")
        samples.append(CacheSample(
            id=row["id"], label=row["label"], subject=row["subject"], frame_indices=tuple(int(i) for i in wanted),
            sampler_frames=int(sampler_frames), source_frames=tuple(int(source[s]) for s in slots),
            crops_dir=os.path.abspath(os.path.dirname(paths[0]))))
    return samples


def build_stem(name, weights=None, input_size=None):
    """A per-frame stem of :data:`FRAME_STEMS` and its preprocessing function.

    Args:
        name: a name of :data:`FRAME_STEMS`.
        weights: None (random initialisation, for tests only; the shipped file for
            ``fer2013_mini_xception``) or a weights file.
        input_size: crop side the stem reads (default 224; ignored by
            ``fer2013_mini_xception``, which resizes to 64x64 gray itself).

    Returns:
        ``(stem, preprocess)``.
    """
    import importlib

    from keras_fer import stems

    fer2013, resnet18, vggface = (importlib.import_module(f"keras_fer.stems.{module}")
                                  for module in ("fer2013", "resnet18", "vggface"))

    if name in _NOT_CACHEABLE:
        raise ValueError(f"`stem` {name!r} is {_NOT_CACHEABLE[name]}: its features are not cached per frame; "
                         "train it end to end with keras_fer.data.pipeline.frame_dataset.")
    if name not in FRAME_STEMS:
        raise ValueError(f"`stem` must be one of {FRAME_STEMS}, got {name!r}.")
    size = 224 if input_size is None else _check_int(input_size, "input_size", 32)
    shape = (size, size, 3)
    if name == "vggface16":
        return stems.vggface16(weights=weights, input_shape=shape), vggface.preprocess_input
    if name == "ecnn_vgg16":
        return stems.ecnn_vgg16(weights=weights, input_shape=shape), vggface.preprocess_input
    if name == "resnet18":
        return stems.resnet18(weights=weights, input_shape=shape), resnet18.preprocess_input
    return stems.fer2013_mini_xception(weights=weights), fer2013.preprocess_input


def stem_weights_sha256(model):
    """SHA-256 of a stem's weight values, by position (what ``cache.json`` records as ``weights_sha256``)."""
    digest = hashlib.sha256()
    for position, weight in enumerate(model.weights):  # by position: auto-generated layer names vary per build
        value = np.ascontiguousarray(weight.numpy())
        digest.update(f"{position}:{value.dtype}:{value.shape};".encode("utf-8"))
        digest.update(value.tobytes())
    return digest.hexdigest()


def _function_name(function):
    if function is None:
        return None
    return f"{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', repr(function))}"


def cache_config(stem_name, stem, preprocess, face_settings, sampler, sampler_options, input_size):
    """The dict of everything that determines the cached features (its sha256 is the cache's hash).

    Args:
        stem_name: the stem's name.
        stem: the built ``keras.Model`` (its weight values are hashed).
        preprocess: the preprocessing function (named by module and qualname) or None.
        face_settings: the face settings of ``prepare.json`` (detector, size, margin, ...).
        sampler: paper name or None.
        sampler_options: dict.
        input_size: the stem's input side (crops are resized to it), or None.

    Returns:
        dict (JSON-serialisable).
    """
    from keras_fer import __version__

    info = getattr(stem, "weights_info", None)
    face = {key: value for key, value in face_settings.items() if key not in ("sampler", "sampler_options")}
    return {
        "stem": stem_name,
        "stem_input_shape": [None if size is None else int(size) for size in stem.inputs[0].shape[1:]],
        "input_size": input_size,
        "preprocess": _function_name(preprocess),
        "weights_sha256": stem_weights_sha256(stem),
        "weights_file_sha256": None if info is None else info.sha256,
        "face": face,
        "sampler": sampler,
        "sampler_options": dict(sorted((sampler_options or {}).items())),
        "feature_dtype": "float16",
        "package_version": __version__,
    }


def _load_frames(paths, size):
    """RGB uint8 crops of shape (n, size, size, 3) (resized with INTER_AREA when they are another size)."""
    import cv2

    frames = []
    for path in paths:
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"{path}: cannot read the face crop")
        if size is not None and image.shape[:2] != (size, size):
            image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
        frames.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    return np.stack(frames)


def extract(prepared_dir, out_dir, stem="vggface16", *, weights=None, input_size=None, batch_size=32,
            sampler="prepared", sampler_options=None, num_shards=None, process_index=0, num_processes=1,
            stem_model=None, preprocess=None, progress=True):
    """``keras-fer extract``: cache a stem's float16 features of every prepared sample (resumable).

    Args:
        prepared_dir: output folder of ``keras-fer prepare``.
        out_dir: cache folder (created; a rerun resumes it).
        stem: a name of :data:`FRAME_STEMS`, or the name recorded for ``stem_model``.
        weights: weights file of the named stem (None: random initialisation,
            meaningful for tests only).
        input_size: stem input side; crops of another size are resized
            (INTER_AREA). None: 224 for a named stem, the model's input for ``stem_model``.
        batch_size: frames per stem call.
        sampler: ``"prepared"`` (default: the sampler of ``prepare.json``),
            a paper name, or None (cache every crop).
        sampler_options: the sampler's options; None takes ``prepare.json``'s
            when ``sampler="prepared"``, else none.
        num_shards: shard count (None: ``ceil(samples / 64)``).
        process_index: this process's share of the shards (see :func:`write_cache`).
        num_processes: processes or machines sharing the folder.
        stem_model: a single-input ``keras.Model`` to use instead of a named stem.
        preprocess: preprocessing of ``stem_model`` (a function of a batch
            tensor, ``keras.ops`` only), or None.
        progress: tqdm progress bar.

    Returns:
        The dict of :func:`write_cache` (``computed``, ``skipped``, ``complete``).
    """
    from keras_fer.stems import extract_features

    prepared_dir = os.fspath(prepared_dir)
    face_settings = read_prepare_settings(prepared_dir)
    if sampler == "prepared":
        sampler = face_settings.get("sampler")
        if sampler_options is None:
            sampler_options = face_settings.get("sampler_options") or {}
    sampler_options = dict(sampler_options or {})
    if sampler is not None and sampler not in sampling.SAMPLERS:
        raise ValueError(f"`sampler` must be 'prepared', None or one of {sorted(sampling.SAMPLERS)}, got {sampler!r}.")
    if sampler is None and sampler_options:
        raise ValueError(f"`sampler_options` {sampler_options} are given without a sampler.")
    _check_int(batch_size, "batch_size", 1)
    if stem_model is None:
        if preprocess is not None:
            raise ValueError("`preprocess` is only for `stem_model`; named stems bring their own.")
        model, preprocess = build_stem(stem, weights=weights, input_size=input_size)
        size = 224 if input_size is None and stem != "fer2013_mini_xception" else input_size
    else:
        if weights is not None:
            raise ValueError("`weights` is for named stems; load them into `stem_model` yourself.")
        if not isinstance(stem, str) or not stem:
            raise ValueError(f"`stem` must name `stem_model` (it goes into the cache's hash), got {stem!r}.")
        model = stem_model
        shape = tuple(model.inputs[0].shape[1:])
        size = input_size if input_size is not None else (shape[0] if shape[0] == shape[1] else None)
    samples = prepared_samples(prepared_dir, sampler, sampler_options)
    config = cache_config(stem, model, preprocess, face_settings, sampler, sampler_options, size)
    outputs = model.outputs[0].shape[1:]
    feature_shape = tuple(int(dim) for dim in outputs)
    single_output = len(model.outputs) == 1

    def features_fn(todo):
        clips = (_load_frames([os.path.join(s.crops_dir, f"{frame:06d}.jpg") for frame in s.source_frames], size)
                 for s in todo)
        for features in extract_features(model, clips, batch_size=batch_size, preprocess=preprocess):
            yield features if single_output else features[0]

    return write_cache(out_dir, samples, features_fn, config, feature_shape, num_shards=num_shards,
                       process_index=process_index, num_processes=num_processes, progress=progress)


# --------------------------------------------------------------------------- opening a cache


def _parse_ints(text):
    return np.asarray([int(value) for value in text.split()], np.int64)


def open_cache(cache_dir, expected_hash=None, expected_config=None):
    """Check a finished cache and return its :class:`CacheInfo`.

    Args:
        cache_dir: the cache folder.
        expected_hash: None, or the hash the cache must have.
        expected_config: None, or the config dict the cache must have been written with.

    Raises:
        CacheMismatchError: the hash or config differs (naming ``cache.json``).
        CacheIntegrityError: ``cache.json``, ``manifest.csv`` or a shard (or
            its index) is missing, a shard's size differs from its index
            (truncated), a shard was written for another hash, or the manifest
            names a sample twice; the message names the file.
    """
    cache_dir = os.fspath(cache_dir)
    info_path = os.path.join(cache_dir, "cache.json")
    info = _read_json(info_path, "not a feature cache written by keras-fer extract?")
    sha = info.get("hash")
    if expected_config is not None and config_hash(expected_config) != sha:
        raise CacheMismatchError(
            f"{info_path}: the cache was written with another configuration (hash {sha}, requested "
            f"{config_hash(expected_config)}); differences (cache, requested): "
            f"{_differences(info.get('config', {}), expected_config)}. Run keras-fer extract again into a new folder.")
    if expected_hash is not None and expected_hash != sha:
        raise CacheMismatchError(f"{info_path}: the cache has hash {sha}, requested {expected_hash}: it was written "
                                 "with other settings (stem, weights, face settings, sampler or package version). "
                                 "Run keras-fer extract again into a new folder.")
    num_shards = info["num_shards"]
    manifest_path = os.path.join(cache_dir, "manifest.csv")
    if not os.path.isfile(manifest_path):
        missing = [shard_path(cache_dir, s, num_shards) for s in range(num_shards)
                   if not os.path.exists(shard_path(cache_dir, s, num_shards))]
        raise CacheIntegrityError(f"{manifest_path}: missing; the cache is unfinished (missing shards: "
                                  f"{missing[:5]}{' ...' if len(missing) > 5 else ''}). Run keras-fer extract again.")
    rows = prepared_manifest.read_csv(manifest_path, required=MANIFEST_COLUMNS)
    seen = {}
    records = []
    for line, row in enumerate(rows, start=2):
        if row["id"] in seen:
            raise CacheIntegrityError(f"{manifest_path} line {line}: sample {row['id']!r} is named twice "
                                      f"(first on line {seen[row['id']]})")
        seen[row["id"]] = line
        records.append({
            "id": row["id"], "label": row["label"], "label_index": int(row["label_index"]),
            "subject": row["subject"], "shard": int(row["shard"]), "record": int(row["record"]),
            "sampler_frames": int(row["sampler_frames"]), "frame_indices": _parse_ints(row["frame_indices"]),
            "source_frames": _parse_ints(row["source_frames"]),
        })
    if len(records) != info["num_samples"]:
        raise CacheIntegrityError(f"{manifest_path}: {len(records)} samples, {info_path} says {info['num_samples']}")
    ids_by_shard = [[] for _ in range(num_shards)]
    for record in records:
        if not 0 <= record["shard"] < num_shards:
            raise CacheIntegrityError(f"{manifest_path}: sample {record['id']!r} names shard {record['shard']}, "
                                      f"the cache has {num_shards}")
        ids_by_shard[record["shard"]].append(record["id"])
    files = []
    for shard in range(num_shards):
        path = shard_path(cache_dir, shard, num_shards)
        index_path = shard_path(cache_dir, shard, num_shards, ".json")
        if not os.path.isfile(path):
            raise CacheIntegrityError(f"{path}: missing shard ({manifest_path} lists its samples)")
        index = _read_json(index_path, f"index of {os.path.basename(path)}")
        if index.get("hash") != sha:
            raise CacheIntegrityError(f"{path}: written for configuration {index.get('hash')}, the cache is {sha}")
        size = os.path.getsize(path)
        if size != index["size"]:
            raise CacheIntegrityError(f"{path}: truncated or damaged shard: {size} bytes, its index says "
                                      f"{index['size']}. Delete it and its .json and run keras-fer extract again.")
        if [entry["id"] for entry in index["records"]] != ids_by_shard[shard]:
            raise CacheIntegrityError(f"{index_path}: its samples differ from those that {manifest_path} "
                                      f"gives shard {shard}")
        files.append(path)
    return CacheInfo(cache_dir=cache_dir, config=info["config"], hash=sha, classes=info["classes"],
                     feature_shape=tuple(info["feature_shape"]), shard_files=files, records=records)
