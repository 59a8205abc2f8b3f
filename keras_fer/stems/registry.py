"""The stem registry: the one place that says what each stem is, what it reads and whether it is cached.

| name | paper | reads | output per sample | preprocessing | cached per frame |
|---|---|---|---|---|---|
| ``vggface16`` | AST | a 224x224 face crop | (7, 7, 512) ``pool5`` | ``vggface`` | yes |
| ``ecnn_vgg16`` | ECNN-FSA | a 224x224 face crop | (2048,) | ``vggface`` | yes |
| ``ecnn_vgg16_3072``, ``_nobranch``, ``_fc1``, ``_fc1_k5``, ``_fc2_k5``, ``_fc2`` | ECNN-FSA Tables 2, 3, 6-7 | as ``ecnn_vgg16`` | (3072,), (1024,), (2048,) x 4 | ``vggface`` | yes |
| ``resnet18`` | CEFLNet | a 224x224 face crop | (512,) | ``resnet18`` | yes |
| ``fer2013_mini_xception`` | pretrained expression stem | a face crop (resized to 64x64 gray) | (128,) features, (7,) probabilities | ``fer2013`` | yes (the features) |
| ``c3d`` | STCAM baseline family | a 16x112x112 clip | (2, 7, 7, 512) ``conv5b`` | ``none`` | no: a clip stem |
| ``inception_resnet3d`` | STCAM | a 7x224x224 clip | (1072,) pooled | ``unit`` | no: a clip stem |
| ``flow_cnn`` | STANet | a 192x192 optical-flow frame | (128,) and the soft mask M | ``none`` | no: reads optical flow |

:func:`build_stem` builds a cacheable stem with its preprocessing function
(``keras-fer extract`` and ``keras-fer predict`` use it); :func:`seed_random_weights`
is the one rule for stems built without weights (seed 0, so that a rebuilt stem
hashes the same). The ECNN variants (:data:`keras_fer.stems.ecnn.ECNN_VARIANTS`) are the stems
that ECNN-FSA's ablation rows name (their registry spec's ``stem``). Pretrained weights come from local files only
(:mod:`keras_fer.stems.weights`).

Example:

>>> from keras_fer.stems.registry import get_stem, list_stems
>>> list_stems(cacheable=True)[:3]
['vggface16', 'ecnn_vgg16', 'ecnn_vgg16_3072']
>>> get_stem("resnet18").preprocessing
'resnet18'
"""  # noqa: E501

import dataclasses
from collections.abc import Callable

from data_prep.checks import check_int
from keras_fer.stems import c3d_net, ecnn, fer2013, flow_net, inception_resnet, resnet, vggface

__all__ = ["RANDOM_WEIGHTS_SEED", "STEMS", "StemSpec", "build_stem", "get_stem", "list_stems", "seed_random_weights"]

#: The seed of a stem built without weights (``keras-fer extract`` without ``--weights``), for tests only.
RANDOM_WEIGHTS_SEED = 0


@dataclasses.dataclass(frozen=True)
class StemSpec:
    """One stem.

    Args:
        name: the registry name (also the builder's name).
        paper: the paper that uses it.
        builder: ``builder(weights=None, input_shape=..., ...) -> keras.Model``.
        preprocessing: the key of :data:`keras_fer.stems.preprocessing.PREPROCESSING` its inputs need
            inside a model graph.
        preprocess: its module's ``preprocess_input`` (what ``keras-fer extract`` applies and records), or None.
        default_input_size: the crop side it is built for; None when it resizes its input itself.
        weights_ship: True when its pretrained weights ship with keras-fer (else they are a local file).
        not_cached: None for a per-frame stem whose features the feature cache stores, else why not.
    """

    name: str
    paper: str
    builder: Callable
    preprocessing: str
    preprocess: Callable | None
    default_input_size: int | None = 224
    weights_ship: bool = False
    not_cached: str | None = None

    @property
    def cacheable(self):
        return self.not_cached is None


