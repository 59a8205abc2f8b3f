"""keras_fer.inference and `keras-fer predict`: real clips, a model trained by keras-fer, streaming."""
import json
import os
import pathlib

import cv2
import numpy as np
import pytest

from data_prep import faces, video
from keras_fer import cli, inference
from keras_fer.data import cache
from keras_fer.data.pipeline import feature_dataset

REAL = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "real_faces")
HAPPY = os.path.join(REAL, "crema-d", "1001_DFA_HAP_XX.flv")
NO_FACE = os.path.join(REAL, "pyfeat", "no_face.mp4")
FACE_NO_FACE = os.path.join(REAL, "pyfeat", "face_noface.mov")
WEBCAM = os.path.join(REAL, "pyfeat", "single_face.mp4")


@pytest.fixture(scope="module")
def default():
    return inference.default_classifier()


def _check_result(result, classifier):
    assert result["label"] in classifier.class_names
    probabilities = np.array(list(result["probabilities"].values()))
    assert list(result["probabilities"]) == list(classifier.class_names)
    assert abs(probabilities.sum() - 1.0) < 1e-3 and result["label"] == max(result["probabilities"],
                                                                             key=result["probabilities"].get)
    weights = np.asarray(result["temporal_attention"]["weights"])
    assert weights.shape == (len(result["frames_used"]),) and abs(weights.sum() - 1.0) < 1e-3
    assert set(result["frames_without_face"]) <= set(result["frames_examined"])
    assert json.loads(json.dumps(result)) == result  # plain JSON


def test_default_predictor_on_a_real_clip(default):
    result = inference.predict_video(default, HAPPY).result
    _check_result(result, default)
    assert result["model"] == "fer2013_score_fusion" and "default predictor" in result["note"]
    assert result["n_frames"] == 56 and len(result["frames_used"]) == 16
    assert result["frames_without_face"] == [] and result["face_share"] == 1.0
    assert result["temporal_attention"]["source"] == "none: equal weights"
    np.testing.assert_allclose(result["temporal_attention"]["weights"], np.full(16, 1 / 16), atol=1e-4)
    # Score fusion: the video's probabilities are the mean of the per-frame ones.
    frames = np.asarray(result["frame_probabilities"])
    assert frames.shape == (16, 7)
    np.testing.assert_allclose(frames.mean(axis=0), list(result["probabilities"].values()), atol=2e-4)


def test_frames_without_a_face_are_reported(default):
    result = inference.predict_video(default, FACE_NO_FACE).result
    _check_result(result, default)
    # The man is on screen for the first part only; the cartoon after that has no human face.
    missing = result["frames_without_face"]
    assert missing and missing == result["frames_used"][-len(missing):] and 0 < result["face_share"] < 1
    assert result["no_face_policy"] == "hold"


