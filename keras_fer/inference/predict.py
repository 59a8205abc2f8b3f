"""Predicting whole videos: faces on the frames the sampler needs, the model, and the evidence."""

import dataclasses
import os

import numpy as np

from data_prep import faces, prepare, video
from data_prep.manifest import PHASE_COLUMNS
from keras_fer.inference.annotate import write_annotated_video
from keras_fer.inference.classifier import rounded
from keras_fer.models.common import NO_TEMPORAL_ATTENTION

__all__ = ["Prediction", "find_videos", "predict_video", "predict_videos"]


@dataclasses.dataclass
class Prediction:
    """One video's prediction: ``result`` (the JSON printed by ``keras-fer predict``) and the face track."""

    result: dict
    track: faces.FaceTrack
    positions: np.ndarray
    frame_probabilities: np.ndarray | None


def _positions_json(positions):
    if np.issubdtype(positions.dtype, np.integer):
        return positions.tolist()
    return rounded(positions, 3)


def predict_video(classifier, path, cropper=None, phases=None):
    """Classify one video (file or frame folder) and report the evidence.

    The sampler's test-time positions are drawn for the video's frame count; the face is detected (and
    tracked, with the training data's no-face policy) on the frames those positions need; crops are resized to
    the model's side; the stem's features (or the crops) at fractional positions are blended from the two
    neighbouring frames as :func:`data_prep.sampling.interpolate_frames` does for the readers.

    Args:
        classifier: a :class:`Classifier`.
        path: a video file or frame folder.
        cropper: a :class:`data_prep.faces.FaceCropper` to reuse (default: ``classifier.cropper()``).
        phases: None, or the video's annotated ``onset``/``apex``/``offset`` (a manifest row), which the sampler
            reads as in training (:meth:`Classifier.positions`).

    Returns:
        A :class:`Prediction`. ``result`` holds ``video``, ``model``, ``label``, ``probabilities`` (class ->
        probability), ``n_frames``, ``fps``, ``frames_used`` (the sampler's positions; CEFLNet: per clip),
        ``frames_examined``, ``frames_without_face`` (examined frames where no face was detected or tracked;
        filled by ``no_face_policy``), ``face_share``, ``temporal_attention`` (``source``, ``unit``,
        ``weights`` per frame or clip), ``frame_probabilities`` for score-fusion models, ``most_emotional_clip``
        for CEFLNet, and ``note``.

    Raises:
        data_prep.video.VideoError: the file cannot be decoded.
        data_prep.faces.NoFaceError: no examined frame has a face.
    """
    reader = video.VideoReader(path)
    n_frames = reader.info.n_frames
    positions = classifier.positions(n_frames, phases)
    needed = np.unique(np.clip(np.concatenate([np.floor(positions).ravel(), np.ceil(positions).ravel()]),
                               0, n_frames - 1).astype(np.int64))
    crops, track = (cropper or classifier.cropper()).crop_video(reader, needed)  # (len(needed), size, size, 3)
    inputs = classifier.inputs(crops, positions, needed)  # (*positions.shape, ...); STANet: (T, H, W, 2) flow
    outputs = classifier.explain(inputs[None])
    probabilities = outputs["probabilities"][0]
    weights = outputs["temporal_attention"][0]
    result = {
        "video": os.fspath(path),
        "model": classifier.name,
        "label": classifier.class_names[int(probabilities.argmax())],
        "probabilities": dict(zip(classifier.class_names, rounded(probabilities))),
        "n_frames": n_frames,
        "fps": reader.info.fps,
        "frames_used": _positions_json(positions),
        "frames_examined": needed.tolist(),
        "frames_without_face": track.no_face_indices,
        "no_face_policy": track.policy,
        "face_share": round(track.face_share, 4),
        "temporal_attention": {"source": classifier.temporal_source, "unit": classifier.unit,
                               "weights": rounded(weights)},
    }
    frame_probabilities = outputs.get("frame_probabilities")
    if frame_probabilities is not None:
        frame_probabilities = frame_probabilities[0]
        result["frame_probabilities"] = rounded(frame_probabilities)
    if classifier.unit == "clip" and classifier.temporal_source != NO_TEMPORAL_ATTENTION:
        result["most_emotional_clip"] = int(np.argmax(weights))
    result["note"] = classifier.note
    return Prediction(result, track, positions, frame_probabilities)


