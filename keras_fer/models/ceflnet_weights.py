"""The CEFLNet authors' PyTorch checkpoint in Keras: their ``state_dict`` -> a ``.weights.h5`` of ``ceflnet_official``.

The authors' released code (CVLab-Liuyuanyuan/CEFLNet, ``models/Model.py``,
``ResNet_AT``; ``main.py`` saves ``{"epoch", "state_dict", "prec1"}`` from a
``DataParallel`` model, so the names may start with ``module.``) is the
``"code"`` preset of :func:`keras_fer.models.ceflnet.build_ceflnet`
(``create_model("ceflnet_official", ...)``). The mapping, name by name:

* ``conv1``, ``layerS.B.convJ``, ``...downsample.0``: the ``resnet18`` layer of the
  same name; kernels (out, in, kh, kw) -> (kh, kw, in, out).
* ``bn1``, ``layerS.B.bnJ``, ``...downsample.1``: ``weight``, ``bias``,
  ``running_mean``, ``running_var`` -> gamma, beta, moving_mean, moving_variance.
* ``attn.in_proj_weight`` / ``attn.in_proj_bias`` (``nn.MultiheadAttention``'s
  packed projections): split into three blocks of rows, the SAL ``query``,
  ``key`` and ``value`` kernels (transposed) and biases.
* ``attn.out_proj``: SAL ``output`` (transposed). ``norm1``: SAL ``norm``.
* ``beta.0``: LRL ``relation_kernel`` (transposed, halves swapped) and ``relation_bias``.
* ``fc``: LRL ``output_kernel`` (transposed, halves swapped) and ``output_bias``.
* ``temp_attn.attn.0`` (EIAN's Conv1d, no bias): EIAN ``score_kernel``,
  (out, in, width) -> (width, in, out).
* ``classifier.0``, ``classifier.2``, ``classifier.5.0``: ``classifier_hidden1``,
  ``classifier_hidden2``, ``classifier`` (transposed).

"Halves swapped": the code concatenates [frame ; clip summary] before
``beta`` and [weighted mean ; summary] before ``fc``; our
:class:`~keras_fer.layers.LocalGlobalRelation` puts the summary first (eq. 2).
BatchNorm's ``num_batches_tracked`` and the unused ``fc2`` of some versions of
the code are skipped; any other name left over, or one missing, raises.

Reading a ``.pth`` file needs PyTorch (``pip install keras-fer[torch-weights]``);
:func:`convert_official_checkpoint` also takes the ``state_dict`` as a dict of
NumPy arrays, which is how the mapping is tested.

Example:

>>> model = convert_official_checkpoint("model_best.pth.tar", "ceflnet_official.weights.h5")  # doctest: +SKIP
>>> model = create_model("ceflnet_official", 7, input="frames")                               # doctest: +SKIP
>>> model.load_weights("ceflnet_official.weights.h5")                                          # doctest: +SKIP
"""

import numpy as np

from data_prep.checks import check_int
from keras_fer.models.ceflnet import EIAN_NAME, LRL_NAME, SAL_NAME, build_ceflnet

__all__ = ["convert_official_checkpoint", "official_state_dict", "read_official_checkpoint"]

#: Prefixes of names in some versions of the code that its forward pass never uses.
UNUSED_PREFIXES = ("fc2.",)
_BN_NAMES = (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"),
             ("running_var", "moving_variance"))


def read_official_checkpoint(path):
    """The ``state_dict`` of an authors' checkpoint file as NumPy arrays (needs PyTorch).

    Accepts a bare ``state_dict`` or ``main.py``'s ``{"state_dict": ...}``; drops ``module.`` prefixes.
    """
    try:
        import torch
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("reading a PyTorch checkpoint needs torch: pip install 'keras-fer[torch-weights]'") from error
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(checkpoint, dict) and "state_dict" in checkpoint:
        checkpoint = checkpoint["state_dict"]
    return {name: value.detach().cpu().numpy() for name, value in checkpoint.items()}


def _strip(state_dict):
    names = {}
    for name, value in state_dict.items():
        key = name[len("module."):] if name.startswith("module.") else name
        names[key] = np.asarray(value)
    return names


def _swap_halves(matrix, axis=0):
    """[first ; second] -> [second ; first] along ``axis``."""
    first, second = np.split(matrix, 2, axis=axis)
    return np.concatenate([second, first], axis=axis)


