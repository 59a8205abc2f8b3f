"""SavedModel export in TF Serving's layout: ``OUT/NAME/VERSION/`` with two signatures and the class names.

Issue #9 (export). :func:`export_saved_model` writes, atomically,
``OUT/NAME/VERSION/{saved_model.pb, variables/, assets/}``:

* signature ``serving_default``: face-crop frames in, ``{"probabilities",
  "logits", "temporal_attention"}`` out. The input is named ``frames`` and is
  ``uint8`` RGB ``(B, T, H, W, 3)`` (CEFLNet: ``(B, clips, frames, H, W, 3)``);
  the stem's preprocessing runs inside the graph. STANet reads optical flow,
  not crops: its input is named ``flow``, ``float32`` ``(B, T, H, W, 2)``,
  normalised as :func:`data_prep.flow.normalize_flow` does (the client
  computes the flow).
* signature ``features`` (when a head is given): cached stem features in
  (``float32``, the head's input shape, named ``features``), the same outputs.
  STCAM has none: its head reads the 3D network's pooled 1072-d vector, which
  has no time axis and is not cached per frame.
* ``temporal_attention`` ``(B, T)``: each step of the input's time axis
  (frames; clips for CEFLNet) weighted by the model's temporal attention, as
  :func:`keras_fer.models.temporal_attention_model` defines it (equal weights
  over the real frames for models without one: STCAM, LSTM, pooling); the
  metadata names the layer it comes from.
* ``assets/class_names.txt`` (one name a line, in the order of the
  ``probabilities`` columns) and ``assets/keras_fer.json`` (metadata, see
  :func:`export_saved_model`), tracked as ``tf.saved_model.Asset`` so that a
  loaded model knows their paths (``loaded.class_names_asset.asset_path``).

``keras_fer.sha256`` beside them lists the sha256 of every file of the
version folder (``sha256sum -c keras_fer.sha256`` checks it by hand);
:func:`load_metadata` checks it, so a damaged or edited export is an error
that names the file. TF Serving ignores the extra file.

The SavedModel needs neither keras-fer nor Keras to load: ``tf.saved_model.load``
in a process with TensorFlow alone serves it (tested). TF Serving does not
send assets over its REST or gRPC API: a client reads
``NAME/VERSION/assets/class_names.txt`` from the model directory (or
:func:`load_metadata`, plain Python), and ``GET /v1/models/NAME/metadata``
lists the signatures.

Example:

>>> path = export_saved_model(model, "exports", name="ast", class_names=names, head=head)  # doctest: +SKIP
>>> import tensorflow as tf                                                                # doctest: +SKIP
>>> serve = tf.saved_model.load(path).signatures["serving_default"]                       # doctest: +SKIP
>>> serve(frames=tf.zeros((1, 20, 224, 224, 3), tf.uint8))["probabilities"].shape         # doctest: +SKIP
TensorShape([1, 7])
"""

import datetime
import json
import os
import re
import shutil
import tempfile

import keras
from keras import ops

from data_prep.checks import check_int
from data_prep.files import sha256_of_file
from keras_fer import backends
from keras_fer.models.common import temporal_attention_model

__all__ = [
    "ASSET_FILES",
    "CHECKSUMS",
    "INPUT_KINDS",
    "export_saved_model",
    "input_kind",
    "load_metadata",
    "save_functions",
    "serving_model",
    "signature_functions",
]

#: Input kinds of the exported signatures: input name -> (dtype, what the client sends).
INPUT_KINDS = {
    "frames": ("uint8", "RGB face crops in [0, 255], the stem's preprocessing runs inside the model"),
    "flow": ("float32", "optical flow (dx, dy) between adjacent frames, normalised as "
                        "data_prep.flow.normalize_flow does (STANet)"),
    "features": ("float32", "cached stem features (keras-fer extract), all-zero frames are padding"),
}
#: The files in ``VERSION/assets/``: class names (one a line) and the metadata.
ASSET_FILES = ("class_names.txt", "keras_fer.json")
#: Metadata keys a caller's ``metadata`` may set (defaults None); every other key keras-fer computes.
_CALLER_KEYS = ("sampler", "sampler_options")
_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_FORMAT = "keras-fer-saved-model"
#: The version folder's checksum file, in ``sha256sum`` format: ``<sha256>  <path relative to the folder>``.
CHECKSUMS = "keras_fer.sha256"


