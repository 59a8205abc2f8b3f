"""Faces: tracking between detections, the no-face policies, crops, alignment, real videos.

Tracking and policies run on frame folders the tests write, with a detector
whose answers the test sets (``TableDetector``); expected boxes follow from
the linear-interpolation formula written out here. Crops are compared with
NumPy slicing of a zero-padded frame. Real-video tests check against the
mtcnn package's raw output.
"""
import hashlib
import os

import cv2
import numpy as np
import pytest

from data_prep.faces import (
    Face,
    FaceCropper,
    HaarDetector,
    MTCNNDetector,
    NoFaceError,
    crop_face,
)
from data_prep.video import VideoReader, count_frames

DATA = os.path.join(os.path.dirname(__file__), "..", "fixtures", "real_faces")
MOV = os.path.join(DATA, "pyfeat", "face_noface.mov")
NO_FACE_MP4 = os.path.join(DATA, "pyfeat", "no_face.mp4")
SINGLE_FACE_JPG = os.path.join(DATA, "pyfeat", "single_face.jpg")
MULTI_FACE_JPG = os.path.join(DATA, "pyfeat", "multi_face.jpg")
FLV = os.path.join(DATA, "crema-d", "1001_DFA_ANG_XX.flv")
HAAR_CASCADE = os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml")


class TableDetector:
    """Finds the faces a table lists for each frame; the frame number is pixel (0, 0, 0)."""

    provides_keypoints = True

    def __init__(self, table):
        self.table = table
        self.calls = []

    def detect(self, images):
        found = []
        for image in images:
            number = int(image[0, 0, 0])
            self.calls.append(number)
            found.append([Face(tuple(box), 0.99, _keypoints(box)) for box in self.table.get(number, [])])
        return found


def _keypoints(box):
    x0, y0, x1, y1 = box
    return np.array([[x0 + 1, y0 + 1], [x1 - 1, y0 + 1], [x0 + 2, y0 + 2], [x0 + 1, y1 - 1], [x1 - 1, y1 - 1]], float)