def test_batch_goes_on_after_a_bad_file(default, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    results = list(inference.predict_videos(default, [str(broken), NO_FACE, HAPPY], progress=False,
                                            annotate_dir=tmp_path / "annotated", timeline_dir=tmp_path / "timeline"))
    assert set(results[0]) == {"video", "error"} and "broken.mp4" in results[0]["error"]
    assert set(results[1]) == {"video", "error"} and "no face found" in results[1]["error"]
    assert results[2]["label"] in default.class_names
    capture = cv2.VideoCapture(results[2]["annotated_video"])
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, frame = capture.read()
    capture.release()
    assert ok and frame.shape == (360, 480, 3) and abs(count - 56) <= 1
    assert os.path.getsize(results[2]["timeline"]) > 1000
    assert sorted(os.listdir(tmp_path / "annotated")) == ["1001_DFA_HAP_XX.mp4"]  # no temporary file left


def test_trained_model_predicts_what_its_training_pipeline_gives(trained):
    classifier = inference.load_trained(trained["dir"])
    assert classifier.name == "ast" and classifier.sampler == "ast" and classifier.sampler_options == {"num_frames": 8}
    assert classifier.face["detector"] == "full_frame" and classifier.temporal_source == "context_attention"
    video = sorted(p for p in os.listdir(trained["videos"] / "videos"))[0]
    prediction = inference.predict_video(classifier, trained["videos"] / "videos" / video)
    _check_result(prediction.result, classifier)
    assert len(prediction.result["frames_used"]) == 8 and "trained by keras-fer" in prediction.result["note"]
    # The same video through the feature cache and its reader gives (nearly) the same probabilities: the crops
    # differ only by the prepared folder's JPEG compression.
    sample_id = os.path.splitext(video)[0]
    rows = [row for row in cache.open_cache(trained["features"]).records if row["id"].endswith(sample_id)]
    data = feature_dataset(trained["features"], training=False, batch_size=1, ids=[rows[0]["id"]], sampler="ast",
                           sampler_options={"num_frames": 8})
    cached_inputs = next(iter(data))[0]
    logits = np.asarray(classifier.head(cached_inputs))[0]
    expected = np.exp(logits - logits.max())
    expected /= expected.sum()
    np.testing.assert_allclose(list(prediction.result["probabilities"].values()), expected, atol=0.02)


def test_stream_is_one_prediction_per_frame_from_a_bounded_window(trained):
    classifier = inference.load_trained(trained["dir"])
    predictor = inference.StreamPredictor(classifier)
    assert predictor.window == 8
    frames = [frame for _, frame in video.VideoReader(WEBCAM).iter_frames(range(20))]
    results = [predictor.push(frame) for frame in frames]
    assert [r["frame"] for r in results] == list(range(20)) and predictor.buffered == 8
    assert [r["window"] for r in results] == [min(i + 1, 8) for i in range(20)]
    last = results[-1]
    assert len(last["temporal_attention"]) == 8 and abs(sum(last["temporal_attention"]) - 1) < 1e-3
    # The last prediction is the head on the last 8 frames, computed offline.
    detector, face = faces.get_detector("full_frame"), classifier.face
    crops = np.stack([faces.crop_face(frame, detector.detect([frame])[0][0].box, size=face["size"],
                                                margin=face["margin"]) for frame in frames[-8:]])
    logits = np.asarray(classifier.head(classifier.features(crops)[None]))[0]
    expected = np.exp(logits - logits.max())
    np.testing.assert_allclose(list(last["probabilities"].values()), expected / expected.sum(), atol=1e-3)
    with pytest.raises(ValueError, match="reads exactly 8 frames"):
        inference.StreamPredictor(classifier, window=4)


def test_stream_default_until_a_face_appears(default):
    results = list(inference.stream(default, NO_FACE, window=4, max_frames=3))
    assert [(r["frame"], r["face"], r["label"]) for r in results] == [(0, "none", None), (1, "none", None),
                                                                      (2, "none", None)]
    results = list(inference.stream(default, WEBCAM, window=4, detect_every=3, max_frames=6))
    assert [r["face"] for r in results] == ["detected", "held", "held", "detected", "held", "held"]
    assert all(r["label"] in default.class_names for r in results) and results[-1]["window"] == 4


def test_cli_predict_errors(tmp_path, capsys):
    assert cli.main(["predict", "--model", str(tmp_path), HAPPY]) == 2
    assert "missing; --model must be an output folder of `keras-fer train`" in capsys.readouterr().err
    assert cli.main(["predict", "--no-progress"]) == 2
    assert "give at least one video" in capsys.readouterr().err
    # A missing video is an error entry of the batch (tests/cli/test_predict.py); exit 1: no video succeeded.
    assert cli.main(["predict", "--no-progress", str(tmp_path / "nothing.mp4")]) == 1
    assert "no such file" in json.loads(capsys.readouterr().out)["error"]


@pytest.mark.slow
def test_readme_predict_on_every_real_clip(capsys, monkeypatch):
    """README's command, verbatim, on the real clips: the CREMA-D table in the docs comes from this run."""
    monkeypatch.chdir(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    command = "keras-fer predict tests/fixtures/real_faces --no-progress"
    assert cli.main(command.split()[1:]) == 0
    results = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_name = {os.path.basename(r["video"]): r for r in results}
    assert sorted(by_name) == sorted(
        [f"1001_DFA_{e}_XX.flv" for e in ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")]
        + ["WolfgangLanger_Pexels.mp4", "face_noface.mov", "no_face.mp4", "single_face.mp4"])
    assert "no face found" in by_name["no_face.mp4"]["error"]
    assert by_name["face_noface.mov"]["frames_without_face"]
    default = inference.default_classifier()
    for name, result in by_name.items():
        if name != "no_face.mp4":
            _check_result(result, default)
    # The CREMA-D table of docs/predict-and-export.md reports this run: label and probability per clip.
    readme = pathlib.Path("docs/predict-and-export.md").read_text(encoding="utf-8").split("<!-- crema-d-table -->")[1]
    rows = [line.split(" | ") for line in readme.strip().splitlines()[2:8]]
    for cells in rows:
        result = by_name[cells[0].strip("| ") + ".flv"]
        assert result["label"] == cells[3] and abs(result["probabilities"][cells[3]] - float(cells[4])) <= 0.006


def test_readme_annotate_and_stream_commands(capsys, monkeypatch, tmp_path):
    """README's predict commands, verbatim, in a scratch folder holding the repository's test data."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "fixtures").symlink_to(os.path.join(os.path.dirname(__file__), os.pardir, "fixtures"))
    monkeypatch.chdir(tmp_path)
    command = "keras-fer predict tests/fixtures/real_faces/crema-d/1001_DFA_HAP_XX.flv --annotate annotated --timeline timelines"  # noqa: E501
    assert cli.main(command.split()[1:]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["annotated_video"] == "annotated/1001_DFA_HAP_XX.mp4" and os.path.isfile(result["annotated_video"])
    assert result["timeline"] == "timelines/1001_DFA_HAP_XX.png" and os.path.isfile(result["timeline"])
    command = "keras-fer predict --stream tests/fixtures/real_faces/pyfeat/single_face.mp4 --detect-every 5 --max-frames 30"  # noqa: E501
    assert cli.main(command.split()[1:]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["frame"] for line in lines] == list(range(30))
    assert [line["face"] for line in lines[:6]] == ["detected", "held", "held", "held", "held", "detected"]
    assert all(line["label"] for line in lines) and lines[-1]["window"] == 16
