"""STANet's input: optical flow of each prepared sample's onset..offset window, cached or held in memory.

STANet (section 4.1) interpolates every clip to 20 frames and feeds its CNN
the optical flow between adjacent frames, at 192x192. :func:`window_flow`
does that for one sample from its face crops: ``num_flows + 1`` positions
spread evenly over the annotated onset..offset window
(``data_prep.sampling.sample("stanet", ...)``), frames blended at fractional
positions (:func:`data_prep.sampling.interpolate_frames`), flow between
adjacent blended frames at the crops' resolution, resized to ``size`` (the
displacements scaled with it), clipped to ``+-bound`` pixels and divided by
``bound`` (:func:`data_prep.flow.normalize_flow`). The paper computes flow
with FlowNet 2.0, which cannot ship here; OpenCV's Farneback is the default
(``method``). The paper gives no clipping bound: we use ``size / 64`` pixels
(3 at 192), because micro-expression motion is a few pixels and a larger
bound would crush it towards 0.

:func:`extract_flow` (``keras-fer flow``) writes that flow of every sample
into a cache with the feature cache's layout and guarantees
(:mod:`keras_fer.data.cache`: sharded, resumable, atomic, a configuration
hash, errors naming the file); its config's ``stem`` is :data:`FLOW_STEM`
and ``flow`` holds the settings, so :func:`keras_fer.data.sources.open_source`
reads it as flow clips ``(T, size, size, 2)``. :func:`flow_source` computes the
same clips in memory (the synthetic reproduction's small runs).
"""

import os

import cv2
import numpy as np

from data_prep import flow, manifest
from data_prep.checks import check_choice, check_int
from data_prep.sampling import interpolate_frames, sample
from keras_fer.data import prepared
from keras_fer.data.cache.layout import CacheSample
from keras_fer.data.cache.writer import write_cache
from keras_fer.data.sources import FLOW_STEM, ArraySource
from keras_fer.version import __version__

__all__ = ["FLOW_STEM", "extract_flow", "flow_settings", "flow_source", "window_flow",
           "window_positions"]

def flow_settings(num_flows=20, size=192, method="farneback", bound=None):
    """The checked settings of STANet's flow (a dict, recorded in the cache's config).

    Args:
        num_flows: flow fields per sample (the paper's 20 interpolated frames give 19 or 20, see
            :data:`keras_fer.models.stanet.NUM_FRAMES`; we interpolate to ``num_flows + 1`` frames).
        size: side of the flow fields (the paper: 192).
        method: a :data:`data_prep.flow.FLOW_METHODS` estimator (the paper: FlowNet 2.0, not available).
        bound: clipping bound in pixels at ``size``; None: ``size / 64``.
    """
    check_int(num_flows, "num_flows", minimum=1)
    check_int(size, "size", minimum=8)
    check_choice(method, flow.FLOW_METHODS, "method")
    bound = size / 64 if bound is None else bound
    if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not bound > 0:
        raise ValueError(f"`bound` must be a positive number of pixels; received bound={bound!r}")
    return {"num_flows": int(num_flows), "size": int(size), "method": method, "bound": float(bound)}


def _window(row, where):
    """A sample's annotated (onset, offset) frames, or a ValueError that names the sample and the file."""
    try:
        onset, offset = int(row["onset"]), int(row["offset"])
    except (KeyError, TypeError, ValueError):
        onset = offset = None
    if onset is None or not 0 <= onset <= offset:
        raise ValueError(f"{where}: sample {row['id']!r} has no onset and offset frame "
                         f"(onset={row.get('onset', '')!r}, offset={row.get('offset', '')!r}); STANet's flow "
                         "is computed over the onset..offset window: prepare from a manifest CSV (or a dataset "
                         "adapter) that gives both")
    return onset, offset


def window_positions(onset, offset, num_flows):
    """Source-frame positions of the ``num_flows + 1`` interpolated frames of the window (STANet sec. 4.1)."""
    return sample("stanet", offset + 1, num_frames=num_flows + 1, window=(onset, offset))


def _needed(positions):
    """The source frames that the blend of ``positions`` reads (floor and ceil of each)."""
    return np.unique(np.concatenate([np.floor(positions), np.ceil(positions)]).astype(np.int64))


