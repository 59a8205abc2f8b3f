"""Pretrained-weight files: find them locally, hash them, load them by layer name.

keras-fer never downloads anything. A stem's ``weights=`` argument names a file
the user already has:

* an explicit path (``"~/models/rcmalli_vggface_tf_notop_vgg16.h5"``), or
* a bare file name (``"rcmalli_vggface_tf_notop_vgg16.h5"``) looked up in the
  folder named by the environment variable ``KERAS_FER_WEIGHTS_DIR``.

The SHA-256 of every file is computed, logged (logger ``keras_fer.stems.weights``)
and returned in a :class:`WeightsInfo` that the stem builders attach to the
model as ``model.weights_info``, so that feature caches and experiment logs can
record exactly which file produced them. An optional ``expected_sha256`` makes a
different file an error.

Two file layouts load:

* Keras-2 HDF5 (what keras-vggface and most converted Caffe/Theano models
  publish): root attribute ``layer_names``, one group per layer with attribute
  ``weight_names`` and one dataset per weight (``conv1_1/conv1_1/kernel:0``), or
  the same under a ``model_weights`` group in a full-model file. These load by
  layer name: layers of the model that the file lacks keep their
  initialisation, layers of the file that the model lacks are ignored.
* Keras 3 ``.weights.h5`` files written by ``model.save_weights`` on the same
  architecture; these go through ``model.load_weights``.
"""

import dataclasses
import logging
import os
from pathlib import Path

import h5py
import keras
import numpy as np

from data_prep.files import sha256_of_file

WEIGHTS_DIR_ENV = "KERAS_FER_WEIGHTS_DIR"
KERAS3_WEIGHTS_SUFFIX = ".weights.h5"

logger = logging.getLogger(__name__)


class WeightsNotFoundError(FileNotFoundError):
    """A weights file named by the user does not exist where it was looked for."""


class WeightsHashMismatchError(ValueError):
    """A weights file exists but its SHA-256 differs from the expected one."""


@dataclasses.dataclass(frozen=True)
class WeightsInfo:
    """Which file initialised a model.

    Attributes:
        path: absolute path of the file that was read.
        sha256: hex SHA-256 of its bytes.
        file_format: ``"keras2_h5"`` (weights loaded by layer name),
            ``"keras3_weights_h5"`` (``model.load_weights``) or
            ``"keras2_h5_model"`` (a whole Keras-2 model file, read by
            ``keras.saving.load_model``).
        loaded_layers: names of the layers that received weights from the file
            (every layer for a Keras 3 file).
    """

    path: str
    sha256: str
    file_format: str
    loaded_layers: tuple


def _where_to_put_it(file_name):
    weights_dir = os.environ.get(WEIGHTS_DIR_ENV)
    current = f"currently {weights_dir!r}" if weights_dir else "currently unset"
    return (
        f"Put it in the folder named by the environment variable {WEIGHTS_DIR_ENV} ({current}) "
        f"and pass weights={file_name!r}, or pass its full path as weights=."
    )


def resolve_weights_path(weights, *, published_at, expected_sha256=None):
    """Find a weights file on disk and hash it.

    Args:
        weights: a path (``str`` or ``os.PathLike``; ``~`` is expanded), or a bare
            file name looked up in ``$KERAS_FER_WEIGHTS_DIR``.
        published_at: where the file is published (URL and, if needed, how to
            convert it); quoted in the errors.
        expected_sha256: optional hex SHA-256; a file with another hash raises
            :class:`WeightsHashMismatchError`.

    Returns:
        ``(path, sha256)``: the absolute :class:`pathlib.Path` and its hex SHA-256.

    Raises:
        WeightsNotFoundError: no such file; the message names the file, where it
            is published and where to put it.
        WeightsHashMismatchError: the file's SHA-256 is not ``expected_sha256``.
        ValueError: ``weights`` is not a path.

    Example:
        >>> path, sha = resolve_weights_path(  # doctest: +SKIP
        ...     "rcmalli_vggface_tf_notop_vgg16.h5", published_at="https://...")
    """
    if isinstance(weights, bool) or not isinstance(weights, (str, os.PathLike)):
        raise ValueError(
            f"`weights` must be None, a file path or a file name in ${WEIGHTS_DIR_ENV}; received weights={weights!r}"
        )
    requested = Path(os.path.expanduser(os.fspath(weights)))
    candidates = [requested]
    weights_dir = os.environ.get(WEIGHTS_DIR_ENV)
    is_bare_name = not requested.is_absolute() and requested.parent == Path(".")
    if is_bare_name and weights_dir:
        candidates.append(Path(weights_dir).expanduser() / requested.name)
    found = next((candidate for candidate in candidates if candidate.is_file()), None)
    if found is None:
        looked_at = ", ".join(str(candidate.absolute()) for candidate in candidates)
        if is_bare_name and not weights_dir:
            looked_at += f" (${WEIGHTS_DIR_ENV} is unset, so no other folder was searched)"
        raise WeightsNotFoundError(
            f"Weights file {requested.name!r} was not found (looked at: {looked_at}). "
            f"keras-fer downloads nothing. The file is published at {published_at}. "
            f"Download it yourself. {_where_to_put_it(requested.name)}"
        )
    found = found.absolute()
    sha256 = sha256_of_file(found)
    logger.info("weights file %s sha256=%s", found, sha256)
    if expected_sha256 is not None and sha256 != str(expected_sha256).lower():
        raise WeightsHashMismatchError(
            f"Weights file {str(found)!r} has SHA-256 {sha256}, expected {expected_sha256}: "
            f"it is not the expected file (truncated download or another version?). "
            f"The expected file is published at {published_at}. Download it again. "
            f"{_where_to_put_it(found.name)}"
        )
    return found, sha256


