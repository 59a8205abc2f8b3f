"""Facial-landmark distance features for AST's geometric variant.

AST (Deshmukh et al., 2021), section 3, "Active Shape Model (ASM) for facial
features": an ASM locates 77 facial points per frame and "using pair-wise
action point distances our algorithm generates facial feature vector ...
avoiding self and redundant distances", i.e. the ``77 * 76 / 2 = 2926``
distances between distinct pairs (the paper's printed count is garbled by the
PDF extraction). The paper's 77-point ASM model is not published; offline we
can offer:

| provider | points | distances | needs |
|---|---|---|---|
| :class:`Dlib68Provider` (``"dlib68"``) | 68 (iBUG 300-W) | 2278 | the ``landmarks`` extra: dlib-bin, face-recognition-models |
| :class:`MTCNN5Provider` (``"mtcnn5"``) | 5 (eyes, nose, mouth corners) | 10 | mtcnn (installed with keras-fer) |
| :class:`FaceMesh68Provider` (``"facemesh68"``) | 68 (iBUG layout, from MediaPipe's 468-point face mesh) | 2278 | nothing: the models ship with keras-fer |

Points are ``(x, y)`` pixels of the frame. A provider has ``num_points``,
``eye_indices`` (the points of the image-left and image-right eye) and
``locate(frames) -> (T, num_points, 2)`` with NaN rows for frames where it
found no face.

Example:

>>> import numpy as np
>>> from data_prep.landmarks import pairwise_distances
>>> square = np.array([[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0]])
>>> [round(float(d), 3) for d in pairwise_distances(square, normalize=None)]
[2.0, 2.828, 2.0, 2.0, 2.828, 2.0]
"""  # noqa: E501
import importlib.util
import os

import numpy as np

from data_prep.checks import check_choice, check_int

__all__ = [
    "Dlib68Provider",
    "FACEMESH_IBUG68",
    "FaceMesh68Provider",
    "LANDMARK_PROVIDERS",
    "MTCNN5Provider",
    "landmark_features",
    "pairwise_distances",
]

_NORMALIZERS = ("face_size", "inter_ocular", None)
_MISSING_POLICIES = ("hold", "nan", "raise")
_DLIB_INSTALL_HINT = (
    "pip install 'keras-fer[landmarks]' (dlib-bin and face-recognition-models), "
    'or use the offline 68-point face mesh: provider="facemesh68" / FaceMesh68Provider()'
)


def _check_frame(frame, index):
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype != np.uint8:
        raise ValueError(
            f"`frames[{index}]` must be an (H, W, 3) uint8 RGB image; received frames[{index}].shape={frame.shape}, "
            f"frames[{index}].dtype={frame.dtype}"
        )
    return np.ascontiguousarray(frame)


def _largest_box(boxes):
    """Index of the largest (x1, y1, x2, y2) box."""
    boxes = np.asarray(boxes, dtype=np.float64)
    return int(np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))


