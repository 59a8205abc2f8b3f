"""Find the face in every frame of a video and cut a square, resized crop around it.

Detection runs on every ``detect_every``-th frame (and on the last one); the
face box of the frames between two detections is linearly interpolated in
frame index (*tracked*). When one of two neighbouring detections finds a face
and the other does not, every frame between them is detected too, so the
frames without a face are known exactly. Frames without a face then follow an
explicit policy:

| policy | a frame without a face gets |
|---|---|
| ``"hold"`` | the box of the nearest earlier face (the first face for frames before it) |
| ``"interpolate"`` | the box linearly interpolated between the nearest faces before and after (held at the ends) |
| ``"drop"`` | no crop: the frame is left out |

:class:`FaceTrack` is the per-video report: for every frame its box and its
status, one of ``detected``, ``tracked`` (a face, between detections),
``held``, ``interpolated`` or ``dropped`` (no face, filled or left out). A
video without any face raises :class:`NoFaceError`.

Detectors: ``"mtcnn"`` (default; the weights ship in the mtcnn wheel; its
networks are built once per process, as construction takes seconds) and
``"blazeface"`` / ``"blazeface_full"`` (MediaPipe's BlazeFace short and full
range models through TensorFlow Lite, :mod:`data_prep.blazeface`: about 2 and
6 ms per 640x360 frame on 2 CPU cores against MTCNN's 190 ms, with eye, nose,
mouth and ear keypoints) and
``"haar"`` (OpenCV's frontal-face Haar cascade: no keypoints, more misses on
turned faces). The papers use different detectors: AST a Haar classifier;
STCAM dlib (CK+'s own landmarks) and crops resized to 240; ECNN-FSA dlib with
alignment, the box "extended with a ratio of 25 %", 224; CEFLNet RetinaFace,
224; STANet 192. Neither dlib's nor RetinaFace's weights ship in a wheel
(nothing is downloaded at run time), so MTCNN, a CNN detector with eye
keypoints for alignment, stands in for them; ``--size`` and ``--margin``
reproduce each paper's crop size and extension.

Example:

>>> from data_prep.faces import FaceCropper
>>> cropper = FaceCropper(detector="mtcnn", detect_every=5)        # doctest: +SKIP
>>> crops, track = cropper.crop_video("single_face.mp4")            # doctest: +SKIP
>>> crops.shape, track.no_face_indices                             # doctest: +SKIP
((72, 224, 224, 3), [])
"""

import dataclasses
import math
import os

import cv2
import numpy as np

from data_prep.blazeface import BLAZEFACE_KEYPOINTS, MESH_EYE_CONTOURS, BlazeFace, FaceMesh
from data_prep.checks import check_choice, check_int
from data_prep.video import VideoReader

__all__ = [
    "DETECTORS",
    "FACE_STATUSES",
    "NO_FACE_POLICIES",
    "Face",
    "FaceCropper",
    "FaceTrack",
    "FullFrameDetector",
    "BlazeFaceDetector",
    "HaarDetector",
    "MTCNNDetector",
    "NoFaceError",
    "crop_face",
    "get_detector",
]

DETECTORS = ("mtcnn", "blazeface", "blazeface_full", "haar", "full_frame")
NO_FACE_POLICIES = ("hold", "interpolate", "drop")
FACE_STATUSES = ("detected", "tracked", "held", "interpolated", "dropped")
_NO_FACE_STATUSES = ("held", "interpolated", "dropped")
_KEYPOINT_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
#: The most pixels one detector call gets (one 3840x2160 frame; a larger frame goes alone). MTCNN's memory grows
#: with the pixels of a call (its image pyramid): `keras-fer predict` peaked at 9.6 GB with calls of 8 such frames;
#: one costs MTCNN about 0.75 GB.
MAX_DETECT_PIXELS = 3840 * 2160


class NoFaceError(ValueError):
    """No frame of a video has a face; the message names the file.

    Attributes:
        path: the video file or frame folder.
    """

    def __init__(self, path, n_frames):
        self.path = str(path)
        super().__init__(f"{self.path}: no face found in any of its {n_frames} examined frames")