def _decode(name):
    return name.decode("utf8") if isinstance(name, bytes) else str(name)


def _keras2_root(h5_file):
    """The group holding ``layer_names`` in a Keras-2 HDF5 file, or ``None``."""
    if "layer_names" in h5_file.attrs:
        return h5_file
    if "model_weights" in h5_file and "layer_names" in h5_file["model_weights"].attrs:
        return h5_file["model_weights"]
    return None


def _layers_by_name(model):
    """Every layer of ``model``, nested models and wrappers included, by name."""
    found = {}

    def visit(layer):
        if layer.name in found and found[layer.name] is not layer:
            raise ValueError(
                f"Two layers of model {model.name!r} are named {layer.name!r}; loading by name is ambiguous."
            )
        found[layer.name] = layer
        for child in getattr(layer, "layers", ()):
            visit(child)
        inner = getattr(layer, "layer", None)
        if isinstance(inner, keras.layers.Layer):
            visit(inner)

    for layer in model.layers:
        visit(layer)
    return found


def _short_weight_name(weight_name):
    # "conv1_1/conv1_1/kernel:0" -> "kernel"
    return weight_name.split("/")[-1].split(":")[0]


def load_keras2_h5_by_name(model, path, skip_mismatch=False):
    """Load a Keras-2 HDF5 weights file into ``model`` by layer name.

    Within a layer, weights are matched by their short names (``kernel``,
    ``bias``, ``gamma``, ...) when the file's names and the layer's variable
    names are the same set, otherwise in order (Keras 2 and Keras 3 store
    Conv, Dense, BatchNormalization and SeparableConv weights in the same order).

    Args:
        model: a built Keras model.
        path: the HDF5 file.
        skip_mismatch: when ``True``, a layer whose weight count or shapes differ
            is skipped with a warning instead of raising.

    Every layer is checked before any weight is assigned, so an error leaves
    the model unchanged.

    Returns:
        Tuple of the names of the layers that were loaded.

    Raises:
        ValueError: the file is not in the Keras-2 layout, a layer's weights do
            not fit (and ``skip_mismatch`` is false), or no layer name matches.
    """
    layers = _layers_by_name(model)
    loaded, assignments = [], []
    with h5py.File(path, "r") as h5_file:
        root = _keras2_root(h5_file)
        if root is None:
            raise ValueError(
                f"{str(path)!r} is not a Keras-2 HDF5 weights file (no `layer_names` attribute at its root "
                "or under `model_weights`)."
            )
        for layer_name in (_decode(name) for name in root.attrs["layer_names"]):
            group = root[layer_name]
            weight_names = [_decode(name) for name in group.attrs.get("weight_names", [])]
            layer = layers.get(layer_name)
            if not weight_names or layer is None:
                continue
            values = {_short_weight_name(name): np.asarray(group[name]) for name in weight_names}
            variables = list(layer.weights)
            if set(values) == {variable.name for variable in variables} and len(values) == len(weight_names):
                pairs = [(variable, values[variable.name]) for variable in variables]
            elif len(variables) == len(weight_names):
                pairs = list(zip(variables, (np.asarray(group[name]) for name in weight_names)))
            else:
                message = (
                    f"Layer {layer_name!r} of {str(path)!r} has {len(weight_names)} weights {weight_names}, "
                    f"but the model's layer has {len(variables)} ({[v.name for v in variables]})."
                )
                if skip_mismatch:
                    logger.warning("skipped: %s", message)
                    continue
                raise ValueError(message)
            mismatched = [
                (variable.name, tuple(value.shape), tuple(variable.shape))
                for variable, value in pairs
                if tuple(value.shape) != tuple(variable.shape)
            ]
            if mismatched:
                message = (
                    f"Layer {layer_name!r}: weight shapes in {str(path)!r} do not fit the model "
                    f"(name, file shape, model shape): {mismatched}"
                )
                if skip_mismatch:
                    logger.warning("skipped: %s", message)
                    continue
                raise ValueError(message)
            assignments.extend(pairs)
            loaded.append(layer_name)
    if not loaded:
        raise ValueError(
            f"No layer of model {model.name!r} matches a layer of {str(path)!r} by name: "
            "is this the weights file for this architecture?"
        )
    for variable, value in assignments:  # only once every layer has been checked: no half-loaded model
        variable.assign(value.astype(keras.backend.standardize_dtype(variable.dtype)))
    return tuple(loaded)


