"""Landmark distance features (AST's geometric variant): distances, normalisers, missing faces, providers."""
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from data_prep import landmarks
from data_prep.landmarks import (
    LANDMARK_PROVIDERS,
    Dlib68Provider,
    FaceMesh68Provider,
    MTCNN5Provider,
    landmark_features,
    pairwise_distances,
)
from data_prep.video import read_frames

REAL_FACES = Path(__file__).resolve().parents[1] / "fixtures" / "real_faces" / "pyfeat"


def _reference_distances(points):
    """||p_i - p_j|| for i < j in row-major order, one frame at a time."""
    points = np.asarray(points, dtype=np.float64)
    rows = []
    for frame in points:
        n = len(frame)
        rows.append([np.hypot(*(frame[i] - frame[j])) for i in range(n) for j in range(i + 1, n)])
    return np.array(rows)


def _random_points(frames=3, points=6, seed=0):
    return np.random.default_rng(seed).uniform(20.0, 200.0, size=(frames, points, 2))


# ----------------------------------------------------------------------------- pairwise_distances


def test_raw_distances_match_reference():
    points = _random_points()
    result = pairwise_distances(points, normalize=None)
    assert result.shape == (3, 15) and result.dtype == np.float32
    np.testing.assert_allclose(result, _reference_distances(points), rtol=1e-6)


def test_pair_order_is_upper_triangle_row_major():
    points = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [0.0, 7.0]])
    # (0,1)=1, (0,2)=2, (0,3)=7, (1,2)=sqrt(5), (1,3)=sqrt(50), (2,3)=5.
    np.testing.assert_allclose(
        pairwise_distances(points, normalize=None), [1.0, 2.0, 7.0, np.sqrt(5.0), np.sqrt(50.0), 5.0], rtol=1e-6
    )


def test_face_size_is_rms_distance_to_centroid():
    points = _random_points(seed=1)
    raw = _reference_distances(points)
    # Independent identity: sum over pairs of d_ij^2 = n * sum_i ||p_i - centroid||^2,
    # so the RMS distance to the centroid is sqrt(sum d_ij^2) / n.
    face_size = np.sqrt((raw**2).sum(axis=1)) / points.shape[1]
    np.testing.assert_allclose(pairwise_distances(points), raw / face_size[:, None], rtol=1e-5)
    # A unit square: centroid distance sqrt(0.5) for every corner.
    square = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    np.testing.assert_allclose(
        pairwise_distances(square), np.array([1, np.sqrt(2), 1, 1, np.sqrt(2), 1]) / np.sqrt(0.5), rtol=1e-6
    )


def test_inter_ocular_normaliser_uses_eye_centres():
    # Left eye points around (10, 10), right eye points around (30, 10): eye centres 20 pixels apart.
    points = np.array([[8.0, 10.0], [12.0, 10.0], [28.0, 10.0], [32.0, 10.0], [20.0, 40.0]])
    result = pairwise_distances(points, "inter_ocular", eye_indices=((0, 1), (2, 3)))
    np.testing.assert_allclose(result, _reference_distances(points[None])[0] / 20.0, rtol=1e-6)


@pytest.mark.parametrize("normalize, eye_indices", [("face_size", None), ("inter_ocular", ((0,), (1,)))])
def test_normalised_distances_ignore_position_size_and_rotation(normalize, eye_indices):
    points = _random_points(frames=1, points=7, seed=2)[0]
    angle = 0.3
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = 2.5 * points @ rotation.T + np.array([40.0, -15.0])
    np.testing.assert_allclose(
        pairwise_distances(moved, normalize, eye_indices=eye_indices),
        pairwise_distances(points, normalize, eye_indices=eye_indices),
        rtol=1e-5,
    )
    # Without a normaliser the distances scale with the face.
    np.testing.assert_allclose(
        pairwise_distances(moved, None), 2.5 * pairwise_distances(points, None), rtol=1e-5
    )


@pytest.mark.parametrize("num_points, expected", [(77, 2926), (68, 2278), (5, 10), (2, 1)])
def test_feature_sizes(num_points, expected):
    assert pairwise_distances(_random_points(frames=2, points=num_points)).shape == (2, expected)
    assert pairwise_distances(_random_points(frames=1, points=num_points)[0]).shape == (expected,)


def test_degenerate_and_missing_frames_give_nan():
    points = _random_points(frames=3, points=4)
    points[1] = 5.0  # all points equal: zero face size
    points[2, 0] = np.nan
    result = pairwise_distances(points)
    assert np.all(np.isfinite(result[0]))
    assert np.all(np.isnan(result[1])) and np.all(np.isnan(result[2]))


def test_pairwise_distances_errors():
    with pytest.raises(ValueError, match="points"):
        pairwise_distances(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="points"):
        pairwise_distances(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="normalize"):
        pairwise_distances(np.zeros((4, 2)), normalize="box")
    with pytest.raises(ValueError, match="eye_indices"):
        pairwise_distances(np.zeros((4, 2)), normalize="inter_ocular")
    with pytest.raises(ValueError, match="eye_indices"):
        pairwise_distances(np.zeros((4, 2)), normalize="inter_ocular", eye_indices=((0,), (4,)))