@dataclasses.dataclass(frozen=True)
class Face:
    """One detected face.

    Attributes:
        box: ``(x0, y0, x1, y1)`` in pixels of the frame.
        confidence: detector score in [0, 1] (1.0 for the Haar cascade, which has none).
        keypoints: float array ``(K, 2)`` of (x, y), named by the detector's
            ``keypoint_names``, the eyes first: MTCNN's left eye, right eye, nose,
            mouth left, mouth right; BlazeFace's left eye, right eye, nose, mouth,
            left ear, right ear ("left" meaning the image's left); None when the
            detector gives none.
    """

    box: tuple
    confidence: float
    keypoints: np.ndarray | None = None

    @property
    def area(self):
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])


# One set of MTCNN networks per process and device: building them takes seconds.
_MTCNN_NETWORKS = {}


class MTCNNDetector:
    """MTCNN (Zhang et al. 2016) from the ``mtcnn`` wheel, which ships its weights.

    Args:
        min_confidence: faces scored below this are ignored. The issue does
            not say; 0.9 rejects the few low-score boxes MTCNN puts on
            cartoons and textures while real faces score above 0.95.
        min_face_size: smallest face side in pixels that is searched for.
        device: TensorFlow device, "CPU:0" or "GPU:0".

    Example:

    >>> faces = MTCNNDetector().detect([rgb_frame])[0]     # doctest: +SKIP
    """

    provides_keypoints = True
    keypoint_names = _KEYPOINT_NAMES

    def __init__(self, min_confidence=0.9, min_face_size=20, device="CPU:0"):
        if not 0 <= min_confidence <= 1:
            raise ValueError(f"`min_confidence` must be in [0, 1]; received min_confidence={min_confidence!r}")
        if not min_face_size >= 12:
            raise ValueError(f"`min_face_size` must be at least 12 pixels (MTCNN's input); "
                             f"received min_face_size={min_face_size!r}")
        self.min_confidence = min_confidence
        self.min_face_size = min_face_size
        self.device = device

    def networks(self):
        """The ``mtcnn.MTCNN`` of this process and device, built on first use and shared."""
        if self.device not in _MTCNN_NETWORKS:
            from mtcnn import MTCNN  # imports TensorFlow: only when a detector is used

            _MTCNN_NETWORKS[self.device] = MTCNN(device=self.device)
        return _MTCNN_NETWORKS[self.device]

    def detect(self, images):
        """All faces of each RGB uint8 image: a list (one per image) of lists of :class:`Face`."""
        if not images:
            return []
        results = self.networks().detect_faces(list(images), min_face_size=self.min_face_size)
        faces = []
        for found in results:
            faces.append([
                Face(
                    box=(float(d["box"][0]), float(d["box"][1]),
                         float(d["box"][0] + d["box"][2]), float(d["box"][1] + d["box"][3])),
                    confidence=float(d["confidence"]),
                    keypoints=np.array([d["keypoints"][name] for name in _KEYPOINT_NAMES], dtype=np.float64),
                )
                for d in found
                if d["confidence"] >= self.min_confidence
            ])
        return faces


class BlazeFaceDetector:
    """MediaPipe's BlazeFace (short or full range) through TensorFlow Lite, with six keypoints.

    The model, its decoding and weighted non-maximum suppression: :mod:`data_prep.blazeface`.

    Args:
        model: "short" (faces within about 2 m; 2-3 ms per 640x360 frame on 2 CPU cores) or "full" (smaller
            faces; 6-8 ms).
        min_confidence: faces scored below this are ignored (see :class:`data_prep.blazeface.BlazeFace`).
        iou_threshold: overlap above which detections are merged (MediaPipe's weighted NMS).
        mesh_eyes: replace the two eye keypoints by the eye centres of the face mesh
            (:class:`data_prep.blazeface.FaceMesh`, about 2.5 ms more per face). BlazeFace's own eye
            keypoints are coarse: on the real clips the short range model's line through them leans
            1-5 degrees (2.7 on average) against the mesh's, and crops aligned on them lean up to 5.5 degrees;
            :class:`FaceCropper` asks for the mesh's eyes when it aligns.

    Keypoints: :data:`data_prep.blazeface.BLAZEFACE_KEYPOINTS` (eyes first, for ``align``).
    """

    provides_keypoints = True
    keypoint_names = BLAZEFACE_KEYPOINTS

    def __init__(self, model="short", min_confidence=0.75, iou_threshold=0.3, mesh_eyes=False):
        self.model = model
        self._blazeface = BlazeFace(model, min_confidence, iou_threshold)
        self._mesh = FaceMesh() if mesh_eyes else None

    def _face(self, image, box, keypoints, score):
        if self._mesh is not None:
            mesh = self._mesh.locate(image, box)
            if mesh is not None:
                keypoints = keypoints.copy()
                keypoints[:2] = [mesh[list(MESH_EYE_CONTOURS[0])].mean(0), mesh[list(MESH_EYE_CONTOURS[1])].mean(0)]
        return Face(tuple(float(v) for v in box), score, keypoints)

    def detect(self, images):
        """All faces of each RGB uint8 image: a list (one per image) of lists of :class:`Face`."""
        return [[self._face(image, *found) for found in self._blazeface.find(image)] for image in images]


