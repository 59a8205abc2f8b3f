"""tf.data readers: cached stem features (:func:`feature_dataset`) or face-crop frames (:func:`frame_dataset`).

Both readers yield ``(inputs, labels)`` batches ready for ``model.fit``:

| reader | ``inputs`` | ``labels`` |
|---|---|---|
| :func:`feature_dataset` | ``(B, *draw, *feature_shape)`` float32 | (B,) int32 |
| :func:`frame_dataset` | ``(B, *draw, H, W, 3)`` float32 in [0, 255] | (B,) int32 |

``draw`` is the shape of the sampler's draw: ``(T,)`` (AST 20, STCAM 7,
ECNN-FSA 5, STANet 20 frames) or CEFLNet's ``(7, 5)`` clips, as the paper
heads of :mod:`keras_fer.models` read them. Labels index the sorted class
names (:func:`class_names`); an unlabelled sample has -1.

Masking. A frame is masked when it is padding (clips of different lengths,
see below) or a repeat that carries no new information (AST's sampler repeats
the last frame of a video shorter than its span; the paper says nothing about
short videos, and masking keeps the repeats out of the temporal mean).
Masked frames are all-zero in ``inputs``, which is how the package's heads
find the mask (:class:`keras_fer.models.FrameMask`), so one input tensor
carries it. With ``as_dict=True`` the readers yield ``{"features" (or
"frames"): ..., "mask": (B, *draw) bool}`` (plus ``"id"``, (B,) string, with
``include_ids=True``) for models that take the mask explicitly.

Augmentation. :func:`frame_dataset` applies a recipe's crop, rescale and
flip (:mod:`keras_fer.data.augment`) in training only, keyed by each clip's
draw seed; :func:`feature_dataset` applies them to cached frames (a flow
cache), never to stem features (maps of the unaugmented frames).

Frames. Every pass over the dataset (every Keras epoch) draws each sample's
frames again with the paper's sampler (``data_prep.sampling.sample``) when
``training=True``; with ``training=False`` it takes the sampler's fixed
test frames. Float positions (CEFLNet, STANet) are blended
from their two neighbouring frames exactly as
``data_prep.sampling.interpolate_frames`` does. With no sampler (a cache of
every frame) ``T`` is the clip's length, and the shorter clips of a batch are
padded with masked (zero) frames.

Epochs. A training pass's shuffles and frame draws are a function of
(``seed``, epoch) only (stateless random ops, :func:`per_epoch`), not of how
many passes this process has made: pass k of a reader equals the first pass
of a fresh reader made with ``epoch=k``, which is how a run resumed at epoch k
(``BackupAndRestore``) sees the data of the uninterrupted run. Different
epochs differ; the same seed gives the same sequence; test passes are fixed.

Streaming. :func:`feature_dataset` reads the cache's TFRecord shards with
``interleave`` (``cycle_length`` shards at once, shard order shuffled each
epoch in training), pairs each record with its draw's seed, shuffles the
serialized records within consecutive windows of ``shuffle_buffer`` clips
(a stateless permutation per window; the window in use and the next one,
read meanwhile, take about ``2 * shuffle_buffer * N * prod(feature_shape) * 2``
bytes for ``N`` stored frames per clip: 300 MB for 24 cached VGGFace maps at
the default 128) and batches them. Each batch is then parsed at once, its frames drawn by one
NumPy call, and only the drawn frames' bytes are cut out of the parsed
records and decoded (a clip's other stored frames are not decoded); masking
and the cast to ``dtype`` run once per batch, and batches are prefetched.
Memory does not grow with the dataset.

:func:`frame_dataset` shuffles the (small) per-sample metadata, then decodes
only the JPEG crops a draw needs.

Multi-worker training: ``num_workers`` and ``worker_index`` give each worker
a disjoint part: whole shards for features (so the cache needs at least
``num_workers`` shards), samples ``i % num_workers == worker_index`` for frames.

``deterministic=True`` (default) keeps tf.data's element order independent
of thread timing; with a ``seed`` the whole sequence of batches, shuffles
and frame draws repeats exactly. ``deterministic=False`` lets parallel reads
finish out of order (faster; the frame draws are still seeded but their
pairing with samples varies).

Example:

>>> from keras_fer.data import pipeline
>>> train = pipeline.feature_dataset("features/", training=True, batch_size=8, seed=0)   # doctest: +SKIP
>>> features, labels = next(iter(train))                                                 # doctest: +SKIP
>>> features.shape, labels.shape                                                         # doctest: +SKIP
(TensorShape([8, 20, 7, 7, 512]), TensorShape([8]))
"""

import os

import numpy as np
import tensorflow as tf

