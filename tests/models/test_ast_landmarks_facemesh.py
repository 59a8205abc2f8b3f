"""Face-mesh landmarks feed ``ast_landmarks``: 68 points of real frames in, the same distances as data_prep's out."""
import os

import numpy as np

from data_prep.landmarks import FaceMesh68Provider, landmark_features
from data_prep.video import VideoReader
from keras_fer.models import create_model

CLIP = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "real_faces", "crema-d", "1001_DFA_HAP_XX.flv")


def test_ast_landmarks_reads_face_mesh_points_of_a_real_clip():
    frames = [frame for _, frame in VideoReader(CLIP).iter_frames(range(0, 50, 10))]  # 5 frames
    provider = FaceMesh68Provider()
    points = provider.locate(frames)  # (5, 68, 2)
    model = create_model("ast_landmarks", 7, input="frames", num_frames=5)
    stem = model.get_layer("landmark_distances")
    np.testing.assert_allclose(np.asarray(stem(points)), landmark_features(frames, provider), rtol=1e-4, atol=1e-5)
    logits = np.asarray(model(points[None]))
    assert logits.shape == (1, 7) and np.isfinite(logits).all()