def _head_assignments(head, weights):
    """(Keras variable, array) pairs of the head, read from the official names."""
    sal, lrl, eian = head.get_layer(SAL_NAME), head.get_layer(LRL_NAME), head.get_layer(EIAN_NAME)
    q, k, v = np.split(weights["attn.in_proj_weight"], 3, axis=0)  # each (E, E), PyTorch (out, in)
    qb, kb, vb = np.split(weights["attn.in_proj_bias"], 3, axis=0)
    pairs = [
        (sal.query_dense.kernel, q.T), (sal.query_dense.bias, qb),
        (sal.key_dense.kernel, k.T), (sal.key_dense.bias, kb),
        (sal.value_dense.kernel, v.T), (sal.value_dense.bias, vb),
        (sal.output_dense.kernel, weights["attn.out_proj.weight"].T),
        (sal.output_dense.bias, weights["attn.out_proj.bias"]),
        (sal.norm.gamma, weights["norm1.weight"]), (sal.norm.beta, weights["norm1.bias"]),
        (lrl.relation_kernel, _swap_halves(weights["beta.0.weight"].T)),
        (lrl.relation_bias, weights["beta.0.bias"]),
        (lrl.output_kernel, _swap_halves(weights["fc.weight"].T)),
        (lrl.output_bias, weights["fc.bias"]),
        (eian.score_kernel, np.transpose(weights["temp_attn.attn.0.weight"], (2, 1, 0))),
    ]
    for keras_name, torch_name in (("classifier_hidden1", "classifier.0"), ("classifier_hidden2", "classifier.2"),
                                   ("classifier", "classifier.5.0")):
        dense = head.get_layer(keras_name)
        pairs += [(dense.kernel, weights[f"{torch_name}.weight"].T), (dense.bias, weights[f"{torch_name}.bias"])]
    used = {"attn.in_proj_weight", "attn.in_proj_bias", "attn.out_proj.weight", "attn.out_proj.bias",
            "norm1.weight", "norm1.bias", "beta.0.weight", "beta.0.bias", "fc.weight", "fc.bias",
            "temp_attn.attn.0.weight"}
    used |= {f"classifier.{i}.{p}" for i in ("0", "2", "5.0") for p in ("weight", "bias")}
    return pairs, used


def _stem_assignments(stem, weights):
    """(Keras variable, array) pairs of the ResNet-18 (torchvision names, which the Keras layers carry)."""
    pairs, used = [], set()
    for layer in stem.layers:
        if type(layer).__name__ == "Conv2D":
            pairs.append((layer.kernel, np.transpose(weights[f"{layer.name}.weight"], (2, 3, 1, 0))))
            used.add(f"{layer.name}.weight")
        elif type(layer).__name__ == "BatchNormalization":
            for torch_name, keras_name in _BN_NAMES:
                pairs.append((getattr(layer, keras_name), weights[f"{layer.name}.{torch_name}"]))
                used.add(f"{layer.name}.{torch_name}")
            used.add(f"{layer.name}.num_batches_tracked")
    return pairs, used


def official_state_dict(model, state_dict):
    """Copy the authors' ``state_dict`` into a ``ceflnet_official`` model (head, or frames end to end).

    Args:
        model: from ``create_model("ceflnet_official", C, input=...)``; a head
            (``input="features"``) takes the head's names and ignores the ResNet-18's.
        state_dict: name -> array (NumPy, or anything ``np.asarray`` reads), the
            official names, optionally prefixed ``module.``.

    Returns:
        ``model``, its weights replaced.

    Raises:
        KeyError: a name the model needs is missing.
        ValueError: a shape does not fit (wrong number of classes, frame features
            other than 512), or the dict has names this mapping does not know.
    """
    weights = _strip(state_dict)
    end_to_end = any(layer.name == "resnet18" for layer in model.layers)
    head = model.layers[-1] if end_to_end else model
    try:
        pairs, used = _head_assignments(head, weights)
        if end_to_end:
            stem_pairs, stem_used = _stem_assignments(model.get_layer("resnet18"), weights)
            pairs, used = pairs + stem_pairs, used | stem_used
    except KeyError as error:
        raise KeyError(f"official_state_dict: the state_dict has no {error.args[0]!r}") from None
    except ValueError as error:  # a layer missing: not a ceflnet_official model
        raise ValueError(f"official_state_dict: {model.name} is not a ceflnet_official model ({error})") from None
    left = sorted(name for name in weights if name not in used and not name.startswith(UNUSED_PREFIXES)
                  and (end_to_end or name.startswith(("attn.", "norm1.", "beta.", "fc.", "temp_attn.",
                                                       "classifier."))))
    if left:
        raise ValueError(f"official_state_dict: names this mapping does not know: {left[:5]}")
    for variable, value in pairs:
        if tuple(variable.shape) != tuple(value.shape):
            raise ValueError(f"official_state_dict: {variable.path} has shape {tuple(variable.shape)}; the "
                             f"state_dict gives {tuple(value.shape)}")
    for variable, value in pairs:
        variable.assign(value.astype(variable.dtype))
    return model


def convert_official_checkpoint(source, path, frame_size=224):
    """Write the authors' checkpoint as a ``.weights.h5`` of ``create_model("ceflnet_official", C, input="frames")``.

    Args:
        source: a ``.pth`` / ``.pth.tar`` path (needs PyTorch) or the ``state_dict`` as a dict of arrays.
        path: the ``.weights.h5`` to write.
        frame_size: the model's frame size (weights do not depend on it; 224 as the code trains).

    Returns:
        The end-to-end Keras model holding the weights. The number of
        classes C is read from the classifier's last layer (7 in the code).
    """
    frame_size = check_int(frame_size, "frame_size", minimum=32)
    state_dict = _strip(read_official_checkpoint(source) if isinstance(source, (str, bytes)) or hasattr(
        source, "__fspath__") else source)
    if "classifier.5.0.weight" not in state_dict:
        raise KeyError("convert_official_checkpoint: the state_dict has no 'classifier.5.0.weight' (the last "
                       "classifier layer); is it a CEFLNet ResNet_AT checkpoint?")
    num_classes = int(state_dict["classifier.5.0.weight"].shape[0])
    model = build_ceflnet(num_classes, input="frames", variant="full", preset="code", frame_size=frame_size)
    official_state_dict(model, state_dict)
    model.save_weights(str(path))
    return model