from data_prep import sampling
from data_prep.checks import check_int
from keras_fer.data import augment, prepared
from keras_fer.data import cache as feature_cache

__all__ = ["check_augmentation", "class_names", "draw_frames", "feature_dataset", "frame_dataset", "per_epoch",
           "phase_windows", "resolve_sampler", "shuffled", "with_seeds"]

_AUTOTUNE = tf.data.AUTOTUNE
# No read buffer: a record (a clip, ~1 MB) is read straight into its string instead of through a buffer copy,
# which measured ~1.0 instead of ~1.5 ms CPU per AST clip (8 MiB buffer) in the page cache.
_READ_BUFFER_BYTES = 0


def _check_bool(value, name):
    if not isinstance(value, bool):
        raise ValueError(f"`{name}` must be True or False; received {name}={value!r}")
    return value


def _check_common(training, batch_size, shuffle_buffer, num_workers, worker_index, deterministic, seed, as_dict,
                  include_ids):
    _check_bool(training, "training")
    _check_bool(as_dict, "as_dict")
    _check_bool(include_ids, "include_ids")
    if include_ids and not as_dict:
        raise ValueError("`include_ids=True` needs `as_dict=True` (the ids travel in the inputs dict).")
    _check_bool(deterministic, "deterministic")
    check_int(batch_size, "batch_size", 1)
    check_int(shuffle_buffer, "shuffle_buffer", 1)
    check_int(num_workers, "num_workers", 1)
    check_int(worker_index, "worker_index", 0)
    if worker_index >= num_workers:
        raise ValueError(f"`worker_index` must be < num_workers ({num_workers}); "
                         f"received worker_index={worker_index!r}")
    if seed is not None:
        check_int(seed, "seed", 0)


def check_augmentation(augmentation, training):
    """The augmentation to apply: ``augmentation`` in training, None in test."""
    if augmentation is not None and not isinstance(augmentation, augment.ClipAugmentation):
        raise ValueError(f"`augmentation` must be None or a ClipAugmentation; received augmentation={augmentation!r}")
    return augmentation if training else None


def _check_ids(ids, known, where):
    """The requested sample ids as a set; ValueError naming ``where`` for an unknown, repeated or empty list."""
    if ids is None:
        return None
    if isinstance(ids, (str, bytes)):
        raise ValueError(f"`ids` must be a list of sample ids, not a string; received ids={ids!r}")
    ids = [str(i) for i in ids]
    if not ids:
        raise ValueError("`ids` is empty: no sample to read.")
    wanted = set(ids)
    if len(wanted) != len(ids):
        raise ValueError(f"`ids` names a sample twice: {sorted(i for i in wanted if ids.count(i) > 1)[:5]}")
    unknown = sorted(wanted - set(known))
    if unknown:
        raise ValueError(f"{where} has no sample {unknown[:5]}{' ...' if len(unknown) > 5 else ''} "
                         f"({len(unknown)} of the {len(ids)} requested ids are unknown).")
    return wanted


def draw_frames(sampler, sampler_options, training, sampler_frames, frame_indices, seed, window=None):
    """Which stored frames a draw needs: the NumPy core of both readers.

    Args:
        sampler: paper name, or None for every stored frame.
        sampler_options: the sampler's options (dict).
        training: the training draw or the fixed test frames.
        sampler_frames: ``n_frames`` of the sampler.
        frame_indices: sorted sampler-space indices of the stored frames.
        seed: seed of the training draw.
        window: None, or the ``(start, end)`` frames the sampler reads (the clip's annotated phases,
            :func:`data_prep.sampling.phase_window`); ``(-1, -1)`` is None.

    Returns:
        ``(lower, upper, weight, mask)``: slots into the stored frames
        (int64, (T,)), the blend weight of ``upper`` (float32, (T,); frame =
        ``lower + weight * (upper - lower)`` as in ``interpolate_frames``) and
        the mask (bool, (T,)).

    Raises:
        ValueError: the draw needs a frame that is not stored.
    """
    frame_indices = np.asarray(frame_indices, np.int64)
    if sampler is None:
        positions = frame_indices
    else:
        window = None if window is None or int(window[0]) < 0 else (int(window[0]), int(window[1]))
        positions = np.asarray(sampling.sample(sampler, int(sampler_frames), training=bool(training),
                                               seed=int(seed), window=window, **sampler_options)).ravel()
    lower = np.floor(positions).astype(np.int64)
    upper = np.ceil(positions).astype(np.int64)
    slots = []
    for wanted in (lower, upper):
        slot = np.minimum(np.searchsorted(frame_indices, wanted), frame_indices.size - 1)
        absent = np.unique(wanted[frame_indices[slot] != wanted])
        if absent.size:
            raise ValueError(f"sampler {sampler!r} {sampler_options} needs frames {absent[:10].tolist()}, which are "
                             "not stored (the cache or the crops were made for another sampler)")
        slots.append(slot)
    if np.issubdtype(positions.dtype, np.integer):
        weight = np.zeros(positions.shape, np.float32)
    else:
        weight = (positions - lower).astype(np.float32)
    mask = np.ones(positions.shape, bool)
    if sampler == "ast":  # trailing repeats of the last frame of a short video
        last = positions.size - 1
        while last > 0 and positions[last] == positions[last - 1]:
            mask[last] = False
            last -= 1
    return slots[0], slots[1], weight, mask


