"""``keras-fer export``: a ``keras-fer train`` folder to a SavedModel (TF Serving layout), ONNX or TFLite file.

The served model reads face crops: a head trained on cached features is exported with the stem that made
them (:meth:`keras_fer.inference.Classifier.frames_model`), and the head alone serves the ``features``
signature. The metadata records how frames must be prepared (face settings, sampler and options) so that a
client can feed the model as it was trained. A model trained on in-memory arrays (STANet's optical flow in
``keras-fer reproduce``) is exported as it is, without face settings.

Example:

>>> export_trained("runs/ast", "exports")                  # doctest: +SKIP
'exports/ast/1'
"""

import os

import keras

from data_prep.files import write_text
from keras_fer.export.onnx_export import export_onnx
from keras_fer.export.saved_model import export_saved_model
from keras_fer.export.tflite_export import export_tflite
from keras_fer.inference import load_trained
from keras_fer.jobs.train_folder import read_train_json

__all__ = ["FORMATS", "export_trained"]

#: ``keras-fer export --format`` choices.
FORMATS = ("saved_model", "onnx", "tflite")


def _trained(model_dir, stem_weights):
    """(end-to-end model, head for the ``features`` signature or None, class names, metadata) of a train folder."""
    import keras_fer  # noqa: F401  (registers the package's layers for loading)

    info = read_train_json(model_dir)
    metadata = {"registry_model": info["model"], "training_data": info.get("data"), "recipe": info.get("recipe"),
                "best_epoch": info.get("best_epoch"), "monitor": info.get("monitor")}
    if info.get("preparation"):
        classifier = load_trained(model_dir, stem_weights=stem_weights)
        head = classifier.head if classifier.stem is not None else None
        metadata.update(sampler=classifier.sampler, sampler_options=classifier.sampler_options, face=classifier.face)
        if classifier.flow is not None:
            metadata.update(flow=classifier.flow)
        return classifier.frames_model(), head, list(classifier.class_names), metadata
    model = keras.saving.load_model(os.path.join(model_dir, "model.keras"), compile=False)
    return model, None, list(info["class_names"]), metadata


def export_trained(model_dir, out_dir, *, format="saved_model", name=None, version=1, overwrite=False,
                   stem_weights=None, select_tf_ops=False, extra_metadata=None):
    """Export the model of a ``keras-fer train`` folder.

    Args:
        model_dir: the folder (``model.keras``, ``train.json``).
        out_dir: for ``saved_model`` TF Serving's base folder (``out_dir/NAME/VERSION/``); else the folder of
            ``NAME.onnx`` or ``NAME.tflite`` and ``NAME.class_names.txt``.
        format: a key of :data:`FORMATS`.
        name: the model's name (default: the registry name in ``train.json``).
        version: the SavedModel version, an int >= 1.
        overwrite: replace an existing version or file.
        stem_weights: the stem's weights file (see :func:`keras_fer.inference.load_trained`).
        select_tf_ops: TFLite: keep ops without a TFLite kernel as TensorFlow ops (STCAM's ``MaxPool3D``).
        extra_metadata: more entries for the SavedModel's ``keras_fer.json``.

    Returns:
        The path written.

    Raises:
        FileNotFoundError: ``model_dir`` lacks ``model.keras`` or ``train.json``.
        ValueError: ``train.json`` was edited or ``model.keras`` replaced (see
            :func:`keras_fer.jobs.train_folder.read_train_json`), or a bad argument.
        FileExistsError: the output exists and ``overwrite`` is False.
    """
    if format not in FORMATS:
        raise ValueError(f"`format` must be one of {FORMATS}; received format={format!r}")
    model, head, class_names, metadata = _trained(model_dir, stem_weights)
    metadata.update(extra_metadata or {})
    name = name or metadata["registry_model"]
    if format == "saved_model":
        return export_saved_model(model, out_dir, name=name, version=version, class_names=class_names, head=head,
                                  metadata=metadata, overwrite=overwrite)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{name}.{'onnx' if format == 'onnx' else 'tflite'}")
    names_path = os.path.join(out_dir, f"{name}.class_names.txt")
    if not overwrite and (os.path.exists(path) or os.path.exists(names_path)):
        raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
    if format == "onnx":
        export_onnx(model, path)
    else:
        export_tflite(model, path, head=head, select_tf_ops=select_tf_ops)
    write_text(names_path, "".join(f"{c}\n" for c in class_names))
    return path
