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

__all__ = ["INPUTS", "ModelSpec", "check_stem", "create_model", "get_spec", "list_models", "stem_mismatch"]


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


def stem_mismatch(name, stem):
    """Why model ``name`` cannot read features of stem ``stem`` (None when it can).

    A model whose spec names a stem (``ModelSpec.stem``: ECNN-FSA's rows, each on its ECNN variant, paper
    Tables 2, 3, 6-7) needs features of that stem; features of another variant of the same paper's stem (or of
    the stand-in of another variant, :data:`keras_fer.stems.ecnn.ECNN_STAND_INS`) are refused with the
    ``keras-fer extract`` command to run. Any other stem (another paper's, a stand-in, your own) is accepted:
    a head reads any per-frame features.
    """
    from keras_fer.stems.ecnn import ECNN_STAND_INS
    from keras_fer.stems.registry import STEMS

    needed = get_spec(name).stem
    if needed is None or stem is None or stem == needed:
        return None
    stands_for = ECNN_STAND_INS.get(stem, stem)
    if stands_for == needed or stands_for not in STEMS or STEMS[stands_for].paper != STEMS[needed].paper:
        return None
    held = f"{stem!r} features" + (f" (the stand-in of {stands_for!r})" if stands_for != stem else "")
    return (f"model {name!r} reads features of the stem {needed!r}, but the cache holds {held}: "
            f"keras-fer extract --prepared PREPARED/ --stem {needed} --out FEATURES/")


def check_stem(name, stem):
    """ValueError with :func:`stem_mismatch`'s reason when model ``name`` cannot read features of ``stem``."""
    reason = stem_mismatch(name, stem)
    if reason:
        raise ValueError(reason)