def _draw_shape(sampler, sampler_options, sampler_frames):
    """Shape of one draw (``(T,)``, CEFLNet's ``(clips, frames)``, ``(None,)`` without a sampler) and
    whether its positions are frame indices (no blending needed)."""
    if sampler is None:
        return (None,), True
    positions = np.asarray(sampling.sample(sampler, int(sampler_frames), **sampler_options))
    return tuple(positions.shape), bool(np.issubdtype(positions.dtype, np.integer))


def resolve_sampler(sampler, sampler_options, stored_sampler, stored_options, where):
    """The sampler to draw with: the stored one by default; another only when every frame is stored."""
    if sampler == "stored":
        if sampler_options is not None and dict(sampler_options) != dict(stored_options):
            raise ValueError(f"`sampler_options` {sampler_options} differ from those of {where} {stored_options}; "
                             "pass `sampler` too when every frame is stored, or use the stored options.")
        return stored_sampler, dict(stored_options)
    if sampler is not None and sampler not in sampling.SAMPLERS:
        raise ValueError(f"`sampler` must be 'stored', None or one of {sorted(sampling.SAMPLERS)}; "
                         f"received sampler={sampler!r}")
    options = dict(sampler_options or {})
    if stored_sampler is not None and (sampler, options) != (stored_sampler, dict(stored_options)):
        raise ValueError(f"{where} holds only the frames of sampler {stored_sampler!r} {stored_options}; "
                         f"it cannot serve sampler {sampler!r} {options}.")
    if sampler is None and options:
        raise ValueError(f"`sampler_options` must be empty without a sampler; received sampler_options={options!r}")
    return sampler, options


def phase_windows(sampler, options, sampler_frames, phases):
    """The ``(start, end)`` each clip's sampler reads (:func:`data_prep.sampling.phase_window`; ``(-1, -1)``: the
    whole clip), an int64 array (N, 2), from each clip's ``sampler_frames`` and ``phases`` (onset, apex, offset
    dict or tuple; -1 or None: not annotated)."""
    windows = np.full((len(sampler_frames), 2), -1, np.int64)
    if sampler is None:
        return windows
    for row, (frames, values) in enumerate(zip(sampler_frames, phases)):
        if not isinstance(values, dict):
            values = dict(zip(("onset", "apex", "offset"), tuple(values) or (-1, -1, -1)))
        window = sampling.phase_window(sampler, int(frames), values, **options)
        if window is not None:
            windows[row] = window
    return windows


def _draw_map(sampler, options, training, draw_shape):
    """A tf.data map function: (sampler_frames, frame_indices, seed, window) -> flat (lower, upper, weight, mask)
    tensors."""
    frames_per_draw = None if draw_shape == (None,) else int(np.prod(draw_shape))

    def draw(sampler_frames, frame_indices, seed, window):
        return draw_frames(sampler, options, training, sampler_frames, frame_indices,
                           int(seed) & 0x7FFFFFFFFFFFFFFF, window)

    def apply(sampler_frames, frame_indices, seed, window):
        lower, upper, weight, mask = tf.numpy_function(
            draw, [sampler_frames, frame_indices, seed, window], [tf.int64, tf.int64, tf.float32, tf.bool],
            stateful=False)
        for tensor in (lower, upper, weight, mask):
            tensor.set_shape((frames_per_draw,))
        return lower, upper, weight, mask

    return apply


def _blend(stored, lower, upper, weight):
    """``interpolate_frames`` in TF: ``lo + w * (hi - lo)`` in float32 for (T,) slots into ``stored`` (N, ...)."""
    low = tf.cast(tf.gather(stored, lower), tf.float32)  # (T, ...)
    high = tf.cast(tf.gather(stored, upper), tf.float32)  # (T, ...)
    weight = tf.reshape(weight, [-1] + [1] * (len(stored.shape) - 1))  # (T, 1, ...)
    return low + weight * (high - low)