def find_videos(paths):
    """The videos (and frame folders) of files and folders (folders searched recursively), in order.

    Raises:
        FileNotFoundError: a path does not exist.
        ValueError: a folder holds no video or frame folder.
    """
    found = []
    for path in paths:
        found.extend(row["path"] for row in prepare.collect_samples(path))
    return found


def _videos_or_errors(paths):
    """``(video, phases, None)`` for every video of each path (:func:`find_videos`; ``phases``: the onset, apex and
    offset a manifest CSV gives, else empty), ``(path, None, error)`` for a path that names none (missing, or a
    folder without videos)."""
    items = []
    for path in paths:
        try:
            items.extend((row["path"], {name: row.get(name, "") for name in PHASE_COLUMNS}, None)
                         for row in prepare.collect_samples(path))
        except (ValueError, OSError) as error:
            items.append((path, None, error))
    return items


def predict_videos(classifier, paths, *, progress=True, annotate_dir=None, timeline_dir=None, detect_max_side=None,
                   detector=None):
    """:func:`predict_video` over many videos; a video that fails gives ``{"video", "error"}`` and the batch goes on.

    Args:
        classifier: a :class:`Classifier`.
        paths: video files, frame folders, folders searched for them (:func:`find_videos`), or manifest CSVs,
            whose onset/apex/offset the sampler reads (:meth:`Classifier.positions`). A path that does
            not exist, a folder without videos, and a video that cannot be decoded or has no face each give an
            error entry.
        progress: a tqdm bar on stderr.
        annotate_dir: write ``<name>.mp4`` there (:func:`write_annotated_video`).
        timeline_dir: write ``<name>.png`` there: the temporal attention (and per-frame scores) over the frames.
        detect_max_side: shrink larger frames to this longer side for face detection only (crops come from the
            full frame); None keeps the training data's setting.
        detector: a face detector of :data:`data_prep.faces.DETECTORS`; None keeps the training data's.

    Yields:
        One result dict per video, in order.
    """
    from tqdm import tqdm

    overrides = {key: value for key, value in (("detect_max_side", detect_max_side), ("detector", detector))
                 if value is not None}
    cropper = classifier.cropper(**overrides)
    for path, phases, error in tqdm(_videos_or_errors(paths), desc="predict", unit="video", disable=not progress):
        if error is None:
            try:
                prediction = predict_video(classifier, path, cropper, phases)
            except (ValueError, OSError) as failure:  # VideoError and NoFaceError are ValueErrors
                error = failure
        if error is not None:
            yield {"video": os.fspath(path), "error": str(error)}
            continue
        name = os.path.splitext(os.path.basename(os.path.normpath(path)))[0]
        if annotate_dir is not None:
            os.makedirs(annotate_dir, exist_ok=True)
            prediction.result["annotated_video"] = write_annotated_video(
                os.path.join(annotate_dir, f"{name}.mp4"), path, prediction, classifier.class_names)
        if timeline_dir is not None:
            os.makedirs(timeline_dir, exist_ok=True)
            prediction.result["timeline"] = _timeline(os.path.join(timeline_dir, f"{name}.png"), prediction,
                                                      classifier)
        yield prediction.result


def _timeline(path, prediction, classifier):
    """A PNG of the temporal attention over the frames (or clips) used, with per-frame probabilities if any."""
    from keras_fer import viz

    result = prediction.result
    weights = np.asarray(result["temporal_attention"]["weights"])
    frame_indices = None
    if classifier.unit == "frame":
        frame_indices = np.asarray(prediction.positions, dtype=np.float64).ravel()
        if np.any(np.diff(frame_indices) <= 0):  # a short video repeats frames: plot by draw order instead
            frame_indices = None
    viz.temporal_weights_figure(
        weights, frame_indices=frame_indices, frame_scores=prediction.frame_probabilities,
        class_names=classifier.class_names, chosen=result.get("most_emotional_clip"),
        source=result["temporal_attention"]["source"], unit=classifier.unit,
        title=f"{os.path.basename(result['video'])}: {result['label']} ({classifier.name})", path=path)
    return path
