"""Dense optical flow between adjacent frames, and its normalisation for a flow CNN.

STANet feeds its CNN optical flow between adjacent frames of the 20
interpolated frames (STANet, section 4.1). The paper computes the flow with
FlowNet 2.0, a network whose weights this package cannot ship or download; we
offer OpenCV's classical estimators instead:

| method | OpenCV | speed | notes |
|---|---|---|---|
| ``"dis"`` (default) | ``cv2.DISOpticalFlow`` | fastest | Dense Inverse Search (Kroeger et al., 2016), preset ``"medium"`` |
| ``"farneback"`` | ``cv2.calcOpticalFlowFarneback`` | fast | polynomial expansion (Farneback, 2003) |
| ``"tvl1"`` | ``cv2.optflow.DualTVL1OpticalFlow`` | slow | TV-L1 (Zach et al., 2007), the usual choice of two-stream action recognition; needs OpenCV's contrib modules |

Every field has shape ``(H, W, 2)``, float32, channel 0 = dx and channel 1 =
dy in pixels, such that ``next[y + dy, x + dx] ~ prev[y, x]``. Frames are
converted to 8-bit grey first.

Example:

>>> import numpy as np
>>> from data_prep.flow import compute_flow, normalize_flow
>>> frame = np.zeros((32, 32), np.uint8)
>>> compute_flow(frame, frame).shape
(32, 32, 2)
>>> normalize_flow(np.array([[[-30.0, 10.0]]]), bound=20.0).tolist()
[[[-1.0, 0.5]]]
"""  # noqa: E501
import cv2
import numpy as np

from data_prep.checks import check_choice

__all__ = ["FLOW_METHODS", "FlowEstimator", "compute_flow", "flow_sequence", "flow_to_rgb", "normalize_flow"]

FLOW_METHODS = ("dis", "farneback", "tvl1")
_DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
_DIS_MIN_SIZE = 12  # cv2.DISOpticalFlow rejects smaller frames
_NORMALIZED_OUTPUTS = ("float", "uint8")


def _to_gray(frame, name):
    """An (H, W) or (H, W, 1 or 3) RGB frame, uint8 or float in [0, 255], as (H, W) uint8 grey."""
    frame = np.asarray(frame)
    if frame.ndim == 3 and frame.shape[-1] == 1:
        frame = frame[..., 0]
    if not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[-1] == 3)) or min(frame.shape[:2]) < 1:
        raise ValueError(f"`{name}` must have shape (H, W), (H, W, 1) or (H, W, 3); "
                         f"received {name}.shape={frame.shape}")
    if frame.dtype != np.uint8:
        if not (np.issubdtype(frame.dtype, np.floating) or np.issubdtype(frame.dtype, np.integer)):
            raise ValueError(f"`{name}` must be uint8 or a number array in [0, 255]; "
                             f"received {name}.dtype={frame.dtype}")
        frame = np.clip(np.rint(frame), 0, 255).astype(np.uint8)
    if frame.ndim == 3:
        frame = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    return np.ascontiguousarray(frame)


