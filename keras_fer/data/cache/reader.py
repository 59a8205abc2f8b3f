"""Opening a finished feature cache: every file checked before a reader touches a shard.

See :mod:`keras_fer.data.cache` for the layout and its guarantees.
"""

import os

import numpy as np

from data_prep import manifest
from data_prep.files import sha256_of_file
from keras_fer.data.cache.layout import (
    MANIFEST_COLUMNS,
    CacheInfo,
    CacheIntegrityError,
    CacheMismatchError,
    config_hash,
    differences,
    read_cache_json,
    read_json,
    shard_path,
)

__all__ = ["damaged_shards", "open_cache"]

# Shards whose sha256 this process has checked, by (path, size, mtime, inode, sha256): a cache opened once per
# fold and side is hashed once.
_VERIFIED = set()


def _parse_ints(text):
    return np.asarray([int(value) for value in text.split()], np.int64)


def _damage(path, index):
    """Why a shard's bytes differ from its index (its sha256 recomputed), or None when they match."""
    found = sha256_of_file(path)
    if found == index.get("sha256"):
        return None
    return (f"{path}: damaged shard: its sha256 is {found}, its index says {index.get('sha256')}. Delete it and "
            f"its .json and run keras-fer extract again.")


def _verify(path, index):
    stat = os.stat(path)
    key = (os.path.realpath(path), stat.st_size, stat.st_mtime_ns, stat.st_ino, index.get("sha256"))
    if key in _VERIFIED:
        return
    problem = _damage(path, index)
    if problem:
        raise CacheIntegrityError(problem)
    _VERIFIED.add(key)


def damaged_shards(cache_dir):
    """The problems of the shards whose bytes differ from their index, every shard hashed again."""
    info = read_cache_json(cache_dir)
    problems = []
    for shard in range(info["num_shards"]):
        path = shard_path(cache_dir, shard, info["num_shards"])
        index = read_json(shard_path(cache_dir, shard, info["num_shards"], ".json"), f"index of {path}")
        problem = _damage(path, index) if os.path.isfile(path) else f"{path}: missing shard"
        if problem:
            problems.append(problem)
    return problems


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
            (truncated) or its sha256 from its index (damaged; hashed once per
            process), a shard was written for another hash, ``cache.json`` was
            edited, or the manifest names a sample twice; the message names the file.
    """
    cache_dir = os.fspath(cache_dir)
    info_path = os.path.join(cache_dir, "cache.json")
    info = read_cache_json(cache_dir)
    sha = info.get("hash")
    if expected_config is not None and config_hash(expected_config) != sha:
        raise CacheMismatchError(
            f"{info_path}: the cache was written with another configuration (hash {sha}, requested "
            f"{config_hash(expected_config)}); differences (cache, requested): "
            f"{differences(info.get('config', {}), expected_config)}. Run keras-fer extract again into a new folder.")
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
    rows = manifest.read_csv(manifest_path, required=MANIFEST_COLUMNS)
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
            "phases": {name: int(row[name]) if row[name] else None for name in manifest.PHASE_COLUMNS},
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
        index = read_json(index_path, f"index of {os.path.basename(path)}")
        if index.get("hash") != sha:
            raise CacheIntegrityError(f"{path}: written for configuration {index.get('hash')}, the cache is {sha}")
        size = os.path.getsize(path)
        if size != index["size"]:
            raise CacheIntegrityError(f"{path}: truncated or damaged shard: {size} bytes, its index says "
                                      f"{index['size']}. Delete it and its .json and run keras-fer extract again.")
        if [entry["id"] for entry in index["records"]] != ids_by_shard[shard]:
            raise CacheIntegrityError(f"{index_path}: its samples differ from those that {manifest_path} "
                                      f"gives shard {shard}")
        _verify(path, index)
        files.append(path)
    return CacheInfo(cache_dir=cache_dir, config=info["config"], hash=sha, classes=info["classes"],
                     feature_shape=tuple(info["feature_shape"]), shard_files=files, records=records)
