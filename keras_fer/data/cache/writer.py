"""Writing (and resuming) a feature cache: shards written sample by sample, then renamed when complete.

See :mod:`keras_fer.data.cache` for the layout and its guarantees.
"""

import errno
import fcntl
import hashlib
import math
import os
import shutil

from data_prep import files, manifest
from data_prep.checks import check_int
from keras_fer.data.cache.layout import (
    CACHE_FORMAT,
    MANIFEST_COLUMNS,
    CacheError,
    CacheMismatchError,
    check_features,
    config_hash,
    content_digests,
    differences,
    example,
    partial_dir,
    phase_columns,
    read_cache_json,
    samples_hash,
    shard_path,
)

__all__ = ["write_cache"]

_DEFAULT_SHARD_SIZE = 64  # samples per shard when num_shards is not given (~70 MB for AST's 20+ VGGFace maps)


def _check_cache_json(cache_dir, config, samples, num_shards, classes, feature_shape):
    """Write ``cache.json`` on the first run; on a rerun refuse another config, sample list or shard count."""
    path = os.path.join(cache_dir, "cache.json")
    wanted = {
        "format": CACHE_FORMAT,
        "config": config,
        "hash": config_hash(config),
        "num_shards": num_shards,
        "num_samples": len(samples),
        "samples_sha256": samples_hash(samples),
        "classes": list(classes),
        "feature_shape": list(feature_shape),
        "feature_dtype": "float16",
    }
    wanted["sha256"] = content_digests(wanted)
    if os.path.exists(path):
        existing = read_cache_json(cache_dir)
        if existing.get("hash") != wanted["hash"]:
            raise CacheMismatchError(
                f"{path}: the cache was written with another configuration (hash {existing.get('hash')}, this run "
                f"{wanted['hash']}); differences (cache, this run): "
                f"{differences(existing.get('config', {}), config)}. Use another output folder, or the same "
                "settings to resume.")
        others = differences({k: existing.get(k) for k in wanted}, wanted)
        if others:
            raise CacheMismatchError(
                f"{path}: the cache holds another sample list or layout; differences (cache, this run): "
                f"{others}. Prepare into the same folder with the same samples, or use another output folder.")
        return
    files.write_json(path, wanted, indent=1, sort_keys=True)


def _lock(folder):
    """An exclusive, non-blocking flock on ``folder/.lock``; released when the process ends, even by SIGKILL."""
    handle = open(os.path.join(folder, ".lock"), "a")  # noqa: SIM115  (held open: the lock lasts as long as the handle)
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

    with files.atomic_path(path) as temporary, tf.io.TFRecordWriter(temporary) as writer:
        writer.write(record)


def _write_shard(cache_dir, shard, num_shards, shard_samples, features_fn, label_of, feature_shape, config_sha,
                 on_sample):
    """Write one shard (resuming its partial folder); return the number of samples computed by this call."""
    final = shard_path(cache_dir, shard, num_shards)
    partial = partial_dir(cache_dir, shard, num_shards)
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
                half = check_features(sample, features, feature_shape)
                _write_record_file(os.path.join(partial, name), example(sample, label_of(sample), half))
                computed += 1
                on_sample()
            if computed != len(todo):
                raise CacheError(f"{final}: the feature function yielded {computed} arrays for {len(todo)} samples")
        # Every sample is in the partial folder: concatenate, write the index, then rename the shard.
        entries, offset, digest = [], 0, hashlib.sha256()
        # The index is written before the shard is renamed: a shard under its final name always has its index.
        with files.atomic_path(final) as temporary:
            with open(temporary, "wb") as out:
                for name, sample in zip(names, shard_samples):
                    with open(os.path.join(partial, name), "rb") as handle:
                        data = handle.read()
                    out.write(data)
                    digest.update(data)
                    entries.append({"id": sample.id, "offset": offset, "length": len(data)})
                    offset += len(data)
            files.write_json(shard_path(cache_dir, shard, num_shards, ".json"),
                             {"hash": config_sha, "shard": shard, "num_shards": num_shards, "size": offset,
                              "sha256": digest.hexdigest(), "records": entries}, indent=1, sort_keys=True)
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
            **phase_columns(sample.phases),
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
        (samples of this process found done, in finished shards or in an
        interrupted shard's partial folder), ``complete`` (every shard
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
            raise ValueError(f"`config` must hold {key!r} (the readers draw frames with it); "
                             f"received config with keys {sorted(config)}")
    if num_shards is None:
        num_shards = math.ceil(len(samples) / _DEFAULT_SHARD_SIZE)
    check_int(num_shards, "num_shards", 1, len(samples))
    check_int(num_processes, "num_processes", 1)
    check_int(process_index, "process_index", 0)
    if process_index >= num_processes:
        raise ValueError(f"`process_index` must be < num_processes ({num_processes}); "
                         f"received process_index={process_index!r}")
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
        shutil.rmtree(partial_dir(cache_dir, shard, num_shards), ignore_errors=True)
    total = sum(len(samples[shard::num_shards]) for shard in mine)
    computed = 0
    with tqdm(total=total, initial=total - sum(len(samples[shard::num_shards]) for shard in todo), desc="extract",
              unit="clip", disable=not progress) as bar:
        for shard in todo:
            computed += _write_shard(cache_dir, shard, num_shards, samples[shard::num_shards], features_fn, label_of,
                                     feature_shape, sha, bar.update)
    complete = all(os.path.exists(shard_path(cache_dir, shard, num_shards)) for shard in range(num_shards))
    if complete:
        manifest.write_csv(os.path.join(cache_dir, "manifest.csv"), MANIFEST_COLUMNS,
                                    _manifest_rows(samples, num_shards, classes))
    # Every sample of this process's shards is now cached; those this call did not compute were done before
    # (finished shards, records kept in an interrupted shard's partial folder, shards another process finished).
    return {"computed": computed, "skipped": total - computed, "complete": complete}
