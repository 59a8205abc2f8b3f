"""The synthetic benchmark: determinism, the manifest, each mode's promise, decoding, the adapter and the CLI."""

import dataclasses
import hashlib
import os
import shlex

import cv2
import numpy as np
import pytest

from data_prep import faces, synthetic, video
from data_prep.datasets import DatasetError
from data_prep.datasets import synthetic as synthetic_dataset
from data_prep.manifest import SOURCE_COLUMNS, read_csv, read_manifest

TINY = dict(n_subjects=2, videos_per_class=1, size=32, n_frames=16)


def _decoded_hash(path):
    digest = hashlib.sha256()
    for _, frame in video.iter_frames(path):
        digest.update(frame.tobytes())
    return digest.hexdigest()


def _dataset_hashes(root):
    rows = read_manifest(os.path.join(root, "manifest.csv"))
    return [(row["id"], _decoded_hash(row["path"])) for row in rows]


def _identity():
    return synthetic.random_identity(np.random.default_rng(3))


# Determinism -----------------------------------------------------------------------------------------------------

def test_same_seed_gives_identical_files_and_pixels(tmp_path):
    first = synthetic.generate_dataset(tmp_path / "a", mode="macro", seed=7, **TINY)
    second = synthetic.generate_dataset(tmp_path / "b", mode="macro", seed=7, **TINY)
    assert first == second
    assert _dataset_hashes(tmp_path / "a") == _dataset_hashes(tmp_path / "b")
    for row in first:
        with open(tmp_path / "a" / row["path"], "rb") as a, open(tmp_path / "b" / row["path"], "rb") as b:
            assert a.read() == b.read()


def test_different_seeds_differ(tmp_path):
    synthetic.generate_dataset(tmp_path / "a", mode="micro", seed=0, **TINY)
    synthetic.generate_dataset(tmp_path / "b", mode="micro", seed=1, **TINY)
    hashes_a = dict(_dataset_hashes(tmp_path / "a"))
    hashes_b = dict(_dataset_hashes(tmp_path / "b"))
    assert hashes_a.keys() == hashes_b.keys()
    assert all(hashes_a[key] != hashes_b[key] for key in hashes_a)


def test_render_video_noise_is_seeded():
    units = np.zeros((3, 4))
    a = synthetic.render_video(_identity(), units, 24, noise_std=5.0, seed=1)
    b = synthetic.render_video(_identity(), units, 24, noise_std=5.0, seed=1)
    c = synthetic.render_video(_identity(), units, 24, noise_std=5.0, seed=2)
    assert hashlib.sha256(a.tobytes()).digest() == hashlib.sha256(b.tobytes()).digest()
    assert not np.array_equal(a, c)


# The manifest ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode, n_classes", [("macro", 6), ("sparse", 6), ("micro", 3), ("order", 2)])
def test_manifest_columns_labels_subjects_and_class_count(tmp_path, mode, n_classes):
    synthetic.generate_dataset(tmp_path, mode=mode, n_subjects=2, videos_per_class=2, size=24, n_frames=20)
    raw = read_csv(tmp_path / "manifest.csv")
    assert tuple(raw[0].keys()) == SOURCE_COLUMNS
    rows = read_manifest(tmp_path / "manifest.csv")
    labels = sorted({row["label"] for row in rows})
    assert len(labels) == n_classes == len(synthetic.MODES[mode].classes)
    assert labels == sorted(synthetic.MODES[mode].classes)
    assert sorted({row["subject"] for row in rows}) == ["S01", "S02"]
    for subject in ("S01", "S02"):
        for label in labels:
            assert sum(row["subject"] == subject and row["label"] == label for row in rows) == 2
    for row in rows:
        onset, apex, offset = int(row["onset"]), int(row["apex"]), int(row["offset"])
        assert 0 <= onset <= apex <= offset <= 19
        assert os.path.isfile(row["path"])


def test_videos_decode_to_the_expected_frames(tmp_path):
    rows = synthetic.generate_dataset(tmp_path, mode="sparse", n_subjects=1, videos_per_class=1, size=(32, 48),
                                      n_frames=20)
    for row in rows:
        reader = video.VideoReader(tmp_path / row["path"])
        assert reader.info.n_frames == 20
        frames = [frame for _, frame in reader.iter_frames()]
        assert len(frames) == 20 and frames[0].shape == (32, 48, 3) and frames[0].dtype == np.uint8


