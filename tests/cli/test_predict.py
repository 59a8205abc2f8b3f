"""``keras-fer predict`` on a batch with bad paths (issue 20, finding 5), its option checks (finding 6)."""
import json
import os
import subprocess
import sys

import cv2
import pytest

from data_prep import faces
from keras_fer import cli

DATA = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "real_faces"))
HAPPY = os.path.join(DATA, "crema-d", "1001_DFA_HAP_XX.flv")  # 480x360
NO_FACE = os.path.join(DATA, "pyfeat", "no_face.mp4")
WEBCAM = os.path.join(DATA, "pyfeat", "single_face.mp4")  # 640x360
# `keras-fer predict` in a fresh process that prints its own peak RSS (kilobytes) as the last line of stderr.
PEAK_RSS = ("import resource, sys; from keras_fer import cli; code = cli.main(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(code)")


def _lines(capsys):
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_a_batch_goes_on_past_missing_unreadable_and_faceless_videos(tmp_path, capsys, monkeypatch):
    seen = []  # the sides of the images the detector gets
    detect = faces.BlazeFaceDetector.detect
    monkeypatch.setattr(faces.BlazeFaceDetector, "detect",
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
        assert f"`{option}` must be an integer >= " in error and error.endswith(f"received {option} {value}\n"), error


def _peak_rss_kb(path, *options):
    done = subprocess.run([sys.executable, "-c", PEAK_RSS, "predict", str(path), "--no-progress", *options],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0 and json.loads(done.stdout)["label"], done.stderr[-2000:]
    return int(done.stderr.splitlines()[-1])


@pytest.mark.slow
def test_peak_memory_at_4k_is_that_at_1080p(tmp_path):
    """8 frames of a real clip upscaled to 3840x2160 cost at most 1.5 times the same at 1920x1080 (issue 20:
    9.6 GB on 60 frames at 4K, with or without --detect-max-side)."""
    peaks = {}
    for width, height in ((1920, 1080), (3840, 2160)):
        path = tmp_path / f"{height}.mp4"
        capture = cv2.VideoCapture(WEBCAM)
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (width, height))
        for _ in range(8):
            writer.write(cv2.resize(capture.read()[1], (width, height), interpolation=cv2.INTER_CUBIC))
        writer.release()
        capture.release()
        peaks[height] = _peak_rss_kb(path, "--detect-max-side", "640")
    assert peaks[2160] <= 1.5 * peaks[1080], peaks
