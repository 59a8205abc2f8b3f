"""Run a trained model, or the default FER2013 predictor, on real videos: faces, the paper's frames, attention.

``keras-fer predict`` is built from three pieces:

* a :class:`Classifier` (:mod:`~keras_fer.inference.classifier`): a head (or an end-to-end model) with everything
  needed to turn a video into its input: the face settings and the frame
  sampler of its training data and, for a head on cached features, the stem
  that made them (:func:`load_trained` reads them from a ``keras-fer train``
  folder; :func:`default_classifier` needs nothing but keras-fer);
* :func:`predict_video` (:mod:`~keras_fer.inference.predict`): decode, detect and crop the face on the frames the
  sampler needs (test-time draw), run the stem and the head, and report the
  class probabilities with the evidence: the frames used, the frames without a
  face, and the temporal attention (:func:`keras_fer.models.temporal_attention_model`);
* :class:`StreamPredictor` (:mod:`~keras_fer.inference.stream`): one prediction per incoming frame from a bounded
  window of the latest frames (camera or file), for causal models such as AST
  whose context attention looks at past frames only.

:func:`write_annotated_video` (:mod:`~keras_fer.inference.annotate`) draws a prediction on the video.

Example:

>>> classifier = default_classifier()                                  # doctest: +SKIP
>>> prediction = predict_video(classifier, "clip.mp4")                 # doctest: +SKIP
>>> prediction.result["label"], prediction.result["frames_without_face"]  # doctest: +SKIP
('happy', [])
"""

from keras_fer.inference.annotate import write_annotated_video
from keras_fer.inference.classifier import DEFAULT_NOTE, Classifier, default_classifier, load_trained, per_frame_stem
from keras_fer.inference.predict import Prediction, find_videos, predict_video, predict_videos
from keras_fer.inference.stream import StreamPredictor, stream
from keras_fer.jobs.train_folder import read_train_json

__all__ = [
    "DEFAULT_NOTE",
    "Classifier",
    "Prediction",
    "StreamPredictor",
    "default_classifier",
    "find_videos",
    "load_trained",
    "per_frame_stem",
    "predict_video",
    "predict_videos",
    "read_train_json",
    "stream",
    "write_annotated_video",
]