# Each mode's promise ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", sorted(synthetic.MODES))
@pytest.mark.parametrize("n_frames", [16, 32, 75])
def test_timing_is_ordered_inside_the_video_and_units_are_zero_outside(mode, n_frames):
    settings = synthetic.MODES[mode]
    rng = np.random.default_rng(0)
    for trial in range(40):
        class_index = trial % len(settings.classes)
        units, onset, apex, offset = synthetic.expression_program(mode, class_index, n_frames, rng)
        assert units.shape == (n_frames, 4)
        assert 0 <= onset <= apex <= offset < n_frames
        outside = np.ones(n_frames, bool)
        outside[onset:offset + 1] = False
        assert np.all(units[outside] == 0)
        strength = np.abs(units).max(axis=1)
        assert strength[apex] == pytest.approx(strength.max())
        # The apex intensity is drawn from the mode's peak range (prototypes have a unit of magnitude 1).
        low, high = settings.peak
        assert low - 1e-9 <= strength.max() <= high + 1e-9


@pytest.mark.parametrize("n_frames", [16, 32, 64, 100])
def test_sparse_expression_fills_at_most_the_documented_share(n_frames):
    assert synthetic.SPARSE_MAX_SHARE == 0.25
    rng = np.random.default_rng(1)
    for trial in range(60):
        units, onset, _, offset = synthetic.expression_program("sparse", trial % 6, n_frames, rng)
        active = np.flatnonzero(np.abs(units).max(axis=1) > 0)
        assert (offset - onset + 1) / n_frames <= synthetic.SPARSE_MAX_SHARE
        assert len(active) / n_frames <= synthetic.SPARSE_MAX_SHARE


def test_micro_is_weaker_and_shorter_than_macro():
    rng = np.random.default_rng(2)
    micro = [synthetic.expression_program("micro", k % 3, 64, rng) for k in range(30)]
    macro = [synthetic.expression_program("macro", k % 6, 64, rng) for k in range(30)]
    assert max(np.abs(u).max() for u, *_ in micro) <= 0.35 < min(np.abs(u).max() for u, *_ in macro) + 1e-9
    assert max(off - on + 1 for _, on, _, off in micro) < min(off - on + 1 for _, on, _, off in macro)


def test_order_classes_have_the_same_frames_in_another_order():
    identity = _identity()
    first, second = (synthetic.expression_program("order", k, 32, np.random.default_rng(5)) for k in range(2))
    assert first[1:] == second[1:]  # the same timing: the class is only which movement comes first
    videos = [synthetic.render_video(identity, units, 32) for units, *_ in (first, second)]
    frame_hashes = [[hashlib.sha256(frame.tobytes()).hexdigest() for frame in clip] for clip in videos]
    assert sorted(frame_hashes[0]) == sorted(frame_hashes[1])
    assert frame_hashes[0] != frame_hashes[1]
    np.testing.assert_array_equal(videos[0].astype(np.int64).sum(axis=0), videos[1].astype(np.int64).sum(axis=0))
    # Class 0 raises the brows before opening the mouth; class 1 the other way round.
    brow_first = [np.argmax(units[:, 0] > 0) < np.argmax(units[:, 2] > 0) for units, *_ in (first, second)]
    assert brow_first == [True, False]


def test_each_unit_moves_its_own_part_of_the_face():
    identity = dataclasses.replace(_identity(), centre=(0.5, 0.5), resting=(0.0, 0.0, 0.0, 0.0), expressiveness=1.0,
                                   light_strength=0.0)
    size = 96
    neutral = synthetic.render_video(identity, np.zeros((1, 4)), size)[0].astype(int)
    face_top = size / 2 - identity.scale * size
    mouth_row = size / 2 + 0.5 * identity.scale * size
    rows = np.arange(size)[:, None]
    for unit, upper in ((0, True), (3, True), (1, False), (2, False)):
        units = np.zeros((1, 4))
        units[0, unit] = 1.0
        moved = synthetic.render_video(identity, units, size)[0].astype(int)
        changed = np.abs(moved - neutral).sum(axis=-1) > 30
        assert changed.sum() > 5, synthetic.ACTION_UNITS[unit]
        changed_rows = np.broadcast_to(rows, changed.shape)[changed]
        if upper:  # brows and eyes: above the nose tip
            assert changed_rows.max() < size / 2 + 0.2 * identity.scale * size
            assert changed_rows.min() > face_top
        else:  # mouth corners and jaw: around the mouth
            assert changed_rows.min() > mouth_row - 0.25 * identity.scale * size