class FlowEstimator:
    """A reusable optical-flow estimator (one OpenCV object for many frame pairs).

    Args:
        method: "dis", "farneback" or "tvl1" (see :data:`FLOW_METHODS`).
        dis_preset: "ultrafast", "fast" or "medium"; used by "dis" only.

    Call arguments:
        prev_frame: ``(H, W)`` grey or ``(H, W, 3)`` RGB frame, uint8 or
            float in [0, 255] (floats are rounded to uint8).
        next_frame: the following frame, same height and width.

    Returns:
        float32 array ``(H, W, 2)``: (dx, dy) in pixels.

    Raises:
        ImportError: for "tvl1" when OpenCV has no contrib modules.

    Example:

    >>> import numpy as np
    >>> estimator = FlowEstimator("farneback")
    >>> estimator(np.zeros((16, 16), np.uint8), np.zeros((16, 16), np.uint8)).dtype
    dtype('float32')
    """

    def __init__(self, method="dis", *, dis_preset="medium"):
        check_choice(method, FLOW_METHODS, "method")
        check_choice(dis_preset, _DIS_PRESETS, "dis_preset")
        self.method = method
        self.dis_preset = dis_preset
        if method == "dis":
            self._estimator = cv2.DISOpticalFlow_create(_DIS_PRESETS[dis_preset])
        elif method == "tvl1":
            optflow = getattr(cv2, "optflow", None)
            if optflow is None:
                raise ImportError(
                    'method="tvl1" needs OpenCV\'s contrib modules (cv2.optflow): '
                    "pip install opencv-contrib-python-headless (instead of opencv-python), "
                    'or use method="dis" or "farneback".'
                )
            self._estimator = optflow.DualTVL1OpticalFlow_create()
        else:
            self._estimator = None

    def flow_between_gray(self, prev_gray, next_gray):
        """Flow between two (H, W) uint8 grey frames, already converted."""
        if prev_gray.shape != next_gray.shape:
            raise ValueError(
                f"`prev_frame` and `next_frame` must have the same size; received prev_frame of size {prev_gray.shape} "
                f"and next_frame of size {next_gray.shape}"
            )
        if self.method == "dis" and max(prev_gray.shape) < _DIS_MIN_SIZE:
            raise ValueError(
                f'frames must be at least {_DIS_MIN_SIZE} pixels wide or high for method="dis"; '
                f"received frames of size {prev_gray.shape}"
            )
        if self._estimator is None:
            # OpenCV's documented example parameters: pyramid scale 0.5, 3 levels, window 15,
            # 3 iterations, polynomial neighbourhood 5 with sigma 1.2.
            flow = cv2.calcOpticalFlowFarneback(prev_gray, next_gray, None, 0.5, 3, 15, 3, 5, 1.2, 0)
        else:
            flow = self._estimator.calc(prev_gray, next_gray, None)
        return np.asarray(flow, dtype=np.float32)

    def __call__(self, prev_frame, next_frame):
        return self.flow_between_gray(_to_gray(prev_frame, "prev_frame"), _to_gray(next_frame, "next_frame"))


def compute_flow(prev_frame, next_frame, method="dis", *, dis_preset="medium"):
    """Dense optical flow from ``prev_frame`` to ``next_frame``.

    STANet, section 4.1, computes flow "from adjacent frames" with FlowNet 2.0.
    The paper's network is not available offline; we use OpenCV's DIS by
    default because it is the fastest of OpenCV's dense methods and recovers
    sub-pixel motion; "farneback" and "tvl1" are the alternatives.

    Args:
        prev_frame: ``(H, W)`` grey or ``(H, W, 3)`` RGB frame, uint8 or float
            in [0, 255]; "dis" needs H or W >= 12.
        next_frame: the following frame, same height and width.
        method: "dis", "farneback" or "tvl1".
        dis_preset: "ultrafast", "fast" or "medium" (DIS only).

    Returns:
        float32 array ``(H, W, 2)``: (dx, dy) in pixels.

    Example:

    >>> import numpy as np
    >>> compute_flow(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8), method="farneback").shape
    (8, 8, 2)
    """
    return FlowEstimator(method, dis_preset=dis_preset)(prev_frame, next_frame)


def flow_sequence(frames, method="dis", *, dis_preset="medium"):
    """Flow between each pair of adjacent frames, yielded one field at a time.

    Reads ``frames`` lazily (a list, an array or a generator such as a video
    decoder), converts each frame to grey once, and yields ``T - 1`` fields
    for ``T`` frames; memory does not grow with the video length. A video of
    one frame yields nothing.

    Args:
        frames: iterable of ``(H, W)`` or ``(H, W, 3)`` frames of one size,
            uint8 or float in [0, 255].
        method: "dis", "farneback" or "tvl1".
        dis_preset: "ultrafast", "fast" or "medium" (DIS only).

    Yields:
        float32 arrays ``(H, W, 2)``: the flow from frame ``t`` to ``t + 1``.

    Example:

    >>> import numpy as np
    >>> frames = np.zeros((4, 16, 16), np.uint8)
    >>> np.stack(list(flow_sequence(frames))).shape
    (3, 16, 16, 2)
    """
    estimator = FlowEstimator(method, dis_preset=dis_preset)
    previous = None
    for index, frame in enumerate(frames):
        current = _to_gray(frame, f"frames[{index}]")
        if previous is not None:
            yield estimator.flow_between_gray(previous, current)
        previous = current


