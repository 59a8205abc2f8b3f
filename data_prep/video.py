"""Decode videos and folders of numbered images as a stream of RGB uint8 frames.

One reader for both kinds of source:

* video files (MP4/H.264, MOV/HEVC, AVI, FLV/VP6, MKV, WebM, ...) through
  OpenCV's FFmpeg backend;
* folders of numbered images, as CK+, Oulu-CASIA and MMI ship them
  (``S005_001_00000001.png``): frames sorted by the last number in the file
  name (natural order, so ``img2`` comes before ``img10``); a gap in the
  numbering is an error that names the folder and the missing numbers.

Frames are yielded one at a time, so memory does not grow with video length.

Container metadata can lie: ``no_face.mp4`` in the test data claims 98 frames
and decodes 95, and OpenCV's frame seek lands 4 to 7 frames late in the
variable-frame-rate HEVC ``face_noface.mov``. :func:`probe_video` therefore
counts frames by decoding them (``grab`` only, no colour conversion) and
records each frame's timestamp; reading chosen indices seeks only where it
can check the landing frame's timestamp against that record, and falls back
to decoding and skipping when a seek lands wrong.

Example:

>>> from data_prep.video import VideoReader
>>> reader = VideoReader("clip.mp4")                   # doctest: +SKIP
>>> reader.info.n_frames, reader.info.fps              # doctest: +SKIP
(72, 30.0)
>>> for index, frame in reader.iter_frames([0, 10, 20]):  # doctest: +SKIP
...     print(index, frame.shape, frame.dtype)
0 (360, 640, 3) uint8
"""

import dataclasses
import os
import re

import cv2
import numpy as np

__all__ = [
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "FrameGapError",
    "VideoError",
    "VideoInfo",
    "VideoReader",
    "count_frames",
    "is_frame_folder",
    "iter_frames",
    "list_frame_files",
    "probe_video",
    "read_frames",
]

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".avi", ".flv", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".3gp")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")

# A seek is worth its cost (decoding from the previous key frame) only past this many frames;
# nearer frames are reached faster by decoding and skipping.
_MIN_SEEK_GAP = 16
# Frame timestamps are whole milliseconds in some containers (FLV): a landing frame matches
# the probed one when their timestamps differ by less than this.
_TIMESTAMP_TOLERANCE_MS = 0.5
_NUMBER = re.compile(r"(\d+)")