def test_blink_closes_the_eyes_and_head_pose_shifts_the_face():
    identity = dataclasses.replace(_identity(), light_strength=0.0)
    still = synthetic.render_video(identity, np.zeros((1, 4)), 64)[0]
    blinked = synthetic.render_video(identity, np.zeros((1, 4)), 64, blink=np.ones(1))[0]
    white = lambda image: int(np.all(image > 200, axis=-1).sum())  # noqa: E731  (sclera pixels)
    assert white(blinked) < white(still) // 4
    shifted = synthetic.render_video(identity, np.zeros((1, 4)), 64, head_pose=np.array([[0.2, 0.0, 0.0]]))[0]
    expected_shift = 0.2 * identity.scale * 64
    np.testing.assert_allclose(cv2.moments(_skin_mask(shifted, identity))["m10"] / cv2.moments(_skin_mask(
        shifted, identity))["m00"] - cv2.moments(_skin_mask(still, identity))["m10"] / cv2.moments(_skin_mask(
            still, identity))["m00"], expected_shift, atol=1.0)


def _skin_mask(image, identity):
    return (np.abs(image.astype(float) - np.asarray(identity.skin) * identity.brightness).sum(axis=-1) < 30).astype(
        np.uint8)


@pytest.mark.parametrize("kwargs, argument", [
    (dict(mode="giant"), "mode"), (dict(size=8), "size"), (dict(size=(32,)), "size"),
    (dict(n_frames=4), "n_frames"), (dict(n_subjects=0), "n_subjects"), (dict(settings="x"), "settings"),
])
def test_bad_arguments_are_named(tmp_path, kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        synthetic.generate_dataset(tmp_path, **kwargs)


def test_face_framing_centres_every_face_at_the_crop_scale_and_changes_nothing_else(tmp_path, monkeypatch):
    """``framing="face"``: each identity is the scene framing's one, centred at FACE_FRAMED_SCALE (a detector's
    face box plus crop_face's 15 % margin); the videos' programs, distractors and labels are the same."""
    drawn = {}
    render = synthetic.render_video

    def recording(identity, units, *args, **kwargs):
        drawn.setdefault(framing, []).append((identity, units.copy(), args[1:4]))
        return render(identity, units, *args, **kwargs)

    monkeypatch.setattr(synthetic, "render_video", recording)
    rows = {}
    for framing in synthetic.FRAMINGS:
        rows[framing] = synthetic.generate_dataset(tmp_path / framing, mode="macro", framing=framing, **TINY)
    assert rows["scene"] == rows["face"]
    np.testing.assert_allclose(synthetic.FACE_FRAMED_SCALE * 2 * 1.15, 1.0)
    for (scene, units, distractors), (face, face_units, face_distractors) in zip(drawn["scene"], drawn["face"]):
        assert face == dataclasses.replace(scene, centre=(0.5, 0.5), scale=synthetic.FACE_FRAMED_SCALE)
        assert scene.centre != (0.5, 0.5)
        np.testing.assert_array_equal(units, face_units)
        for a, b in zip(distractors, face_distractors):
            np.testing.assert_array_equal(a, b)
    record = synthetic_dataset._recorded_arguments(tmp_path / "face" / "synthetic.json")
    assert record["framing"] == "face"
    first = dict(_dataset_hashes(tmp_path / "face"))
    os.remove(tmp_path / "face" / rows["face"][0]["path"])
    synthetic_dataset.build_manifest(tmp_path / "face")  # re-rendered face-framed, as recorded
    assert dict(_dataset_hashes(tmp_path / "face")) == first
    with pytest.raises(ValueError, match="`framing`"):
        synthetic.generate_dataset(tmp_path / "bad", framing="portrait", **TINY)


# Full-frame "detection" ------------------------------------------------------------------------------------------

def test_full_frame_detector_crops_the_whole_frame(tmp_path):
    rows = synthetic.generate_dataset(tmp_path, mode="macro", n_subjects=1, videos_per_class=1, size=32, n_frames=16)
    path = tmp_path / rows[0]["path"]
    cropper = faces.FaceCropper(detector="full_frame", margin=0.0, size=32)
    track = cropper.track(str(path))
    assert set(track.statuses) == {"detected"}
    crops = dict(cropper.iter_crops(str(path), track))
    for index, frame in video.iter_frames(str(path)):
        np.testing.assert_array_equal(crops[index], frame)


# The adapter and the command line --------------------------------------------------------------------------------

def test_adapter_reads_a_generated_root_and_renders_missing_videos_again(tmp_path):
    synthetic.generate_dataset(tmp_path, mode="order", **TINY)
    before = dict(_dataset_hashes(tmp_path))
    rows = synthetic_dataset.build_manifest(tmp_path)
    assert sorted(row["id"] for row in rows) == sorted(before)
    assert {row["label"] for row in rows} == set(synthetic.MODES["order"].classes)
    os.remove(rows[0]["path"])
    again = synthetic_dataset.build_manifest(tmp_path)
    assert [row["id"] for row in again] == [row["id"] for row in rows]
    assert dict(_dataset_hashes(tmp_path)) == before


def test_adapter_refuses_a_foreign_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match="synthetic.json"):
        synthetic_dataset.build_manifest(tmp_path)


