"""One registry entry (:class:`ModelSpec`): a leaf module that the paper modules declare their models with.

Each paper module (:mod:`~keras_fer.models.ast`, ``stcam``, ``ecnn_fsa``,
``ceflnet``, ``stanet``) lists its models in ``MODELS``, a tuple of
:class:`ModelSpec`, declared the same way everywhere: the paper's one
``build_<paper>`` function plus the arguments that the registry name fixes
(``fixed``) or presets (``defaults``). :mod:`keras_fer.models.registry`
collects them.
"""

import dataclasses
import types
from collections.abc import Callable, Mapping

__all__ = ["INPUTS", "ModelSpec"]

#: What a model reads: cached stem features, or frames (optical flow for STANet) end to end.
INPUTS = ("features", "frames")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One registry entry.

    Args:
        name: the registry name (``"ast_lstm"``).
        paper: ``"ast"``, ``"stcam"``, ``"ecnn_fsa"``, ``"ceflnet"`` or ``"stanet"``.
        description: one line.
        reproduces: the paper's table and row (``"AST table 1, VGGFace + LSTM"``).
        builder: the paper's ``build_<paper>(num_classes, input, head, **options) -> keras.Model``;
            ``input`` is a key of :data:`INPUTS`; ``head`` is None or, with ``input="frames"``, an
            existing head to wrap (shared, not copied).
        fixed: options that the name fixes (``{"temporal": "lstm"}``); passing one again raises TypeError.
        defaults: options that the name presets (``{"scale": 0.06}``); a caller may override them.
        stem: the cacheable stem (:mod:`keras_fer.stems.registry`) whose features its head reads
            (``keras-fer extract --stem``), where the paper's stem has variants; None otherwise.
    """

    name: str
    paper: str
    description: str
    reproduces: str
    builder: Callable
    fixed: Mapping = dataclasses.field(default_factory=dict)
    defaults: Mapping = dataclasses.field(default_factory=dict)
    stem: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "fixed", types.MappingProxyType(dict(self.fixed)))
        object.__setattr__(self, "defaults", types.MappingProxyType(dict(self.defaults)))

    def build(self, num_classes, input="features", head=None, **kwargs):
        """``builder`` with this entry's fixed and preset options; unknown options raise TypeError."""
        given = sorted(set(kwargs) & set(self.fixed))
        if given:
            raise TypeError(f"{self.name}: `{given[0]}` is fixed by the model name ({given[0]}="
                            f"{self.fixed[given[0]]!r}); use another registry name, or {self.builder.__name__}")
        return self.builder(num_classes, input=input, head=head, **{**self.defaults, **kwargs}, **self.fixed)