def per_epoch(build, *, training, seed, epoch):
    """A dataset whose every pass is ``build(keys)``, ``keys`` a (2,) int64 tensor that depends only on (seed, epoch).

    In training, each pass (each Keras epoch) reads the epoch counter and
    then adds one to it: ``epoch`` is the first pass's epoch (an int), or an
    int64 ``tf.Variable`` that someone sets before a pass
    (:class:`keras_fer.training.train.EpochRandomness`), so that a process resumed at
    epoch k draws what the uninterrupted one drew at epoch k. In test
    (``training=False``) every pass is ``build(None)``.
    """
    if not isinstance(epoch, tf.Variable):
        check_int(epoch, "epoch", 0)
    elif epoch.dtype != tf.int64:
        raise ValueError(f"`epoch` must be an int or an int64 tf.Variable; received epoch={epoch!r}")
    if not training:
        return build(None)
    if seed is None:  # unseeded: a new sequence per reader, still a function of the epoch within it
        seed = int(np.random.default_rng().integers(2**31))
    counter = epoch if isinstance(epoch, tf.Variable) else tf.Variable(epoch, dtype=tf.int64, trainable=False)
    passes = tf.data.Dataset.from_tensors(tf.constant(0, tf.int64)).map(lambda _: counter.assign_add(1) - 1)

    def one_pass(current):
        keys = tf.random.stateless_uniform([2], seed=tf.stack([tf.constant(seed, tf.int64), current]),
                                           minval=None, maxval=None, dtype=tf.int64)
        return build(keys)

    return passes.flat_map(one_pass)


def shuffled(dataset, window, key):
    """``dataset`` shuffled within consecutive windows of ``window`` elements, each by a permutation of
    (``key``, window number): stateless, so the order is a function of the pass's key only."""
    def permute(number, elements):
        first = tf.nest.flatten(elements)[0]
        order = tf.random.experimental.stateless_shuffle(tf.range(tf.shape(first, out_type=tf.int64)[0]),
                                                         seed=tf.stack([key, number]))
        return tf.nest.map_structure(lambda values: tf.gather(values, order), elements)

    return dataset.batch(window).enumerate().map(permute).prefetch(1).unbatch()


def with_seeds(dataset, keys, count):
    """Pairs each of the ``count`` elements with its draw's seed: drawn from the pass ``keys`` (training), or 0."""
    if keys is None:
        seeds = tf.data.Dataset.from_tensors(tf.constant(0, tf.int64)).repeat()
    else:
        seeds = tf.data.Dataset.from_tensor_slices(tf.random.stateless_uniform(
            [count], seed=keys, minval=None, maxval=None, dtype=tf.int64))
    return tf.data.Dataset.zip((dataset, seeds))


def _masked(values, mask, draw_shape, feature_rank):
    """(T, *feature) flat draw -> (*draw_shape, *feature) with masked frames set to zero; mask (*draw_shape)."""
    if draw_shape != (None,):
        static = draw_shape + tuple(values.shape[1:])  # unknown sizes (frame crops) stay None
        values = tf.ensure_shape(tf.reshape(values, tf.concat([draw_shape, tf.shape(values)[1:]], 0)), static)
        mask = tf.reshape(mask, draw_shape)

    def zero_masked():
        keep = tf.reshape(tf.cast(mask, values.dtype), tf.concat([tf.shape(mask), [1] * feature_rank], 0))
        return values * keep

    return tf.cond(tf.reduce_all(mask), lambda: values, zero_masked), mask  # most draws mask nothing


def _finish(dataset, num_samples, batch_size, drop_remainder, dtype, input_key, as_dict, include_ids, deterministic):
    if dataset.element_spec[0].shape.is_fully_defined():
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    else:  # clips of different lengths (no sampler): pad with masked, all-zero frames
        dataset = dataset.padded_batch(batch_size, drop_remainder=drop_remainder)
    # Known from the manifest: Keras then shows full progress bars and knows the epoch's length up front.
    batches = num_samples // batch_size if drop_remainder else -(-num_samples // batch_size)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))

    def outputs(values, mask, label, sample_id):
        if not as_dict:
            return tf.cast(values, dtype), label
        inputs = {input_key: tf.cast(values, dtype), "mask": mask}
        if include_ids:
            inputs["id"] = sample_id
        return inputs, label

    dataset = dataset.map(outputs, num_parallel_calls=_AUTOTUNE, deterministic=deterministic)
    options = tf.data.Options()
    options.deterministic = deterministic
    return dataset.with_options(options).prefetch(_AUTOTUNE)


