"""Data sources for training and evaluation: one interface over a feature cache, a prepared folder or arrays.

A source knows its samples (``rows``: id, label, subject), its classes, what
a model reads from it (``input``: ``"features"`` or ``"frames"``), how a video
becomes that input (``preparation``: faces, sampler, stem; None for arrays) and makes a
``tf.data`` dataset of any subset of its samples, which is how
:mod:`keras_fer.jobs.training` feeds the sides of a fold:

| source | reads | ``input`` |
|---|---|---|
| :class:`FeatureSource` | a cache of ``keras-fer extract`` (:func:`keras_fer.data.pipeline.feature_dataset`) | features |
| :class:`FrameSource` | a folder of ``keras-fer prepare`` (:func:`keras_fer.data.pipeline.frame_dataset`) | frames |
| :class:`ArraySource` | NumPy arrays in memory (optical flow for STANet, small experiments) | either |

:func:`open_source` picks the first two from the folder's contents.

Example:

>>> source = open_source("features/")                                   # doctest: +SKIP
>>> train = source.dataset([r["id"] for r in source.rows[:10]], training=True, batch_size=4, seed=0)  # doctest: +SKIP
"""  # noqa: E501

import contextlib
import os

import numpy as np
import tensorflow as tf

from keras_fer.data import augment, pipeline, prepared
from keras_fer.data import cache as feature_cache

__all__ = ["FLOW_STEM", "ArraySource", "FeatureSource", "FlowSource", "FrameSource", "open_source", "reading"]

#: The ``stem`` that a flow cache's ``cache.json`` records (:mod:`keras_fer.data.flow` writes it).
FLOW_STEM = "optical_flow"


class FeatureSource:
    """Cached stem features (``keras-fer extract``), drawn with the cache's sampler (or another, on a full cache).

    Args:
        cache_dir: the cache folder.
        sampler: ``"stored"`` (the cache's), a paper name, or None; see
            :func:`~keras_fer.data.pipeline.feature_dataset`.
        sampler_options: that sampler's options.
    """

    input = "features"

    def __init__(self, cache_dir, sampler="stored", sampler_options=None):
        self.path = os.fspath(cache_dir)
        info = feature_cache.open_cache(self.path)
        self.class_names = list(info.classes)
        self.rows = [{"id": r["id"], "label": r["label"], "subject": r["subject"]} for r in info.records]
        self.sampler, self.sampler_options = sampler, sampler_options
        self.config = config = info.config
        drawn, options = pipeline.resolve_sampler(sampler, sampler_options, config["sampler"],
                                                   config["sampler_options"], self.path)
        #: How a video becomes this source's input (recorded beside a trained model for ``keras-fer predict``).
        self.preparation = {"input": "features", "stem": config["stem"], "input_size": config.get("input_size"),
                            "weights_sha256": config.get("weights_sha256"),
                            "weights_file_sha256": config.get("weights_file_sha256"), "face": config.get("face"),
                            "sampler": drawn, "sampler_options": options}

    def dataset(self, ids, *, training, batch_size, seed=None, epoch=0, augmentation=None):
        """``(inputs, labels)`` batches of the samples ``ids`` (all when None); ``epoch``: see
        :func:`~keras_fer.data.pipeline.per_epoch`. ``augmentation`` (a
        :class:`~keras_fer.data.augment.ClipAugmentation`) applies in training to cached frames
        (``input == "frames"``: optical flow) only; stem features get no spatial augmentation."""
        return pipeline.feature_dataset(self.path, training=training, batch_size=batch_size, seed=seed, ids=ids,
                                        sampler=self.sampler, sampler_options=self.sampler_options, epoch=epoch,
                                        augmentation=augmentation if self.input == "frames" else None)