def _frame_folder(folder, n_frames, height=40, width=48, seed=0):
    """PNG frames 0..n-1 with random texture; pixel (0, 0, 0) holds the frame number."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder)
    frames = []
    for number in range(n_frames):
        frame = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        frame[0, 0, 0] = number
        cv2.imwrite(os.path.join(folder, f"{number:04d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        frames.append(frame)
    return frames


def _box(number):
    """A distinct box per frame number."""
    return (10.0 + number, 8.0 + 0.5 * number, 30.0 + 2 * number, 26.0 + number)


def _lerp(box_a, box_b, t_a, t_b, t):
    """Independent linear interpolation of two boxes at frame t."""
    w = (t - t_a) / (t_b - t_a)
    return tuple((1 - w) * a + w * b for a, b in zip(box_a, box_b))


def test_every_frame_detected_gives_the_detected_boxes(tmp_path):
    folder = str(tmp_path / "v")
    _frame_folder(folder, 6)
    detector = TableDetector({n: [_box(n)] for n in range(6)})
    track = FaceCropper(detector, detect_every=1).track(folder)
    assert sorted(detector.calls) == list(range(6))
    assert track.statuses == ("detected",) * 6
    np.testing.assert_allclose(track.boxes, [_box(n) for n in range(6)])
    assert track.no_face_indices == [] and track.face_share == 1.0


def test_boxes_between_detections_are_interpolated(tmp_path):
    folder = str(tmp_path / "v")
    _frame_folder(folder, 11)
    detector = TableDetector({n: [_box(n) if n in (0, 4, 8) else (5, 5, 45, 35)] for n in range(11)})
    track = FaceCropper(detector, detect_every=4).track(folder)
    assert sorted(detector.calls) == [0, 4, 8, 10]  # every 4th frame and the last
    boxes = {0: _box(0), 4: _box(4), 8: _box(8), 10: (5, 5, 45, 35)}
    for t in range(11):
        a = max(k for k in boxes if k <= t)
        b = min(k for k in boxes if k >= t)
        expected = boxes[t] if a == b else _lerp(boxes[a], boxes[b], a, b, t)
        np.testing.assert_allclose(track.boxes[t], expected, err_msg=f"frame {t}")
        np.testing.assert_allclose(track.keypoints[t, 0], np.array(expected[:2]) + 1, err_msg=f"frame {t}")
    assert track.detected_indices == [0, 4, 8, 10]
    assert [s for s in track.statuses if s == "tracked"] == ["tracked"] * 7


def test_tracking_on_chosen_frames_interpolates_in_frame_index(tmp_path):
    folder = str(tmp_path / "v")
    _frame_folder(folder, 10)
    detector = TableDetector({n: [_box(n)] for n in range(10)})
    track = FaceCropper(detector, detect_every=2).track(folder, indices=[9, 0, 3, 6, 3])
    np.testing.assert_array_equal(track.frame_indices, [0, 3, 6, 9])
    assert sorted(detector.calls) == [0, 6, 9]
    np.testing.assert_allclose(track.boxes[1], _lerp(_box(0), _box(6), 0, 6, 3))


def test_detection_on_shrunk_frames_scales_boxes_back(tmp_path):
    class FixedBox:
        provides_keypoints = True
        shapes = []

        def detect(self, images):
            self.shapes.extend(image.shape for image in images)
            return [[Face((6.0, 4.0, 18.0, 16.0), 0.99, np.array([[8.0, 7.0]] * 5))] for _ in images]

    folder = str(tmp_path / "v")
    _frame_folder(folder, 2)  # 48 x 40 frames
    detector = FixedBox()
    track = FaceCropper(detector, detect_max_side=32).track(folder)
    assert detector.shapes == [(27, 32, 3)] * 2  # 40 * 32 / 48 = 26.7 rows
    np.testing.assert_allclose(track.boxes, [[9.0, 6.0, 27.0, 24.0]] * 2)  # divided by 32 / 48
    np.testing.assert_allclose(track.keypoints[:, 0], [[12.0, 10.5]] * 2)
    FaceCropper(detector, detect_max_side=64).track(folder)
    assert detector.shapes[-1] == (40, 48, 3)  # never enlarged


def test_largest_face_is_kept(tmp_path):
    folder = str(tmp_path / "v")
    _frame_folder(folder, 2)
    small, large, medium = (0, 0, 10, 10), (5, 5, 30, 25), (20, 20, 40, 35)
    track = FaceCropper(TableDetector({0: [small, large, medium], 1: [medium, small]})).track(folder)
    np.testing.assert_allclose(track.boxes, [large, medium])


# Faces on frames 2-4 and 8-9; none on 0-1 (start), 5-7 (middle), 10-11 (end).
_FACE_FRAMES = (2, 3, 4, 8, 9)
_MISSING = [0, 1, 5, 6, 7, 10, 11]


def _policy_track(tmp_path, policy):
    folder = str(tmp_path / policy)
    _frame_folder(folder, 12)
    detector = TableDetector({n: [_box(n)] for n in _FACE_FRAMES})
    return FaceCropper(detector, no_face_policy=policy).track(folder)


def test_policy_hold(tmp_path):
    track = _policy_track(tmp_path, "hold")
    assert track.no_face_indices == _MISSING
    assert track.filled == dict.fromkeys(_MISSING, "held")
    held_from = {0: 2, 1: 2, 5: 4, 6: 4, 7: 4, 10: 9, 11: 9}  # the last face before; the first at the start
    for t, source in held_from.items():
        np.testing.assert_allclose(track.boxes[t], _box(source))
    assert track.kept_indices == list(range(12))
    assert track.dropped_indices == []


def test_policy_interpolate(tmp_path):
    track = _policy_track(tmp_path, "interpolate")
    assert track.no_face_indices == _MISSING
    assert track.filled == {0: "held", 1: "held", 5: "interpolated", 6: "interpolated", 7: "interpolated",
                            10: "held", 11: "held"}
    for t in (5, 6, 7):
        np.testing.assert_allclose(track.boxes[t], _lerp(_box(4), _box(8), 4, 8, t))
        np.testing.assert_allclose(track.keypoints[t], _lerp(_keypoints(_box(4)), _keypoints(_box(8)), 4, 8, t)[0:5])
    np.testing.assert_allclose(track.boxes[0], _box(2))
    np.testing.assert_allclose(track.boxes[11], _box(9))


def test_policy_drop(tmp_path):
    track = _policy_track(tmp_path, "drop")
    assert track.dropped_indices == _MISSING
    assert track.filled == {}
    assert track.kept_indices == list(_FACE_FRAMES)
    assert np.isnan(track.boxes[_MISSING]).all()
    crops = FaceCropper(TableDetector({}), no_face_policy="drop")
    assert [i for i, _ in crops.iter_crops(str(tmp_path / "drop"), track)] == list(_FACE_FRAMES)


def test_face_vanishing_between_detections_is_located_exactly(tmp_path):
    folder = str(tmp_path / "v")
    _frame_folder(folder, 13)
    detector = TableDetector({n: [_box(n)] for n in range(6)})  # the face leaves after frame 5
    track = FaceCropper(detector, detect_every=4).track(folder)
    assert detector.calls == [0, 4, 8, 12, 5, 6, 7]  # frames 5-7 checked because 4 and 8 disagree
    assert track.statuses[:6] == ("detected", "tracked", "tracked", "tracked", "detected", "detected")
    assert track.no_face_indices == list(range(6, 13))


def test_no_face_at_all_raises_naming_the_video(tmp_path):
    folder = str(tmp_path / "empty_room")
    _frame_folder(folder, 4)
    with pytest.raises(NoFaceError, match="empty_room.*no face found in any of its 4"):
        FaceCropper(TableDetector({})).track(folder)


# ----------------------------------------------------------------------------- crops


def _padded_slice(frame, left, top, side):
    """The square [left, left+side) x [top, top+side) of a frame, black outside it."""
    pad = side + 1
    padded = np.pad(frame, ((pad, pad), (pad, pad), (0, 0)))
    return padded[top + pad:top + pad + side, left + pad:left + pad + side]


@pytest.mark.parametrize(
    "box, margin, left, top, side",
    [
        # 20 x 16 box, side 20 * 1.25 = 25 centred on (20, 18).
        ((10, 10, 30, 26), 0.25, 8, 6, 25),
        # Off the top-left corner: centre (2, 3), side 16 * 1.5 = 24.
        ((-6, -5, 10, 11), 0.5, -10, -9, 24),
        # Off the bottom-right corner, no margin.
        ((35, 30, 55, 44), 0.0, 35, 27, 20),
    ],
)
def test_crop_is_the_square_around_the_box(box, margin, left, top, side):
    frame = np.random.default_rng(1).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    np.testing.assert_array_equal(crop_face(frame, box, size=side, margin=margin),
                                  _padded_slice(frame, left, top, side))


def test_crop_is_resized():
    frame = np.random.default_rng(2).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    patch = _padded_slice(frame, 8, 6, 25)
    np.testing.assert_array_equal(crop_face(frame, (10, 10, 30, 26), size=50),
                                  cv2.resize(patch, (50, 50), interpolation=cv2.INTER_LINEAR))
    np.testing.assert_array_equal(crop_face(frame, (10, 10, 30, 26), size=10),
                                  cv2.resize(patch, (10, 10), interpolation=cv2.INTER_AREA))


def test_iter_crops_cut_each_frame_at_its_box(tmp_path):
    folder = str(tmp_path / "v")
    frames = _frame_folder(folder, 5)
    table = {n: [(4 + n, 6, 20 + n, 18)] for n in range(5)}  # 16 x 12 boxes -> side 20 with margin 0.25
    cropper = FaceCropper(TableDetector(table), size=20)
    crops, track = cropper.crop_video(folder)
    assert crops.shape == (5, 20, 20, 3) and crops.dtype == np.uint8
    for n in range(5):
        np.testing.assert_array_equal(crops[n], _padded_slice(frames[n], 2 + n, 2, 20))


def test_alignment_levels_the_eyes():
    frame = np.zeros((100, 100, 3), np.uint8)
    left_eye, right_eye = (35.0, 40.0), (65.0, 52.0)  # tilted by atan(12 / 30)
    for x, y in (left_eye, right_eye):
        cv2.circle(frame, (int(x), int(y)), 3, (255, 255, 255), -1)
    box = (25, 25, 75, 75)
    crop = crop_face(frame, box, size=60, margin=0.2, eyes=(left_eye, right_eye))
    assert crop.shape == (60, 60, 3)
    _, _, _, centroids = cv2.connectedComponentsWithStats((crop[..., 0] > 127).astype(np.uint8))
    dots = sorted(centroids[1:], key=lambda c: c[0])
    assert len(dots) == 2
    (lx, ly), (rx, ry) = dots
    assert abs(ly - ry) < 1.0  # level
    distance = np.hypot(right_eye[0] - left_eye[0], right_eye[1] - left_eye[1])
    assert abs((rx - lx) - distance) < 1.5  # rotation only, no scaling (side 60 = 50 * 1.2)
    # Rotation about the box centre (50, 50), which lands on the crop centre (30, 30): the rotation
    # R with R (30, 12) = (|d|, 0) takes the eye midpoint's offset (0, -4) to (-4 * 12, -4 * 30) / |d|.
    expected_mid = (30 - 4 * 12 / distance, 30 - 4 * 30 / distance)
    assert abs((lx + rx) / 2 - expected_mid[0]) < 0.5 and abs((ly + ry) / 2 - expected_mid[1]) < 0.5
    unaligned = crop_face(frame, box, size=60, margin=0.2)
    _, _, _, centroids = cv2.connectedComponentsWithStats((unaligned[..., 0] > 127).astype(np.uint8))
    assert abs(centroids[1][1] - centroids[2][1]) > 10


def test_cropper_arguments_are_checked():
    detector = TableDetector({})
    for kwargs, name in [
        ({"detect_every": 0}, "detect_every"),
        ({"size": 0}, "size"),
        ({"margin": -0.1}, "margin"),
        ({"no_face_policy": "skip"}, "no_face_policy"),
        ({"batch_size": 0}, "batch_size"),
        ({"detect_max_side": 8}, "detect_max_side"),
    ]:
        with pytest.raises(ValueError, match=name):
            FaceCropper(detector, **kwargs)
    with pytest.raises(ValueError, match="detector"):
        FaceCropper("dlib")
    with pytest.raises(ValueError, match="detector"):
        FaceCropper(object())


def test_haar_without_keypoints_cannot_align():
    class NoKeypoints:
        provides_keypoints = False

        def detect(self, images):
            return [[] for _ in images]

    with pytest.raises(ValueError, match="align"):
        FaceCropper(NoKeypoints(), align=True)


def test_missing_haar_cascade_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.xml.*cascade_path"):
        HaarDetector(cascade_path=str(tmp_path / "missing.xml"))


@pytest.mark.skipif(not os.path.isfile(HAAR_CASCADE),
                    reason="this OpenCV wheel ships no Haar cascades (OpenCV 5); setup.cfg pins 4.x, which does")
def test_haar_finds_real_faces():
    single = cv2.cvtColor(cv2.imread(SINGLE_FACE_JPG), cv2.COLOR_BGR2RGB)
    multi = cv2.cvtColor(cv2.imread(MULTI_FACE_JPG), cv2.COLOR_BGR2RGB)
    found_single, found_multi = HaarDetector().detect([single, multi])
    assert len(found_single) == 1
    assert len(found_multi) >= 3  # five people, some turned
    with pytest.raises(ValueError, match="align"):
        FaceCropper("haar", align=True)


# ----------------------------------------------------------------------------- real videos, MTCNN


def test_video_without_any_face_raises_naming_it():
    for policy in ("hold", "interpolate", "drop"):
        with pytest.raises(NoFaceError, match=r"no_face\.mp4: no face found in any of its 95"):
            FaceCropper("mtcnn", detect_every=60, no_face_policy=policy).track(NO_FACE_MP4)


class CachingDetector:
    """MTCNN, detecting each distinct frame once across the tests of a module."""

    provides_keypoints = True

    def __init__(self):
        self.detector = MTCNNDetector()
        self.cache = {}

    def detect(self, images):
        keys = [hashlib.sha1(image.tobytes()).hexdigest() for image in images]
        todo = [(key, image) for key, image in zip(keys, images) if key not in self.cache]
        for (key, _), faces in zip(todo, self.detector.detect([image for _, image in todo])):
            self.cache[key] = faces
        return [self.cache[key] for key in keys]


@pytest.fixture(scope="module")
def caching_mtcnn():
    return CachingDetector()


def _raw_mtcnn_face_count(index, path=MOV):
    """Faces scored >= 0.9 by the mtcnn package itself on one frame."""
    reader = VideoReader(path)
    _, frame = next(reader.iter_frames([index]))
    raw = MTCNNDetector().networks().detect_faces(frame)
    return sum(face["confidence"] >= 0.9 for face in raw)


@pytest.mark.slow
def test_no_face_policies_on_face_then_cartoon_video(caching_mtcnn):
    n_frames = count_frames(MOV)
    tracks = {policy: FaceCropper(caching_mtcnn, detect_every=10, no_face_policy=policy).track(MOV)
              for policy in ("hold", "interpolate", "drop")}
    missing = tracks["hold"].no_face_indices
    first_missing = missing[0]
    # The man, then the cartoon till the end: one contiguous block without a face.
    assert missing == list(range(first_missing, n_frames))
    assert 30 <= first_missing <= n_frames - 30
    assert _raw_mtcnn_face_count(first_missing - 1) == 1 and _raw_mtcnn_face_count(first_missing) == 0

    hold = tracks["hold"]
    assert set(hold.filled.values()) == {"held"} and len(hold.kept_indices) == n_frames
    np.testing.assert_allclose(hold.boxes[first_missing:], np.repeat(hold.boxes[[first_missing - 1]], len(missing), 0))
    interpolate = tracks["interpolate"]  # no face after the gap: held as well
    assert interpolate.filled == hold.filled
    np.testing.assert_allclose(interpolate.boxes, hold.boxes)
    drop = tracks["drop"]
    assert drop.dropped_indices == missing and drop.kept_indices == list(range(first_missing))
    crops = [index for index, _ in FaceCropper(caching_mtcnn, no_face_policy="drop").iter_crops(MOV, drop)]
    assert crops == list(range(first_missing))


def _check_face_inside(crop, raw_faces):
    """The crop shows one face whose keypoints sit where a face's do."""
    faces = [face for face in raw_faces if face["confidence"] >= 0.9]
    assert len(faces) == 1
    size = crop.shape[0]
    points = {name: np.array(point, float) / size for name, point in faces[0]["keypoints"].items()}
    for name, (x, y) in points.items():
        assert 0.05 < x < 0.95 and 0.05 < y < 0.95, name
    assert points["left_eye"][0] < points["nose"][0] < points["right_eye"][0]
    eyes_y = (points["left_eye"][1] + points["right_eye"][1]) / 2
    mouth_y = (points["mouth_left"][1] + points["mouth_right"][1]) / 2
    assert 0.2 < eyes_y < 0.5 and eyes_y < points["nose"][1] < mouth_y < 0.9
    x, y, width, height = faces[0]["box"]
    assert 0.5 < max(width, height) / size < 1.0  # the face fills most of the crop (margin 25 %)
    return points


@pytest.mark.slow
def test_aligned_crops_of_a_crema_d_clip_have_level_eyes():
    cropper = FaceCropper("mtcnn", detect_every=8, align=True, size=224)
    crops, track = cropper.crop_video(FLV)
    assert crops.shape == (count_frames(FLV), 224, 224, 3) and track.no_face_indices == []
    network = MTCNNDetector().networks()
    for index in (0, len(crops) // 2, len(crops) - 1):
        points = _check_face_inside(crops[index], network.detect_faces(crops[index]))
        assert abs(points["left_eye"][1] - points["right_eye"][1]) * 224 < 4