def save_h5_by_name(model, path):
    """Write ``model``'s weights to ``path`` in the Keras-2 HDF5 layout, one group per layer that holds weights.

    :func:`load_keras2_h5_by_name` (and :func:`load_weights`) read the file back by layer name, also into
    another architecture that shares those layers: a stem pre-trained once starts every variant of it
    (e.g. STCAM's attention rows from its baseline), the layers the file lacks keeping their initialisation.
    The file is written atomically.
    """
    from data_prep.files import atomic_path

    holders = {name: layer for name, layer in _layers_by_name(model).items()
               if layer.weights and not getattr(layer, "layers", None)
               and not isinstance(getattr(layer, "layer", None), keras.layers.Layer)}
    with atomic_path(os.fspath(path), suffix=".h5") as temporary, h5py.File(temporary, "w") as h5_file:
        h5_file.attrs["layer_names"] = np.array([name.encode("utf8") for name in holders])
        for name, layer in holders.items():
            group = h5_file.create_group(name)
            weight_names = [f"{variable.path}:0" for variable in layer.weights]
            group.attrs["weight_names"] = np.array([weight_name.encode("utf8") for weight_name in weight_names])
            for weight_name, variable in zip(weight_names, layer.weights):
                group.create_dataset(weight_name, data=keras.ops.convert_to_numpy(variable))


def load_weights(model, weights, *, published_at, expected_sha256=None, skip_mismatch=False):
    """Resolve ``weights`` (see :func:`resolve_weights_path`) and load it into ``model``.

    Keras-2 HDF5 files load by layer name (:func:`load_keras2_h5_by_name`);
    Keras 3 ``.weights.h5`` files load with ``model.load_weights``.

    Args:
        model: a built Keras model.
        weights: path or bare file name (looked up in ``$KERAS_FER_WEIGHTS_DIR``).
        published_at: where the file is published, quoted in errors.
        expected_sha256: optional hex SHA-256 the file must have.
        skip_mismatch: skip (with a warning) Keras-2 layers whose shapes differ.

    Returns:
        :class:`WeightsInfo` of the file, also set as ``model.weights_info``.

    Raises:
        WeightsNotFoundError, WeightsHashMismatchError: see
        :func:`resolve_weights_path`.
        ValueError: the file is neither layout, or does not fit the model.

    Example:
        >>> model = keras_fer.stems.vggface16()  # doctest: +SKIP
        >>> info = load_weights(model, "rcmalli_vggface_tf_notop_vgg16.h5",
        ...                     published_at="https://...")  # doctest: +SKIP
    """
    path, sha256 = resolve_weights_path(weights, published_at=published_at, expected_sha256=expected_sha256)
    if not h5py.is_hdf5(path):
        raise ValueError(
            f"Weights file {str(path)!r} is not an HDF5 file. The expected file is published at {published_at}."
        )
    with h5py.File(path, "r") as h5_file:
        is_keras2 = _keras2_root(h5_file) is not None
    if is_keras2:
        loaded = load_keras2_h5_by_name(model, path, skip_mismatch=skip_mismatch)
        file_format = "keras2_h5"
    elif path.name.endswith(KERAS3_WEIGHTS_SUFFIX):
        model.load_weights(path)
        loaded = tuple(layer.name for layer in model.layers if layer.weights)
        file_format = "keras3_weights_h5"
    else:
        raise ValueError(
            f"Weights file {str(path)!r} is neither a Keras-2 HDF5 file (root attribute `layer_names`) nor a "
            f"Keras 3 file named '*{KERAS3_WEIGHTS_SUFFIX}' (written by model.save_weights)."
        )
    not_loaded = [layer.name for layer in model.layers if layer.weights and layer.name not in loaded]
    if not_loaded:
        logger.info("layers of %s not in %s keep their initialisation: %s", model.name, path.name, not_loaded)
    info = WeightsInfo(path=str(path), sha256=sha256, file_format=file_format, loaded_layers=loaded)
    model.weights_info = info
    return info
