"""Optical flow: known translations of a synthetic texture, zero motion, shapes, normalisation, real frames."""
from pathlib import Path

import cv2
import numpy as np
import pytest

from data_prep.flow import FLOW_METHODS, FlowEstimator, compute_flow, flow_sequence, flow_to_rgb, normalize_flow
from data_prep.video import read_frames

REAL_VIDEO = Path(__file__).resolve().parents[1] / "fixtures" / "real_faces" / "pyfeat" / "single_face.mp4"
SIZE = 64
BORDER = 12  # pixels ignored at each edge (wrap-around seam of np.roll, border effects of the estimators)


def _texture(seed=0):
    """A smooth random texture, (SIZE, SIZE) uint8: the kind of image dense flow can track everywhere."""
    noise = np.random.default_rng(seed).random((SIZE, SIZE)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 2.0)
    return np.rint(255 * (smooth - smooth.min()) / (smooth.max() - smooth.min())).astype(np.uint8)


def _shifted(image, dx, dy):
    """``image`` moved by (dx, dy) pixels: shifted[y + dy, x + dx] = image[y, x]."""
    return np.roll(image, shift=(dy, dx), axis=(0, 1))


def _interior(flow):
    return flow[BORDER:-BORDER, BORDER:-BORDER]


@pytest.mark.parametrize("method", FLOW_METHODS)
@pytest.mark.parametrize("dx, dy", [(2, 1), (-1, 3)])
def test_translation_is_recovered(method, dx, dy):
    image = _texture()
    flow = compute_flow(image, _shifted(image, dx, dy), method=method)
    assert flow.shape == (SIZE, SIZE, 2) and flow.dtype == np.float32
    mean = _interior(flow).reshape(-1, 2).mean(axis=0)
    np.testing.assert_allclose(mean, [dx, dy], atol=0.1)
    # Not only on average: nearly every interior pixel moves by (dx, dy).
    errors = np.linalg.norm(_interior(flow) - np.array([dx, dy], np.float32), axis=-1)
    assert np.mean(errors < 0.5) > 0.95


@pytest.mark.parametrize("method", FLOW_METHODS)
def test_identical_frames_give_zero_flow(method):
    image = _texture(seed=1)
    flow = compute_flow(image, image, method=method)
    assert np.abs(_interior(flow)).max() < 0.01
    assert np.abs(flow).mean() < 0.01  # Farneback leaves a few hundredths of a pixel at the image corners


def test_rgb_and_float_frames_match_grey_uint8():
    grey = _texture(seed=2)
    moved = _shifted(grey, 1, 2)
    rgb = np.repeat(grey[..., None], 3, axis=-1)  # equal channels: grey is unchanged by the conversion
    rgb_moved = np.repeat(moved[..., None], 3, axis=-1)
    expected = compute_flow(grey, moved, method="farneback")
    np.testing.assert_allclose(compute_flow(rgb, rgb_moved, method="farneback"), expected)
    np.testing.assert_allclose(
        compute_flow(grey.astype(np.float32), moved.astype(np.float64)[..., None], method="farneback"), expected
    )


def test_flow_sequence_streams_adjacent_pairs():
    image = _texture(seed=3)
    shifts = [(0, 0), (1, 0), (3, 1), (2, 3)]  # cumulative positions of the texture
    frames = (_shifted(image, dx, dy) for dx, dy in shifts)  # a generator, like a video decoder
    fields = flow_sequence(frames, method="dis")
    assert iter(fields) is fields  # lazy: nothing computed before it is asked for
    fields = list(fields)
    assert len(fields) == len(shifts) - 1
    for (x0, y0), (x1, y1), flow in zip(shifts, shifts[1:], fields):
        assert flow.shape == (SIZE, SIZE, 2)
        np.testing.assert_allclose(_interior(flow).reshape(-1, 2).mean(axis=0), [x1 - x0, y1 - y0], atol=0.1)


def test_flow_sequence_of_one_frame_is_empty():
    assert list(flow_sequence([_texture()])) == []


def test_estimator_is_reusable():
    estimator = FlowEstimator("dis", dis_preset="fast")
    image = _texture(seed=4)
    first = estimator(image, _shifted(image, 1, 1))
    np.testing.assert_array_equal(first, estimator(image, _shifted(image, 1, 1)))


def test_flow_errors():
    image = _texture()
    with pytest.raises(ValueError, match="method"):
        compute_flow(image, image, method="flownet2")
    with pytest.raises(ValueError, match="dis_preset"):
        compute_flow(image, image, dis_preset="slow")
    with pytest.raises(ValueError, match="same size"):
        compute_flow(image, image[:32], method="farneback")
    with pytest.raises(ValueError, match="prev_frame"):
        compute_flow(np.zeros((8, 8, 4), np.uint8), image)
    with pytest.raises(ValueError, match="at least 12"):
        compute_flow(np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8), method="dis")
    with pytest.raises(ValueError, match=r"frames\[1\]"):
        list(flow_sequence([image, np.zeros((4,), np.uint8)]))


