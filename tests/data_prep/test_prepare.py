"""The batch job: sample discovery, manifests, failures on corrupted files, resuming, samplers.

The corrupted files are made here from copies of the real clips. Quick tests
run MTCNN on two frames per clip (``detect_every=100``); the slow ones check
that the CREMA-D crops contain the face, against the mtcnn package's keypoints.
"""
import os
import shutil
import sys

import cv2
import numpy as np
import pytest

from data_prep import manifest
from data_prep import prepare as preparation
from data_prep.faces import MTCNNDetector
from data_prep.manifest import read_csv, read_failures, read_manifest, write_csv
from data_prep.prepare import PrepareOptions, collect_samples, dataset_samples, prepare
from tests.data_prep.test_faces import _check_face_inside

DATA = os.path.join(os.path.dirname(__file__), "..", "fixtures", "real_faces")
CREMA = os.path.join(DATA, "crema-d")
HAP = os.path.join(CREMA, "1001_DFA_HAP_XX.flv")  # 56 frames
MP4 = os.path.join(DATA, "pyfeat", "single_face.mp4")
NO_FACE_MP4 = os.path.join(DATA, "pyfeat", "no_face.mp4")
FAST = PrepareOptions(detect_every=100)


def _touch(path, data=b"x"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)


def _write_frames(folder, numbers):
    os.makedirs(folder, exist_ok=True)
    for number in numbers:
        cv2.imwrite(os.path.join(folder, f"S005_001_{number:08d}.png"), np.zeros((8, 8, 3), np.uint8))


# ----------------------------------------------------------------------------- samples and manifests


def test_collect_samples_from_a_folder_tree(tmp_path):
    root = tmp_path / "videos"
    _touch(str(root / "a.mp4"))
    _touch(str(root / "sub" / "b c.FLV"))
    _touch(str(root / "sub" / "cover.jpg"))  # an image beside videos is not a frame
    _touch(str(root / "notes.txt"))
    _write_frames(str(root / "S005" / "001"), [1, 2])
    rows = collect_samples(str(root))
    assert [(r["id"], os.path.relpath(r["path"], root)) for r in rows] == [
        ("a", "a.mp4"),
        ("S005__001", os.path.join("S005", "001")),
        ("sub__b_c", os.path.join("sub", "b c.FLV")),
    ]
    assert all(r["label"] == "" and set(r) == set(manifest.SOURCE_COLUMNS) for r in rows)
    assert [r["id"] for r in collect_samples(str(root / "a.mp4"))] == ["a"]
    assert [r["id"] for r in collect_samples(str(root / "S005" / "001"))] == ["001"]


