"""The output folder of ``keras-fer train``: its file names and reading its record.

| file | holds |
|---|---|
| ``model.keras`` | the model with the selected epoch's weights |
| ``train.json`` | model name, class names, the data and its preparation (face settings, sampler, stem), the recipe, the selected epoch |
| ``result.json``, ``history.csv``, ``best.weights.h5``, ``training_curves.png`` | see :func:`keras_fer.jobs.training.train_model` |

``keras-fer predict --model`` and ``keras-fer export`` read it
(:func:`keras_fer.inference.load_trained`, :func:`keras_fer.export.export_trained`).
"""  # noqa: E501

import json
import os

__all__ = ["MODEL", "TRAIN_JSON", "read_train_json"]

MODEL = "model.keras"
TRAIN_JSON = "train.json"


def read_train_json(model_dir):
    """``train.json`` of a ``keras-fer train`` folder, after checking that ``model.keras`` is beside it.

    Raises:
        FileNotFoundError: the folder lacks ``model.keras`` or ``train.json``.
    """
    model_dir = os.fspath(model_dir)
    for name in (MODEL, TRAIN_JSON):
        path = os.path.join(model_dir, name)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: missing; --model must be an output folder of `keras-fer train`")
    with open(os.path.join(model_dir, TRAIN_JSON), encoding="utf-8") as handle:
        return json.load(handle)