def feature_dataset(cache_dir, *, training, batch_size=8, sampler="stored", sampler_options=None, shuffle_buffer=128,
                    seed=None, deterministic=True, num_workers=1, worker_index=0, cycle_length=4, as_dict=False,
                    include_ids=False, drop_remainder=False, dtype="float32", expected_hash=None,
                    expected_config=None, ids=None, epoch=0, augmentation=None):
    """A tf.data dataset of cached stem features with per-epoch frame draws; see the module.

    Args:
        cache_dir: a folder written by ``keras-fer extract`` (:mod:`keras_fer.data.cache`).
        training: per-epoch random draws, shard and sample shuffling (True), or
            the fixed test frames in a fixed order (shards interleaved; ``include_ids`` names them) (False).
        batch_size: clips per batch.
        sampler: ``"stored"`` (the cache's sampler), a paper name or None; a
            sampler other than the cache's works only on a cache of every frame.
        sampler_options: that sampler's options (dict) or None.
        shuffle_buffer: clips (their serialized records, every stored frame) shuffled together in consecutive
            windows (training only; the window in use and the next are held).
        seed: seed of the shuffles and frame draws (None: new each run).
        deterministic: keep the order independent of thread timing.
        num_workers: workers of multi-worker training.
        worker_index: this worker's index; it reads shards ``s % num_workers == worker_index``.
        cycle_length: shards read at once (interleave).
        as_dict: yield ``{"features", "mask"}`` dicts instead of the features tensor.
        include_ids: add ``inputs["id"]`` (needs ``as_dict``).
        drop_remainder: drop a last, smaller batch.
        dtype: dtype of ``inputs["features"]``.
        expected_hash: None or the cache hash required.
        expected_config: None or the config dict required.
        ids: None (every sample) or the sample ids to read (a fold's side):
            the others are skipped after their shard is read, before
            anything is decoded.
        epoch: the first pass's epoch (int), or an int64 ``tf.Variable``
            read at the start of each pass; see :func:`per_epoch`.
        augmentation: None, or a :class:`~keras_fer.data.augment.ClipAugmentation` for a cache of frames
            ``(H, W, C)`` (a flow cache), applied to each clip in training only, keyed by its draw seed; stem
            features get none.

    Returns:
        ``tf.data.Dataset`` of ``(features, labels)``: ``(B, *draw, *feature_shape)``
        (masked frames zero) and ``(B,)`` int32; see the module for ``as_dict``.

    Raises:
        keras_fer.data.cache.CacheMismatchError: stale hash or config (names ``cache.json``).
        keras_fer.data.cache.CacheIntegrityError: missing or truncated shard, a sample named
            twice (names the file).
        ValueError: a bad argument, or fewer shards than ``num_workers``.
    """
    _check_common(training, batch_size, shuffle_buffer, num_workers, worker_index, deterministic, seed, as_dict,
                  include_ids)
    check_int(cycle_length, "cycle_length", 1)
    augmentation = check_augmentation(augmentation, training)
    info = feature_cache.open_cache(cache_dir, expected_hash=expected_hash, expected_config=expected_config)
    where = os.path.join(info.cache_dir, "cache.json")
    sampler, options = resolve_sampler(sampler, sampler_options, info.config["sampler"],
                                        info.config["sampler_options"], where)
    if num_workers > len(info.shard_files):
        raise ValueError(f"`num_workers` must be at most the {len(info.shard_files)} shards of {info.cache_dir} "
                         f"(extract with --num-shards >= {num_workers}); received num_workers={num_workers}")
    files = info.shard_files[worker_index::num_workers]
    draw_shape, integral = _draw_shape(sampler, options, info.records[0]["sampler_frames"])
    feature_shape = tuple(info.feature_shape)

    wanted = _check_ids(ids, [record["id"] for record in info.records], info.cache_dir)
    keep = None if wanted is None else tf.constant(sorted(wanted))
    num_samples = sum(1 for record in info.records if record["shard"] % num_workers == worker_index
                      and (wanted is None or record["id"] in wanted))

    def requested(record):
        sample_id = tf.io.parse_single_example(record, {"id": tf.io.FixedLenFeature([], tf.string)})["id"]
        return tf.reduce_any(tf.equal(keep, sample_id))

    def one_pass(keys):  # the serialized records of one epoch, paired with their draws' seeds
        dataset = tf.data.Dataset.from_tensor_slices(files)
        if keys is not None:
            dataset = shuffled(dataset, len(files), keys[0])
        dataset = dataset.interleave(
            lambda path: tf.data.TFRecordDataset(path, buffer_size=_READ_BUFFER_BYTES),
            cycle_length=min(cycle_length, len(files)), block_length=1, num_parallel_calls=_AUTOTUNE,
            deterministic=deterministic)
        if keep is not None:
            dataset = dataset.filter(requested)
        dataset = with_seeds(dataset, keys, num_samples)
        if keys is not None:  # before anything is decoded
            dataset = shuffled(dataset, shuffle_buffer, keys[0] + 1)
        return dataset

    dataset = per_epoch(one_pass, training=training, seed=seed, epoch=epoch)
    batches = num_samples // batch_size if drop_remainder else -(-num_samples // batch_size)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    # Known from the index: Keras then shows full progress bars and knows the epoch's length up front.
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))
    if augmentation is not None and len(feature_shape) != 3:
        raise ValueError(f"`augmentation` needs cached frames (H, W, C) such as optical flow; {info.cache_dir} "
                         f"holds features of shape {feature_shape}, which get no spatial augmentation")
    windows = dict(zip([record["id"].encode() for record in info.records],
                       phase_windows(sampler, options, [record["sampler_frames"] for record in info.records],
                                     [record["phases"] for record in info.records])))
    read_batch = _feature_batch_map(sampler, options, training, draw_shape, integral, feature_shape,
                                    batch_size if drop_remainder else None, dtype, as_dict, include_ids,
                                    augmentation, windows)
    dataset = dataset.map(read_batch, num_parallel_calls=_AUTOTUNE, deterministic=deterministic)
    dataset_options = tf.data.Options()
    dataset_options.deterministic = deterministic
    return dataset.with_options(dataset_options).prefetch(_AUTOTUNE)


