"""BlazeFace: anchors, decoding and weighted NMS against loop references; keypoints for alignment; real clips.

The references below are written as plain loops over MediaPipe's documented
rules, independent of the vectorised code. Real clips: every clip in
``tests/fixtures/real_faces`` against MTCNN (share of frames with a face, box
IoU, eyes), and the clips without a face stay without one.
"""
import glob
import os

import numpy as np
import pytest

from data_prep import blazeface
from data_prep.blazeface import anchor_centres, decode, weighted_nms
from data_prep.faces import BlazeFaceDetector, Face, FaceCropper, MTCNNDetector, NoFaceError, get_detector
from data_prep.prepare import PrepareOptions
from data_prep.video import VideoReader

DATA = os.path.join(os.path.dirname(__file__), "..", "fixtures", "real_faces")
FACE_CLIPS = sorted(glob.glob(os.path.join(DATA, "crema-d", "*.flv"))) + [
    os.path.join(DATA, "pyfeat", "single_face.mp4"), os.path.join(DATA, "pyfeat", "WolfgangLanger_Pexels.mp4")]
NO_FACE_MP4 = os.path.join(DATA, "pyfeat", "no_face.mp4")
MOV = os.path.join(DATA, "pyfeat", "face_noface.mov")


def _reference_anchors(size, levels):
    anchors = []
    for stride, per_cell in levels:
        cells = int(np.ceil(size / stride))
        for y in range(cells):
            for x in range(cells):
                anchors.extend([((x + 0.5) / cells, (y + 0.5) / cells)] * per_cell)
    return np.array(anchors)


@pytest.mark.parametrize("model, count", [("short", 896), ("full", 2304)])
def test_anchors_match_the_models_outputs(model, count):
    _, size, levels = blazeface.BLAZEFACE_MODELS[model]
    anchors = anchor_centres(size, levels)
    assert anchors.shape == (count, 2)
    np.testing.assert_allclose(anchors, _reference_anchors(size, levels))


def test_decode_against_a_loop_reference():
    rng = np.random.default_rng(0)
    anchors = rng.uniform(0, 1, (7, 2))
    raw = rng.normal(0, 20, (7, 16))
    logits = rng.normal(0, 3, 7)
    boxes, keypoints, scores = decode(raw, logits, anchors, 128)
    for i in range(7):
        cx, cy = raw[i, 0] / 128 + anchors[i, 0], raw[i, 1] / 128 + anchors[i, 1]
        w, h = raw[i, 2] / 128, raw[i, 3] / 128
        np.testing.assert_allclose(boxes[i], [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
        for k in range(6):
            np.testing.assert_allclose(keypoints[i, k], raw[i, 4 + 2 * k:6 + 2 * k] / 128 + anchors[i])
        assert scores[i] == pytest.approx(1 / (1 + np.exp(-logits[i])))


def _reference_iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union


def _reference_nms(boxes, keypoints, scores, min_score, threshold):
    remaining = sorted((i for i in range(len(scores)) if scores[i] >= min_score), key=lambda i: -scores[i])
    out = []
    while remaining:
        top = remaining[0]
        group = [i for i in remaining if _reference_iou(boxes[top], boxes[i]) > threshold]
        remaining = [i for i in remaining if i not in group]
        total = sum(scores[i] for i in group)
        out.append((sum(scores[i] * boxes[i] for i in group) / total,
                    sum(scores[i] * keypoints[i] for i in group) / total, scores[top]))
    return out


def test_weighted_nms_against_a_loop_reference():
    rng = np.random.default_rng(1)
    corners = rng.uniform(0, 0.6, (40, 2))
    boxes = np.concatenate([corners, corners + rng.uniform(0.2, 0.4, (40, 2))], axis=1)
    keypoints = rng.uniform(0, 1, (40, 6, 2))
    scores = rng.uniform(0, 1, 40)
    got = weighted_nms(boxes, keypoints, scores, 0.5, 0.3)
    want = _reference_nms(boxes, keypoints, scores, 0.5, 0.3)
    assert len(got) == len(want) > 1
    for (box, points, score), (ref_box, ref_points, ref_score) in zip(got, want):
        np.testing.assert_allclose(box, ref_box)
        np.testing.assert_allclose(points, ref_points)
        assert score == ref_score


def test_weighted_nms_merges_overlaps_by_score():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60], [0, 0, 10, 10]], float)
    keypoints = np.zeros((4, 6, 2))
    scores = np.array([0.9, 0.6, 0.8, 0.4])  # the last is below min_score
    faces = weighted_nms(boxes, keypoints, scores, 0.5, 0.3)
    assert [score for _, _, score in faces] == [0.9, 0.8]
    np.testing.assert_allclose(faces[0][0], [0.4, 0, 10.4, 10])  # (0.9 * 0 + 0.6 * 1) / 1.5
    np.testing.assert_allclose(faces[1][0], boxes[2])


