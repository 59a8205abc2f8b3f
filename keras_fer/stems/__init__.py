"""Backbones ("stems") of the five papers, pretrained-weight loading and fast feature extraction.

Stems end at a feature map (or a pooled vector where the paper uses one); the
papers' heads are separate models. Pretrained weights come from local files
only (``weights=`` path, or a file name in ``$KERAS_FER_WEIGHTS_DIR``); see
:mod:`keras_fer.stems.weights`.

| builder | paper | output per sample |
|---|---|---|
| ``vggface16`` | AST | (7, 7, 512) ``pool5`` at 224x224 |
| ``ecnn_vgg16`` | ECNN-FSA | (2048,) |
| ``resnet18`` | CEFLNet | (512,) |
| ``c3d`` | STCAM baseline family | (2, 7, 7, 512) ``conv5b`` for 16x112x112 |
| ``fer2013_mini_xception`` | pretrained expression stem | (128,) features, (7,) probabilities |
| ``inception_resnet3d`` | STCAM | (1072,) pooled, ``attention=`` none/cam/stam/cam_stam/stam_cam/nl_* |
| ``flow_cnn`` | STANet | (128,) frame feature and the soft mask M |

Each stem's module has its ``preprocess_input``; import it from the module
(``from keras_fer.stems.resnet18 import preprocess_input``), because the
package attributes ``resnet18``, ``c3d`` and ``ecnn_vgg16`` are the builders.
"""

# ruff: noqa: F401
from keras_fer.stems import vggface  # vggface.preprocess_input
from keras_fer.stems.c3d import c3d
from keras_fer.stems.ecnn_vgg16 import ecnn_vgg16
from keras_fer.stems.extract import extract_features
from keras_fer.stems.fer2013 import FER2013_CLASS_NAMES, fer2013_mini_xception
from keras_fer.stems.macs import count_macs
from keras_fer.stems.resnet18 import resnet18
from keras_fer.stems.vggface import vggface16
from keras_fer.stems.weights import (
    WEIGHTS_DIR_ENV,
    WeightsHashMismatchError,
    WeightsInfo,
    WeightsNotFoundError,
    load_weights,
)
from keras_fer.stems.flow_cnn import flow_cnn
from keras_fer.stems.inception_resnet3d import attention_maps_model, inception_resnet3d
