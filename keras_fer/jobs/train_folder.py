"""The output folder of ``keras-fer train``: its file names, and writing and reading (checked) its record.

| file | holds |
|---|---|
| ``model.keras`` | the model with the selected epoch's weights |
| ``train.json`` | model name, class names, the data and its preparation (face settings, sampler, stem), the recipe, the selected epoch; ``model_sha256`` (of ``model.keras``) and ``sha256`` (of each entry), checked by :func:`read_train_json` |
| ``result.json``, ``history.csv``, ``best.weights.h5``, ``training_curves.png`` | see :func:`keras_fer.jobs.training.train_model` |

``keras-fer predict --model`` and ``keras-fer export`` read it
(:func:`keras_fer.inference.load_trained`, :func:`keras_fer.export.export_trained`).
"""  # noqa: E501

import json
import os

from data_prep.files import sha256_of_file, write_json
from keras_fer.data.cache import content_digests, edited_entries

__all__ = ["MODEL", "TRAIN_JSON", "read_train_json", "write_train_json"]

MODEL = "model.keras"
TRAIN_JSON = "train.json"


def write_train_json(model_dir, info):
    """Write ``train.json`` (atomically) with ``model_sha256`` (of ``model.keras``, written first) and ``sha256``
    (the digest of each entry)."""
    model_dir = os.fspath(model_dir)
    record = {**info, "model_sha256": sha256_of_file(os.path.join(model_dir, MODEL))}
    write_json(os.path.join(model_dir, TRAIN_JSON), {**record, "sha256": content_digests(record)})


def read_train_json(model_dir):
    """``train.json`` of a ``keras-fer train`` folder, checked against the digests it records (of its entries and
    of ``model.keras``); a folder written before they were recorded is read unchecked.

    Raises:
        FileNotFoundError: the folder lacks ``model.keras`` or ``train.json``.
        ValueError: ``train.json`` is not readable JSON, an entry was edited, or ``model.keras`` is not the file
            trained (replaced or damaged); the message names the file.
    """
    model_dir = os.fspath(model_dir)
    paths = {name: os.path.join(model_dir, name) for name in (MODEL, TRAIN_JSON)}
    for path in paths.values():
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: missing; --model must be an output folder of `keras-fer train`")
    try:
        with open(paths[TRAIN_JSON], encoding="utf-8") as handle:
            info = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{paths[TRAIN_JSON]}: not readable JSON ({error})") from None
    if "sha256" not in info:
        return info
    edited = edited_entries(info)
    if edited:
        raise ValueError(f"{paths[TRAIN_JSON]}: edited after keras-fer train wrote it: {', '.join(edited)} no longer "
                         "match the sha256 recorded with them. Restore the file or train again.")
    if sha256_of_file(paths[MODEL]) != info.get("model_sha256"):
        raise ValueError(f"{paths[MODEL]}: not the model keras-fer train wrote (its sha256 differs from the one "
                         f"{paths[TRAIN_JSON]} records): replaced or damaged. Restore it or train again.")
    return info