# ----------------------------------------------------------------------------- landmark_features


class _ScriptedProvider:
    """Returns fixed points, NaN rows where the script says no face."""

    num_points = 4
    eye_indices = ((0,), (1,))

    def __init__(self, points):
        self.points = np.asarray(points, dtype=np.float32)
        self.seen = 0

    def locate(self, frames):
        self.seen = len(list(frames))
        return self.points[: self.seen]


def _scripted_points():
    points = _random_points(frames=5, points=4, seed=3).astype(np.float32)
    points[[0, 2, 3]] = np.nan  # faces only in frames 1 and 4
    return points


def _dummy_frames(count):
    return [np.zeros((8, 8, 3), np.uint8) for _ in range(count)]


def test_landmark_features_hold_policy():
    points = _scripted_points()
    provider = _ScriptedProvider(points)
    features = landmark_features(_dummy_frames(5), provider=provider)
    assert provider.seen == 5 and features.shape == (5, 6)
    # Frames 0 (before the first face) and 1 take frame 1; frames 2, 3 hold frame 1; frame 4 is its own.
    held = points[[1, 1, 1, 1, 4]].astype(np.float64)
    raw = _reference_distances(held)
    face_size = np.sqrt((raw**2).sum(axis=1)) / 4
    np.testing.assert_allclose(features, raw / face_size[:, None], rtol=1e-5)


def test_landmark_features_nan_and_raise_policies():
    points = _scripted_points()
    features = landmark_features(_dummy_frames(5), provider=_ScriptedProvider(points), missing="nan")
    assert np.all(np.isnan(features[[0, 2, 3]])) and np.all(np.isfinite(features[[1, 4]]))
    raw = _reference_distances(points[[1, 4]])
    face_size = np.sqrt((raw**2).sum(axis=1)) / 4
    np.testing.assert_allclose(features[[1, 4]], raw / face_size[:, None], rtol=1e-5)
    with pytest.raises(ValueError, match=r"frames \[0, 2, 3\]"):
        landmark_features(_dummy_frames(5), provider=_ScriptedProvider(points), missing="raise")


def test_landmark_features_inter_ocular_uses_provider_eyes():
    points = _random_points(frames=2, points=4, seed=4).astype(np.float32)
    features = landmark_features(_dummy_frames(2), provider=_ScriptedProvider(points), normalize="inter_ocular")
    raw = _reference_distances(points)
    np.testing.assert_allclose(features, raw / raw[:, [0]], rtol=1e-5)  # pair (0, 1) is the two eyes


def test_landmark_features_errors():
    no_face = np.full((3, 4, 2), np.nan, np.float32)
    with pytest.raises(ValueError, match="No face found in any"):
        landmark_features(_dummy_frames(3), provider=_ScriptedProvider(no_face))
    with pytest.raises(ValueError, match="missing"):
        landmark_features(_dummy_frames(1), provider=_ScriptedProvider(no_face), missing="drop")
    with pytest.raises(ValueError, match="provider"):
        landmark_features(_dummy_frames(1), provider="asm77")
    with pytest.raises(ValueError, match="provider"):
        landmark_features(_dummy_frames(1), provider=object())
    wrong = _ScriptedProvider(np.zeros((3, 5, 2)))
    with pytest.raises(ValueError, match="locate"):
        landmark_features(_dummy_frames(3), provider=wrong)


def test_provider_names():
    assert {"dlib68": Dlib68Provider, "mtcnn5": MTCNN5Provider, "facemesh68": FaceMesh68Provider} == LANDMARK_PROVIDERS
    assert Dlib68Provider.num_points == 68 == FaceMesh68Provider.num_points and MTCNN5Provider.num_points == 5


# ----------------------------------------------------------------------------- providers: missing installs


def test_dlib_provider_without_dlib_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "dlib", None)  # makes `import dlib` raise ImportError
    with pytest.raises(ImportError, match=r"keras-fer\[landmarks\].*dlib-bin"):
        Dlib68Provider()


def test_dlib_provider_without_model_package_says_what_to_install(monkeypatch):
    pytest.importorskip("dlib", reason="dlib is not installed (optional extra: pip install 'keras-fer[landmarks]')")
    monkeypatch.setattr(landmarks.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match="face-recognition-models"):
        Dlib68Provider()


def test_dlib_provider_missing_model_file(tmp_path):
    pytest.importorskip("dlib", reason="dlib is not installed (optional extra: pip install 'keras-fer[landmarks]')")
    missing = tmp_path / "shape_predictor_68_face_landmarks.dat"
    with pytest.raises(FileNotFoundError, match="shape_predictor_68_face_landmarks.dat"):
        Dlib68Provider(predictor_path=missing)


def test_provider_argument_checks():
    with pytest.raises(ValueError, match="upsample"):
        Dlib68Provider(upsample=-1)
    with pytest.raises(ValueError, match="min_confidence"):
        MTCNN5Provider(min_confidence=1.5)
    with pytest.raises(ValueError, match="batch_size"):
        MTCNN5Provider(batch_size=0)