def test_collect_samples_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        collect_samples(str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no video file"):
        collect_samples(str(tmp_path / "empty"))
    _touch(str(tmp_path / "clash" / "x.mp4"))
    _touch(str(tmp_path / "clash" / "x.avi"))
    assert [r["id"] for r in collect_samples(str(tmp_path / "clash"))] == ["x.avi", "x.mp4"]
    _write_frames(str(tmp_path / "clash" / "a" / "b"), [1])
    _write_frames(str(tmp_path / "clash" / "a__b"), [1])
    with pytest.raises(ValueError, match="same sample id.*'a__b'"):
        collect_samples(str(tmp_path / "clash"))


def test_read_manifest_fills_and_resolves(tmp_path):
    path = tmp_path / "lists" / "m.csv"
    path.parent.mkdir()
    path.write_text("id,path,label,extra\nclip1,../v/one.mp4,happy,7\n")
    (row,) = read_manifest(str(path))
    assert row["path"] == str(tmp_path / "v" / "one.mp4")
    assert (row["label"], row["subject"], row["apex"], row["extra"]) == ("happy", "", "", "7")


@pytest.mark.parametrize(
    "text, message",
    [
        ("id,label\na,x\n", r"missing column\(s\) \['path'\]"),
        ("id,path\na,1.mp4\na,2.mp4\n", "line 3: sample id 'a' already used on line 2"),
        ("id,path\n../up,1.mp4\n", "line 2: sample id '../up'"),
        ("id,path\na,\n", "line 2: empty `path`"),
        ("", "no header"),
    ],
)
def test_read_manifest_errors_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as caught:
        read_manifest(str(path))
    assert str(path) in str(caught.value)


def test_write_csv_is_atomic(tmp_path):
    path = str(tmp_path / "out.csv")
    write_csv(path, manifest.FAILURE_COLUMNS,
              [{"file": "a.mp4", "reason": "bad, really"}, {"file": "b", "reason": None}])
    assert read_failures(path) == [{"file": "a.mp4", "reason": "bad, really"}, {"file": "b", "reason": ""}]
    with pytest.raises(ValueError):
        write_csv(path, manifest.FAILURE_COLUMNS, [{"file": "c", "unknown": 1}])
    assert read_failures(path)[0]["file"] == "a.mp4"  # the old file is intact
    assert os.listdir(tmp_path) == ["out.csv"]  # no temporary left


# ----------------------------------------------------------------------------- the batch job


def _corrupted_inputs(folder):
    """A good clip plus one corrupted input of each kind; returns {file name: expected reason}."""
    os.makedirs(folder)
    shutil.copy(HAP, os.path.join(folder, "good.flv"))
    shutil.copy(NO_FACE_MP4, os.path.join(folder, "cartoon.mp4"))
    _touch(os.path.join(folder, "empty.mp4"), b"")
    _touch(os.path.join(folder, "noise.mp4"), np.random.default_rng(0).bytes(30_000))
    for source, name in ((MP4, "half.mp4"), (HAP, "half.flv")):
        with open(source, "rb") as handle:
            data = handle.read()
        _touch(os.path.join(folder, name), data[: len(data) // 2])
    cv2.VideoWriter(os.path.join(folder, "zero.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25, (32, 32)).release()
    _write_frames(os.path.join(folder, "gappy"), [1, 2, 5])
    return {
        "cartoon.mp4": "NoFaceError: no face found in any of its 95 examined frames",
        "empty.mp4": "VideoError: empty file",
        "noise.mp4": "VideoError: FFmpeg (through OpenCV) cannot open it",
        "half.mp4": "VideoError: FFmpeg (through OpenCV) cannot open it",
        "half.flv": "VideoError: truncated or damaged: the container claims 56 frames",
        "zero.avi": "VideoError: no frame decodes",
        "gappy": "FrameGapError: gap in the frame numbering: 3, 4 missing",
    }


def test_failures_are_reported_and_the_run_goes_on(tmp_path):
    inputs = str(tmp_path / "in")
    expected = _corrupted_inputs(inputs)
    out = str(tmp_path / "out")
    result = prepare(inputs, out, FAST, progress=False)

    assert result.prepared == ["good"] and result.skipped == []
    failures = {os.path.basename(row["file"]): row["reason"]
                for row in read_failures(os.path.join(out, "failures.csv"))}
    assert set(failures) == set(expected)
    for name, reason in expected.items():
        assert failures[name].startswith(reason), (name, failures[name])

    (row,) = read_csv(os.path.join(out, "manifest.csv"), required=manifest.PREPARED_COLUMNS)
    assert (row["id"], row["path"], row["n_frames"], row["n_crops"], row["n_no_face"], row["crops_dir"]) == (
        "good", os.path.join(inputs, "good.flv"), "56", "56", "0", "crops/good")
    assert abs(float(row["fps"]) - 29.97) < 0.01
    crops = os.path.join(out, "crops", "good")
    frames = read_csv(os.path.join(crops, "frames.csv"), required=manifest.FRAME_COLUMNS)
    assert [int(f["frame_index"]) for f in frames] == list(range(56))
    assert [f["status"] for f in frames] == ["detected"] + ["tracked"] * 54 + ["detected"]
    assert sorted(os.listdir(crops)) == sorted([f"{i:06d}.jpg" for i in range(56)] + ["frames.csv", "sample.csv"])
    image = cv2.imread(os.path.join(crops, "000010.jpg"))
    assert image.shape == (224, 224, 3)
    assert sorted(os.listdir(os.path.join(out, "crops"))) == ["good"]  # no partial folder of a failed sample


def test_rerun_skips_finished_samples(tmp_path):
    inputs = str(tmp_path / "in")
    os.makedirs(inputs)
    shutil.copy(HAP, os.path.join(inputs, "good.flv"))
    out = str(tmp_path / "out")
    prepare(inputs, out, FAST, progress=False)
    jpeg = os.path.join(out, "crops", "good", "000000.jpg")
    stamp = os.stat(jpeg).st_mtime_ns
    again = prepare(inputs, out, FAST, progress=False)
    assert again.prepared == [] and again.skipped == ["good"]
    assert os.stat(jpeg).st_mtime_ns == stamp
    assert [r["id"] for r in again.manifest_rows] == ["good"]
    with pytest.raises(ValueError, match="prepared with other options"):
        prepare(inputs, out, PrepareOptions(detect_every=50), progress=False)


def test_interrupted_sample_never_looks_finished(tmp_path, monkeypatch):
    inputs = str(tmp_path / "in")
    os.makedirs(inputs)
    shutil.copy(HAP, os.path.join(inputs, "good.flv"))
    out = str(tmp_path / "out")
    real_write = preparation._write_jpeg
    written = []

    def write_then_interrupt(path, crop, quality):
        if len(written) == 3:
            raise KeyboardInterrupt
        written.append(path)
        real_write(path, crop, quality)

    monkeypatch.setattr(preparation, "_write_jpeg", write_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        prepare(inputs, out, FAST, progress=False)
    assert os.listdir(os.path.join(out, "crops")) == []
    assert not os.path.exists(os.path.join(out, "manifest.csv"))

    # A run killed outright leaves its partial folder; the next run removes it and redoes the sample.
    monkeypatch.setattr(preparation, "_write_jpeg", real_write)
    leftover = os.path.join(out, "crops", ".good.partial-99999")
    os.makedirs(leftover)
    _touch(os.path.join(leftover, "000000.jpg"))
    result = prepare(inputs, out, FAST, progress=False)
    assert result.prepared == ["good"]
    assert os.listdir(os.path.join(out, "crops")) == ["good"]


def test_foreign_folder_in_crops_is_a_failure_not_a_finished_sample(tmp_path):
    out = tmp_path / "out"
    (out / "crops" / "single_face").mkdir(parents=True)
    result = prepare(MP4, str(out), FAST, progress=False)
    assert result.prepared == [] and result.manifest_rows == []
    assert "is not a sample finished by prepare" in result.failures[0][1]


def test_manifest_input_passes_labels_and_phases_through(tmp_path):
    listing = tmp_path / "manifest.csv"
    write_csv(str(listing), manifest.SOURCE_COLUMNS, [
        {"id": "s1_hap", "path": os.path.relpath(HAP, tmp_path), "label": "happiness", "subject": "1001",
         "onset": "3", "apex": "20", "offset": "50"},
    ])
    result = prepare(str(listing), str(tmp_path / "out"), FAST, progress=False)
    (row,) = result.manifest_rows
    assert {key: row[key] for key in manifest.SOURCE_COLUMNS} == {
        "id": "s1_hap", "path": os.path.abspath(HAP), "label": "happiness", "subject": "1001",
        "onset": "3", "apex": "20", "offset": "50"}
    assert read_csv(str(tmp_path / "out" / "manifest.csv")) == [row]


def test_sampler_keeps_only_the_frames_it_can_draw(tmp_path):
    from data_prep.sampling import superset

    options = PrepareOptions(detect_every=100, sampler="stcam", size=240)
    result = prepare(HAP, str(tmp_path / "out"), options, progress=False)
    (row,) = result.manifest_rows
    kept = superset("stcam", 56).tolist()
    assert len(kept) < 56
    assert (row["n_frames"], row["n_crops"]) == ("56", str(len(kept)))
    frames = read_csv(str(tmp_path / "out" / "crops" / "1001_DFA_HAP_XX" / "frames.csv"))
    assert [int(f["frame_index"]) for f in frames] == kept
    last_crop = tmp_path / "out" / "crops" / "1001_DFA_HAP_XX" / f"{kept[-1]:06d}.jpg"
    assert cv2.imread(str(last_crop)).shape == (240, 240, 3)


def test_sampler_options_choose_the_kept_frames_and_are_recorded(tmp_path):
    # MMI-like: the apex is mid-video, so STCAM's peak is the middle frame, (56 - 1) // 2 = 27.
    import json

    from data_prep.sampling import superset

    out = str(tmp_path / "out")
    options = PrepareOptions(detect_every=100, sampler="stcam", sampler_options={"peak": "middle"})
    (row,) = prepare(HAP, out, options, progress=False).manifest_rows
    kept = [int(f["frame_index"]) for f in read_csv(os.path.join(out, "crops", "1001_DFA_HAP_XX", "frames.csv"))]
    assert kept == superset("stcam", 56, peak="middle").tolist()
    assert kept != superset("stcam", 56).tolist()
    assert kept[0] == 0 and kept[-1] == 27 and row["n_crops"] == str(len(kept))
    with open(os.path.join(out, "prepare.json"), encoding="utf-8") as handle:
        recorded = json.load(handle)
    assert (recorded["sampler"], recorded["sampler_options"]) == ("stcam", {"peak": "middle"})

    again = prepare(HAP, out, PrepareOptions(detect_every=100, sampler="stcam", sampler_options={"peak": "middle"}),
                    progress=False)
    assert again.skipped == ["1001_DFA_HAP_XX"]
    for other in ({}, {"peak": "last"}, {"peak": "middle", "jitter": 0.0}):
        with pytest.raises(ValueError, match="prepared with other options"):
            prepare(HAP, out, PrepareOptions(detect_every=100, sampler="stcam", sampler_options=other), progress=False)


def test_prepare_json_without_sampler_options_still_resumes(tmp_path):
    # Folders prepared before `sampler_options` existed have no such key: they used none.
    import json

    out = str(tmp_path / "out")
    prepare(HAP, out, FAST, progress=False)
    path = os.path.join(out, "prepare.json")
    with open(path, encoding="utf-8") as handle:
        recorded = json.load(handle)
    assert recorded.pop("sampler_options") == {}
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(recorded, handle)
    assert prepare(HAP, out, FAST, progress=False).skipped == ["1001_DFA_HAP_XX"]


def test_sampler_option_errors():
    with pytest.raises(ValueError, match="'stcam' sampler has no option 'num_frames'.*'jitter', 'peak'"):
        PrepareOptions(sampler="stcam", sampler_options={"num_frames": 16})
    with pytest.raises(ValueError, match="'ast' sampler has no option 'seed'"):
        PrepareOptions(sampler="ast", sampler_options={"seed": 1})
    with pytest.raises(ValueError, match="`sampler_options` must be empty without a `sampler`; "
                                         "received sampler_options=\\{'peak': 'middle'\\}"):
        PrepareOptions(sampler_options={"peak": "middle"})
    with pytest.raises(ValueError, match=r"`sampler_options\['num_segments'\]` must be an int, float or str; "
                                         r"received sampler_options\['num_segments'\]=\[5\]"):
        PrepareOptions(sampler="ecnn_fsa", sampler_options={"num_segments": [5]})
    with pytest.raises(ValueError, match="rejected by the 'stcam' sampler.*peak"):
        PrepareOptions(sampler="stcam", sampler_options={"peak": "apex"})
    with pytest.raises(ValueError, match="must be a dict"):
        PrepareOptions(sampler="stcam", sampler_options=[("peak", "middle")])
    caller_options = {"num_segments": 3}
    options = PrepareOptions(sampler="ecnn_fsa", sampler_options=caller_options)
    caller_options["num_segments"] = 4  # the options keep their own copy
    assert options.sampler_options == {"num_segments": 3}


def test_sampler_errors(monkeypatch):
    with pytest.raises(ValueError, match="drop"):
        PrepareOptions(sampler="ast", no_face_policy="drop")
    with pytest.raises(ValueError, match="sampler.*'c3d'"):
        PrepareOptions(sampler="c3d")
    monkeypatch.setitem(sys.modules, "data_prep.sampling", None)
    with pytest.raises(ValueError, match="not available yet"):
        PrepareOptions(sampler="stcam")


def test_option_and_dataset_errors():
    for kwargs, name in [({"detector": "dlib"}, "detector"), ({"jpeg_quality": 0}, "jpeg_quality"),
                         ({"detect_every": 0}, "detect_every"), ({"no_face_policy": "skip"}, "no_face_policy"),
                         ({"align": True, "detector": "haar"}, "align")]:
        with pytest.raises(ValueError, match=name):
            PrepareOptions(**kwargs)
    with pytest.raises(ValueError, match="`dataset` must name a dataset adapter .*; received dataset='no_such_set'"):
        dataset_samples("no_such_set", "/data/ck")
    with pytest.raises(ValueError, match="workers"):
        prepare(HAP, "/tmp/unused", FAST, workers=0)


# ----------------------------------------------------------------------------- slow: real crops, processes


@pytest.mark.slow
def test_crema_d_crops_contain_the_face(tmp_path):
    clips = sorted(name for name in os.listdir(CREMA) if name.endswith(".flv"))
    assert len(clips) == 6
    listing = str(tmp_path / "crema.csv")
    write_csv(listing, manifest.SOURCE_COLUMNS, [
        {"id": name[:-4], "path": os.path.join(CREMA, name), "label": name.split("_")[2], "subject": "1001"}
        for name in clips
    ])
    out = tmp_path / "out"
    result = prepare(listing, str(out), PrepareOptions(detect_every=5), progress=False)
    assert result.failures == []
    assert [r["label"] for r in result.manifest_rows] == ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"]
    network = MTCNNDetector().networks()
    for row in result.manifest_rows:
        n = int(row["n_crops"])
        assert n == int(row["n_frames"]) and row["n_no_face"] == "0"
        for index in (0, n // 2, n - 1):
            crop = cv2.cvtColor(cv2.imread(str(out / row["crops_dir"] / f"{index:06d}.jpg")), cv2.COLOR_BGR2RGB)
            _check_face_inside(crop, network.detect_faces(crop))


@pytest.mark.slow
def test_parallel_workers_give_the_same_result(tmp_path):
    inputs = str(tmp_path / "in")
    os.makedirs(inputs)
    for name in ("1001_DFA_ANG_XX.flv", "1001_DFA_SAD_XX.flv"):
        shutil.copy(os.path.join(CREMA, name), inputs)
    _touch(os.path.join(inputs, "broken.mp4"), b"not a video")
    options = PrepareOptions(detect_every=20)
    serial = prepare(inputs, str(tmp_path / "serial"), options, progress=False)
    parallel = prepare(inputs, str(tmp_path / "parallel"), options, workers=2, progress=False)
    assert sorted(parallel.prepared) == sorted(serial.prepared) == ["1001_DFA_ANG_XX", "1001_DFA_SAD_XX"]
    assert parallel.failures == serial.failures and len(serial.failures) == 1
    for sample in serial.prepared:
        assert read_csv(str(tmp_path / "serial" / "crops" / sample / "frames.csv")) == read_csv(
            str(tmp_path / "parallel" / "crops" / sample / "frames.csv"))
