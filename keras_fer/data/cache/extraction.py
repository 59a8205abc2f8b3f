"""``keras-fer extract``: a stem's features of every prepared sample, written into a feature cache.

See :mod:`keras_fer.data.cache` for the layout and its guarantees.
"""

import hashlib
import os

import numpy as np

from data_prep import manifest, sampling
from data_prep.checks import check_int
from keras_fer.data import prepared
from keras_fer.data.cache.layout import CacheSample
from keras_fer.data.cache.writer import write_cache
from keras_fer.stems.extract import extract_features
from keras_fer.stems.registry import build_stem, get_stem
from keras_fer.version import __version__

__all__ = ["cache_config", "extract", "prepared_samples", "sampler_phases", "stem_weights_sha256"]


def prepared_samples(prepared_dir, sampler=None, sampler_options=None):
    """The :class:`CacheSample` of every sample of a ``keras-fer prepare`` folder, with the frames to cache.

    The cached frames are ``superset(sampler, sampler_frames, window=..., **sampler_options)``
    (every frame the sampler can draw in the sample's annotated window,
    :func:`data_prep.sampling.phase_window`), or every crop when ``sampler`` is None.
    Each sample carries its annotated ``phases`` in sampler-space frame numbers
    (:func:`sampler_phases`).

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
    rows = manifest.read_csv(manifest_path, required=manifest.PREPARED_COLUMNS)
    options = dict(sampler_options or {})
    samples, seen = [], {}
    for line, row in enumerate(rows, start=2):
        where = f"{manifest_path} line {line}"
        if row["id"] in seen:
            raise ValueError(f"{where}: sample {row['id']!r} is named twice (first on line {seen[row['id']]})")
        seen[row["id"]] = line
        numbers, source, paths, sampler_frames = prepared.crops_of(prepared_dir, row, where)
        phases = sampler_phases(row, numbers, source)
        if sampler is None:
            wanted = numbers
        else:
            window = sampling.phase_window(sampler, sampler_frames, dict(zip(manifest.PHASE_COLUMNS, phases)),
                                           **options)
            wanted = sampling.superset(sampler, sampler_frames, window=window, **options)
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
            crops_dir=os.path.abspath(os.path.dirname(paths[0])), phases=phases))
    return samples


def sampler_phases(row, numbers, source):
    """A prepared row's annotated ``(onset, apex, offset)`` in sampler-space frame numbers (-1: not annotated).

    Sampler space is the source frames, unless frames without a face were dropped: then a phase becomes the
    first kept crop at or after its source frame (the last kept crop when none is).
    """
    dropped = not np.array_equal(numbers, source)
    phases = []
    for name in manifest.PHASE_COLUMNS:
        value = row.get(name, "")
        if value in ("", None):
            phases.append(-1)
        elif dropped:
            phases.append(int(numbers[min(int(np.searchsorted(source, int(value))), len(source) - 1)]))
        else:
            phases.append(int(value))
    return tuple(phases)


def stem_weights_sha256(model):
    """SHA-256 of a stem's weight values, by position (what ``cache.json`` records as ``weights_sha256``)."""
    digest = hashlib.sha256()
    for position, weight in enumerate(model.weights):  # by position: auto-generated layer names vary per build
        value = np.ascontiguousarray(weight.numpy())
        digest.update(f"{position}:{value.dtype}:{value.shape};".encode())
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


def extract(prepared_dir, out_dir, stem="vggface16", *, weights=None, input_size=None, batch_size=32,
            sampler="prepared", sampler_options=None, num_shards=None, process_index=0, num_processes=1,
            stem_model=None, preprocess=None, progress=True):
    """``keras-fer extract``: cache a stem's float16 features of every prepared sample (resumable).

    Args:
        prepared_dir: output folder of ``keras-fer prepare``.
        out_dir: cache folder (created; a rerun resumes it).
        stem: a cacheable stem of :mod:`keras_fer.stems.registry`, or the name recorded for ``stem_model``.
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
    prepared_dir = os.fspath(prepared_dir)
    face_settings = prepared.read_prepare_settings(prepared_dir)
    if sampler == "prepared":
        sampler = face_settings.get("sampler")
        if sampler_options is None:
            sampler_options = face_settings.get("sampler_options") or {}
    sampler_options = dict(sampler_options or {})
    if sampler is not None and sampler not in sampling.SAMPLERS:
        raise ValueError(f"`sampler` must be 'prepared', None or one of {sorted(sampling.SAMPLERS)}; "
                         f"received sampler={sampler!r}")
    if sampler is None and sampler_options:
        raise ValueError(f"`sampler_options` must be empty without a sampler; "
                         f"received sampler_options={sampler_options!r}")
    check_int(batch_size, "batch_size", 1)
    if stem_model is None:
        if preprocess is not None:
            raise ValueError("`preprocess` is only for `stem_model`; named stems bring their own.")
        model, preprocess = build_stem(stem, weights=weights, input_size=input_size)
        size = get_stem(stem).default_input_size if input_size is None else input_size
    else:
        if weights is not None:
            raise ValueError("`weights` is for named stems; load them into `stem_model` yourself.")
        if not isinstance(stem, str) or not stem:
            raise ValueError(f"`stem` must name `stem_model` (it goes into the cache's hash); received stem={stem!r}")
        model = stem_model
        shape = tuple(model.inputs[0].shape[1:])
        size = input_size if input_size is not None else (shape[0] if shape[0] == shape[1] else None)
    samples = prepared_samples(prepared_dir, sampler, sampler_options)
    config = cache_config(stem, model, preprocess, face_settings, sampler, sampler_options, size)
    outputs = model.outputs[0].shape[1:]
    feature_shape = tuple(int(dim) for dim in outputs)
    single_output = len(model.outputs) == 1

    def features_fn(todo):
        clips = (prepared.load_crops([os.path.join(s.crops_dir, f"{frame:06d}.jpg") for frame in s.source_frames], size)
                 for s in todo)
        for features in extract_features(model, clips, batch_size=batch_size, preprocess=preprocess):
            yield features if single_output else features[0]

    return write_cache(out_dir, samples, features_fn, config, feature_shape, num_shards=num_shards,
                       process_index=process_index, num_processes=num_processes, progress=progress)