def _draw_batch(sampler, options, training, sampler_frames, values, lengths, seeds, windows):
    """:func:`draw_frames` for a batch of clips, padded to the longest draw (padding: slot 0, masked).

    ``values``/``lengths`` are the batch's frame indices, flat, and their
    count per clip; ``windows`` each clip's (start, end) (:func:`phase_windows`). Returns
    ``(lower, upper, weight, mask)``, each (B, T).
    """
    ends = np.cumsum(lengths)
    draws = [draw_frames(sampler, options, training, frames, values[end - length:end],
                         int(seed) & 0x7FFFFFFFFFFFFFFF, window)
             for frames, length, end, seed, window in zip(sampler_frames, lengths, ends, seeds, windows)]
    count = max(draw[0].size for draw in draws)
    lower, upper = np.zeros((2, len(draws), count), np.int64)
    weight = np.zeros((len(draws), count), np.float32)
    mask = np.zeros((len(draws), count), bool)
    for row, draw in enumerate(draws):
        size = draw[0].size
        lower[row, :size], upper[row, :size], weight[row, :size], mask[row, :size] = draw
    return lower, upper, weight, mask


def _feature_batch_map(sampler, options, training, draw_shape, integral, feature_shape, static_batch, dtype, as_dict,
                       include_ids, augmentation=None, windows=None):
    """A tf.data map function: a batch of (serialized record, seed) -> the reader's ``(inputs, labels)``.

    The whole batch is parsed at once, its frames drawn by one NumPy call,
    and only the drawn frames' bytes are cut out of the parsed records
    (``tf.strings.substr``) and decoded: a clip's other stored frames are
    not decoded. Masking and the cast to ``dtype`` happen once per batch.
    ``static_batch`` is the batch size when every batch has it (``drop_remainder``), else None.
    ``augmentation`` (frames only) is applied to each clip with its draw seed. ``windows``: sample id (bytes) ->
    the (start, end) its sampler reads (:func:`phase_windows`); None or absent: the whole clip.
    """
    spec = {
        "id": tf.io.FixedLenFeature([], tf.string),
        "label": tf.io.FixedLenFeature([], tf.int64),
        "features": tf.io.FixedLenFeature([], tf.string),
        "frame_indices": tf.io.RaggedFeature(tf.int64),
        "sampler_frames": tf.io.FixedLenFeature([], tf.int64),
    }
    frame_bytes = 2 * int(np.prod(feature_shape))  # float16
    frames_per_draw = None if draw_shape == (None,) else int(np.prod(draw_shape))

    def draw(sampler_frames, values, lengths, seeds, ids):
        found = [(windows or {}).get(sample_id, (-1, -1)) for sample_id in ids]
        return _draw_batch(sampler, options, training, sampler_frames, values, lengths, seeds, found)

    def read_batch(records, seeds):
        example = tf.io.parse_example(records, spec)
        data, indices = example["features"], example["frame_indices"]
        lengths = tf.cast(indices.row_lengths(), tf.int64)  # (B,) stored frames per clip
        tf.debugging.assert_equal(tf.cast(tf.strings.length(data), tf.int64), lengths * frame_bytes,
                                  message="feature cache: a record's feature bytes do not match its frame count")
        lower, upper, weight, mask = tf.numpy_function(
            draw, [example["sampler_frames"], indices.values, lengths, seeds, example["id"]],
            [tf.int64, tf.int64, tf.float32, tf.bool], stateful=False)
        for tensor in (lower, upper, weight, mask):
            tensor.set_shape((None, frames_per_draw))
        size = tf.shape(lower, out_type=tf.int64)
        width = tf.fill(size, tf.constant(frame_bytes, tf.int64))

        def take(slots):  # (B, T) slots -> (B, T, *feature) float16, copying only those frames' bytes
            pieces = tf.strings.substr(data[:, None], slots * frame_bytes, width)  # (B, T) strings
            return tf.reshape(tf.io.decode_raw(pieces, tf.float16), tf.concat([size, feature_shape], 0))

        clip = take(lower)
        if not integral:  # interpolate_frames' blend, in float32, rounded to float16 as a float16 superset is
            low, high = tf.cast(clip, tf.float32), tf.cast(take(upper), tf.float32)
            blend = tf.reshape(weight, tf.concat([size, [1] * len(feature_shape)], 0))
            clip = tf.cast(low + blend * (high - low), tf.float16)

        def zero_masked():
            keep = tf.reshape(tf.cast(mask, clip.dtype), tf.concat([size, [1] * len(feature_shape)], 0))
            return clip * keep

        clip = tf.cond(tf.reduce_all(mask), lambda: clip, zero_masked)  # most batches mask nothing
        values, batch_mask = clip, mask
        if draw_shape != (None,):
            batch = tf.shape(clip)[:1]
            values = tf.reshape(clip, tf.concat([batch, draw_shape, feature_shape], 0))
            values.set_shape((static_batch,) + draw_shape + feature_shape)
            batch_mask = tf.reshape(mask, tf.concat([batch, draw_shape], 0))
            batch_mask.set_shape((static_batch,) + draw_shape)
        else:
            values.set_shape((static_batch, None) + feature_shape)
            batch_mask.set_shape((static_batch, None))
        if augmentation is not None:  # (B, *draw, H, W, C), one clip at a time
            values = tf.map_fn(lambda pair: augment.augment_clip(pair[0], pair[1], augmentation), (values, seeds),
                               fn_output_signature=tf.TensorSpec(values.shape[1:], values.dtype))
        values = tf.cast(values, dtype)
        labels = tf.cast(example["label"], tf.int32)
        if not as_dict:
            return values, labels
        inputs = {"features": values, "mask": batch_mask}
        if include_ids:
            inputs["id"] = example["id"]
        return inputs, labels

    return read_batch


