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
      cache.json                         the config, its sha256 ("hash"), classes, shard count, sample-list hash,
                                         and "sha256": the sha256 of each of its other entries
      manifest.csv                       one row per sample (MANIFEST_COLUMNS, with its annotated onset/apex/offset,
                                         which the readers' samplers read); written when every shard exists
      shards/shard-00003-of-00016.tfrecord  one tf.train.Example per sample (below)
      shards/shard-00003-of-00016.json      the shard's index: its byte size, sha256 and one entry per record

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
damaged shard (its sha256 disagrees with its index; each shard is hashed once
per process, before any reader touches it), a missing ``cache.json`` or one
whose entries (``classes``, ``config``, ``feature_shape``, ...) were edited
(each entry's sha256 is recorded beside it), a cache of an older
:data:`CACHE_FORMAT`, a sample named twice in the manifest, or an unfinished
cache, each naming the file. A damaged record met later, while training
(TensorFlow's ``DataLossError``), becomes the same error naming the shard
inside :func:`keras_fer.data.sources.reading` (:func:`damaged_shards` hashes
every shard again), which ``keras-fer train``, ``evaluate`` and ``cv`` use.

Stems: the cacheable stems of :mod:`keras_fer.stems.registry`
(``vggface16`` (7x7x512 at 224x224), ``ecnn_vgg16``, ``resnet18``,
``fer2013_mini_xception`` (its first output, the 128-d features)), or any
single-input ``keras.Model`` given as ``stem_model`` (named by ``stem``). The clip
stems (``c3d``, ``inception_resnet3d``) and ``flow_cnn`` (optical-flow
input) are trained end to end on frames (:func:`keras_fer.data.pipeline.frame_dataset`);
they are not cached per frame.

Modules: :mod:`~keras_fer.data.cache.layout` (file names, hash, records,
errors), :mod:`~keras_fer.data.cache.writer` (:func:`write_cache`),
:mod:`~keras_fer.data.cache.reader` (:func:`open_cache`) and
:mod:`~keras_fer.data.cache.extraction` (:func:`extract`); the prepared
folder it reads (:func:`prepared_samples`) is :mod:`keras_fer.data.prepared`.

Example:

>>> from keras_fer.data import cache
>>> cache.extract("prepared/", "features/", stem="vggface16",
...               weights="rcmalli_vggface_tf_notop_vgg16.h5")   # doctest: +SKIP
>>> cache.open_cache("features/").num_samples                   # doctest: +SKIP
16372
"""

from keras_fer.data.cache.extraction import cache_config, extract, prepared_samples, stem_weights_sha256
from keras_fer.data.cache.layout import (
                                         CACHE_FORMAT,
                                         MANIFEST_COLUMNS,
                                         CacheError,
                                         CacheInfo,
                                         CacheIntegrityError,
                                         CacheMismatchError,
                                         CacheSample,
                                         NonFiniteFeaturesError,
                                         config_hash,
                                         content_digests,
                                         edited_entries,
                                         is_cache_dir,
                                         read_cache_json,
                                         read_records,
                                         shard_path,
)
from keras_fer.data.cache.reader import damaged_shards, open_cache
from keras_fer.data.cache.writer import write_cache

__all__ = [
    "CACHE_FORMAT",
    "MANIFEST_COLUMNS",
    "CacheError",
    "CacheInfo",
    "CacheIntegrityError",
    "CacheMismatchError",
    "CacheSample",
    "NonFiniteFeaturesError",
    "cache_config",
    "config_hash",
    "content_digests",
    "damaged_shards",
    "edited_entries",
    "extract",
    "is_cache_dir",
    "open_cache",
    "prepared_samples",
    "read_cache_json",
    "read_records",
    "shard_path",
    "stem_weights_sha256",
    "write_cache",
]
