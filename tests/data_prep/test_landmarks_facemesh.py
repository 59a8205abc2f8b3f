"""The face-mesh landmark provider: the 68 iBUG-layout points on real clips, checked against MTCNN's keypoints."""
import glob
import os

import numpy as np
import pytest

from data_prep.faces import MTCNNDetector
from data_prep.landmarks import FACEMESH_IBUG68, FaceMesh68Provider, landmark_features
from data_prep.video import VideoReader

DATA = os.path.join(os.path.dirname(__file__), "..", "fixtures", "real_faces")
FACE_CLIPS = sorted(glob.glob(os.path.join(DATA, "crema-d", "*.flv"))) + [
    os.path.join(DATA, "pyfeat", "single_face.mp4")]


@pytest.fixture(scope="module")
def provider():
    return FaceMesh68Provider()


def _frames(path, every):
    reader = VideoReader(path)
    return [frame for _, frame in reader.iter_frames(range(0, reader.info.n_frames, every))]


def test_the_subset_is_68_distinct_mesh_points():
    assert len(FACEMESH_IBUG68) == 68 == len(set(FACEMESH_IBUG68)) and max(FACEMESH_IBUG68) < 468


@pytest.mark.parametrize("path", FACE_CLIPS, ids=os.path.basename)
def test_points_sit_where_the_ibug_layout_puts_them(provider, path):
    frames = _frames(path, 20)
    points = provider.locate(frames)
    assert points.shape == (len(frames), 68, 2) and np.isfinite(points).all()
    mtcnn = MTCNNDetector().detect(frames)
    for p, faces in zip(points, mtcnn):
        jaw, brows, nose, eyes, mouth = p[:17], p[17:27], p[27:36], p[36:48], p[48:]
        assert np.all(np.diff(jaw[:9, 0]) >= -1) and np.all(np.diff(jaw[8:, 0]) >= -1)  # left to right
        assert jaw[:, 1].argmax() in (7, 8, 9)  # the chin is the lowest jaw point
        assert brows[:, 1].max() < eyes[:, 1].min() and eyes[:, 1].max() < nose[4:, 1].min() < mouth[:, 1].min()
        assert np.all(np.diff(nose[:4, 1]) > 0)  # bridge from top to tip
        # Against MTCNN: eye centres, nose tip, mouth corners within 15 % of the inter-ocular distance (MTCNN and
        # the mesh differ by up to 14 % on these clips; an eye corner instead of the eye centre is off by 18 % or more).
        reference = max(faces, key=lambda face: face.area).keypoints
        inter_ocular = np.linalg.norm(reference[0] - reference[1])
        ours = np.stack([eyes[:6].mean(0), eyes[6:].mean(0), nose[3], mouth[0], mouth[6]])
        assert np.linalg.norm(ours - reference, axis=1).max() < 0.15 * inter_ocular


def test_ast_features_from_the_mesh(provider):
    frames = _frames(FACE_CLIPS[3], 10) + _frames(os.path.join(DATA, "pyfeat", "no_face.mp4"), 40)
    points = provider.locate(frames)
    assert np.isnan(points[-3:]).all() and np.isfinite(points[:-3]).all()  # the cartoon frames have no face
    features = landmark_features(frames, provider)
    assert features.shape == (len(frames), 68 * 67 // 2) and np.isfinite(features).all()
    # Normalised by the face size: distances between 0 and a few face sizes, the held frames repeat the last face.
    assert features.min() > 0 and features.max() < 4
    np.testing.assert_array_equal(features[-1], features[-4])
    with pytest.raises(ValueError, match="No face found in frames"):
        landmark_features(frames, provider, missing="raise")