def input_kind(model):
    """What ``model`` reads: ``"frames"`` (RGB crops), ``"flow"`` (STANet) or ``"features"`` (a head).

    An end-to-end model of :func:`keras_fer.models.end_to_end` has a
    ``preprocessing`` layer; its input's last axis says RGB (3) or flow (2).

    Raises:
        ValueError: ``model`` is not a one-input ``keras.Model``, or an
            end-to-end model reads neither 3 nor 2 channels.
    """
    if not isinstance(model, keras.Model) or len(model.inputs) != 1:
        raise ValueError(f"`model` must be a keras.Model with one input; received model={model!r}")
    if not any(layer.name == "preprocessing" for layer in model.layers):
        return "features"
    channels = model.inputs[0].shape[-1]
    if channels == 3:
        return "frames"
    if channels == 2:
        return "flow"
    raise ValueError(f"end-to-end model {model.name} reads {channels} channels per frame; expected RGB (3) or "
                     f"optical flow (2), input shape {tuple(model.inputs[0].shape)}")


def serving_model(model):
    """``model`` as served: its input kind's dtype in, ``{"probabilities", "logits", "temporal_attention"}`` out.

    Args:
        model: an end-to-end model (RGB frames or STANet flow) or a head of
            this package whose input has a time axis (axis 1).

    Returns:
        ``(serving, source)``: a functional ``keras.Model`` with one input
        named after :func:`input_kind` (``uint8`` for frames, cast to float
        inside) and float32 outputs ``probabilities`` ``(B, C)`` (softmax of
        the logits), ``logits`` ``(B, C)`` and ``temporal_attention``
        ``(B, T)``; and the layer the temporal attention comes from (see
        :func:`keras_fer.models.temporal_attention_model`).

    Raises:
        ValueError: the input has no time axis (STCAM's head).
    """
    kind = input_kind(model)
    attention, source = temporal_attention_model(model)
    inputs = keras.Input(model.inputs[0].shape[1:], dtype=INPUT_KINDS[kind][0], name=kind)
    outputs = attention(ops.cast(inputs, "float32") if kind == "frames" else inputs)
    logits = ops.cast(outputs["logits"], "float32")  # (B, C), float32 also under mixed precision
    return keras.Model(inputs, {
        "probabilities": ops.softmax(logits, axis=-1),  # (B, C)
        "logits": logits,
        "temporal_attention": ops.cast(outputs["temporal_attention"], "float32"),  # (B, T)
    }, name=f"{model.name}_serving"), source


def _check_args(model, name, version, class_names, head, metadata, overwrite):
    if not isinstance(model, keras.Model):
        raise ValueError(f"`model` must be a keras.Model; received model={model!r}")
    if input_kind(model) == "features":
        raise ValueError(f"`model` must be an end-to-end model (frames or flow in, a `preprocessing` layer); "
                         f"{model.name} reads features {tuple(model.inputs[0].shape)}: pass the end-to-end model "
                         f"as `model` and this one as `head`")
    if not isinstance(name, str) or not _NAME_PATTERN.fullmatch(name):
        raise ValueError(f"`name` must be a folder name of letters, digits, '_', '.', '-'; received name={name!r}")
    version = check_int(version, "version", minimum=1)
    num_classes = model.outputs[0].shape[-1]
    if (not isinstance(class_names, (list, tuple)) or len(class_names) != num_classes
            or not all(isinstance(c, str) and c and c == c.strip() and "\n" not in c for c in class_names)
            or len(set(class_names)) != len(class_names)):
        raise ValueError(f"`class_names` must be a list of {num_classes} distinct non-empty names (one per output "
                         f"of {model.name}) without surrounding spaces; received class_names={class_names!r}")
    if head is not None and not any(layer is head for layer in model.layers):
        raise ValueError(f"`head` must be the head object inside `model` (the last layer of an end-to-end model) so "
                         f"that both signatures share its weights; received head={head!r}")
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(isinstance(key, str) for key in metadata):
            raise ValueError(f"`metadata` must be None or a dict with str keys; received metadata={metadata!r}")
        try:
            json.dumps(metadata)
        except (TypeError, ValueError) as error:
            raise ValueError(f"`metadata` must be JSON-serialisable ({error}); "
                             f"received metadata={metadata!r}") from None
    if not isinstance(overwrite, bool):
        raise ValueError(f"`overwrite` must be True or False; received overwrite={overwrite!r}")