def _prepared_settings(prepared_dir):
    settings = prepared.read_prepare_settings(prepared_dir)
    path = os.path.join(prepared_dir, "prepare.json")
    return path, settings.get("sampler"), settings["sampler_options"], settings.get("size")


def class_names(path):
    """Sorted class names of a feature cache or a prepared folder; labels index this list."""
    path = os.fspath(path)
    if feature_cache.is_cache_dir(path):  # a cache without cache.json is named as such, not read as a prepared folder
        return list(feature_cache.read_cache_json(path)["classes"])
    from data_prep import manifest

    rows = manifest.read_csv(os.path.join(path, "manifest.csv"), required=("label",))
    return sorted({row["label"] for row in rows if row["label"]})


def frame_dataset(prepared_dir, *, training, batch_size=8, sampler="stored", sampler_options=None, image_size=None,
                  shuffle_buffer=None, seed=None, deterministic=True, num_workers=1, worker_index=0, as_dict=False,
                  include_ids=False, drop_remainder=False, dtype="float32", ids=None, epoch=0, augmentation=None):
    """A tf.data dataset of face-crop frames (end-to-end training) with the same draws as :func:`feature_dataset`.

    Args:
        prepared_dir: output folder of ``keras-fer prepare``.
        training: per-epoch random draws and shuffling, or the fixed test frames in manifest order.
        batch_size: clips per batch.
        sampler: ``"stored"`` (the sampler of ``prepare.json``), a paper name,
            or None (every crop); another sampler than ``prepare.json``'s needs
            a folder prepared without ``--sampler``.
        sampler_options: the sampler's options (dict) or None.
        image_size: None keeps the crops' size; an int resizes (area
            interpolation, rounded) to ``image_size`` x ``image_size``.
        shuffle_buffer: samples shuffled together (consecutive windows of
            the metadata, before decoding); None: all of them.
        seed: seed of the shuffles and draws.
        deterministic: keep the order independent of thread timing.
        num_workers: workers of multi-worker training.
        worker_index: this worker reads samples ``i % num_workers == worker_index``.
        as_dict: yield ``{"frames", "mask"}`` dicts instead of the frames tensor.
        include_ids: add ``inputs["id"]`` (needs ``as_dict``).
        drop_remainder: drop a last, smaller batch.
        dtype: dtype of ``inputs["frames"]`` (values in [0, 255], rounded as
            ``interpolate_frames`` rounds uint8 frames).
        ids: None (every sample) or the sample ids to read (a fold's side).
        epoch: the first pass's epoch (int), or an int64 ``tf.Variable``; see :func:`per_epoch`.
        augmentation: None or a :class:`~keras_fer.data.augment.ClipAugmentation`, applied to each clip
            (after ``image_size``) in training only, keyed by the clip's draw seed.

    Returns:
        ``tf.data.Dataset`` of ``(frames, labels)``: ``(B, *draw, H, W, 3)``
        (masked frames zero) and ``(B,)`` int32; see the module for ``as_dict``.
    """
    prepared_dir = os.fspath(prepared_dir)
    samples = feature_cache.prepared_samples(prepared_dir, sampler=None)
    if shuffle_buffer is None:
        shuffle_buffer = max(1, len(samples))
    _check_common(training, batch_size, shuffle_buffer, num_workers, worker_index, deterministic, seed, as_dict,
                  include_ids)
    if image_size is not None:
        check_int(image_size, "image_size", 1)
    augmentation = check_augmentation(augmentation, training)
    where, stored_sampler, stored_options, crop_size = _prepared_settings(prepared_dir)
    sampler, options = resolve_sampler(sampler, sampler_options, stored_sampler, stored_options, where)
    wanted = _check_ids(ids, [s.id for s in samples], prepared_dir)
    if wanted is not None:
        samples = [s for s in samples if s.id in wanted]
    samples = samples[worker_index::num_workers]
    if not samples:
        raise ValueError(f"worker {worker_index} of {num_workers} gets no sample of {prepared_dir}.")
    classes = class_names(prepared_dir)
    draw_shape, _ = _draw_shape(sampler, options, samples[0].sampler_frames)
    lengths = [len(s.frame_indices) for s in samples]
    columns = {
        "id": [s.id for s in samples],
        "crops_dir": [s.crops_dir for s in samples],
        "label": np.asarray([classes.index(s.label) if s.label else -1 for s in samples], np.int32),
        "sampler_frames": np.asarray([s.sampler_frames for s in samples], np.int64),
        "frame_indices": tf.RaggedTensor.from_row_lengths(
            np.concatenate([s.frame_indices for s in samples]).astype(np.int64), lengths),
        "source_frames": tf.RaggedTensor.from_row_lengths(
            np.concatenate([s.source_frames for s in samples]).astype(np.int64), lengths),
        "window": phase_windows(sampler, options, [s.sampler_frames for s in samples], [s.phases for s in samples]),
    }
    draw = _draw_map(sampler, options, training, draw_shape)

    def load_clip(row, seed_value):
        lower, upper, weight, mask = draw(row["sampler_frames"], row["frame_indices"], seed_value, row["window"])
        needed, slots = tf.unique(tf.concat([lower, upper], 0))  # decode each crop once
        frames = tf.gather(row["source_frames"], needed)
        paths = tf.strings.join([row["crops_dir"], "/", tf.strings.as_string(frames, width=6, fill="0"), ".jpg"])
        images = tf.map_fn(lambda p: tf.io.decode_jpeg(tf.io.read_file(p), channels=3), paths,
                           fn_output_signature=tf.TensorSpec((crop_size, crop_size, 3), tf.uint8))  # (K, H, W, 3)
        count = tf.shape(lower)[0]
        clip = _blend(images, slots[:count], slots[count:], weight)  # (T, H, W, 3) float32
        if image_size is not None:
            clip = tf.image.resize(clip, (image_size, image_size), method="area")
        clip = augment.augment_clip(clip, seed_value, augmentation)  # (T, H, W, 3), unchanged without
        clip = tf.clip_by_value(tf.round(clip), 0.0, 255.0)
        clip, mask = _masked(clip, mask, draw_shape, 3)  # (*draw, H, W, 3)
        return clip, mask, row["label"], row["id"]

    def one_pass(keys):  # the shuffled metadata of one epoch, paired with the draws' seeds
        dataset = tf.data.Dataset.from_tensor_slices(columns)
        if keys is not None:
            dataset = shuffled(dataset, shuffle_buffer, keys[0])
        return with_seeds(dataset, keys, len(samples))

    dataset = per_epoch(one_pass, training=training, seed=seed, epoch=epoch)
    dataset = dataset.map(load_clip, num_parallel_calls=_AUTOTUNE, deterministic=deterministic)
    # The shuffle happened on the metadata; the decoded clips pass straight to batching.
    return _finish(dataset, len(samples), batch_size, drop_remainder, dtype, "frames", as_dict, include_ids,
                   deterministic)