def window_flow(frames, positions, settings, frame_indices=None):
    """Normalised flow ``(num_flows, size, size, 2)`` float32 between the frames blended at ``positions``.

    Args:
        frames: RGB frames ``(N, H, W, 3)`` uint8 (face crops).
        positions: ``num_flows + 1`` increasing source-frame positions (:func:`window_positions`).
        settings: :func:`flow_settings`.
        frame_indices: the source frame of each of ``frames`` (None: ``frames`` holds every frame).
    """
    blended = interpolate_frames(frames, positions, frame_indices=frame_indices)
    fields = flow.flow_sequence(blended, method=settings["method"])
    size, scale = settings["size"], settings["size"] / blended.shape[2]
    interpolation = cv2.INTER_AREA if blended.shape[2] > size else cv2.INTER_LINEAR
    resized = np.stack([cv2.resize(field, (size, size), interpolation=interpolation) for field in fields]) * scale
    return flow.normalize_flow(resized, bound=settings["bound"])


def _flow_samples(prepared_dir, num_flows):
    """``(CacheSample, positions, crop paths by source frame)`` of every prepared sample, in manifest order."""
    manifest_path = os.path.join(prepared_dir, "manifest.csv")
    rows = manifest.read_csv(manifest_path, required=manifest.PREPARED_COLUMNS)
    found = []
    for line, row in enumerate(rows, start=2):
        where = f"{manifest_path} line {line}"
        _, source, paths, _ = prepared.crops_of(prepared_dir, row, where)
        crops = dict(zip(source.tolist(), paths))
        positions = window_positions(*_window(row, where), num_flows)
        missing = [frame for frame in _needed(positions).tolist() if frame not in crops]
        if missing:
            raise ValueError(f"{os.path.dirname(paths[0])}: STANet's flow of sample {row['id']!r} needs frames "
                             f"{missing[:10]} of its onset..offset window, which have no face crop (prepared with "
                             "a --sampler, or no face was found there): prepare it without --sampler and with "
                             "--no-face-policy hold or interpolate")
        found.append((CacheSample(id=row["id"], label=row["label"], subject=row["subject"],
                                  frame_indices=tuple(range(num_flows)), sampler_frames=num_flows,
                                  source_frames=tuple(int(p) for p in np.floor(positions[:-1])),
                                  crops_dir=os.path.abspath(os.path.dirname(paths[0]))), positions, crops))
    return found


def _sample_flows(found, settings):
    """The flow clip of each ``(CacheSample, positions, crops)``, one at a time."""
    for _, positions, crops in found:
        needed = _needed(positions)
        frames = prepared.load_crops([crops[frame] for frame in needed.tolist()], None)
        yield window_flow(frames, positions, settings, frame_indices=needed)


def extract_flow(prepared_dir, out_dir, *, num_flows=20, size=192, method="farneback", bound=None,
                 num_shards=None, process_index=0, num_processes=1, progress=True):
    """``keras-fer flow``: cache STANet's flow of every prepared sample's onset..offset window (resumable).

    Args:
        prepared_dir: output folder of ``keras-fer prepare`` (every frame of each window kept, with onset and
            offset in its manifest).
        out_dir: cache folder (created; a rerun resumes it, a rerun with other settings is refused).
        num_flows, size, method, bound: see :func:`flow_settings`.
        num_shards, process_index, num_processes, progress: see :func:`keras_fer.data.cache.write_cache`.

    Returns:
        The dict of :func:`~keras_fer.data.cache.write_cache` (``computed``, ``skipped``, ``complete``).

    Raises:
        ValueError: a sample without onset/offset or without the crops of its window, naming the file.
    """
    prepared_dir = os.fspath(prepared_dir)
    settings = flow_settings(num_flows, size, method, bound)
    face = prepared.read_prepare_settings(prepared_dir)
    found = {sample.id: (sample, positions, crops) for sample, positions, crops in
             _flow_samples(prepared_dir, settings["num_flows"])}
    config = {"stem": FLOW_STEM, "flow": settings,
              "face": {key: value for key, value in face.items() if key not in ("sampler", "sampler_options")},
              "sampler": None, "sampler_options": {}, "feature_dtype": "float16", "package_version": __version__}

    def flows_fn(todo):
        return _sample_flows([found[sample.id] for sample in todo], settings)

    return write_cache(out_dir, [sample for sample, _, _ in found.values()], flows_fn, config,
                       (settings["size"], settings["size"], 2), num_shards=num_shards, process_index=process_index,
                       num_processes=num_processes, progress=progress)


def flow_source(prepared_dir, num_flows=10, size=32, bound=0.5):
    """STANet's input for every prepared sample, held in memory (the synthetic reproduction's small runs)."""
    found = _flow_samples(os.fspath(prepared_dir), num_flows)
    clips = np.stack(list(_sample_flows(found, flow_settings(num_flows, size, "farneback", bound))))
    samples = [sample for sample, _, _ in found]
    classes = sorted({s.label for s in samples})
    return ArraySource(clips.astype("float32"), [classes.index(s.label) for s in samples],
                       [s.id for s in samples], [s.subject for s in samples], classes, input="frames")
