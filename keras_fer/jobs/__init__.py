"""The jobs: training, cross-validation and ``keras-fer reproduce``, and the folders they write.

* :mod:`keras_fer.jobs.training`: :func:`train_model` (``keras-fer train``), :func:`run_fold`,
  :func:`cross_validate` (``keras-fer cv``) and :func:`evaluate` (``keras-fer evaluate``), with
  validation-only epoch selection and resume;
* :mod:`keras_fer.jobs.reproduce`: :func:`reproduce` (``keras-fer reproduce``), the papers' table rows
  under their protocols, on the synthetic benchmark or a real dataset's cache;
* :mod:`keras_fer.jobs.train_folder`: the output folder of ``keras-fer train`` (:func:`read_train_json`).

A job composes the rooms below it: data sources (:mod:`keras_fer.data`), models and recipes
(:mod:`keras_fer.models`, :mod:`keras_fer.training`), splits and metrics (:mod:`keras_fer.evaluation`)
and figures (:mod:`keras_fer.viz`).
"""

# The module `reproduce` keeps its name here (its function is keras_fer.jobs.reproduce.reproduce).
from keras_fer.jobs import reproduce, train_folder, training
from keras_fer.jobs.train_folder import read_train_json
from keras_fer.jobs.training import cross_validate, evaluate, predict_once, run_fold, train_model

__all__ = ["cross_validate", "evaluate", "predict_once", "read_train_json", "reproduce", "run_fold", "train_folder",
           "train_model", "training"]