class SixPointDetector:
    """One face per frame with six keypoints (BlazeFace's layout): the track keeps all six."""

    provides_keypoints = True
    keypoint_names = blazeface.BLAZEFACE_KEYPOINTS

    def detect(self, images):
        points = np.arange(12, dtype=float).reshape(6, 2)
        return [[Face((1.0, 1.0, 9.0, 9.0), 0.9, points)] for _ in images]


def test_track_keeps_every_keypoint_of_the_detector(tmp_path):
    reader_frames = np.zeros((3, 12, 12, 3), np.uint8)
    folder = tmp_path / "frames"
    folder.mkdir()
    import cv2

    for i, frame in enumerate(reader_frames):
        cv2.imwrite(str(folder / f"{i:03d}.png"), frame)
    track = FaceCropper(SixPointDetector(), detect_every=2).track(str(folder))
    assert track.keypoints.shape == (3, 6, 2)
    np.testing.assert_allclose(track.keypoints[1], np.arange(12).reshape(6, 2))


def test_blazeface_can_align_and_is_a_prepare_option():
    assert get_detector("blazeface").model == "short" and get_detector("blazeface_full").model == "full"
    options = PrepareOptions(detector="blazeface", align=True)
    assert options.cropper().align
    with pytest.raises(ValueError, match="received detector='haar'"):
        PrepareOptions(detector="haar", align=True)
    with pytest.raises(ValueError, match="received model='medium'"):
        BlazeFaceDetector("medium")


def _largest(faces):
    return [max(found, key=lambda face: face.area) if found else None for found in faces]


def _frames(path, every):
    reader = VideoReader(path)
    return [frame for _, frame in reader.iter_frames(range(0, reader.info.n_frames, every))]


@pytest.mark.parametrize("model", ["short", "full"])
def test_keypoints_are_eyes_nose_mouth_ears_in_image_order(model):
    frame = _frames(FACE_CLIPS[0], 30)[0]
    face = _largest(BlazeFaceDetector(model).detect([frame]))[0]
    left_eye, right_eye, nose, mouth, left_ear, right_ear = face.keypoints
    assert left_ear[0] < left_eye[0] < nose[0] < right_eye[0] < right_ear[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < mouth[1] < face.box[3]
    mtcnn = _largest(MTCNNDetector().detect([frame]))[0]
    inter_ocular = np.linalg.norm(mtcnn.keypoints[0] - mtcnn.keypoints[1])
    assert np.linalg.norm(face.keypoints[:3] - mtcnn.keypoints[:3], axis=1).max() < 0.15 * inter_ocular


@pytest.mark.slow
def test_blazeface_finds_the_faces_mtcnn_finds_on_every_real_clip():
    """Every 6th frame of each face clip against MTCNN: the frames with a face, box IoU, eye keypoints.

    Short range: a face on every frame where MTCNN finds one (on the crying and laughing clip also on a few with a
    hand over the face, where MTCNN finds none). Full range, at 0.75: 88 % of the frames of that clip (its scores
    drop to 0.62 behind the hand), all of the others. Boxes: IoU >= 0.55, mean >= 0.65 (BlazeFace's boxes are
    square, 1.25 times smaller and lower: brows to chin); the eyes' mean distance to MTCNN's within 25 % (10 % on
    average) of MTCNN's inter-ocular distance.
    """
    mtcnn, short, full = MTCNNDetector(), BlazeFaceDetector("short"), BlazeFaceDetector("full")
    for path in FACE_CLIPS:
        frames = _frames(path, 6)
        reference = _largest(mtcnn.detect(frames))
        for detector in (short, full):
            found = _largest(detector.detect(frames))
            both = [r is not None and f is not None for r, f in zip(reference, found)]
            only = sum(f is not None and r is None for r, f in zip(reference, found))
            minimum = 1.0 if detector.model == "short" else 0.85
            assert sum(both) >= minimum * sum(r is not None for r in reference) and only <= 0.02 * len(frames), path
            pairs = [(r, f) for r, f, ok in zip(reference, found, both) if ok]
            ious = [blazeface._iou(np.array(f.box), np.array([r.box]))[0] for r, f in pairs]
            assert min(ious) >= 0.55 and np.mean(ious) >= 0.65, (path, detector.model, min(ious))
            eyes = [np.linalg.norm(f.keypoints[:2] - r.keypoints[:2], axis=1).mean()
                    / np.linalg.norm(r.keypoints[0] - r.keypoints[1]) for r, f in pairs]
            assert max(eyes) < 0.25 and np.mean(eyes) < 0.1, (path, detector.model, max(eyes))


@pytest.mark.parametrize("name", ["blazeface", "blazeface_full"])
def test_no_face_clips_stay_without_a_face(name):
    with pytest.raises(NoFaceError, match=r"no_face\.mp4: no face found in any of its 95"):
        FaceCropper(name).track(NO_FACE_MP4)
    track = FaceCropper(name).track(MOV)
    missing = track.no_face_indices
    # The man, then the cartoon till the end: one block without a face, where MTCNN's starts (frame 71 to 75).
    assert missing == list(range(missing[0], track.frame_indices[-1] + 1)) and 60 <= missing[0] <= 85