def _check_bound(bound):
    if isinstance(bound, bool) or not isinstance(bound, (int, float, np.integer, np.floating)) or not bound > 0:
        raise ValueError(f"`bound` must be a positive number of pixels; received bound={bound!r}")
    return float(bound)


def normalize_flow(flow, bound=20.0, output="float"):
    """Clip flow to ``[-bound, bound]`` pixels and scale it for a flow CNN.

    STANet does not say how its FlowNet 2.0 flow was scaled before the CNN (its
    Fig. 6 shows colour-coded flow pictures; :func:`flow_to_rgb` draws those).
    We use the convention of two-stream networks (TSN, Wang et al., 2016, and
    mmaction2's dense-flow tools): clip each component to ``+-bound`` and map
    it linearly, because it keeps the sign and the direction of the motion and
    bounds the input range. ``bound=20`` pixels is TSN's value; face crops of
    192-224 pixels rarely move that far between adjacent frames, and for
    micro-expressions a bound of a few pixels keeps more resolution.

    Args:
        flow: array ``(..., 2)`` of (dx, dy) in pixels.
        bound: positive clipping bound in pixels.
        output: "float" for float32 ``flow / bound`` in ``[-1, 1]``; "uint8" for
            TSN's image encoding ``round(255 * (flow + bound) / (2 * bound))``
            in ``[0, 255]`` (zero motion is 128).

    Returns:
        array of the same shape as ``flow``, float32 or uint8.

    Example:

    >>> import numpy as np
    >>> normalize_flow(np.array([-30.0, -10.0, 0.0, 10.0, 30.0]), output="uint8").tolist()
    [0, 64, 128, 191, 255]
    """
    bound = _check_bound(bound)
    check_choice(output, _NORMALIZED_OUTPUTS, "output")
    clipped = np.clip(np.asarray(flow, dtype=np.float32), -bound, bound)
    if output == "float":
        return clipped / np.float32(bound)
    return np.rint((clipped + bound) * np.float32(255.0 / (2.0 * bound))).astype(np.uint8)


def flow_to_rgb(flow, bound=None):
    """Colour-coded flow picture: hue = direction, brightness = magnitude (STANet Fig. 6).

    The usual HSV coding of flow visualisations: hue is the angle of (dx, dy)
    (0 degrees, red, points right; angles grow clockwise on screen because
    image y points down), saturation is full, and value is the magnitude
    divided by ``bound`` (or by the largest magnitude of this field when
    ``bound`` is None), clipped to 1. Useful to look at flow and as a 3-channel
    input for CNNs pretrained on images.

    Args:
        flow: array ``(H, W, 2)`` of (dx, dy) in pixels.
        bound: positive magnitude shown at full brightness, or None for the
            field's own maximum (a zero field is black).

    Returns:
        uint8 RGB image ``(H, W, 3)``.

    Example:

    >>> import numpy as np
    >>> flow_to_rgb(np.array([[[1.0, 0.0]]])).tolist()
    [[[255, 0, 0]]]
    """
    flow = np.asarray(flow, dtype=np.float32)
    if flow.ndim != 3 or flow.shape[-1] != 2:
        raise ValueError(f"`flow` must have shape (H, W, 2); received flow.shape={flow.shape}")
    magnitude, angle = cv2.cartToPolar(flow[..., 0], flow[..., 1], angleInDegrees=True)  # (H, W) each
    if bound is None:
        largest = float(magnitude.max()) if magnitude.size else 0.0
        scale = 1.0 / largest if largest > 0 else 0.0
    else:
        scale = 1.0 / _check_bound(bound)
    hsv = np.empty(flow.shape[:2] + (3,), dtype=np.uint8)  # (H, W, 3)
    hsv[..., 0] = np.rint(angle / 2.0).astype(np.int64) % 180  # OpenCV hue is degrees / 2
    hsv[..., 1] = 255
    hsv[..., 2] = np.rint(np.clip(magnitude * scale, 0.0, 1.0) * 255.0).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
