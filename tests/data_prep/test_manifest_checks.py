"""Issue 20, finding 6: impossible manifest rows are reported problems; a mixed-size folder names its odd frame."""
import os

import cv2
import numpy as np
import pytest

from data_prep import datasets, synthetic
from data_prep.manifest import read_csv, write_csv
from data_prep.prepare import PrepareOptions, collect_samples, prepare
from data_prep.video import VideoError, VideoReader


def test_mixed_size_folder_names_its_first_odd_frame(tmp_path):
    for number in range(20):  # 0000.png is 16x12, every later frame 16x10
        shape = (12, 16, 3) if number == 0 else (10, 16, 3)
        cv2.imwrite(os.path.join(tmp_path, f"{number:04d}.png"), np.zeros(shape, np.uint8))
    reader = VideoReader(str(tmp_path))
    with pytest.raises(VideoError, match=r"0001\.png: frame size 16x10 differs from the folder's first frame "
                                         r"0000\.png \(16x12\)"):
        list(reader.iter_frames([0, 10]))  # a sampler's frames: 0001.png is not among them


def _frame_folder(folder, n_frames=8):
    os.makedirs(folder)
    for number in range(n_frames):
        cv2.imwrite(os.path.join(folder, f"{number:04d}.png"), np.full((32, 32, 3), 90 + number, np.uint8))


def _manifest(tmp_path, lines):
    """A manifest CSV of frame folders (8 frames each) with the given rows after the header."""
    for line in lines:
        _frame_folder(str(tmp_path / line.split(",")[1]))
    path = tmp_path / "manifest.csv"
    path.write_text("id,path,label,subject,onset,apex,offset\n" + "".join(line + "\n" for line in lines))
    return str(path)


IMPOSSIBLE = ["good,clips/good,happy,s1,1,3,6", "order,clips/order,happy,s1,5,999,3", "words,clips/words,sad,s2,x,y,z",
              "partial,clips/partial,sad,s2,,4,"]


def test_impossible_phases_are_problems_of_a_manifest(tmp_path):
    path = _manifest(tmp_path, IMPOSSIBLE)
    with pytest.warns(datasets.DatasetWarning) as caught:
        rows = datasets.build_manifest("generic_csv", path)
    assert [row["id"] for row in rows] == ["good", "partial"]  # an apex alone is a possible annotation
    messages = [str(problem) for problem in rows.problems]
    assert messages == [f"{path}: sample 'order': onset,apex,offset=5,999,3: not onset <= apex <= offset; left out",
                        f"{path}: sample 'words': onset,apex,offset=x,y,z: not frame indices (integers >= 0); "
                        "left out"]
    assert [str(warning.message) for warning in caught] == messages
    with pytest.raises(datasets.DatasetError, match=r"2 problem\(s\):\n.*'order'.*\n.*'words'"):
        datasets.build_manifest("generic_csv", path, strict=True)


def test_a_manifest_given_to_prepare_is_checked_the_same_way(tmp_path):
    path = _manifest(tmp_path, IMPOSSIBLE)
    with pytest.warns(datasets.DatasetWarning) as caught:
        rows = collect_samples(path)
    assert [row["id"] for row in rows] == ["good", "partial"]
    assert [str(warning.message) for warning in caught] == [str(problem) for problem in rows.problems]
    assert [problem.message.split(":")[0] for problem in rows.problems] == ["sample 'order'", "sample 'words'"]
    with pytest.raises(datasets.DatasetError, match="'words'.*not frame indices"):
        collect_samples(path, strict=True)


def test_a_label_outside_the_dataset_classes_is_a_problem(tmp_path):
    root = str(tmp_path / "synthetic")
    synthetic.generate_dataset(root, n_subjects=2, videos_per_class=1, size=32, n_frames=16)
    listing = os.path.join(root, "manifest.csv")
    rows = read_csv(listing)
    first = rows[0]["id"]
    rows[0]["label"] = "joy"
    write_csv(listing, list(rows[0]), rows)
    with pytest.warns(datasets.DatasetWarning, match="label 'joy' is not one of the dataset's classes"):
        found = datasets.build_manifest("synthetic", root)
    assert first not in [row["id"] for row in found] and len(found) == len(rows) - 1
    assert str(found.problems[0]).startswith(f"{listing}: sample {first!r}: label 'joy'")
    with pytest.raises(datasets.DatasetError, match="'joy'"):
        datasets.build_manifest("synthetic", root, strict=True)


def test_prepare_refuses_phases_beyond_the_video(tmp_path):
    path = _manifest(tmp_path, ["late,clips/late,happy,s1,2,3,8", "fine,clips/fine,happy,s1,2,3,7"])
    samples = collect_samples(path) + [dict(collect_samples(path)[1], id="direct", onset="5", apex="999",
                                            offset="3")]  # rows given directly are checked too
    result = prepare(None, tmp_path / "out", PrepareOptions(detector="full_frame", margin=0.0), progress=False,
                     samples=samples)
    assert [row["id"] for row in result.manifest_rows] == ["fine"]
    reasons = dict(result.failures)
    assert reasons[str(tmp_path / "clips" / "late")] == (
        "ValueError: sample 'late': onset,apex,offset=2,3,8: beyond the video's last frame 7 (8 frames)")
    assert "sample 'direct': onset,apex,offset=5,999,3: not onset <= apex <= offset; onset,apex,offset=5,999,3: " \
           "beyond the video's last frame 7" in reasons[str(tmp_path / "clips" / "fine")]
    assert sorted(os.listdir(tmp_path / "out" / "crops")) == ["fine"]
