"""Decoding: every real format, true frame counts, seek versus decode-and-skip, frame folders, bad files.

Expected frames come from an independent plain OpenCV decoding loop written
here (``_decode_all``), frame counts from the test data's README, and colours
from frames the tests write themselves.
"""
import inspect
import os
import tracemalloc

import cv2
import numpy as np
import pytest

from data_prep.video import (
    FrameGapError,
    VideoError,
    VideoReader,
    count_frames,
    is_frame_folder,
    iter_frames,
    list_frame_files,
    probe_video,
    read_frames,
)

DATA = os.path.join(os.path.dirname(__file__), "..", "fixtures", "real_faces")
FLV = os.path.join(DATA, "crema-d", "1001_DFA_HAP_XX.flv")
MP4 = os.path.join(DATA, "pyfeat", "single_face.mp4")
LONG_MP4 = os.path.join(DATA, "pyfeat", "WolfgangLanger_Pexels.mp4")
MOV = os.path.join(DATA, "pyfeat", "face_noface.mov")
NO_FACE_MP4 = os.path.join(DATA, "pyfeat", "no_face.mp4")

# Frame counts from tests/fixtures/real_faces/README.md; codec tags as FFmpeg names them.
REAL_VIDEOS = [
    (FLV, 56, b"vp6f"),
    (MP4, 72, b"h264"),
    (LONG_MP4, 472, b"h264"),
    (MOV, 169, b"hevc"),
    (NO_FACE_MP4, 95, b"h264"),
]


def _decode_all(path):
    """Every frame by a plain sequential OpenCV loop, as RGB."""
    capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    return frames


def _decode_at(path, wanted):
    """{index: RGB frame} for the wanted indices, by a plain sequential OpenCV loop."""
    capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    frames, index = {}, 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if index in wanted:
            frames[index] = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        index += 1
    capture.release()
    return frames


def _fourcc(path):
    capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    code = int(capture.get(cv2.CAP_PROP_FOURCC))
    capture.release()
    return code.to_bytes(4, "little").lower()


@pytest.mark.parametrize("path, n_frames, codec", REAL_VIDEOS, ids=lambda v: os.path.basename(str(v)))
def test_decodes_every_real_format(path, n_frames, codec):
    assert _fourcc(path) == codec
    info = probe_video(path)
    assert info.n_frames == n_frames
    assert not info.is_frame_folder
    first = next(iter_frames(path, [0]))
    index, frame = first
    assert index == 0 and frame.dtype == np.uint8 and frame.shape == (info.height, info.width, 3)


