"""Small end-to-end models of each paper and the Keras reference outputs that exports are checked against."""

import keras
import numpy as np

from keras_fer.models import create_model, end_to_end, temporal_attention_model
from keras_fer.models.common import StemPreprocessing
from keras_fer.stems import fer2013_mini_xception

CLASSES = ["anger", "happiness", "surprise"]


def fer2013_stem(size=32):
    """The shipped pretrained FER2013 mini-Xception on RGB crops of ``size``: (B, size, size, 3) -> (B, 128).

    Its preprocessing (gray, 64x64, [-1, 1]) sits inside the stem, so ``end_to_end`` runs it per frame.
    """
    crops = keras.Input((size, size, 3), name="crop")
    pretrained = fer2013_mini_xception()
    features = pretrained(StemPreprocessing("fer2013", name="fer2013_preprocessing")(crops))[0]
    return keras.Model(crops, features, name="fer2013")


def ast_fer2013(num_frames=4, size=32):
    """``(model, head)``: AST's head on the FER2013 stem's 128-d features (the synthetic reproduce's stand-in)."""
    head = create_model("ast", len(CLASSES), input="features", feature_shape=(num_frames, 128), units=8,
                        projection_units=16)
    return end_to_end(fer2013_stem(size), head, (num_frames, size, size, 3), preprocessing="none"), head


def tiny_stem(size=32, channels=8):
    """A random conv stem: (B, size, size, 3) -> (B, channels)."""
    crops = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(channels, 3, strides=2, activation="relu")(crops)
    return keras.Model(crops, keras.layers.GlobalAveragePooling2D()(x), name="tiny_stem")


def paper_model(paper):
    """``(model, head)``: ``create_model(paper, 3, input="frames")`` at a tiny size (head: the model's last layer).

    The papers' own stems, randomly initialised, except ECNN-FSA's (VGG16 plus 1024-channel convolutions is
    about 50 M parameters even at 32x32): its builder's ``stem`` argument takes :func:`tiny_stem`.
    STCAM's head reads a pooled vector without time axis, so it has no ``features`` signature (head None).
    """
    if paper == "ast":
        model = create_model("ast", 3, input="frames", num_frames=3, frame_size=32, units=8, projection_units=16)
    elif paper == "stcam":
        return create_model("stcam", 3, input="frames", num_frames=7, frame_size=32), None
    elif paper == "ecnn_fsa":
        model = create_model("ecnn_fsa", 3, input="frames", num_frames=3, stem=tiny_stem(), preprocessing="vggface")
    elif paper == "ceflnet":
        model = create_model("ceflnet", 3, input="frames", feature_shape=(2, 2, 512), frame_size=32)
    elif paper == "stanet":
        model = create_model("stanet", 3, input="frames", frame_size=(32, 32), filters=(8, 16, 32),
                             feature_shape=(4, 32))
    else:
        raise ValueError(f"unknown paper {paper!r}")
    return model, model.layers[-1]


def inputs_for(model, batch=2, seed=0):
    """Random inputs of ``model``: uint8 frames (the last clip's last frame all-zero padding), or float flow."""
    rng = np.random.default_rng(seed)
    shape = (batch, *model.inputs[0].shape[1:])
    if shape[-1] == 3:
        frames = rng.integers(1, 256, size=shape).astype("uint8")
        frames[-1, -1] = 0  # a padded frame (CEFLNet: the last clip's frames)
        return frames
    return rng.normal(size=shape).astype("float32")


def features_for(head, batch=2, seed=1):
    """Random float32 features of ``head`` with the last clip's last step all-zero (padding)."""
    features = np.random.default_rng(seed).normal(size=(batch, *head.inputs[0].shape[1:])).astype("float32")
    features[-1, -1] = 0.0
    return features


def softmax(logits):
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def keras_reference(model, x):
    """What every export must give: logits of the Keras model, softmax of them, temporal_attention_model's weights."""
    logits = np.asarray(model(x.astype("float32")))
    attention, _ = temporal_attention_model(model)
    temporal = np.asarray(attention(x.astype("float32"))["temporal_attention"])
    return {"probabilities": softmax(logits.astype("float64")), "logits": logits, "temporal_attention": temporal}


def assert_outputs_match(outputs, expected, rtol=1e-4, atol=1e-5):
    """``outputs`` (dict of arrays) equal ``expected`` key by key, with the same keys."""
    assert sorted(outputs) == sorted(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(np.asarray(outputs[key]), value, rtol=rtol, atol=atol, err_msg=key)