# ----------------------------------------------------------------------------- providers on real faces


def _rgb(path):
    image = cv2.imread(str(path))
    assert image is not None, f"could not read {path}"
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _video_frames(count):
    return list(read_frames(str(REAL_FACES / "single_face.mp4"), range(count)))


@pytest.fixture(scope="module")
def dlib_provider():
    pytest.importorskip("dlib", reason="dlib is not installed (optional extra: pip install 'keras-fer[landmarks]')")
    if landmarks.importlib.util.find_spec("face_recognition_models") is None:
        pytest.skip("face-recognition-models is not installed (optional extra: pip install 'keras-fer[landmarks]')")
    return Dlib68Provider()


@pytest.fixture(scope="module")
def mtcnn_provider():
    return MTCNN5Provider()


def _assert_plausible_face(points, image_shape, left_eye, right_eye, nose, mouth):
    """Eyes left/right of each other and above the nose, the nose above the mouth, all inside the image."""
    height, width = image_shape[:2]
    assert np.all(np.isfinite(points))
    assert np.all((points[:, 0] >= 0) & (points[:, 0] < width) & (points[:, 1] >= 0) & (points[:, 1] < height))
    assert left_eye[0] < nose[0] < right_eye[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < mouth[1]
    assert np.linalg.norm(right_eye - left_eye) > 20  # a face, not a speck


@pytest.mark.slow
def test_dlib_provider_on_a_real_face(dlib_provider):
    image = _rgb(REAL_FACES / "single_face.jpg")
    points = dlib_provider.locate([image])[0]
    assert points.shape == (68, 2)
    left_eye, right_eye = points[36:42].mean(axis=0), points[42:48].mean(axis=0)
    _assert_plausible_face(points, image.shape, left_eye, right_eye, points[30], points[48:68].mean(axis=0))
    blank = np.zeros((120, 160, 3), np.uint8)
    assert np.all(np.isnan(dlib_provider.locate([blank])))


@pytest.mark.slow
def test_mtcnn_provider_on_a_real_face(mtcnn_provider):
    image = _rgb(REAL_FACES / "single_face.jpg")
    points = mtcnn_provider.locate([image])[0]
    assert points.shape == (5, 2)
    _assert_plausible_face(points, image.shape, points[0], points[1], points[2], points[3:5].mean(axis=0))
    # Our reading of MTCNN's array output agrees with its named (rounded) keypoints.
    named = mtcnn_provider._detector.detect_faces(image)[0]["keypoints"]
    expected = [named[name] for name in MTCNN5Provider.point_names]
    np.testing.assert_allclose(points, np.array(expected, dtype=np.float64), atol=0.51)


@pytest.mark.slow
def test_mtcnn_provider_picks_the_largest_face_and_reports_no_face(mtcnn_provider):
    group = _rgb(REAL_FACES / "multi_face.jpg")
    faces = mtcnn_provider._detector.detect_faces(group)
    largest = max(faces, key=lambda face: face["box"][2] * face["box"][3])
    points = mtcnn_provider.locate([np.zeros((120, 160, 3), np.uint8), group])
    assert np.all(np.isnan(points[0]))
    np.testing.assert_allclose(points[1, 0], largest["keypoints"]["left_eye"], atol=0.51)


@pytest.mark.slow
def test_dlib_and_mtcnn_agree_on_the_eyes(dlib_provider, mtcnn_provider):
    image = _rgb(REAL_FACES / "single_face.jpg")
    dlib_points = dlib_provider.locate([image])[0]
    mtcnn_points = mtcnn_provider.locate([image])[0]
    dlib_eyes = np.stack([dlib_points[36:42].mean(axis=0), dlib_points[42:48].mean(axis=0)])
    inter_ocular = np.linalg.norm(dlib_eyes[1] - dlib_eyes[0])
    # Two independent detectors: the eye centres agree within a fifth of the eye distance.
    assert np.all(np.linalg.norm(mtcnn_points[:2] - dlib_eyes, axis=-1) < 0.2 * inter_ocular)


@pytest.mark.slow
def test_mtcnn_landmark_features_on_real_video_frames(mtcnn_provider):
    features = landmark_features(_video_frames(3), provider=mtcnn_provider, missing="raise")
    assert features.shape == (3, 10) and np.all(np.isfinite(features))
    # Adjacent webcam frames: the normalised face geometry barely changes.
    assert np.abs(np.diff(features, axis=0)).max() < 0.2


@pytest.mark.slow
def test_dlib_landmark_features_on_real_video_frames(dlib_provider):
    features = landmark_features(_video_frames(3), provider=dlib_provider, missing="raise")
    assert features.shape == (3, 2278) and np.all(np.isfinite(features))
    assert np.abs(np.diff(features, axis=0)).max() < 0.2


def test_readme_landmarks_example():
    import numpy as np

    from data_prep.landmarks import pairwise_distances

    points = np.random.default_rng(0).uniform(0, 224, size=(20, 68, 2))  # (T, 68, 2) from a provider
    features = pairwise_distances(points, normalize="face_size")  # (20, 2278)

    assert features.shape == (20, 2278)
