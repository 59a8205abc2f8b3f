"""Backbones ("stems") of the five papers, pretrained-weight loading and fast feature extraction.

Stems end at a feature map (or a pooled vector where the paper uses one); the
papers' heads are separate models. Pretrained weights come from local files
only (``weights=`` path, or a file name in ``$KERAS_FER_WEIGHTS_DIR``); see
:mod:`keras_fer.stems.weights`.

What each stem is (what it reads, its output, its preprocessing, whether the
feature cache stores it) is said once, in :mod:`keras_fer.stems.registry`
(:func:`get_stem`, :func:`list_stems`, :func:`build_stem`). The package
attributes ``vggface16``, ``ecnn_vgg16``, ``resnet18``, ``c3d``,
``fer2013_mini_xception``, ``inception_resnet3d`` and ``flow_cnn`` are the
builders; each stem's module (``vggface``, ``ecnn``, ``resnet``, ``c3d_net``,
``fer2013``, ``inception_resnet``, ``flow_net``) has its ``preprocess_input``
where it has one (``from keras_fer.stems.resnet import preprocess_input``).
"""

# ruff: noqa: F401
from keras_fer.stems.c3d_net import c3d
from keras_fer.stems.ecnn import ecnn_vgg16
from keras_fer.stems.extract import extract_features
from keras_fer.stems.fer2013 import FER2013_CLASS_NAMES, fer2013_mini_xception
from keras_fer.stems.flow_net import flow_cnn
from keras_fer.stems.inception_resnet import attention_maps_model, inception_resnet3d
from keras_fer.stems.macs import count_macs
from keras_fer.stems.registry import STEMS, StemSpec, build_stem, get_stem, list_stems
from keras_fer.stems.resnet import resnet18
from keras_fer.stems.vggface import vggface16
from keras_fer.stems.weights import (
    WEIGHTS_DIR_ENV,
    WeightsHashMismatchError,
    WeightsInfo,
    WeightsNotFoundError,
    load_weights,
)