def test_avi_mjpeg_decodes_as_rgb(tmp_path):
    # Pure colours survive MJPEG almost exactly; BGR red (0, 0, 255) must come back as RGB red.
    path = str(tmp_path / "colours.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 25, (64, 48))
    bgr_colours = [(0, 0, 255), (0, 255, 0), (255, 0, 0), (0, 0, 255), (0, 255, 0)]
    for colour in bgr_colours:
        writer.write(np.full((48, 64, 3), colour, np.uint8))
    writer.release()
    frames = [frame for _, frame in iter_frames(path)]
    assert len(frames) == count_frames(path) == 5
    for frame, colour in zip(frames, bgr_colours):
        np.testing.assert_allclose(frame.reshape(-1, 3).mean(axis=0), colour[::-1], atol=6)


def test_frames_match_a_plain_opencv_decode():
    expected = _decode_all(FLV)
    frames = [frame for _, frame in iter_frames(FLV)]
    assert len(frames) == len(expected)
    for got, want in zip(frames, expected):
        np.testing.assert_array_equal(got, want)


def test_count_frames_decodes_when_metadata_lies():
    capture = cv2.VideoCapture(NO_FACE_MP4, cv2.CAP_FFMPEG)
    claimed = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    decoded = len(_decode_all(NO_FACE_MP4))
    assert claimed == 98 and decoded == 95  # the container overstates its length
    assert count_frames(NO_FACE_MP4) == decoded
    assert probe_video(NO_FACE_MP4).metadata_frames == claimed


def test_iter_frames_is_a_stream_with_flat_memory():
    frames = iter_frames(LONG_MP4)
    assert inspect.isgenerator(frames)
    frame_bytes = 360 * 640 * 3
    tracemalloc.start()
    try:
        count = 0
        for _, _frame in frames:
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 472
    # Holding the video would take 472 frames; a stream holds a few.
    assert peak < 8 * frame_bytes


@pytest.mark.parametrize("path", [FLV, MP4, LONG_MP4, MOV, NO_FACE_MP4], ids=os.path.basename)
def test_seek_and_decode_and_skip_give_identical_frames(path):
    n = count_frames(path)
    wanted = sorted({0, 2, 20, 21, 40, n // 2, n - 3, n - 1})
    skipping = VideoReader(path)
    by_skipping = dict(skipping.iter_frames(wanted, seek=False))
    seeking = VideoReader(path)
    by_seeking = dict(seeking.iter_frames(wanted, seek=True))
    assert skipping.seeks == 0
    assert seeking.seeks + seeking.failed_seeks > 0  # the seek path ran
    expected = _decode_at(path, set(wanted))
    for index in wanted:
        np.testing.assert_array_equal(by_skipping[index], expected[index])
        np.testing.assert_array_equal(by_seeking[index], expected[index])


def test_frame_seek_is_wrong_in_the_variable_rate_mov_and_is_caught():
    # OpenCV's own frame seek lands late in this file; the reader must notice and fall back.
    expected = _decode_at(MOV, {30, 90, 150})
    capture = cv2.VideoCapture(MOV, cv2.CAP_FFMPEG)
    capture.set(cv2.CAP_PROP_POS_FRAMES, 90)
    _, raw = capture.read()
    capture.release()
    assert not np.array_equal(cv2.cvtColor(raw, cv2.COLOR_BGR2RGB), expected[90])
    reader = VideoReader(MOV)
    frames = dict(reader.iter_frames([30, 90, 150], seek="auto"))
    assert reader.failed_seeks >= 1
    for index in (30, 90, 150):
        np.testing.assert_array_equal(frames[index], expected[index])


def test_read_frames_keeps_the_requested_order_and_repeats():
    expected = _decode_at(MP4, {5, 30, 70})
    frames = read_frames(MP4, [30, 5, 30, 70])
    assert frames.shape == (4, 360, 640, 3)
    for got, index in zip(frames, [30, 5, 30, 70]):
        np.testing.assert_array_equal(got, expected[index])


def test_index_outside_the_video_names_the_file():
    with pytest.raises(VideoError, match=r"single_face\.mp4.*outside 0\.\.71"):
        read_frames(MP4, [72])


# ----------------------------------------------------------------------------- frame folders


def _write_folder(folder, numbers, name="S005_001_{:08d}.png", size=(12, 16)):
    """PNG frames whose red channel is the frame number; returns {number: RGB frame}."""
    os.makedirs(folder, exist_ok=True)
    frames = {}
    for number in numbers:
        rgb = np.zeros(size + (3,), np.uint8)
        rgb[..., 0] = number
        rgb[..., 1] = 255 - number
        cv2.imwrite(os.path.join(folder, name.format(number)), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        frames[number] = rgb
    return frames


def test_frame_folder_in_natural_numeric_order(tmp_path):
    folder = str(tmp_path / "S005" / "001")
    written = _write_folder(folder, range(1, 13), name="img{}.png")  # img10 sorts before img2 as text
    open(os.path.join(folder, "notes.txt"), "w").close()
    assert is_frame_folder(folder)
    files = list_frame_files(folder)
    assert [os.path.basename(f) for f in files] == [f"img{n}.png" for n in range(1, 13)]
    info = probe_video(folder)
    assert (info.n_frames, info.width, info.height, info.fps) == (12, 16, 12, None)
    frames = [frame for _, frame in iter_frames(folder)]
    for frame, number in zip(frames, range(1, 13)):
        np.testing.assert_array_equal(frame, written[number])
    np.testing.assert_array_equal(read_frames(folder, [11, 0]), np.stack([written[12], written[1]]))


def test_ck_plus_names_and_grey_images(tmp_path):
    folder = str(tmp_path / "S005_001")
    os.makedirs(folder)
    for number in range(1, 4):
        grey = np.full((10, 8), 10 * number, np.uint8)
        cv2.imwrite(os.path.join(folder, f"S005_001_{number:08d}.png"), grey)
    frames = [frame for _, frame in iter_frames(folder)]
    assert [f.shape for f in frames] == [(10, 8, 3)] * 3
    assert [int(f[0, 0, 0]) for f in frames] == [10, 20, 30]
    assert VideoReader(folder, fps=30).info.fps == 30


def test_gap_in_numbering_names_the_folder_and_the_missing_numbers(tmp_path):
    folder = str(tmp_path / "S010_004")
    _write_folder(folder, [1, 2, 4, 5, 6, 8])
    with pytest.raises(FrameGapError, match=r"S010_004.*3, 7 missing") as caught:
        count_frames(folder)
    assert caught.value.missing == [3, 7]


def test_duplicate_frame_number_and_unnumbered_image_are_errors(tmp_path):
    duplicate = str(tmp_path / "duplicate")
    _write_folder(duplicate, [1, 2], name="a{:d}.png")
    _write_folder(duplicate, [2], name="b{:03d}.png")
    with pytest.raises(VideoError, match="same frame number 2"):
        count_frames(duplicate)
    unnumbered = str(tmp_path / "unnumbered")
    _write_folder(unnumbered, [1], name="frame{}.png")
    _write_folder(unnumbered, [0], name="cover.png")
    with pytest.raises(VideoError, match="cover.png.*no frame number"):
        count_frames(unnumbered)


def test_frame_of_another_size_is_an_error_naming_it(tmp_path):
    folder = str(tmp_path / "sizes")
    _write_folder(folder, [1, 2])
    _write_folder(folder, [3], size=(20, 20))
    with pytest.raises(VideoError, match=r"S005_001_00000003\.png.*differs"):
        list(iter_frames(folder))


# ----------------------------------------------------------------------------- bad files


def _copy_truncated(source, target, fraction):
    with open(source, "rb") as handle:
        data = handle.read()
    with open(target, "wb") as handle:
        handle.write(data[: int(len(data) * fraction)])
    return target


def test_bad_files_raise_errors_naming_the_file(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 40_000, dtype=np.uint8).tobytes())
    truncated_mp4 = _copy_truncated(MP4, str(tmp_path / "half.mp4"), 0.5)
    truncated_flv = _copy_truncated(FLV, str(tmp_path / "half.flv"), 0.5)
    zero_frames = str(tmp_path / "zero.avi")
    cv2.VideoWriter(zero_frames, cv2.VideoWriter_fourcc(*"MJPG"), 25, (32, 32)).release()
    cases = [
        (str(empty), "empty file"),
        (str(noise), "cannot open"),
        (truncated_mp4, "cannot open"),  # the index (moov) sits at the end of this file
        (truncated_flv, r"truncated or damaged: the container claims 56 frames but only \d+ decode"),
        (zero_frames, "no frame decodes"),
        (str(tmp_path / "missing.mp4"), "no such file"),
    ]
    for path, message in cases:
        with pytest.raises(VideoError, match=message) as caught:
            probe_video(path)
        assert caught.value.path == path
        assert str(caught.value).startswith(path)


def test_unknown_codec_is_an_error_naming_the_file(tmp_path):
    good = str(tmp_path / "good.avi")
    writer = cv2.VideoWriter(good, cv2.VideoWriter_fourcc(*"MJPG"), 25, (32, 32))
    for value in range(3):
        writer.write(np.full((32, 32, 3), 50 * value, np.uint8))
    writer.release()
    assert count_frames(good) == 3
    with open(good, "rb") as handle:
        data = handle.read()
    unknown = tmp_path / "unknown_codec.avi"
    unknown.write_bytes(data.replace(b"MJPG", b"QQQQ").replace(b"mjpg", b"qqqq"))
    with pytest.raises(VideoError, match=r"unknown_codec\.avi.*unknown codec"):
        count_frames(str(unknown))


def test_reader_arguments_are_checked():
    with pytest.raises(ValueError, match="fps"):
        VideoReader(MP4, fps=0)
    with pytest.raises(ValueError, match="max_missing_fraction"):
        VideoReader(MP4, max_missing_fraction=1.5)
    with pytest.raises(ValueError, match="seek"):
        list(VideoReader(MP4).iter_frames([0], seek="sometimes"))
