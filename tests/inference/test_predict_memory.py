"""Predict's memory is bounded by the work, not the frame size (issue 20, finding 4); the stream's window check."""
import os

import cv2
import numpy as np
import pytest

from data_prep import faces
from keras_fer import inference

WEBCAM = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "real_faces", "pyfeat", "single_face.mp4")


class _Recorder(faces.FullFrameDetector):
    """The full-frame detector, recording the images of every call."""

    def __init__(self):
        self.calls = []

    def detect(self, images):
        self.calls.append([image.shape for image in images])
        return super().detect(images)


def test_detector_calls_are_bounded_in_pixels_and_see_only_the_shrunk_frames(tmp_path, monkeypatch):
    for index in range(7):
        cv2.imwrite(str(tmp_path / f"{index:04d}.png"), np.full((100, 200, 3), 40 * index, np.uint8))
    monkeypatch.setattr(faces, "MAX_DETECT_PIXELS", 3 * 100 * 200, raising=False)  # three frames a call
    recorder = _Recorder()
    crops, track = faces.FaceCropper(recorder, size=16, margin=0, batch_size=8).crop_video(tmp_path)
    assert [len(call) for call in recorder.calls] == [3, 3, 1] and crops.shape == (7, 16, 16, 3)
    recorder.calls.clear()
    faces.FaceCropper(recorder, size=16, margin=0, batch_size=8, detect_max_side=50).crop_video(tmp_path)
    assert [len(call) for call in recorder.calls] == [7]  # 7 frames of 25x50 fit one call
    assert {shape for call in recorder.calls for shape in call} == {(25, 50, 3)}


def test_predict_videos_honours_detect_max_side_with_the_same_result(monkeypatch):
    default = inference.default_classifier()
    seen = []
    detect = faces.BlazeFaceDetector.detect
    monkeypatch.setattr(faces.BlazeFaceDetector, "detect",
                        lambda self, images: seen.extend(i.shape for i in images) or detect(self, images))
    full, = inference.predict_videos(default, [WEBCAM], progress=False)
    assert set(seen) == {(360, 640, 3)}
    seen.clear()
    shrunk, = inference.predict_videos(default, [WEBCAM], progress=False, detect_max_side=320)
    assert set(seen) == {(180, 320, 3)}
    assert shrunk["label"] == full["label"] and shrunk["frames_used"] == full["frames_used"]
    np.testing.assert_allclose(list(shrunk["probabilities"].values()), list(full["probabilities"].values()),
                               atol=0.05)


def test_stream_window_0_is_an_error_not_16():
    with pytest.raises(ValueError, match="`window` must be an integer >= 1; received window=0"):
        inference.StreamPredictor(inference.default_classifier(), window=0)