def _run_readme_command(command):
    from keras_fer import cli

    arguments = shlex.split(command)
    assert arguments[0] == "keras-fer"
    return cli.main(arguments[1:])


def test_cli_prepares_a_generated_root_with_full_frames(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    synthetic.generate_dataset("synthetic_micro", mode="micro", **TINY)
    assert _run_readme_command("keras-fer prepare --dataset synthetic --root synthetic_micro --out prepared_micro") == 0
    prepared = read_csv(tmp_path / "prepared_micro" / "manifest.csv")
    assert len(prepared) == 6 and {row["n_no_face"] for row in prepared} == {"0"}
    frames = read_csv(tmp_path / "prepared_micro" / prepared[0]["crops_dir"] / "frames.csv")
    assert len(frames) == 16 and {row["status"] for row in frames} == {"detected"}


def test_readme_knobs_example_is_recorded_and_read_back(tmp_path):
    # README: generate_dataset("synthetic_micro", mode="micro", n_subjects=16, seed=1,
    #                          settings=dataclasses.replace(MODES["micro"], noise_std=2.0))
    root = tmp_path / "synthetic_micro"
    quiet = dataclasses.replace(synthetic.MODES["micro"], noise_std=2.0)
    synthetic.generate_dataset(root, mode="micro", n_subjects=3, seed=1, settings=quiet, size=24, n_frames=16)
    default_noise = tmp_path / "default_noise"
    synthetic.generate_dataset(default_noise, mode="micro", n_subjects=3, seed=1, size=24, n_frames=16)
    assert dict(_dataset_hashes(root)).keys() == dict(_dataset_hashes(default_noise)).keys()
    assert dict(_dataset_hashes(root)) != dict(_dataset_hashes(default_noise))
    first = dict(_dataset_hashes(root))
    rows = synthetic_dataset.build_manifest(root)
    assert len(rows) == 3 * 3 * 3 and sorted({row["subject"] for row in rows}) == ["S01", "S02", "S03"]
    os.remove(rows[-1]["path"])
    synthetic_dataset.build_manifest(root)  # re-rendered from synthetic.json, knobs included
    assert dict(_dataset_hashes(root)) == first


@pytest.mark.slow
def test_cli_prepares_the_default_benchmark_without_input(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "prepared"
    assert _run_readme_command("keras-fer prepare --dataset synthetic --out prepared") == 0
    prepared = read_csv(out / "manifest.csv")
    assert len(prepared) == 6 * 10 * 3
    assert {row["n_crops"] for row in prepared} == {"32"}
    assert os.path.isfile(out / "synthetic" / "synthetic.json")
    assert read_csv(out / "failures.csv") == []


def test_strip_script_writes_one_row_per_class(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "synthetic_strips", os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "synthetic_strips.py"))
    strips = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(strips)
    assert strips.main(["--out", str(tmp_path), "--frames", "3", "--size", "24"]) == 0
    for mode, settings in synthetic.MODES.items():
        image = cv2.imread(str(tmp_path / f"synthetic_{mode}.png"))
        assert image.shape == (len(settings.classes) * (24 + strips.BAR_HEIGHT), strips.LABEL_WIDTH + 3 * 24, 3)
