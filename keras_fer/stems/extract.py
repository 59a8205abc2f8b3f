"""Fast, streaming feature extraction with a stem.

``extract_features`` pulls frames (or clips) from any iterable in a background
thread, packs them into fixed-size batches, runs preprocessing and the stem in
one compiled TensorFlow function (traced once), and yields the features item
by item in input order. Memory stays constant in the number of frames: about
``prefetch_batches + 3`` batches of input (queued, being filled, computing,
being copied out) and the features of one unfinished item are held at a time.
"""

import collections
import queue
import threading
import weakref

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from data_prep.checks import check_int
from keras_fer import backends

_AUTO = "auto"
_STOP_POLL_SECONDS = 0.1
# stem -> {(preprocess, batch shape, dtype, XLA, mixed, output dtype): (model, compiled function)}, so that
# calling extract_features once per video traces and compiles once per stem, not once per video.
_COMPILED = weakref.WeakKeyDictionary()
_MAX_COMPILED_PER_STEM = 8


def _gpu_available():
    if backends.name() == "jax":
        import jax

        return jax.default_backend() == "gpu"
    return bool(tf.config.list_logical_devices("GPU"))


def _check_flag(value, name):
    if value not in (_AUTO, True, False):
        raise ValueError(f"extract_features: `{name}` must be 'auto', True or False; received {name}={value!r}")
    return value


def _set_dtype_policy(layer_config, policy):
    """Set ``policy`` on a serialized layer and every layer inside it (nested models, wrappers)."""
    if layer_config["class_name"] == "InputLayer":
        return
    config = layer_config["config"]
    for inner in config.get("layers", ()):
        _set_dtype_policy(inner, policy)
    if isinstance(config.get("layer"), dict):
        _set_dtype_policy(config["layer"], policy)
    config["dtype"] = policy


def mixed_precision_copy(stem):
    """A copy of a functional ``stem`` whose layers compute in float16 (``mixed_float16``).

    Variables stay float32 (Keras mixed precision); the weights are copied from
    ``stem``, which is left unchanged.

    Args:
        stem: a functional ``keras.Model``.

    Returns:
        A new ``keras.Model`` with the ``mixed_float16`` dtype policy.
    """
    config = stem.get_config()
    for layer_config in config["layers"]:
        _set_dtype_policy(layer_config, "mixed_float16")
    copy = stem.__class__.from_config(config)
    copy.set_weights(stem.get_weights())
    return copy


class _RowBuffer:
    """Feature rows of finished batches, taken out item by item (FIFO)."""

    def __init__(self, num_outputs):
        self._chunks = collections.deque()
        self._offset = 0
        self.available = 0
        self._num_outputs = num_outputs

    def append(self, outputs):
        self._chunks.append(outputs)
        self.available += len(outputs[0])

    def take(self, count):
        parts = [[] for _ in range(self._num_outputs)]
        while count:
            chunk = self._chunks[0]
            stop = min(len(chunk[0]), self._offset + count)
            for part, output in zip(parts, chunk):
                part.append(output[self._offset : stop])
            count -= stop - self._offset
            self.available -= stop - self._offset
            self._offset = stop
            if self._offset == len(chunk[0]):
                self._chunks.popleft()
                self._offset = 0
        return [np.concatenate(part) if len(part) != 1 else part[0].copy() for part in parts]


def _sample_shape_of(stem):
    shapes = [tuple(tensor.shape) for tensor in stem.inputs]
    if len(shapes) != 1:
        raise ValueError(f"extract_features needs a stem with one input; {stem.name!r} has {len(shapes)}")
    return shapes[0][1:]