def _stem_names(model):
    """The nested models of an end-to-end model before its head (the stem), by name."""
    return [layer.name for layer in model.layers[:-1] if isinstance(layer, keras.Model)]


def _signature_info(function):
    concrete = function.get_concrete_function()
    spec = concrete.structured_input_signature[0][0]
    return {
        "input": {"name": spec.name, "dtype": spec.dtype.name, "shape": spec.shape.as_list(),
                  "description": INPUT_KINDS[spec.name][1]},
        "outputs": {key: value.shape.as_list() for key, value in concrete.structured_outputs.items()},
    }


def _metadata(model, name, version, class_names, functions, sources, metadata):
    import tensorflow as tf

    import keras_fer

    shape = model.inputs[0].shape
    computed = {
        "format": _FORMAT,
        "format_version": 1,
        "name": name,
        "version": version,
        "model": model.name,
        "num_parameters": model.count_params(),
        "class_names": list(class_names),
        "num_classes": len(class_names),
        "signatures": {signature: _signature_info(function) for signature, function in functions.items()},
        "input_kinds": {signature: function.input_signature[0].name for signature, function in functions.items()},
        "frame_size": [shape[-3], shape[-2]],
        "time_steps": list(shape[1:-3]),
        "stem": _stem_names(model),
        "preprocessing": model.get_layer("preprocessing").preprocessing,
        "temporal_attention_source": sources,
        "keras_fer_version": keras_fer.__version__,
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **dict.fromkeys(_CALLER_KEYS),
    }
    clash = sorted(set(metadata or {}) & (set(computed) - set(_CALLER_KEYS)))
    if clash:
        raise ValueError(f"`metadata` may not set {clash}: keras-fer computes them from the model")
    return {**computed, **(metadata or {})}


def _inference(serving):
    """``serving`` called in inference mode, as a one-argument function for ``tf.function``."""

    def call(inputs):
        return serving(inputs, training=False)

    return call


def signature_functions(model, head=None, batch_size=None):
    """The exported signatures as ``tf.function``s: ``{"serving_default": ..., "features": ...}``.

    Args:
        model: an end-to-end model (see :func:`export_saved_model`).
        head: ``None`` or the head inside ``model`` (adds ``features``).
        batch_size: ``None`` (any batch) or the fixed batch of the inputs
            (TFLite lowers LSTMs to builtin ops only with a fixed batch).

    Returns:
        ``(functions, sources)``: the functions, each with one input named
        after its :func:`input_kind` and the outputs of :func:`serving_model`, and the
        temporal attention source of each.

    Raises:
        ValueError: ``head`` has no time axis (STCAM), or a bad argument.
    """
    import tensorflow as tf

    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", minimum=1)
    servings = {"serving_default": model}
    if head is not None:
        if len(head.inputs[0].shape) < 3:
            raise ValueError(f"`head` {head.name} reads {tuple(head.inputs[0].shape)}, no time axis (STCAM's pooled "
                             f"feature is not cached per frame): there is no `features` signature; pass head=None")
        servings["features"] = head
    functions, sources = {}, {}
    for signature, network in servings.items():
        serving, sources[signature] = serving_model(network)
        spec = serving.inputs[0]
        tensor_spec = tf.TensorSpec((batch_size, *spec.shape[1:]), tf.as_dtype(spec.dtype), name=spec.name)
        functions[signature] = tf.function(_inference(serving), input_signature=[tensor_spec], autograph=False)
    return functions, sources


def save_functions(functions, path, assets=None):
    """``tf.saved_model.save`` of ``functions`` (as signatures) with their variables and ``assets`` only.

    Args:
        functions: ``{signature: tf.function with an input_signature}``.
        path: the SavedModel folder to write.
        assets: ``None`` or ``{attribute: file}``: each file is copied into
            ``assets/`` and reachable after loading as ``loaded.<attribute>.asset_path``.
    """
    import tensorflow as tf

    module = tf.Module()
    captured = {}
    for signature, function in functions.items():
        setattr(module, signature, function)
        captured.update((id(v), v) for v in function.get_concrete_function().variables)
    # The tf.Variables the functions capture, as keras.export.ExportArchive tracks them. Not the Keras models
    # (tf.saved_model would trace every layer's call, which fails for layers with required keyword arguments),
    # nor the keras.Variable wrappers (TFLiteConverter.from_saved_model then freezes them to NaN, TF 2.21).
    module.model_variables = list(captured.values())
    for attribute, file in (assets or {}).items():
        setattr(module, attribute, tf.saved_model.Asset(file))
    tf.saved_model.save(module, path, signatures=functions)