class FlowSource(FeatureSource):
    """Optical-flow clips ``(T, size, size, 2)`` of a flow cache (``keras-fer flow``, :mod:`keras_fer.data.flow`),
    the input of STANet's end-to-end models (``input="frames"``: flow frames, not stem features).

    Args:
        cache_dir: the flow cache's folder.
    """

    input = "frames"

    def __init__(self, cache_dir):
        super().__init__(cache_dir, sampler="stored")
        settings = self.config["flow"]
        self.shape = (settings["num_flows"], settings["size"], settings["size"], 2)
        #: How a video becomes this source's input (recorded beside a trained model for ``keras-fer predict``).
        self.preparation = {"input": "flow", "face": self.config["face"], "flow": dict(settings), "sampler": None,
                            "sampler_options": {}}

    def dataset(self, ids, *, training, batch_size, seed=None, epoch=0, **options):
        """``(flow, labels)`` batches of the samples ``ids`` (all when None); see :meth:`FeatureSource.dataset`."""
        dataset = super().dataset(ids, training=training, batch_size=batch_size, seed=seed, epoch=epoch, **options)
        return dataset.map(lambda flows, labels: (tf.ensure_shape(flows, (None, *self.shape)), labels))


class FrameSource:
    """Face-crop frames of a prepared folder (``keras-fer prepare``), for end-to-end models.

    Args:
        prepared_dir: the folder.
        sampler: ``"stored"`` (``prepare.json``'s), a paper name, or None.
        sampler_options: that sampler's options.
        image_size: None (the crops' size) or the side to resize the crops to.
    """

    input = "frames"

    def __init__(self, prepared_dir, sampler="stored", sampler_options=None, image_size=None):
        self.path = os.fspath(prepared_dir)
        samples = feature_cache.prepared_samples(self.path, sampler=None)
        self.rows = [{"id": s.id, "label": s.label, "subject": s.subject} for s in samples]
        self.class_names = pipeline.class_names(self.path)
        self.sampler, self.sampler_options, self.image_size = sampler, sampler_options, image_size
        settings = prepared.read_prepare_settings(self.path)
        drawn, options = pipeline.resolve_sampler(sampler, sampler_options, settings.get("sampler"),
                                                   settings["sampler_options"], self.path)
        face = {key: value for key, value in settings.items() if key not in ("sampler", "sampler_options")}
        #: How a video becomes this source's input (recorded beside a trained model for ``keras-fer predict``).
        self.preparation = {"input": "frames", "face": face, "image_size": image_size or settings["size"],
                         "sampler": drawn, "sampler_options": options}

    def dataset(self, ids, *, training, batch_size, seed=None, epoch=0, augmentation=None):
        """``(frames, labels)`` batches of the samples ``ids`` (all when None); ``epoch``: see
        :func:`~keras_fer.data.pipeline.per_epoch`; ``augmentation``: a
        :class:`~keras_fer.data.augment.ClipAugmentation`, applied in training only."""
        return pipeline.frame_dataset(self.path, training=training, batch_size=batch_size, seed=seed, ids=ids,
                                      sampler=self.sampler, sampler_options=self.sampler_options,
                                      image_size=self.image_size, epoch=epoch, augmentation=augmentation)