def _producer(frames, sample_shape, check_sizes, batch_size, batches, free_slots, stop):
    """Pull items, split them into samples, put ("item", ...) and ("batch", ...) messages on ``batches``."""
    sample_rank = len(sample_shape)
    buffer, filled, dtype, fixed_shape = None, 0, None, None

    def wait_for_slot():
        while not free_slots.acquire(timeout=_STOP_POLL_SECONDS):
            if stop.is_set():
                return False
        return True

    try:
        for index, item in enumerate(frames):
            if stop.is_set():
                return
            item = np.asarray(item)
            if item.ndim == sample_rank:
                is_single, samples = True, item[None]
            elif item.ndim == sample_rank + 1:
                is_single, samples = False, item
            else:
                raise ValueError(
                    f"extract_features: item {index} has shape {item.shape}; the stem takes samples of shape "
                    f"{sample_shape} (rank {sample_rank}) or sequences of them (rank {sample_rank + 1})"
                )
            if fixed_shape is None and len(samples):
                fixed_shape, dtype = samples.shape[1:], samples.dtype
                sizes_differ = any(want not in (None, got) for want, got in zip(sample_shape, fixed_shape))
                if check_sizes and sizes_differ:
                    raise ValueError(
                        f"extract_features: item {index} has samples of shape {fixed_shape}; "
                        f"the stem takes {sample_shape}"
                    )
                batches.put(("shape", fixed_shape, dtype))
            elif len(samples) and samples.shape[1:] != fixed_shape:
                raise ValueError(
                    f"extract_features: item {index} has samples of shape {samples.shape[1:]}, "
                    f"earlier items {fixed_shape}; all samples of one call must have the same shape"
                )
            batches.put(("item", is_single, len(samples)))
            start = 0
            while start < len(samples):
                if buffer is None:
                    buffer = np.zeros((batch_size,) + fixed_shape, dtype)
                take = min(batch_size - filled, len(samples) - start)
                buffer[filled : filled + take] = samples[start : start + take]
                filled += take
                start += take
                if filled == batch_size:
                    if not wait_for_slot():
                        return
                    batches.put(("batch", buffer, filled))
                    buffer, filled = None, 0
        if filled:
            if not wait_for_slot():
                return
            batches.put(("batch", buffer, filled))
        batches.put(("end",))
    except BaseException as error:  # handed to the consumer, which re-raises it
        batches.put(("error", error))


def extract_features(
    stem,
    frames,
    batch_size=32,
    preprocess=None,
    jit_compile=_AUTO,
    mixed_precision=_AUTO,
    prefetch_batches=2,
    output_dtype="float32",
):
    """Yield the stem's features for every item of ``frames``, streaming, batched and compiled.

    Items are pulled from ``frames`` in a background thread (so decoding a
    video in a generator overlaps with the stem's compute), copied into
    fixed-size batches (the last one zero-padded, so the compiled function is
    traced once), preprocessed and run through the stem inside one
    ``tf.function``, and yielded in input order. While one batch computes, the
    next ones are being read and filled (and, on GPU, where calls return before
    the work is done, the previous batch's features are being copied out).

    An item is either one sample of the stem's input shape (a frame (H, W, 3)
    for a frame stem, a clip (T, H, W, 3) for C3D), yielding that sample's
    features, or a sequence of samples of any length (a clip (T, H, W, 3) for a
    frame stem), yielding the stacked features (T, ...). All samples of one
    call must have the same shape; it must be the stem's input shape unless
    ``preprocess`` changes it (e.g. resizes).

    Args:
        stem: a functional ``keras.Model`` with one input (a stem of this package).
        frames: any iterable (a generator is fine; it is consumed once, lazily).
        batch_size: samples per compiled call.
        preprocess: optional function of a batch tensor using ``keras.ops`` only
            (e.g. :func:`keras_fer.stems.vggface.preprocess_input`); it runs inside
            the compiled function, so raw ``uint8`` frames can be passed.
        jit_compile: XLA compilation; ``"auto"`` uses it on GPU only (on a
            2-core CPU it made no consistent difference: VGGFace +13%,
            ResNet-18 -9% at 224x224).
        mixed_precision: compute in float16 with a ``mixed_float16`` copy of the
            stem; ``"auto"`` does so on GPU only. ``stem`` itself is unchanged.
        prefetch_batches: filled batches allowed to wait for the stem.
        output_dtype: dtype of the yielded features.

    Yields:
        A NumPy array per item (a tuple of arrays for a stem with several
        outputs): the features of a sample, or the stacked features (n, ...) of
        a sequence of n samples.

    Raises:
        ValueError: a bad argument, or an item whose shape does not fit (named
            by its index; items before it have been yielded).

    Example:
        >>> stem = keras_fer.stems.vggface16(input_shape=(64, 64, 3))
        >>> frames = (np.zeros((64, 64, 3), "uint8") for _ in range(100))
        >>> for features in extract_features(stem, frames, batch_size=16,
        ...                                  preprocess=keras_fer.stems.vggface.preprocess_input):
        ...     features.shape  # (2, 2, 512)
    """
    if not isinstance(stem, keras.Model):
        raise ValueError(f"extract_features: `stem` must be a keras.Model; received stem={stem!r}")
    batch_size = check_int(batch_size, "batch_size", minimum=1, where="extract_features")
    prefetch_batches = check_int(prefetch_batches, "prefetch_batches", minimum=1, where="extract_features")
    _check_flag(jit_compile, "jit_compile")
    _check_flag(mixed_precision, "mixed_precision")
    if preprocess is not None and not callable(preprocess):
        raise ValueError(f"extract_features: `preprocess` must be callable or None; received preprocess={preprocess!r}")
    output_dtype = keras.backend.standardize_dtype(output_dtype)
    sample_shape = _sample_shape_of(stem)
    return _extract(
        stem, frames, batch_size, preprocess, jit_compile, mixed_precision, prefetch_batches, output_dtype, sample_shape
    )