class HaarDetector:
    """OpenCV's frontal-face Haar cascade (Viola-Jones): fast, no keypoints.

    Args:
        cascade_path: the cascade XML. None takes
            ``haarcascade_frontalface_default.xml`` from ``cv2.data.haarcascades``
            (shipped by opencv-contrib-python-headless 4.x; the 5.x wheels ship
            no cascades, so pass a path there).
        min_face_size: smallest face side in pixels.
        scale_factor: image pyramid step of the cascade.
        min_neighbors: overlapping hits needed to accept a face (higher: fewer
            false faces, more misses).
    """

    provides_keypoints = False

    def __init__(self, cascade_path=None, min_face_size=20, scale_factor=1.1, min_neighbors=5):
        if cascade_path is None:
            cascade_path = os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml")
        if not os.path.isfile(cascade_path):
            raise FileNotFoundError(
                f"Haar cascade {cascade_path} not found. opencv-contrib-python-headless 4.x ships it in "
                "cv2.data.haarcascades (`pip install 'opencv-contrib-python-headless<5'`); OpenCV 5 wheels "
                "do not, so pass `cascade_path` to a copy of haarcascade_frontalface_default.xml."
            )
        if not min_face_size >= 1:
            raise ValueError(f"`min_face_size` must be at least 1 pixel; received min_face_size={min_face_size!r}")
        if not scale_factor > 1:
            raise ValueError(f"`scale_factor` must be greater than 1; received scale_factor={scale_factor!r}")
        if not min_neighbors >= 0:
            raise ValueError(f"`min_neighbors` must be >= 0; received min_neighbors={min_neighbors!r}")
        self.cascade_path = cascade_path
        self.min_face_size = min_face_size
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self._cascade = cv2.CascadeClassifier(cascade_path)
        if self._cascade.empty():
            raise ValueError(f"{cascade_path}: not a readable Haar cascade XML file")

    def detect(self, images):
        """All faces of each RGB uint8 image: a list (one per image) of lists of :class:`Face`."""
        faces = []
        for image in images:
            grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
            boxes = self._cascade.detectMultiScale(
                grey, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                minSize=(self.min_face_size, self.min_face_size),
            )
            faces.append([Face((float(x), float(y), float(x + w), float(y + h)), 1.0) for x, y, w, h in boxes])
        return faces


class FullFrameDetector:
    """A "detector" for videos whose frames are already the face: one face box covering the whole frame.

    For the built-in synthetic benchmark (:mod:`data_prep.synthetic`), whose
    cartoon faces MTCNN and the Haar cascade find only on some frames: its
    frames are face-centred by construction, so the crop is the resized frame
    (use ``margin=0``) and every frame's status is ``detected``, rather than
    detections that did not happen. Non-square frames give the centred square
    of the longer side, padded with black.
    """

    provides_keypoints = False

    def detect(self, images):
        """One :class:`Face` per image, its box the whole image, confidence 1."""
        return [[Face((0.0, 0.0, float(image.shape[1]), float(image.shape[0])), 1.0)] for image in images]


