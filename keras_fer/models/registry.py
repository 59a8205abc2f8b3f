"""The model registry: every paper model, baseline and ablation by name.

Each paper module (:mod:`~keras_fer.models.ast`, ``stcam``, ``ecnn_fsa``,
``ceflnet``, ``stanet``) lists its models in ``MODELS``, a tuple of
:class:`~keras_fer.models.spec.ModelSpec`; this module collects them.

Example:

>>> from keras_fer.models import create_model, list_models
>>> "ceflnet" in list_models()
True
>>> head = create_model("ecnn_fsa", 7, input="features")          # doctest: +SKIP
>>> model = create_model("ecnn_fsa", 7, input="frames", head=head)  # doctest: +SKIP
"""

import functools
import types

from data_prep.checks import check_choice, check_int
from keras_fer.models import ast, ceflnet, ecnn_fsa, stanet, stcam
from keras_fer.models.spec import INPUTS, ModelSpec

__all__ = ["INPUTS", "ModelSpec", "create_model", "get_spec", "list_models"]


@functools.cache
def _specs():
    specs = {}
    for module in (ast, stcam, ecnn_fsa, ceflnet, stanet):
        for spec in module.MODELS:
            if spec.name in specs:
                raise RuntimeError(f"model name {spec.name!r} is registered twice")
            specs[spec.name] = spec
    return types.MappingProxyType(specs)


def list_models(paper=None):
    """Registry names, in paper order (AST, STCAM, ECNN-FSA, CEFLNet, STANet); only ``paper``'s if given."""
    names = [name for name, spec in _specs().items() if paper is None or spec.paper == paper]
    if paper is not None and not names:
        raise ValueError(f"`paper` must be one of ast, stcam, ecnn_fsa, ceflnet, stanet; received paper={paper!r}")
    return names


def get_spec(name):
    """The :class:`ModelSpec` of ``name``; ValueError listing the names if unknown."""
    specs = _specs()
    check_choice(name, tuple(specs), "name")
    return specs[name]


def create_model(name, num_classes, input="features", head=None, **kwargs):
    """Build a registry model; it outputs logits.

    Args:
        name: a name from :func:`list_models`.
        num_classes: int >= 2.
        input: ``"features"`` for the head on cached stem features,
            ``"frames"`` for the end-to-end model (optical flow for STANet).
        head: with ``input="frames"``, an existing head (for example one
            trained on cached features) to use inside the end-to-end model.
        **kwargs: the model's own arguments (see its paper module); an
            unknown one raises TypeError.

    Returns:
        A ``keras.Model``. :func:`keras_fer.models.attention_model` gives its attention scores.
    """
    spec = get_spec(name)
    num_classes = check_int(num_classes, "num_classes", minimum=2)
    check_choice(input, INPUTS, "input")
    if head is not None and input != "frames":
        raise ValueError("`head` is only used with input='frames' (it wraps an existing head)")
    return spec.build(num_classes, input=input, head=head, **kwargs)