def export_saved_model(model, out_dir, *, name, version=1, class_names, head=None, metadata=None, overwrite=False):
    """Write ``model`` for TF Serving to ``out_dir/name/version/``, atomically; see the module docstring.

    The version folder is built under a hidden temporary name beside it
    (``.VERSION.partial-*``, which TF Serving ignores: it loads only integer
    folder names) and renamed into place when complete, so a crash never
    leaves a half-written version that TF Serving would load. With
    ``overwrite=True`` an existing version is moved aside, replaced, then
    deleted.

    ``assets/keras_fer.json`` holds: ``format``, ``format_version``, ``name``,
    ``version``, ``model`` (the Keras model's name), ``class_names``,
    ``num_parameters``, ``num_classes``, ``signatures`` (per signature: input
    name, dtype, shape and meaning, output shapes), ``input_kinds`` (per
    signature: ``frames``, ``flow`` or ``features``), ``frame_size`` (H, W),
    ``time_steps`` (T, or clips and frames for CEFLNet), ``stem`` (the nested
    stem models' names), ``preprocessing``, ``temporal_attention_source``
    (per signature), ``keras_fer_version``, ``tensorflow_version``,
    ``keras_version``, ``created_utc``, ``sampler`` and ``sampler_options``
    (None unless ``metadata`` gives them), and every other key of ``metadata``.

    Args:
        model: the end-to-end ``keras.Model`` (frames in, preprocessing inside,
            logits out; STANet: optical flow in), for example
            ``create_model(name, C, input="frames", head=head)``.
        out_dir: the model base folder of TF Serving (``--model_base_path``'s parent).
        name: the model's folder name (TF Serving's ``--model_name``).
        version: int >= 1, the version folder.
        class_names: one name per logit, in the logits' order.
        head: ``None``, or the head object inside ``model`` (shared weights)
            for the ``features`` signature; it needs a time axis (not STCAM's).
        metadata: ``None`` or a JSON-serialisable dict merged into
            ``keras_fer.json``; ``sampler`` (the paper's sampler name) and
            ``sampler_options`` should say how frames were drawn in training,
            other keys (``recipe``, ``dataset``, ``registry_model``...) are free.
            Keys keras-fer computes may not be set.
        overwrite: replace an existing ``out_dir/name/version``.

    Returns:
        The version folder's path, ``out_dir/name/version``.

    Raises:
        ValueError: a bad argument (named), or a head without time axis.
        FileExistsError: the version exists and ``overwrite`` is False.

    Example:

    >>> head = create_model("ast", 7, input="features")                               # doctest: +SKIP
    >>> model = create_model("ast", 7, input="frames", head=head, weights=WEIGHTS)    # doctest: +SKIP
    >>> export_saved_model(model, "exports", name="ast", class_names=NAMES, head=head,
    ...                    metadata={"sampler": "ast", "sampler_options": {}})        # doctest: +SKIP
    'exports/ast/1'
    """
    backends.require_tensorflow("export_saved_model")
    _check_args(model, name, version, class_names, head, metadata, overwrite)
    base = os.path.join(os.fspath(out_dir), name)
    final = os.path.join(base, str(version))
    if os.path.lexists(final) and not overwrite:
        raise FileExistsError(f"{final} exists; choose another `version` or pass overwrite=True")
    functions, sources = signature_functions(model, head)
    info = _metadata(model, name, version, class_names, functions, sources, metadata)

    os.makedirs(base, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{version}.partial-", dir=base)
    try:
        with tempfile.TemporaryDirectory(prefix="keras_fer_assets_") as assets:
            paths = [os.path.join(assets, file) for file in ASSET_FILES]
            with open(paths[0], "w", encoding="utf-8") as handle:
                handle.write("".join(f"{c}\n" for c in class_names))
            with open(paths[1], "w", encoding="utf-8") as handle:
                json.dump(info, handle, indent=2)
                handle.write("\n")
            save_functions(functions, staging, {"class_names_asset": paths[0], "metadata_asset": paths[1]})
        _write_checksums(staging)
        if os.path.lexists(final):
            old = tempfile.mkdtemp(prefix=f".{version}.old-", dir=base)
            replaced = os.path.join(old, "replaced")
            os.rename(final, replaced)
            try:
                os.rename(staging, final)
            except OSError:
                os.rename(replaced, final)
                raise
            shutil.rmtree(old)
        else:
            os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def _folder_files(folder):
    """Every file under ``folder`` but the checksum file, as sorted POSIX paths relative to it."""
    found = []
    for root, _, names in os.walk(folder):
        found += [os.path.relpath(os.path.join(root, name), folder).replace(os.sep, "/") for name in names]
    return sorted(name for name in found if name != CHECKSUMS)


def _write_checksums(folder):
    lines = [f"{sha256_of_file(os.path.join(folder, name))}  {name}\n" for name in _folder_files(folder)]
    with open(os.path.join(folder, CHECKSUMS), "w", encoding="utf-8") as handle:
        handle.write("".join(lines))


def _check_checksums(folder):
    """ValueError naming the first file of ``folder`` that is missing, added or differs from ``keras_fer.sha256``.

    Exports written before the checksum file existed have none and are not checked.
    """
    path = os.path.join(folder, CHECKSUMS)
    if not os.path.isfile(path):
        return
    with open(path, encoding="utf-8") as handle:
        listed = dict(reversed(line.rstrip("\n").split("  ", 1)) for line in handle if line.strip())
    present = _folder_files(folder)
    missing, added = sorted(set(listed) - set(present)), sorted(set(present) - set(listed))
    if missing:
        raise FileNotFoundError(f"{os.path.join(folder, missing[0])}: missing from the export ({path} lists it)")
    if added:
        raise ValueError(f"{os.path.join(folder, added[0])}: not part of the export ({path} does not list it); "
                         "remove it or export again")
    for name in present:
        if sha256_of_file(os.path.join(folder, name)) != listed[name]:
            raise ValueError(f"{os.path.join(folder, name)}: damaged or edited after export (its sha256 differs "
                             f"from {path}); export again")


def _version_dir(path):
    """``path`` if it holds ``saved_model.pb``, else its highest integer sub-folder that does (as TF Serving picks)."""
    path = os.fspath(path)
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    if os.path.isdir(path):
        versions = [int(entry) for entry in os.listdir(path)
                    if entry.isdigit() and os.path.isfile(os.path.join(path, entry, "saved_model.pb"))]
        if versions:
            return os.path.join(path, str(max(versions)))
    raise FileNotFoundError(f"{path}: neither a SavedModel version folder (with saved_model.pb) nor a model folder "
                            f"with integer version folders (export_saved_model writes OUT/NAME/VERSION)")


def load_metadata(path):
    """The metadata of an export (plain Python and json; neither TensorFlow nor keras-fer needed).

    Args:
        path: a version folder (``OUT/NAME/VERSION``) or a model folder
            (``OUT/NAME``: its highest version, as TF Serving serves).

    Returns:
        The dict of ``assets/keras_fer.json`` plus ``"path"``, the version folder read.

    Raises:
        FileNotFoundError: no export there, or a file of the export is missing.
        ValueError: not a keras-fer export, a file differs from ``keras_fer.sha256`` (damaged or edited),
            ``keras_fer.json`` is not JSON, or ``class_names.txt`` and ``keras_fer.json`` disagree.

    Example:

    >>> load_metadata("exports/ast")["class_names"]       # doctest: +SKIP
    ['anger', 'disgust', 'fear', 'happiness', 'sadness', 'surprise', 'neutral']
    """
    folder = _version_dir(path)
    files = [os.path.join(folder, "assets", file) for file in ASSET_FILES]
    for file in files:
        if not os.path.isfile(file):
            raise FileNotFoundError(f"{file}: missing; this SavedModel was not written by keras_fer.export")
    _check_checksums(folder)
    try:
        with open(files[1], encoding="utf-8") as handle:
            info = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{files[1]}: not readable JSON: {error}") from None
    with open(files[0], encoding="utf-8") as handle:
        names = handle.read().splitlines()
    if info.get("format") != _FORMAT:
        raise ValueError(f"{files[1]}: format {info.get('format')!r}, not a keras-fer export ({_FORMAT!r})")
    if names != info.get("class_names"):
        raise ValueError(f"{folder}: assets/class_names.txt {names} and keras_fer.json {info.get('class_names')} "
                         f"disagree")
    return {**info, "path": folder}
