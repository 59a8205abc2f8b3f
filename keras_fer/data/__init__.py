"""The feature cache (:mod:`keras_fer.data.cache`) and its tf.data readers (:mod:`keras_fer.data.pipeline`).

``keras-fer extract`` writes a stem's float16 features of every prepared
sample into sharded TFRecord files with a manifest; :func:`feature_dataset`
streams them with per-epoch frame draws, and :func:`frame_dataset` serves the
face crops themselves for end-to-end training, with the same draws.

The other modules: :mod:`~keras_fer.data.prepared` reads a ``keras-fer prepare``
folder (settings, crops), :mod:`~keras_fer.data.sources` gives the jobs a data
set with its fold ids (a cache, a prepared folder or arrays), and
:mod:`~keras_fer.data.flow` computes STANet's optical-flow clips.
"""

from keras_fer.data.cache import extract, open_cache, write_cache
from keras_fer.data.pipeline import class_names, feature_dataset, frame_dataset

__all__ = ["class_names", "extract", "feature_dataset", "frame_dataset", "open_cache", "write_cache"]