def _default_dlib_predictor_path():
    """The 68-point model shipped by face-recognition-models, found without importing it.

    face-recognition-models locates its files with ``pkg_resources``, which
    recent setuptools no longer ships, so we read the package folder instead.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "Dlib68Provider needs dlib's 68-point model shape_predictor_68_face_landmarks.dat, shipped by "
            f"face-recognition-models: {_DLIB_INSTALL_HINT}; or pass predictor_path= to your own copy."
        )
    folder = list(spec.submodule_search_locations)[0]
    return os.path.join(folder, "models", "shape_predictor_68_face_landmarks.dat")


class Dlib68Provider:
    """68 facial landmarks from dlib's HOG face detector and shape predictor.

    The iBUG 300-W 68-point layout, located by dlib's shape predictor
    (Kazemi and Sullivan, 2014): jaw 0-16, eyebrows 17-26, nose 27-35, eyes
    36-41 and 42-47, mouth 48-67. AST used a 77-point
    ASM; 68 is the closest count available offline. Where a frame holds several
    faces the largest is used.

    Args:
        predictor_path: path to ``shape_predictor_68_face_landmarks.dat``, or
            None for the copy in the face-recognition-models package.
        upsample: times dlib's detector upsamples the frame (0 for face crops
            and faces over about 80 pixels; each step finds smaller faces and
            is about 4 times slower).

    Raises:
        ImportError: dlib or face-recognition-models is not installed (the
            message says what to install).
        FileNotFoundError: ``predictor_path`` does not exist.

    Example (needs the ``landmarks`` extra):

    >>> provider = Dlib68Provider()  # doctest: +SKIP
    >>> provider.locate(frames).shape  # doctest: +SKIP
    (T, 68, 2)
    """

    num_points = 68
    eye_indices = (tuple(range(36, 42)), tuple(range(42, 48)))

    def __init__(self, predictor_path=None, *, upsample=0):
        upsample = check_int(upsample, "upsample", minimum=0)
        try:
            import dlib
        except ImportError as error:
            raise ImportError(f"Dlib68Provider needs dlib: {_DLIB_INSTALL_HINT}.") from error
        if predictor_path is None:
            predictor_path = _default_dlib_predictor_path()
        predictor_path = os.fspath(predictor_path)
        if not os.path.isfile(predictor_path):
            raise FileNotFoundError(
                f"dlib's 68-point model not found at {predictor_path!r}: {_DLIB_INSTALL_HINT}, "
                "or download shape_predictor_68_face_landmarks.dat from dlib.net and pass predictor_path=."
            )
        self.predictor_path = predictor_path
        self.upsample = int(upsample)
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(predictor_path)

    def locate(self, frames):
        """Landmarks of the largest face of each frame.

        Args:
            frames: iterable of ``(H, W, 3)`` uint8 RGB images.

        Returns:
            float32 array ``(T, 68, 2)`` of (x, y) pixels; NaN rows where no
            face was found.
        """
        located = []
        for index, frame in enumerate(frames):
            image = _check_frame(frame, index)
            faces = self._detector(image, self.upsample)
            points = np.full((self.num_points, 2), np.nan, dtype=np.float32)
            if len(faces):
                boxes = [(face.left(), face.top(), face.right(), face.bottom()) for face in faces]
                shape = self._predictor(image, faces[_largest_box(boxes)])
                points = np.array([(part.x, part.y) for part in shape.parts()], dtype=np.float32)
            located.append(points)
        return np.stack(located) if located else np.zeros((0, self.num_points, 2), dtype=np.float32)


class MTCNN5Provider:
    """MTCNN's 5 keypoints: image-left eye, image-right eye, nose, left and right mouth corner.

    The fallback when dlib is not installed: the mtcnn package (a keras-fer
    dependency, weights inside its wheel) is imported only when the provider
    is created, because it loads TensorFlow. With 5 points the feature has 10
    distances instead of AST's 2926. Where a frame holds several faces the
    largest is used.

    Args:
        min_confidence: faces detected with a lower MTCNN score count as no
            face, in [0, 1].
        batch_size: frames per MTCNN call, >= 1 (frames of one size are
            batched).
        device: TensorFlow device for MTCNN, e.g. "CPU:0" or "GPU:0".

    Example:

    >>> provider = MTCNN5Provider()  # doctest: +SKIP
    >>> provider.locate(frames).shape  # doctest: +SKIP
    (T, 5, 2)
    """

    num_points = 5
    eye_indices = ((0,), (1,))
    point_names = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")

    def __init__(self, *, min_confidence=0.9, batch_size=16, device="CPU:0"):
        if isinstance(min_confidence, bool) or not isinstance(min_confidence, (int, float)) or not (
            0.0 <= min_confidence <= 1.0
        ):
            raise ValueError(f"`min_confidence` must be a number in [0, 1]; "
                             f"received min_confidence={min_confidence!r}")
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        try:
            from mtcnn import MTCNN
        except ImportError as error:
            raise ImportError("MTCNN5Provider needs the mtcnn package: pip install 'mtcnn>=1.0'.") from error
        self.min_confidence = float(min_confidence)
        self.batch_size = int(batch_size)
        self.device = device
        self._detector = MTCNN(device=device)

    def _locate_batch(self, images):
        """(len(images), 5, 2) keypoints of one MTCNN call on same-size images."""
        rows = np.asarray(
            self._detector.detect_faces(list(images), box_format="xyxy", output_type="numpy"), dtype=np.float64
        ).reshape(-1, 16)  # image id, x1, y1, x2, y2, confidence, x of the 5 points, y of the 5 points
        points = np.full((len(images), self.num_points, 2), np.nan, dtype=np.float32)
        rows = rows[rows[:, 5] >= self.min_confidence]
        for image_id in np.unique(rows[:, 0]).astype(np.int64):
            faces = rows[rows[:, 0] == image_id]
            largest = faces[_largest_box(faces[:, 1:5])]
            points[image_id] = np.stack([largest[6:11], largest[11:16]], axis=-1)
        return points

    def locate(self, frames):
        """Keypoints of the largest face of each frame.

        Args:
            frames: iterable of ``(H, W, 3)`` uint8 RGB images.

        Returns:
            float32 array ``(T, 5, 2)`` of (x, y) pixels; NaN rows where no
            face was found.
        """
        located = []
        batch = []
        for index, frame in enumerate(frames):
            image = _check_frame(frame, index)
            if batch and (len(batch) == self.batch_size or image.shape != batch[0].shape):
                located.append(self._locate_batch(batch))
                batch = []
            batch.append(image)
        if batch:
            located.append(self._locate_batch(batch))
        return np.concatenate(located) if located else np.zeros((0, self.num_points, 2), dtype=np.float32)


#: The face-mesh point (of MediaPipe's 468) for each of the 68 iBUG 300-W points, in iBUG order; "left" is the
#: image's left. Contours are sampled from the mesh's own contour loops (face oval, eyebrows' upper edge, eyes'
#: lids, lips' outer and inner edges), so corners map to corners and the rest are spread along each contour.
FACEMESH_IBUG68 = (
    127, 234, 93, 132, 58, 172, 136, 149, 152, 378, 365, 397, 288, 361, 323, 454, 356,  # 0-16 jaw, chin at 8
    70, 63, 105, 66, 107,  # 17-21 image-left eyebrow, outer to inner
    336, 296, 334, 293, 300,  # 22-26 image-right eyebrow, inner to outer
    168, 197, 5, 4,  # 27-30 nose bridge, top to tip
    75, 97, 2, 326, 305,  # 31-35 nostrils, left to right
    33, 160, 158, 133, 153, 144,  # 36-41 image-left eye: outer corner, upper lid, inner corner, lower lid
    362, 385, 387, 263, 373, 380,  # 42-47 image-right eye: inner corner, upper lid, outer corner, lower lid
    61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91,  # 48-59 outer lips from the left corner, clockwise
    78, 81, 13, 311, 308, 402, 14, 178,  # 60-67 inner lips from the left corner, clockwise
)


class FaceMesh68Provider:
    """68 iBUG-layout points from MediaPipe's face mesh, offline and without dlib.

    BlazeFace (short range, :mod:`data_prep.blazeface`) finds the largest face
    of each frame; the face mesh (Kartynnik et al. 2019, "Real-time Facial
    Surface Geometry from Monocular Video on Mobile GPUs") places its 468
    points; :data:`FACEMESH_IBUG68` keeps the 68 that match the iBUG 300-W
    layout of :class:`Dlib68Provider` (jaw, eyebrows, nose, eyes, lips), so
    that the 2278 pairwise distances are those of the dlib provider's layout
    rather than 109 278 distances of mostly cheek and forehead points. AST's
    77-point ASM is not published; 68 points of the same regions are the
    closest offline choice. About 5 ms per frame on 2 CPU cores.

    Args:
        min_confidence: BlazeFace's score below which a frame has no face.

    Example:

    >>> FaceMesh68Provider().locate(frames).shape  # doctest: +SKIP
    (T, 68, 2)
    """

    num_points = 68
    eye_indices = (tuple(range(36, 42)), tuple(range(42, 48)))

    def __init__(self, *, min_confidence=0.75):
        from data_prep.blazeface import BlazeFace, FaceMesh

        self._detector = BlazeFace("short", min_confidence=min_confidence)
        self._mesh = FaceMesh()

    def locate(self, frames):
        """float32 ``(T, 68, 2)`` (x, y) pixels of the largest face of each frame; NaN rows where none was found."""
        located = []
        for index, frame in enumerate(frames):
            image = _check_frame(frame, index)
            points = np.full((self.num_points, 2), np.nan, dtype=np.float32)
            faces = self._detector.find(image)
            if faces:
                mesh = self._mesh.locate(image, faces[_largest_box([box for box, _, _ in faces])][0])
                if mesh is not None:
                    points[:] = mesh[list(FACEMESH_IBUG68)]
            located.append(points)
        return np.stack(located) if located else np.zeros((0, self.num_points, 2), dtype=np.float32)


LANDMARK_PROVIDERS = {"dlib68": Dlib68Provider, "mtcnn5": MTCNN5Provider, "facemesh68": FaceMesh68Provider}


def pairwise_distances(points, normalize="face_size", *, eye_indices=None):
    """Distances between every distinct pair of landmarks, per frame, divided by the face size.

    AST, section 3 (ASM features): the pair-wise distances of the facial
    points "avoiding self and redundant distances": for ``n`` points, the
    ``n (n - 1) / 2`` distances ``||p_i - p_j||`` with ``i < j``, in the order
    of ``numpy.triu_indices(n, k=1)`` ((0, 1), (0, 2), ..., (n - 2, n - 1)).

    The paper does not say whether or how the distances are normalised; we
    divide by the face size because raw pixel distances change with the crop
    size and the subject's distance to the camera, not with the expression.
    ``"face_size"`` is the root-mean-square distance of the points to their
    centroid (the Procrustes centroid size over ``sqrt(n)``): defined for any
    point set (77, 68 or 5 points) and unchanged by translation, rotation and
    scaling of the face, so the features are too. ``"inter_ocular"`` divides by
    the distance between the two eye centres (the mean of each eye's points),
    the usual normaliser of landmark errors. A frame whose normaliser is zero
    (all points equal) or whose points are NaN gives NaN distances.

    Args:
        points: array ``(n, 2)`` or ``(T, n, 2)`` (any leading shape), n >= 2.
        normalize: "face_size", "inter_ocular" or None (pixels).
        eye_indices: for "inter_ocular", the point indices of each eye, e.g.
            ``provider.eye_indices``: ``((36, ..., 41), (42, ..., 47))`` for dlib.

    Returns:
        float32 array ``(..., n (n - 1) / 2)``: 2926 for 77 points, 2278 for
        68, 10 for 5.

    Example:

    >>> import numpy as np
    >>> eyes_and_mouth = np.array([[0.0, 0.0], [4.0, 0.0], [2.0, 3.0]])
    >>> distances = pairwise_distances(eyes_and_mouth, "inter_ocular", eye_indices=((0,), (1,)))
    >>> [round(float(d), 3) for d in distances]
    [1.0, 0.901, 0.901]
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim < 2 or points.shape[-1] != 2 or points.shape[-2] < 2:
        raise ValueError(f"`points` must have shape (..., n, 2) with n >= 2; received points.shape={points.shape}")
    check_choice(normalize, _NORMALIZERS, "normalize")
    num_points = points.shape[-2]
    first, second = np.triu_indices(num_points, k=1)
    distances = np.linalg.norm(points[..., first, :] - points[..., second, :], axis=-1)  # (..., n(n-1)/2)
    if normalize is None:
        return distances.astype(np.float32)
    if normalize == "face_size":
        centred = points - points.mean(axis=-2, keepdims=True)  # (..., n, 2)
        scale = np.sqrt(np.mean(np.sum(centred**2, axis=-1), axis=-1))  # (...,)
    else:
        scale = _inter_ocular_distance(points, eye_indices)  # (...,)
    with np.errstate(divide="ignore", invalid="ignore"):
        normalized = distances / scale[..., None]
    normalized[~np.isfinite(normalized)] = np.nan
    return normalized.astype(np.float32)


def _inter_ocular_distance(points, eye_indices):
    num_points = points.shape[-2]
    try:
        left, right = (np.asarray(indices, dtype=np.int64).reshape(-1) for indices in eye_indices)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f'`eye_indices` must be two sequences of point indices for normalize="inter_ocular"; '
            f"received eye_indices={eye_indices!r}"
        ) from error
    both = np.concatenate([left, right])
    if left.size == 0 or right.size == 0 or both.min() < 0 or both.max() >= num_points:
        raise ValueError(f"`eye_indices` must index the {num_points} points; received eye_indices={eye_indices!r}")
    left_centre = points[..., left, :].mean(axis=-2)  # (..., 2)
    right_centre = points[..., right, :].mean(axis=-2)  # (..., 2)
    return np.linalg.norm(left_centre - right_centre, axis=-1)


def _fill_missing(points, missing):
    """Apply the missing-face policy to (T, n, 2) points with NaN rows."""
    absent = np.isnan(points).any(axis=(1, 2))
    if not absent.any() or missing == "nan":
        return points
    if missing == "raise":
        raise ValueError(f"No face found in frames {np.flatnonzero(absent).tolist()} (missing='raise').")
    present = np.flatnonzero(~absent)
    if present.size == 0:
        raise ValueError(f"No face found in any of the {points.shape[0]} frames; cannot hold landmarks.")
    # Each frame takes the latest frame with a face at or before it; leading frames take the first face.
    latest = np.maximum.accumulate(np.where(absent, -1, np.arange(points.shape[0])))
    return points[np.where(latest < 0, present[0], latest)]


def landmark_features(frames, provider="dlib68", *, normalize="face_size", missing="hold"):
    """AST's geometric features: normalised pairwise landmark distances for every frame.

    Locates the landmarks with ``provider`` and returns
    :func:`pairwise_distances` per frame (AST, section 3, ASM features).

    Frames without a face follow an explicit policy, never a silent drop (the
    frame count must stay the one the sampler saw): ``"hold"`` repeats the
    landmarks of the latest frame with a face (frames before the first face
    take the first face), ``"nan"`` leaves NaN rows for the caller, ``"raise"``
    raises ValueError naming the frames.

    Args:
        frames: iterable of ``(H, W, 3)`` uint8 RGB images (face crops or
            whole frames; the largest face is used).
        provider: "dlib68", "mtcnn5", "facemesh68", or an object with ``num_points``,
            ``eye_indices`` and ``locate(frames)``. A name loads a new
            provider (seconds) on every call; for many videos build one
            :class:`Dlib68Provider` or :class:`MTCNN5Provider` and pass it.
        normalize: "face_size", "inter_ocular" or None; see
            :func:`pairwise_distances`.
        missing: "hold", "nan" or "raise".

    Returns:
        float32 array ``(T, n (n - 1) / 2)``.

    Raises:
        ValueError: ``missing="raise"`` and a frame has no face, or
            ``missing="hold"`` and no frame has one.

    Example:

    >>> features = landmark_features(frames, provider="mtcnn5")  # doctest: +SKIP
    >>> features.shape  # doctest: +SKIP
    (T, 10)
    """
    check_choice(missing, _MISSING_POLICIES, "missing")
    check_choice(normalize, _NORMALIZERS, "normalize")
    if isinstance(provider, str):
        if provider not in LANDMARK_PROVIDERS:
            raise ValueError(f"`provider` must be one of {sorted(LANDMARK_PROVIDERS)} or a provider; "
                             f"received provider={provider!r}")
        provider = LANDMARK_PROVIDERS[provider]()
    elif not callable(getattr(provider, "locate", None)):
        raise ValueError(f"`provider` must be a name or have a locate(frames) method; received provider={provider!r}")
    points = np.asarray(provider.locate(frames), dtype=np.float64)  # (T, n, 2)
    if points.ndim != 3 or points.shape[1:] != (provider.num_points, 2):
        raise ValueError(
            f"`provider.locate` must return shape (T, {provider.num_points}, 2); received shape {points.shape}"
        )
    points = _fill_missing(points, missing)
    return pairwise_distances(points, normalize, eye_indices=provider.eye_indices)