class ArraySource:
    """Samples held in memory: ``inputs[i]`` is sample ``ids[i]`` with class ``labels[i]`` of subject ``subjects[i]``.

    Args:
        inputs: (N, ...) array, e.g. optical flow clips (N, T, H, W, 2) or features (N, T, D).
        labels: (N,) ints indexing ``class_names``.
        ids: N distinct sample ids.
        subjects: N subject ids ("" when unknown).
        class_names: the class names.
        input: ``"features"`` or ``"frames"``: what a model built for this source reads.
    """

    def __init__(self, inputs, labels, ids, subjects, class_names, input="frames"):
        inputs, labels = np.asarray(inputs), np.asarray(labels)
        ids, subjects = [str(i) for i in ids], [str(s) for s in subjects]
        if not len(inputs) == len(labels) == len(ids) == len(subjects):
            raise ValueError(f"ArraySource: inputs, labels, ids and subjects must have one entry per sample; received "
                             f"{len(inputs)}, {len(labels)}, {len(ids)} and {len(subjects)}")
        if len(set(ids)) != len(ids):
            raise ValueError("ArraySource: `ids` must be distinct")
        if input not in ("features", "frames"):
            raise ValueError(f"ArraySource: `input` must be 'features' or 'frames'; received input={input!r}")
        if labels.size and (labels.min() < 0 or labels.max() >= len(class_names)):
            raise ValueError(f"ArraySource: `labels` must index the {len(class_names)} `class_names`")
        self.inputs, self.labels, self.input = inputs, labels.astype(np.int32), input
        self.class_names = list(class_names)
        self.rows = [{"id": i, "label": self.class_names[int(y)], "subject": s}
                     for i, y, s in zip(ids, self.labels, subjects)]
        self._index = {sample_id: n for n, sample_id in enumerate(ids)}
        self.preparation = None  # arrays in memory: no record of how a video became them

    def dataset(self, ids, *, training, batch_size, seed=None, epoch=0, augmentation=None):
        """``(inputs, labels)`` batches of the samples ``ids`` (all when None), in the order of ``ids`` in test;
        in training shuffled by (``seed``, epoch), see :func:`~keras_fer.data.pipeline.per_epoch`, and
        ``augmentation`` (a :class:`~keras_fer.data.augment.ClipAugmentation`) applied to each clip of frames
        ``(T, H, W, C)`` with a seed of (``seed``, epoch); ``input="features"`` gets none."""
        augmentation = pipeline.check_augmentation(augmentation, training)
        if self.input == "features" or self.inputs.ndim < 4:
            augmentation = None
        if ids is None:
            picked = np.arange(len(self.labels))
        else:
            unknown = [i for i in ids if i not in self._index]
            if unknown:
                raise ValueError(f"ArraySource has no sample {unknown[:5]}")
            picked = np.asarray([self._index[i] for i in ids], dtype=np.int64)
        samples = tf.data.Dataset.from_tensor_slices((self.inputs[picked], self.labels[picked]))

        def one_pass(keys):
            dataset = samples if keys is None else pipeline.shuffled(samples, len(picked), keys[0])
            if augmentation is None:
                return dataset
            return pipeline.with_seeds(dataset, keys, len(picked)).map(
                lambda pair, seed_value: (augment.augment_clip(pair[0], seed_value, augmentation), pair[1]))

        dataset = pipeline.per_epoch(one_pass, training=training, seed=seed, epoch=epoch)
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(picked))).batch(batch_size)
        return dataset.prefetch(tf.data.AUTOTUNE)


def open_source(path, sampler="stored", sampler_options=None, image_size=None):
    """A :class:`FeatureSource` for a cache folder (``cache.json``; a :class:`FlowSource` for a flow cache), a
    :class:`FrameSource` for a prepared folder."""
    path = os.fspath(path)
    if feature_cache.is_cache_dir(path):  # cache.json, or a cache's shards/ without it (FeatureSource names it)
        if image_size is not None:
            raise ValueError(f"{path} is a feature cache: `image_size` applies to prepared folders only")
        if _is_flow_cache(path):
            if sampler != "stored" or sampler_options:
                raise ValueError(f"{path} is a flow cache (keras-fer flow): its clips are fixed; pass no sampler")
            return FlowSource(path)
        return FeatureSource(path, sampler, sampler_options)
    if os.path.isfile(os.path.join(path, "manifest.csv")):
        return FrameSource(path, sampler, sampler_options, image_size)
    raise ValueError(f"{path}: neither a feature cache (no cache.json; see keras-fer extract) nor a prepared folder "
                     "(no manifest.csv; see keras-fer prepare)")


def _is_flow_cache(path):
    try:
        return feature_cache.read_cache_json(path)["config"]["stem"] == FLOW_STEM
    except (feature_cache.CacheError, KeyError, TypeError):
        return False  # FeatureSource names what is wrong with the cache


@contextlib.contextmanager
def reading(path):
    """Errors TensorFlow meets while a job reads ``path`` become errors naming the file.

    A damaged record of a feature cache (``DataLossError``) becomes
    :class:`~keras_fer.data.cache.CacheIntegrityError` naming the shards whose
    sha256 differs from their index; a face crop of a prepared folder that
    cannot be decoded (``InvalidArgumentError``) becomes a ``ValueError``
    naming the crops and their samples. Other errors pass unchanged.
    """
    path = os.fspath(path)
    try:
        yield
    except tf.errors.DataLossError as error:
        found = feature_cache.damaged_shards(path) if feature_cache.is_cache_dir(path) else []
        raise feature_cache.CacheIntegrityError("; ".join(found) or f"{path}: a damaged record was read "
                                                f"({error.message}); run keras-fer extract again") from None
    except tf.errors.InvalidArgumentError:
        found = [] if feature_cache.is_cache_dir(path) else prepared.unreadable_crops(path)
        if not found:
            raise
        raise ValueError("; ".join(found[:5]) + (f" (and {len(found) - 5} more)" if len(found) > 5 else "")
                         + "; prepare these samples again") from None