def test_tvl1_without_contrib_modules_says_what_to_install(monkeypatch):
    monkeypatch.delattr(cv2, "optflow", raising=False)
    with pytest.raises(ImportError, match="opencv-contrib-python-headless"):
        FlowEstimator("tvl1")
    assert FlowEstimator("dis").method == "dis"  # the other methods need no contrib module


def test_normalize_flow_against_formula():
    flow = np.array([[[-30.0, -10.0], [0.0, 10.0], [30.0, 5.0]]])  # (1, 3, 2)
    # Clipped to +-20, then / 20.
    np.testing.assert_allclose(normalize_flow(flow, bound=20.0), [[[-1.0, -0.5], [0.0, 0.5], [1.0, 0.25]]])
    # TSN images: 255 * (f + 20) / 40, rounded: -20 -> 0, -10 -> 63.75, 0 -> 127.5, 10 -> 191.25, 5 -> 159.375.
    encoded = normalize_flow(flow, bound=20.0, output="uint8")
    assert encoded.dtype == np.uint8
    np.testing.assert_array_equal(encoded, [[[0, 64], [128, 191], [255, 159]]])
    # A smaller bound for micro-expressions.
    np.testing.assert_allclose(normalize_flow(np.array([0.5, -4.0]), bound=2.0), [0.25, -1.0])


def test_normalize_flow_errors():
    with pytest.raises(ValueError, match="bound"):
        normalize_flow(np.zeros(2), bound=0)
    with pytest.raises(ValueError, match="output"):
        normalize_flow(np.zeros(2), output="int8")


def test_flow_to_rgb_colour_coding():
    # Right = hue 0 (red), down = 90 degrees (hue 45 in OpenCV: yellow-green), left = 180 degrees (cyan).
    flow = np.array([[[2.0, 0.0], [0.0, 2.0], [-2.0, 0.0], [0.0, 0.0], [1.0, 0.0]]], np.float32)  # (1, 5, 2)
    rgb = flow_to_rgb(flow, bound=2.0)
    assert rgb.shape == (1, 5, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(rgb[0, 2], [0, 255, 255])
    np.testing.assert_array_equal(rgb[0, 3], [0, 0, 0])  # no motion: black
    assert rgb[0, 4, 0] in (127, 128) and rgb[0, 4, 1] == 0  # half the bound: half brightness
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    assert hsv[0, 1, 0] == 45  # down
    # Without a bound the largest motion is full brightness.
    np.testing.assert_array_equal(flow_to_rgb(flow)[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(flow_to_rgb(np.zeros((2, 2, 2))), np.zeros((2, 2, 3)))


def _read_real_frames(count):
    return list(read_frames(str(REAL_VIDEO), range(count)))


@pytest.mark.slow
@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_real_video_frames_give_finite_flow(method):
    frames = _read_real_frames(4)
    assert len(frames) == 4, f"could not read {REAL_VIDEO}"
    height, width = frames[0].shape[:2]
    fields = list(flow_sequence(frames, method=method))
    assert len(fields) == 3
    for flow in fields:
        assert flow.shape == (height, width, 2)
        assert np.all(np.isfinite(flow))
        # A webcam clip: the head moves a little between frames, never across the picture.
        assert np.abs(flow).max() < max(height, width) / 4
    encoded = normalize_flow(np.stack(fields), output="uint8")
    assert encoded.shape == (3, height, width, 2)


@pytest.mark.slow
def test_real_video_frames_tvl1_on_a_small_crop():
    frames = [cv2.resize(frame, (96, 54)) for frame in _read_real_frames(2)]
    flow = compute_flow(frames[0], frames[1], method="tvl1")
    assert flow.shape == (54, 96, 2) and np.all(np.isfinite(flow))


def test_readme_flow_example():
    import numpy as np

    from data_prep.flow import flow_sequence, normalize_flow

    frames = np.random.default_rng(0).integers(0, 256, size=(20, 32, 32, 3), dtype=np.uint8)
    flows = np.stack(list(flow_sequence(frames, method="dis")))  # (19, 32, 32, 2) float32, pixels
    cnn_input = normalize_flow(flows, bound=20.0)  # in [-1, 1]

    assert flows.shape == (19, 32, 32, 2)
    assert cnn_input.min() >= -1.0 and cnn_input.max() <= 1.0