class VideoError(ValueError):
    """A video or frame folder that cannot be used; the message names the file and the problem.

    Attributes:
        path: the file or folder.
        reason: the problem, without the path.
    """

    def __init__(self, path, reason):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class FrameGapError(VideoError):
    """A folder of numbered images with numbers missing.

    Attributes:
        missing: the missing frame numbers, sorted.
    """

    def __init__(self, path, missing, first, last):
        self.missing = list(missing)
        shown = ", ".join(str(n) for n in self.missing[:20])
        more = f" and {len(self.missing) - 20} more" if len(self.missing) > 20 else ""
        super().__init__(
            path,
            f"gap in the frame numbering: {shown}{more} missing (frames are numbered {first} to {last})",
        )


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What decoding a source found.

    Attributes:
        path: the video file or frame folder.
        n_frames: the true number of frames (counted by decoding).
        fps: frames per second: the container's rate for videos, the value
            given to the reader for frame folders (None when not given).
        width: frame width in pixels.
        height: frame height in pixels.
        metadata_frames: the frame count the container claims (None for frame folders).
        timestamps_ms: presentation time of every frame in milliseconds, as
            decoded (None for frame folders).
        is_frame_folder: True for a folder of numbered images.
    """

    path: str
    n_frames: int
    fps: float | None
    width: int
    height: int
    metadata_frames: int | None
    timestamps_ms: tuple | None
    is_frame_folder: bool


def is_frame_folder(path):
    """True when ``path`` is a folder that holds image files and no video file."""
    if not os.path.isdir(path):
        return False
    names = [name.lower() for name in os.listdir(path)]
    return any(n.endswith(IMAGE_EXTENSIONS) for n in names) and not any(n.endswith(VIDEO_EXTENSIONS) for n in names)


def list_frame_files(folder):
    """The image files of a frame folder in frame order, checked for gaps.

    The frame number of a file is the last run of digits in its name
    (``S005_001_00000012.png`` is frame 12). Numbering may start anywhere.

    Args:
        folder: a folder of numbered images (other files are ignored).

    Returns:
        list of full paths, sorted by frame number.

    Raises:
        VideoError: no image in the folder, an image name without a number,
            or two images with the same number.
        FrameGapError: numbers missing between the first and the last frame.
    """
    names = sorted(name for name in os.listdir(folder) if name.lower().endswith(IMAGE_EXTENSIONS))
    if not names:
        raise VideoError(folder, f"no image file ({', '.join(IMAGE_EXTENSIONS)}) in the folder")
    numbered = {}
    for name in names:
        digits = _NUMBER.findall(os.path.splitext(name)[0])
        if not digits:
            raise VideoError(folder, f"image {name!r} has no frame number in its name")
        number = int(digits[-1])
        if number in numbered:
            raise VideoError(folder, f"images {numbered[number]!r} and {name!r} have the same frame number {number}")
        numbered[number] = name
    first, last = min(numbered), max(numbered)
    if len(numbered) != last - first + 1:
        missing = sorted(set(range(first, last + 1)) - set(numbered))
        raise FrameGapError(folder, missing, first, last)
    return [os.path.join(folder, numbered[n]) for n in range(first, last + 1)]


def _read_image(path):
    """One image file as RGB uint8 (grey and 16-bit images converted)."""
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise VideoError(path, "the image cannot be read (damaged file or unsupported format)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _open_capture(path):
    """An opened FFmpeg capture, or VideoError saying why not."""
    if not os.path.exists(path):
        raise VideoError(path, "no such file")
    if os.path.getsize(path) == 0:
        raise VideoError(path, "empty file (0 bytes)")
    capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    if not capture.isOpened():
        raise VideoError(
            path,
            "FFmpeg (through OpenCV) cannot open it: not a video, an unknown codec, "
            "or a damaged or truncated container",
        )
    return capture


class VideoReader:
    """Streams the frames of a video file or a folder of numbered images as RGB uint8.

    Args:
        path: a video file or a folder of numbered images.
        fps: frame rate of a frame folder (ignored for videos, whose container
            gives it). None leaves it unknown.
        max_missing_fraction: a video whose container claims more frames than
            decode by more than this fraction (and more than 2 frames) is
            reported as truncated. Containers estimate their frame count, so
            small shortfalls are normal (``no_face.mp4``: 98 claimed, 95 decode).

    The information is probed once, lazily (one decoding pass without colour
    conversion), the first time :attr:`info` is needed.

    Attributes:
        seeks: how many seeks landed on the requested frame.
        failed_seeks: how many seeks landed elsewhere (then the reader went
            back to decoding and skipping for the rest of the call).

    Example:

    >>> reader = VideoReader("S005/001")                   # doctest: +SKIP
    >>> frames = [frame for _, frame in reader.iter_frames()]  # doctest: +SKIP
    """

    def __init__(self, path, fps=None, max_missing_fraction=0.1):
        path = os.fspath(path)
        if fps is not None and not fps > 0:
            raise ValueError(f"`fps` must be positive or None; received fps={fps!r}")
        if not 0 <= max_missing_fraction < 1:
            raise ValueError(f"`max_missing_fraction` must be in [0, 1); "
                             f"received max_missing_fraction={max_missing_fraction!r}")
        self.path = path
        self.fps = fps
        self.max_missing_fraction = max_missing_fraction
        self.seeks = 0
        self.failed_seeks = 0
        self._info = None
        self._frame_files = None

    @property
    def info(self):
        """The :class:`VideoInfo` of the source (probed on first use)."""
        if self._info is None:
            self._info = self._probe_folder() if os.path.isdir(self.path) else self._probe_video()
        return self._info

    def _probe_folder(self):
        self._frame_files = list_frame_files(self.path)
        height, width = _read_image(self._frame_files[0]).shape[:2]
        return VideoInfo(self.path, len(self._frame_files), self.fps, width, height, None, None, True)

    def _probe_video(self):
        capture = _open_capture(self.path)
        try:
            claimed = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
            fps = capture.get(cv2.CAP_PROP_FPS)
            width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
            height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
            timestamps = []
            while capture.grab():
                timestamps.append(capture.get(cv2.CAP_PROP_POS_MSEC))
        finally:
            capture.release()
        if not timestamps:
            raise VideoError(self.path, "no frame decodes (a zero-frame video, or a codec FFmpeg cannot decode)")
        claimed = claimed if claimed > 0 else None
        if claimed is not None:
            shortfall = claimed - len(timestamps)
            if shortfall > 2 and shortfall > self.max_missing_fraction * claimed:
                raise VideoError(
                    self.path,
                    f"truncated or damaged: the container claims {claimed} frames but only "
                    f"{len(timestamps)} decode",
                )
        fps = float(fps) if fps and fps > 0 else None
        return VideoInfo(self.path, len(timestamps), fps, width, height, claimed, tuple(timestamps), False)

    def _check_indices(self, indices):
        n_frames = self.info.n_frames
        if indices is None:
            return range(n_frames)
        wanted = sorted({int(i) for i in np.asarray(indices).ravel()})
        bad = [i for i in wanted if not 0 <= i < n_frames]
        if bad:
            raise VideoError(self.path, f"frame indices {bad[:10]} are outside 0..{n_frames - 1} ({n_frames} frames)")
        return wanted

    def iter_frames(self, indices=None, seek="auto"):
        """Yield ``(index, frame)`` for every frame, or for the requested ones.

        Args:
            indices: None for every frame, or frame indices (any order,
                repeats allowed); they are read once each, in increasing order.
            seek: "auto" seeks to frames more than 16 frames ahead; True seeks
                to every frame that is not the next one; False never seeks
                (decode and skip). Every landing is checked against the
                timestamps of the probe, so all three give the same frames.

        Yields:
            ``(index, frame)`` with frame an RGB uint8 array ``(H, W, 3)``.

        Raises:
            VideoError: unreadable source, an index outside the video, or a
                video that stops decoding before a requested frame.
        """
        if seek not in ("auto", True, False):
            raise ValueError(f"`seek` must be 'auto', True or False; received seek={seek!r}")
        wanted = self._check_indices(indices)
        if self.info.is_frame_folder:
            yield from self._iter_folder(wanted)
        else:
            min_gap = {"auto": _MIN_SEEK_GAP, True: 1, False: None}[seek]
            yield from self._iter_video(wanted, min_gap)

    def _iter_folder(self, wanted):
        expected_shape = (self.info.height, self.info.width, 3)
        for index in wanted:
            frame = _read_image(self._frame_files[index])
            if frame.shape != expected_shape:
                # The indices may skip frames (a sampler's): name the folder's first odd frame, not this one.
                odd, frame = next((path, image) for path in self._frame_files[1:index + 1]
                                  for image in [_read_image(path)] if image.shape != expected_shape)
                raise VideoError(
                    odd,
                    f"frame size {frame.shape[1]}x{frame.shape[0]} differs from the folder's first frame "
                    f"{os.path.basename(self._frame_files[0])} ({expected_shape[1]}x{expected_shape[0]})",
                )
            yield index, frame

    def _iter_video(self, wanted, min_gap):
        timestamps = self.info.timestamps_ms
        capture = _open_capture(self.path)
        position = 0  # index of the frame the next grab() returns
        try:
            for index in wanted:
                if min_gap is not None and index - position >= min_gap:
                    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
                    landed = capture.grab()
                    if landed and abs(capture.get(cv2.CAP_PROP_POS_MSEC) - timestamps[index]) < _TIMESTAMP_TOLERANCE_MS:
                        self.seeks += 1
                        position = index + 1
                        yield index, self._retrieve(capture, index)
                        continue
                    self.failed_seeks += 1
                    min_gap = None  # this file does not seek exactly: decode and skip from here on
                    capture.release()
                    capture = _open_capture(self.path)
                    position = 0
                while position < index:
                    if not capture.grab():
                        raise self._stopped_early(position)
                    position += 1
                if not capture.grab():
                    raise self._stopped_early(position)
                position += 1
                yield index, self._retrieve(capture, index)
        finally:
            capture.release()

    def _retrieve(self, capture, index):
        ok, frame = capture.retrieve()
        if not ok or frame is None:
            raise VideoError(self.path, f"frame {index} cannot be decoded")
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

    def _stopped_early(self, position):
        return VideoError(
            self.path, f"decoding stopped at frame {position} although the probe decoded {self.info.n_frames} frames"
        )


def probe_video(path, fps=None):
    """The :class:`VideoInfo` of a video file or frame folder (decodes the whole video once)."""
    return VideoReader(path, fps=fps).info


def count_frames(path):
    """The true number of frames of a video or frame folder, counted by decoding.

    Example:

    >>> count_frames("tests/fixtures/real_faces/pyfeat/no_face.mp4")   # doctest: +SKIP
    95
    """
    return probe_video(path).n_frames


def iter_frames(path, indices=None, seek="auto"):
    """Yield ``(index, RGB uint8 frame)`` from a video or frame folder; see :meth:`VideoReader.iter_frames`."""
    yield from VideoReader(path).iter_frames(indices, seek=seek)


def read_frames(path, indices, seek="auto"):
    """The requested frames as one array ``(len(indices), H, W, 3)`` uint8, in the order asked.

    Only the requested frames are held in memory; for whole videos prefer
    :func:`iter_frames`.
    """
    indices = [int(i) for i in np.asarray(indices).ravel()]
    reader = VideoReader(path)
    frames = dict(reader.iter_frames(indices, seek=seek))
    if not indices:
        return np.zeros((0, reader.info.height, reader.info.width, 3), np.uint8)
    return np.stack([frames[i] for i in indices])
