import hashlib
from pathlib import Path

import cv2
import keras
import numpy as np
import pytest

from keras_fer.stems import WeightsHashMismatchError
from keras_fer.stems.fer2013 import (
    FER2013_CLASS_NAMES,
    FER2013_MODEL_PATH,
    FER2013_MODEL_SHA256,
    fer2013_mini_xception,
    preprocess_input,
)
from tests.stems import numpy_reference as ref

FACE_IMAGE = Path(__file__).resolve().parents[1] / "fixtures" / "real_faces" / "pyfeat" / "single_face.jpg"
# Face box (x, y, w, h) found by OpenCV's frontal-face Haar cascade in this image, padded by
# 10 pixels as fer does (FER(offsets=(10, 10))).
FACE_BOX = (157, 148, 236, 236)


def face_crop_rgb():
    image = cv2.imread(str(FACE_IMAGE))
    assert image is not None, FACE_IMAGE
    x, y, w, h = FACE_BOX
    return image[y - 10 : y + h + 10, x - 10 : x + w + 10, ::-1]  # RGB


@pytest.fixture(scope="module")
def model():
    return fer2013_mini_xception()


def test_class_names_are_fer2013_order():
    assert FER2013_CLASS_NAMES == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def test_shipped_file_is_fers_model_with_its_licence(model):
    assert hashlib.sha256(FER2013_MODEL_PATH.read_bytes()).hexdigest() == FER2013_MODEL_SHA256
    assert model.weights_info.sha256 == FER2013_MODEL_SHA256
    licence = (FER2013_MODEL_PATH.parent / "fer_LICENSE_MIT.txt").read_text()
    assert "MIT License" in licence and "Justin Shenk" in licence
    assert FER2013_MODEL_SHA256 in (FER2013_MODEL_PATH.parent / "README.md").read_text()


def test_real_face_gives_probabilities_that_sum_to_one(model):
    features, probabilities = model(preprocess_input(face_crop_rgb()[None]))
    probabilities = keras.ops.convert_to_numpy(probabilities)
    assert tuple(features.shape) == (1, 128)
    assert probabilities.shape == (1, 7)
    assert np.all(probabilities >= 0)
    np.testing.assert_allclose(probabilities.sum(), 1.0, rtol=1e-5)
    # The man in the photo smiles broadly: a working classifier must say "happy".
    assert FER2013_CLASS_NAMES[int(probabilities.argmax())] == "happy"


def test_probabilities_equal_the_unmodified_file(model):
    original = keras.saving.load_model(FER2013_MODEL_PATH, compile=False)
    x = preprocess_input(face_crop_rgb()[None])
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(x)[1]), keras.ops.convert_to_numpy(original([x])), rtol=1e-5, atol=1e-6
    )


def test_features_are_the_input_of_the_classifier():
    model = fer2013_mini_xception(pooling=None)
    x = preprocess_input(face_crop_rgb()[None])
    feature_map, probabilities = (keras.ops.convert_to_numpy(t) for t in model(x))
    assert feature_map.shape == (1, 4, 4, 128)
    kernel, bias = model.get_layer("conv2d_7").get_weights()
    logits = ref.global_average_pool(ref.conv(feature_map, kernel, bias, padding="same"))
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    np.testing.assert_allclose(probabilities, expected, rtol=1e-4, atol=1e-6)
    pooled = fer2013_mini_xception()(x)[0]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(pooled), feature_map.mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)


def test_preprocess_matches_fers_opencv_pipeline():
    crop = face_crop_rgb()
    # fer: cv2 grayscale, cv2.resize to 64x64 (bilinear), / 255, (x - 0.5) * 2; in float to avoid uint8 rounding.
    gray = cv2.cvtColor(crop.astype("float32"), cv2.COLOR_RGB2GRAY)
    expected = (cv2.resize(gray, (64, 64)) / 255.0 - 0.5) * 2.0
    got = preprocess_input(crop[None])
    assert got.shape == (1, 64, 64, 1) and got.dtype == np.float32
    np.testing.assert_allclose(got[0, ..., 0], expected, atol=1e-5)
    tensor_got = keras.ops.convert_to_numpy(preprocess_input(keras.ops.convert_to_tensor(crop[None])))
    np.testing.assert_allclose(tensor_got, got, atol=1e-6)
    gray_input = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)[None, ..., None]
    np.testing.assert_allclose(preprocess_input(gray_input)[0, ..., 0], expected, atol=1.0 / 255 * 2)


def test_preprocess_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"received shape \(64, 64, 3\)"):
        preprocess_input(np.zeros((64, 64, 3)))


def test_user_file_with_wrong_hash_is_rejected(tmp_path):
    copy = tmp_path / "emotion_model.hdf5"
    copy.write_bytes(FER2013_MODEL_PATH.read_bytes())
    with pytest.raises(WeightsHashMismatchError, match="emotion_model.hdf5"):
        fer2013_mini_xception(weights=copy, expected_sha256="f" * 64)
    assert fer2013_mini_xception(weights=copy, expected_sha256=FER2013_MODEL_SHA256).weights_info.path == str(copy)


def test_bad_pooling_is_rejected():
    with pytest.raises(ValueError, match="pooling='max'"):
        fer2013_mini_xception(pooling="max")


def test_readme_example(capsys):
    face_crops = face_crop_rgb()[None]  # (N, H, W, 3) RGB uint8
    # --- README "A pretrained expression stem", verbatim ---
    import numpy as np

    from keras_fer.stems import FER2013_CLASS_NAMES, fer2013_mini_xception
    from keras_fer.stems.fer2013 import preprocess_input

    model = fer2013_mini_xception()  # the file shipped in keras_fer/stems/data: no download, no `fer`
    features, probabilities = model(preprocess_input(face_crops))  # face_crops: (N, H, W, 3) RGB uint8
    print([FER2013_CLASS_NAMES[i] for i in np.argmax(probabilities, axis=-1)])
    # --- end of README example ---
    assert capsys.readouterr().out.strip() == "['happy']"
    assert tuple(features.shape) == (1, 128)
