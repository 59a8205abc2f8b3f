"""``keras-fer predict`` on a batch with bad paths (issue 20, finding 5), its option checks (finding 6)."""
import json
import os

from data_prep import faces
from keras_fer import cli

DATA = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "real_faces"))
HAPPY = os.path.join(DATA, "crema-d", "1001_DFA_HAP_XX.flv")  # 480x360
NO_FACE = os.path.join(DATA, "pyfeat", "no_face.mp4")


def _lines(capsys):
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_a_batch_goes_on_past_missing_unreadable_and_faceless_videos(tmp_path, capsys, monkeypatch):
    seen = []  # the sides of the images the detector gets
    detect = faces.MTCNNDetector.detect
    monkeypatch.setattr(faces.MTCNNDetector, "detect",
                        lambda self, images: seen.extend(max(i.shape[:2]) for i in images) or detect(self, images))
    missing, empty = tmp_path / "missing.mp4", tmp_path / "no_videos"
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    empty.mkdir()
    code = cli.main(["predict", str(missing), HAPPY, str(broken), str(empty), NO_FACE, "--no-progress",
                     "--detect-max-side", "240"])
    results = _lines(capsys)
    assert code == 0
    assert [r["video"] for r in results] == [str(missing), HAPPY, str(broken), str(empty), NO_FACE]
    errors = {r["video"]: r["error"] for r in results if "error" in r}
    assert set(errors) == {str(missing), str(broken), str(empty), NO_FACE}
    assert errors[str(missing)] == f"{missing}: no such file or folder"
    assert errors[str(broken)].startswith(f"{broken}: ") and "no video file" in errors[str(empty)]
    assert "no face found" in errors[NO_FACE]
    assert results[1]["label"] == "happy" and results[1]["frames_without_face"] == []
    # --detect-max-side is honoured without --stream: the 480x360 frames reach the detector at 240x180.
    assert seen and set(seen) == {240}


def test_exit_code_1_when_every_video_failed(tmp_path, capsys):
    assert cli.main(["predict", str(tmp_path / "a.mp4"), str(tmp_path / "b.mp4"), "--no-progress"]) == 1
    assert [set(r) for r in _lines(capsys)] == [{"video", "error"}] * 2


def test_predict_options_out_of_range_name_the_option(tmp_path, capsys):
    for option, value in (("--window", "0"), ("--stride", "0"), ("--detect-max-side", "8"), ("--max-frames", "0")):
        assert cli.main(["predict", "--stream", str(tmp_path / "clip.mp4"), option, value]) == 2
        error = capsys.readouterr().err
        assert f"`{option}` must be an integer >= " in error and f"received {option}={value}" in error, error