def get_detector(name, align=False):
    """The built-in detector ``name`` (one of :data:`DETECTORS`) with default settings.

    ``align=True`` gives BlazeFace the face mesh's eye centres (see :class:`BlazeFaceDetector`).

    MTCNN's networks are built once per process and shared by every
    :class:`MTCNNDetector` on the same device.
    """
    if name == "mtcnn":
        return MTCNNDetector()
    if name in ("blazeface", "blazeface_full"):
        return BlazeFaceDetector("full" if name == "blazeface_full" else "short", mesh_eyes=align)
    if name == "haar":
        return HaarDetector()
    if name == "full_frame":
        return FullFrameDetector()
    raise ValueError(f"`detector` must be one of {DETECTORS} or an object with a `detect(images)` method; "
                     f"received detector={name!r}")


def crop_face(frame, box, size=224, margin=0.25, eyes=None):
    """A square crop around a face box, resized to ``size`` x ``size``.

    The square is centred on the box, its side is ``(1 + margin)`` times the
    box's longer side; parts outside the frame are black. With ``eyes`` the
    frame is first rotated about the box centre so that the eyes are level.

    ECNN-FSA extends the face box "with a ratio of 25 %" without saying
    how; we read it as the square's side growing by 25 % of the face size
    (12.5 % on each side), which keeps the chin and forehead of MTCNN's tight
    boxes while the face still fills most of the crop. The papers do not say
    what fills the crop outside the frame; we pad with black rather than
    replicate the border, which would invent facial texture.

    Args:
        frame: RGB uint8 ``(H, W, 3)``.
        box: ``(x0, y0, x1, y1)``.
        size: output side in pixels.
        margin: growth of the square's side relative to the box's longer side, >= 0.
        eyes: None, or ``((x_left, y_left), (x_right, y_right))`` eye centres
            (image left and right) to level.

    Returns:
        RGB uint8 ``(size, size, 3)``.
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    centre_x, centre_y = (x0 + x1) / 2, (y0 + y1) / 2
    side = max(1, int(round(max(x1 - x0, y1 - y0) * (1 + margin))))
    if eyes is None:
        left, top = int(round(centre_x - side / 2)), int(round(centre_y - side / 2))
        patch = np.zeros((side, side, 3), dtype=np.uint8)
        src_x0, src_y0 = max(left, 0), max(top, 0)
        src_x1, src_y1 = min(left + side, frame.shape[1]), min(top + side, frame.shape[0])
        if src_x1 > src_x0 and src_y1 > src_y0:
            patch[src_y0 - top:src_y1 - top, src_x0 - left:src_x1 - left] = frame[src_y0:src_y1, src_x0:src_x1]
    else:
        (left_x, left_y), (right_x, right_y) = eyes
        angle = math.degrees(math.atan2(right_y - left_y, right_x - left_x))
        # Rotation about the box centre by `angle` (OpenCV: counter-clockwise on screen), then shift
        # the centre to the middle of the patch.
        matrix = cv2.getRotationMatrix2D((centre_x, centre_y), angle, 1.0)
        matrix[:, 2] += (side / 2 - centre_x, side / 2 - centre_y)
        patch = cv2.warpAffine(frame, matrix, (side, side), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    if side == size:
        return patch
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interpolation)


@dataclasses.dataclass(frozen=True)
class FaceTrack:
    """The per-video face report: one box and one status per examined frame.

    Attributes:
        path: the video file or frame folder.
        frame_indices: int array ``(n,)``, the examined frames (sorted).
        boxes: float array ``(n, 4)`` of ``(x0, y0, x1, y1)``; NaN for dropped frames.
        keypoints: float array ``(n, K, 2)`` (the detector's K keypoints, eyes first) or None (detector without
            keypoints).
        statuses: tuple of n strings from :data:`FACE_STATUSES`.
        policy: the no-face policy that filled the frames without a face.
    """

    path: str
    frame_indices: np.ndarray
    boxes: np.ndarray
    keypoints: np.ndarray | None
    statuses: tuple
    policy: str

    def _indices_with(self, statuses):
        return [int(i) for i, s in zip(self.frame_indices, self.statuses) if s in statuses]

    @property
    def detected_indices(self):
        """Frames on which the detector found the face."""
        return self._indices_with(("detected",))

    @property
    def no_face_indices(self):
        """Frames without a detected or tracked face (then held, interpolated or dropped)."""
        return self._indices_with(_NO_FACE_STATUSES)

    @property
    def filled(self):
        """``{frame index: "held" or "interpolated"}`` for the frames without a face that got a box."""
        return {int(i): s for i, s in zip(self.frame_indices, self.statuses) if s in ("held", "interpolated")}

    @property
    def dropped_indices(self):
        """Frames left out (policy "drop")."""
        return self._indices_with(("dropped",))

    @property
    def kept_indices(self):
        """Frames that get a crop, in order."""
        return [int(i) for i, s in zip(self.frame_indices, self.statuses) if s != "dropped"]

    @property
    def face_share(self):
        """Share of the examined frames with a detected or tracked face."""
        return 1.0 - len(self.no_face_indices) / max(len(self.statuses), 1)

    def summary(self):
        """One line for logs: counts per status."""
        counts = ", ".join(f"{s} {self.statuses.count(s)}" for s in FACE_STATUSES if s in self.statuses)
        return f"{self.path}: {len(self.statuses)} frames ({counts}); policy {self.policy}"


def _rescaled(face, factor):
    """The face with its box and keypoints multiplied by ``factor``."""
    if factor == 1:
        return face
    keypoints = None if face.keypoints is None else face.keypoints * factor
    return Face(tuple(v * factor for v in face.box), face.confidence, keypoints)


def _interpolate(values, positions, known, where):
    """Linear interpolation in frame index of ``values[known]`` at ``where`` (boolean masks), per component."""
    known, where = np.flatnonzero(known), np.flatnonzero(where)
    flat = values.reshape(len(values), -1)
    out = np.empty((len(where), flat.shape[1]))
    for column in range(flat.shape[1]):
        out[:, column] = np.interp(positions[where], positions[known], flat[known, column])
    return out.reshape((len(where),) + values.shape[1:])


class FaceCropper:
    """Detects, tracks and crops the face of every frame of a video.

    Args:
        detector: one of :data:`DETECTORS`, or an object with a ``detect(images)``
            method returning, per image, a list of :class:`Face` (and a
            ``provides_keypoints`` attribute when ``align`` is used).
        detect_every: run the detector on every k-th examined frame (and the
            last); boxes in between are interpolated. 1 detects on every frame.
        size: side of the output crops (224; 240 for STCAM, which takes random
            224 crops of 240 in training).
        margin: square side = ``(1 + margin)`` x the box's longer side.
        align: rotate each frame so that the eyes are level (needs keypoints:
            MTCNN or BlazeFace, not Haar).
        no_face_policy: "hold", "interpolate" or "drop" (see the module).
        batch_size: frames per detector call (MTCNN is faster in batches); a call also gets at most
            :data:`MAX_DETECT_PIXELS` pixels, so that large frames go in smaller batches.
        detect_max_side: None detects on full frames; a number shrinks larger
            frames to this longer side for detection only (boxes are scaled
            back, crops come from the full frame). Detection time grows with
            the pixel count: 960x540 frames cost MTCNN about 0.5 s each on
            2 CPU cores, 480x270 a quarter of that; faces smaller than 20 px
            after shrinking are missed.

    Example:

    >>> cropper = FaceCropper(detect_every=10, no_face_policy="interpolate")  # doctest: +SKIP
    >>> track = cropper.track("face_noface.mov")                             # doctest: +SKIP
    >>> for index, crop in cropper.iter_crops("face_noface.mov", track):     # doctest: +SKIP
    ...     pass
    """

    def __init__(self, detector="mtcnn", detect_every=1, size=224, margin=0.25, align=False,
                 no_face_policy="hold", batch_size=8, detect_max_side=None):
        if isinstance(detector, str):
            detector = get_detector(detector, align=align)
        elif not callable(getattr(detector, "detect", None)):
            raise ValueError(f"`detector` must be one of {DETECTORS} or an object with a `detect(images)` method; "
                             f"received detector={detector!r}")
        detect_every = check_int(detect_every, "detect_every", minimum=1)
        size = check_int(size, "size", minimum=1)
        if not 0 <= margin <= 2:
            raise ValueError(f"`margin` must be in [0, 2]; received margin={margin!r}")
        if align and not getattr(detector, "provides_keypoints", False):
            raise ValueError(f"`detector` must give eye keypoints with align=True (MTCNN or BlazeFace); "
                             f"received detector={detector!r}")
        check_choice(no_face_policy, NO_FACE_POLICIES, "no_face_policy")
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        if detect_max_side is not None:
            detect_max_side = check_int(detect_max_side, "detect_max_side", minimum=32)
        self.detector = detector
        self.detect_max_side = detect_max_side
        self.detect_every = detect_every
        self.size = size
        self.margin = margin
        self.align = align
        self.no_face_policy = no_face_policy
        self.batch_size = batch_size

    def _for_detection(self, frame):
        """``(image, scale)``: the frame shrunk to ``detect_max_side`` for the detector (scale 1: unchanged)."""
        scale = 1.0 if self.detect_max_side is None else min(1.0, self.detect_max_side / max(frame.shape[:2]))
        if scale < 1:
            frame = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        return frame, scale

    @staticmethod
    def _largest(found, scale):
        """The largest of the faces ``found`` on an image shrunk by ``scale``, in full-frame pixels (None if none)."""
        largest = max(found, key=lambda face: face.area) if found else None
        return None if largest is None else _rescaled(largest, 1 / scale)

    def largest_face(self, frame):
        """The largest face of one RGB frame in full-frame pixels, or None (for streams, one frame at a time)."""
        image, scale = self._for_detection(frame)
        return self._largest(self.detector.detect([image])[0], scale)

    def _largest_faces(self, reader, indices):
        """``{frame index: the largest Face or None}`` for the given frames, detected in batches.

        Frames are decoded one at a time; a batch holds only the detector's images (shrunk when
        ``detect_max_side`` is set): at most ``batch_size`` of them and at most :data:`MAX_DETECT_PIXELS` pixels.
        """
        found = {}
        batch_indices, batch_frames, batch_scales = [], [], []

        def flush():
            for index, faces, scale in zip(batch_indices, self.detector.detect(batch_frames), batch_scales):
                found[index] = self._largest(faces, scale)
            for batch in (batch_indices, batch_frames, batch_scales):
                batch.clear()

        for index, frame in reader.iter_frames(indices):
            image, scale = self._for_detection(frame)
            pixels = sum(f.shape[0] * f.shape[1] for f in batch_frames) + image.shape[0] * image.shape[1]
            if batch_frames and pixels > MAX_DETECT_PIXELS:
                flush()
            batch_indices.append(index)
            batch_frames.append(image)
            batch_scales.append(scale)
            if len(batch_frames) == self.batch_size:
                flush()
        if batch_frames:
            flush()
        return found

    def track(self, source, indices=None):
        """Detect and track the face over a video: the :class:`FaceTrack` report.

        Args:
            source: a video path, a frame folder, or a :class:`VideoReader`.
            indices: the frames to examine (None: every frame). Tracking and
                the no-face policy work along these frames.

        Raises:
            NoFaceError: no examined frame has a face.
            VideoError: the source cannot be decoded.
        """
        reader = source if isinstance(source, VideoReader) else VideoReader(source)
        frame_indices = np.arange(reader.info.n_frames) if indices is None else np.unique(np.asarray(indices, int))
        n = len(frame_indices)
        if n == 0:
            raise ValueError(f"`indices` selects no frame of {reader.path}.")
        key_positions = sorted(set(range(0, n, self.detect_every)) | {n - 1})
        faces = self._largest_faces(reader, frame_indices[key_positions])
        # A face appears or vanishes between two detections: detect every frame in between.
        between = []
        for a, b in zip(key_positions[:-1], key_positions[1:]):
            if (faces[frame_indices[a]] is None) != (faces[frame_indices[b]] is None):
                between.extend(range(a + 1, b))
        if between:
            faces.update(self._largest_faces(reader, frame_indices[between]))

        boxes = np.full((n, 4), np.nan)
        keypoints = None
        if getattr(self.detector, "provides_keypoints", False):
            keypoints = np.full((n, len(getattr(self.detector, "keypoint_names", _KEYPOINT_NAMES)), 2), np.nan)
        statuses = [None] * n
        for position, index in enumerate(frame_indices):
            face = faces.get(index)
            if face is not None:
                boxes[position] = face.box
                if keypoints is not None:
                    if face.keypoints is None:
                        raise ValueError(f"{reader.path}: the detector gave a face without keypoints at frame {index}.")
                    keypoints[position] = face.keypoints
                statuses[position] = "detected"
        detected = np.array([s == "detected" for s in statuses])
        if not detected.any():
            raise NoFaceError(reader.path, n)

        positions = frame_indices.astype(np.float64)
        # Frames between two detections that both found the face are tracked.
        tracked = np.zeros(n, bool)
        for a, b in zip(key_positions[:-1], key_positions[1:]):
            if detected[a] and detected[b]:
                tracked[a + 1:b] = True
        self._fill(boxes, keypoints, positions, detected, tracked)
        for position in np.flatnonzero(tracked):
            statuses[position] = "tracked"

        has_face = detected | tracked
        missing = np.flatnonzero(~has_face)
        if missing.size:
            self._apply_policy(boxes, keypoints, positions, has_face, missing, statuses)
        return FaceTrack(reader.path, frame_indices, boxes, keypoints, tuple(statuses), self.no_face_policy)

    @staticmethod
    def _fill(boxes, keypoints, positions, known, where):
        """Interpolate boxes (and keypoints) of the ``where`` frames from the ``known`` ones."""
        if not where.any():
            return
        boxes[where] = _interpolate(boxes, positions, known, where)
        if keypoints is not None:
            keypoints[where] = _interpolate(keypoints, positions, known, where)

    def _apply_policy(self, boxes, keypoints, positions, has_face, missing, statuses):
        if self.no_face_policy == "drop":
            for position in missing:
                statuses[position] = "dropped"
            return
        face_positions = np.flatnonzero(has_face)
        # For each missing frame, the rank of the first face after it: faces before it are [:rank].
        ranks = np.searchsorted(face_positions, missing)
        for position, rank in zip(missing, ranks):
            if self.no_face_policy == "interpolate" and 0 < rank < len(face_positions):
                statuses[position] = "interpolated"
                continue
            source = face_positions[rank - 1] if rank > 0 else face_positions[0]
            statuses[position] = "held"
            boxes[position] = boxes[source]
            if keypoints is not None:
                keypoints[position] = keypoints[source]
        interpolated = np.array([s == "interpolated" for s in statuses])
        self._fill(boxes, keypoints, positions, has_face, interpolated)

    def crop(self, frame, box, keypoints=None):
        """The crop of one frame given its box (and keypoints when aligning)."""
        eyes = (keypoints[0], keypoints[1]) if self.align and keypoints is not None else None
        return crop_face(frame, box, size=self.size, margin=self.margin, eyes=eyes)

    def iter_crops(self, source, track):
        """Yield ``(frame index, crop)`` for every kept frame of ``track``, decoding ``source`` again.

        Args:
            source: the video path, frame folder or :class:`VideoReader` the track was made on.
            track: the :class:`FaceTrack` from :meth:`track`.

        Yields:
            ``(index, crop)``, crop an RGB uint8 array ``(size, size, 3)``.
        """
        reader = source if isinstance(source, VideoReader) else VideoReader(source)
        position_of = {int(index): position for position, index in enumerate(track.frame_indices)}
        for index, frame in reader.iter_frames(track.kept_indices):
            position = position_of[index]
            points = None if track.keypoints is None else track.keypoints[position]
            yield index, self.crop(frame, track.boxes[position], points)

    def crop_video(self, source, indices=None):
        """All crops of a video in memory, with the report: ``(crops (n, size, size, 3) uint8, FaceTrack)``.

        For short videos and notebooks; :meth:`iter_crops` streams.
        """
        reader = source if isinstance(source, VideoReader) else VideoReader(source)
        track = self.track(reader, indices)
        crops = [crop for _, crop in self.iter_crops(reader, track)]
        return np.stack(crops), track