_CLIP_STEM = "a clip stem ({}-frame clips in, one {} out)"
STEMS = {spec.name: spec for spec in (
    StemSpec("vggface16", "ast", vggface.vggface16, "vggface", vggface.preprocess_input),
    *(StemSpec(name, "ecnn_fsa", ecnn.ecnn_variant(name), "vggface", vggface.preprocess_input)
      for name in ecnn.ECNN_VARIANTS),
    StemSpec("resnet18", "ceflnet", resnet.resnet18, "resnet18", resnet.preprocess_input),
    StemSpec("fer2013_mini_xception", "pretrained expression stem", fer2013.fer2013_mini_xception, "fer2013",
             fer2013.preprocess_input, default_input_size=None, weights_ship=True),
    StemSpec("c3d", "stcam", c3d_net.c3d, "none", None, default_input_size=112,
             not_cached=_CLIP_STEM.format(16, "map")),
    StemSpec("inception_resnet3d", "stcam", inception_resnet.inception_resnet3d, "unit", None,
             not_cached="a clip stem (STCAM's 7-frame clips in, one vector out)"),
    StemSpec("flow_cnn", "stanet", flow_net.flow_cnn, "none", None, default_input_size=192,
             not_cached="STANet's stem, which reads optical flow, not face crops"),
)}


def list_stems(cacheable=None):
    """Stem names in registry order; only the cacheable (or only the other) ones if ``cacheable`` is a bool."""
    return [name for name, spec in STEMS.items() if cacheable is None or spec.cacheable == cacheable]


def get_stem(name):
    """The :class:`StemSpec` of ``name``; ValueError listing the names if unknown."""
    if name not in STEMS:
        raise ValueError(f"`stem` must be one of {list_stems()}; received stem={name!r}")
    return STEMS[name]


def build_stem(name, weights=None, input_size=None):
    """A per-frame stem whose features the cache stores, and its preprocessing function.

    Args:
        name: a cacheable stem (``list_stems(cacheable=True)``).
        weights: None (random initialisation, for tests only; the shipped file for a stem whose
            weights ship) or a weights file.
        input_size: crop side the stem reads (default: its ``default_input_size``; ignored by a stem
            that resizes its input itself).

    Keras is seeded with :data:`RANDOM_WEIGHTS_SEED` first, with or without a weights file: the layers a file
    does not hold (ECNN's extra convolutions and enhanced branch on a VGG-Face file) start from that seeded
    initialisation, so ``keras-fer predict`` and ``export`` rebuild the stem that ``extract`` used.

    Returns:
        ``(stem, preprocess)``.
    """
    import keras

    spec = get_stem(name)
    if not spec.cacheable:
        raise ValueError(f"`stem` {name!r} is {spec.not_cached}: its features are not cached per frame; "
                         "train it end to end with keras_fer.data.pipeline.frame_dataset.")
    keras.utils.set_random_seed(RANDOM_WEIGHTS_SEED)
    if spec.default_input_size is None:
        return spec.builder(weights=weights), spec.preprocess
    size = spec.default_input_size if input_size is None else check_int(input_size, "input_size", 32)
    return spec.builder(weights=weights, input_shape=(size, size, 3)), spec.preprocess


def seed_random_weights(name, weights):
    """Seed Keras with :data:`RANDOM_WEIGHTS_SEED` when stem ``name`` is about to be built without weights.

    A stem built without weights is random; seeding makes it reproducible, so that ``keras-fer extract``
    resumes instead of meeting another weights hash and ``keras-fer predict`` rebuilds the stem that
    extracted a model's training features. Returns True when it seeded (the weights are random).
    """
    if weights is not None or get_stem(name).weights_ship:
        return False
    import keras

    keras.utils.set_random_seed(RANDOM_WEIGHTS_SEED)
    return True