def _feature_shapes(model, sample_shape):
    """Per-output feature shape of one sample (unknown sizes as 0, used for empty sequences)."""
    shapes = model.compute_output_shape((1,) + tuple(sample_shape))
    shapes = [shapes] if len(model.outputs) == 1 else list(shapes)
    return [tuple(0 if size is None else size for size in shape[1:]) for shape in shapes]


def _compiled_forward(stem, preprocess, batch_shape, dtype, use_xla, use_mixed, output_dtype):
    """The compiled ``preprocess`` + stem function for one batch shape and dtype, cached per stem.

    The cache holds the stem weakly (the traced function reaches it through a
    weak reference), so it goes away with the stem. A mixed-precision copy is
    re-synchronised with the stem's current weights on every call.
    """
    cache = _COMPILED.setdefault(stem, {})
    key = (preprocess, batch_shape, str(dtype), use_xla, use_mixed, output_dtype)
    if key not in cache:
        model = stem
        if use_mixed:
            model = next((entry[0] for entry in cache.values() if entry[0] is not None), None)
            model = model if model is not None else mixed_precision_copy(stem)

        def forward(call, batch):
            x = preprocess(batch) if preprocess is not None else batch  # (B, *sample_shape)
            outputs = call(x)
            outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
            return [ops.cast(output, output_dtype) for output in outputs]  # [(B, *feature_shape)]

        compiled = backends.inference_function(model, forward, jit_compile=use_xla,
                                               input_signature=[tf.TensorSpec(batch_shape, tf.as_dtype(dtype))])
        if len(cache) >= _MAX_COMPILED_PER_STEM:  # e.g. a new lambda as `preprocess` on every call
            cache.pop(next(iter(cache)))
        cache[key] = (model if model is not stem else None, compiled)
    copy, compiled = cache[key]
    if copy is not None:
        copy.set_weights(stem.get_weights())
    return compiled


def _extract(
    stem, frames, batch_size, preprocess, jit_compile, mixed_precision, prefetch_batches, output_dtype, sample_shape
):
    on_gpu = _gpu_available()
    use_xla = on_gpu if jit_compile == _AUTO else jit_compile
    use_mixed = on_gpu if mixed_precision == _AUTO else mixed_precision
    num_outputs = len(stem.outputs)
    feature_shapes = _feature_shapes(stem, sample_shape)

    batches, free_slots, stop = queue.Queue(), threading.Semaphore(prefetch_batches), threading.Event()
    producer = threading.Thread(
        target=_producer,
        args=(iter(frames), sample_shape, preprocess is None, batch_size, batches, free_slots, stop),
        name="keras_fer-extract-producer",
        daemon=True,
    )
    compiled = None
    rows = _RowBuffer(num_outputs)
    pending_items = collections.deque()  # (is_single, number of samples) in input order
    in_flight = None  # (output tensors, valid rows) of the batch the stem is computing

    def finished_items():
        while pending_items and pending_items[0][1] <= rows.available:
            is_single, count = pending_items.popleft()
            if count:
                parts = rows.take(count)
            else:
                parts = [np.zeros((0,) + shape, output_dtype) for shape in feature_shapes]
            if is_single:
                parts = [part[0] for part in parts]
            yield parts[0] if num_outputs == 1 else tuple(parts)

    def collect(result):
        outputs, valid = result
        rows.append([np.asarray(output)[:valid] for output in outputs])

    producer.start()
    try:
        while True:
            message = batches.get()
            kind = message[0]
            if kind == "shape":
                _, fixed_shape, dtype = message
                batch_shape = (batch_size,) + tuple(fixed_shape)
                compiled = _compiled_forward(stem, preprocess, batch_shape, dtype, use_xla, use_mixed, output_dtype)
                feature_shapes = [shape[1:] for shape in compiled.output_shapes(batch_shape, dtype)]  # traces once
            elif kind == "item":
                pending_items.append((message[1], message[2]))
                yield from finished_items()
            elif kind == "batch":
                _, batch, valid = message
                outputs = compiled(batch)  # dispatched; computes while the previous batch is collected
                free_slots.release()
                if in_flight is not None:
                    collect(in_flight)
                    yield from finished_items()
                in_flight = (outputs, valid)
            elif kind == "error":
                raise message[1]
            else:  # "end"
                if in_flight is not None:
                    collect(in_flight)
                yield from finished_items()
                return
    finally:
        stop.set()
        producer.join(timeout=5.0)
