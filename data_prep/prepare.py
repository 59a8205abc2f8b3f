"""Batch face preparation: videos in, face crops, a manifest and a failure report out.

This is what ``keras-fer prepare`` runs. The input is a video, a frame folder,
a folder of videos and frame folders (searched recursively), or a dataset
manifest CSV (:mod:`data_prep.manifest`). The output folder holds::

    OUT/
      manifest.csv            one row per usable sample (PREPARED_COLUMNS)
      failures.csv            one row per file that could not be used: file, reason
      prepare.json            the options of the run (a rerun must use the same ones)
      crops/<id>/000042.jpg   face crop of source frame 42 (RGB, JPEG quality 95)
      crops/<id>/frames.csv   every examined frame: index, crop file, status, box
      crops/<id>/sample.csv   the sample's manifest row

Why this layout: one JPEG per frame (quality 95, about 15 kB for a 224 x 224
face) is 10 times smaller than raw arrays, opens in any viewer, and lets a
sampler read just the frames it draws; re-encoding the crops as a video would
bring back the inexact seeking and lossy inter-frame coding that
:mod:`data_prep.video` works around. Files are named by the source frame
index, so dropped frames (policy "drop") or a sampler's subset never shift
frame numbers, and ``frames.csv`` says for each frame whether the face was
detected, tracked between detections, or filled by the no-face policy.

Resuming: a sample is written into ``crops/.<id>.partial-<pid>`` and renamed to
``crops/<id>`` only when complete (rename is atomic), so a rerun skips every
finished sample and an interrupted run never leaves a folder that looks
complete; leftovers of interrupted runs are removed at the start of a run.
Run one ``prepare`` per output folder at a time. ``manifest.csv`` and
``failures.csv`` are rewritten (atomically) at the end of every run from the
finished samples of the input and this run's failures.

Example:

>>> from data_prep.prepare import PrepareOptions, prepare
>>> result = prepare("videos/", "prepared/", PrepareOptions(detect_every=5))  # doctest: +SKIP
>>> len(result.manifest_rows), result.failures                               # doctest: +SKIP
(12, [('videos/broken.mp4', 'VideoError: ... no frame decodes ...')])
"""

import dataclasses
import importlib
import inspect
import json
import multiprocessing
import os
import re
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool

import cv2
from tqdm.auto import tqdm

from data_prep import datasets, faces, files, manifest, video
from data_prep.checks import check_choice, check_int
from data_prep.tensorflow_logs import start_tensorflow_like_parent

__all__ = ["PrepareOptions", "PrepareResult", "collect_samples", "dataset_samples", "prepare", "prepare_sample"]

_UNSAFE_ID_CHARACTERS = re.compile(r"[^A-Za-z0-9._+-]")
# Length of the made-up video on which `sampler_options` are tried once, before any video is read: long
# enough that a frame index given as an option (STCAM's `peak`) fits.
_OPTION_CHECK_FRAMES = 10_000


def _superset_function(sampler):
    """``data_prep.sampling.superset`` checked for ``sampler``, or ValueError when unavailable."""
    try:
        sampling = importlib.import_module("data_prep.sampling")
        superset = sampling.superset
        papers = sorted(sampling.SAMPLERS)
    except (ImportError, AttributeError) as error:
        raise ValueError(
            f"`sampler` {sampler!r}: the papers' frame samplers (data_prep.sampling.superset) are not "
            f"available yet ({error})."
        ) from error
    if sampler not in papers:
        raise ValueError(f"`sampler` must be one of {papers} or None; received sampler={sampler!r}")
    return superset


def _check_sampler_options(sampler, sampler_options):
    """ValueError naming the key and the sampler for an unknown option, or for a value the sampler rejects."""
    sampling = importlib.import_module("data_prep.sampling")
    parameters = inspect.signature(sampling.SAMPLERS[sampler]).parameters
    known = sorted(name for name, parameter in parameters.items()
                   if parameter.kind is inspect.Parameter.KEYWORD_ONLY and name not in ("training", "seed"))
    for key, value in sampler_options.items():
        if key not in known:
            raise ValueError(
                f"`sampler_options`: the {sampler!r} sampler has no option {key!r}; its options are {known}.")
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError(f"`sampler_options[{key!r}]` must be an int, float or str; "
                             f"received sampler_options[{key!r}]={value!r}")
    try:
        sampling.superset(sampler, _OPTION_CHECK_FRAMES, **sampler_options)
    except ValueError as error:
        raise ValueError(f"`sampler_options` {sampler_options} rejected by the {sampler!r} sampler "
                         f"(checked on a {_OPTION_CHECK_FRAMES}-frame video): {error}") from error


_KEYPOINT_DETECTORS = ("mtcnn", "blazeface", "blazeface_full")


@dataclasses.dataclass(frozen=True)
class PrepareOptions:
    """How faces are prepared; stored in ``OUT/prepare.json``.

    Args:
        detector: one of :data:`data_prep.faces.DETECTORS`.
        detect_every: detect on every k-th frame, track in between.
        no_face_policy: "hold", "interpolate" or "drop".
        size: crop side in pixels (224; 240 for STCAM).
        margin: square side = (1 + margin) x the face box's longer side.
        align: level the eyes (MTCNN or BlazeFace).
        sampler: None keeps every frame; a paper name ("ast", "stcam",
            "ecnn_fsa", "ceflnet", "stanet") keeps only the frames that
            paper's sampler can draw (``data_prep.sampling.superset``).
        sampler_options: None or a dict of the sampler's keyword arguments
            (int, float or str values; not ``training`` or ``seed``), for
            example ``{"peak": "middle"}`` for STCAM on MMI, whose apex is
            mid-video; the kept frames are ``superset(sampler, n_frames,
            **sampler_options)`` over the sample's annotated window
            (``data_prep.sampling.phase_window``: STCAM frames 0..apex,
            STANet onset..offset), which is what the readers draw. Checked
            once on a made-up 10000-frame video, so an unknown key fails
            before any video is read.
        jpeg_quality: JPEG quality of the crops, 1-100.
        detect_max_side: None detects on full frames; a number shrinks larger
            frames to this longer side for detection only (faster on large videos).
    """

    detector: str = "mtcnn"
    detect_every: int = 1
    no_face_policy: str = "hold"
    size: int = 224
    margin: float = 0.25
    align: bool = False
    sampler: str | None = None
    sampler_options: dict | None = None
    jpeg_quality: int = 95
    detect_max_side: int | None = None

    def __post_init__(self):
        check_choice(self.detector, faces.DETECTORS, "detector")
        if self.align and self.detector not in _KEYPOINT_DETECTORS:
            raise ValueError(f"`detector` must be one of {_KEYPOINT_DETECTORS} with align=True (it needs eye "
                             f"keypoints); received detector={self.detector!r}")
        object.__setattr__(self, "jpeg_quality", check_int(self.jpeg_quality, "jpeg_quality", 1, 100))
        # A copy with sorted keys, so that prepare.json is stable and the caller's dict can change freely.
        sampler_options = {} if self.sampler_options is None else self.sampler_options
        if not isinstance(sampler_options, dict):
            raise ValueError(f"`sampler_options` must be a dict or None; "
                             f"received sampler_options={sampler_options!r}")
        object.__setattr__(self, "sampler_options", dict(sorted(sampler_options.items())))
        if self.sampler is None and self.sampler_options:
            raise ValueError(f"`sampler_options` must be empty without a `sampler`; "
                             f"received sampler_options={self.sampler_options!r}")
        if self.sampler is not None:
            _superset_function(self.sampler)
            _check_sampler_options(self.sampler, self.sampler_options)
            if self.no_face_policy == "drop":
                raise ValueError(
                    "`no_face_policy='drop'` cannot be combined with `sampler`: dropped frames would be missing "
                    "from the frames the sampler draws; use 'hold' or 'interpolate'."
                )
        # The cropper checks the remaining arguments and names them; it is cheap to build (MTCNN's
        # networks are built at the first detection), and for Haar it checks that the cascade file exists.
        self.cropper()

    def cropper(self):
        """The :class:`~data_prep.faces.FaceCropper` these options describe."""
        return faces.FaceCropper(detector=self.detector, detect_every=self.detect_every, size=self.size,
                                 margin=self.margin, align=self.align, no_face_policy=self.no_face_policy,
                                 detect_max_side=self.detect_max_side)


@dataclasses.dataclass
class PrepareResult:
    """What a :func:`prepare` run did.

    Attributes:
        out_dir: the output folder.
        prepared: ids of the samples prepared by this run.
        skipped: ids of the samples found finished by an earlier run.
        failures: ``(file, reason)`` of the samples that could not be used.
        manifest_rows: the rows of ``manifest.csv`` (every usable sample); empty while other processes'
            shares are unfinished.
        complete: every sample of the input is finished or failed, and ``manifest.csv`` is written (False only
            for a process whose share ended before the others').
    """

    out_dir: str
    prepared: list
    skipped: list
    failures: list
    manifest_rows: list
    complete: bool = True


def _sample_id(relative_path):
    """A folder-safe id from a path relative to the input root: separators become ``__``."""
    parts = [part for part in relative_path.replace("\\", "/").split("/") if part not in ("", ".")]
    return _UNSAFE_ID_CHARACTERS.sub("_", "__".join(parts)).lstrip("._-+") or "sample"


def _source_row(sample_id, path):
    row = dict.fromkeys(manifest.SOURCE_COLUMNS, "")
    row.update(id=sample_id, path=os.path.abspath(path))
    return row


def _disambiguate(rows, input_path):
    """Samples whose ids clash (``clip.mp4`` and ``clip.avi``) keep their extension in the id."""
    counts = {}
    for row in rows:
        counts[row["id"]] = counts.get(row["id"], 0) + 1
    for row in rows:
        if counts[row["id"]] > 1 and os.path.isfile(row["path"]):
            row["id"] = _sample_id(os.path.relpath(row["path"], input_path))


def collect_samples(input_path, strict=False):
    """The samples of an input: source rows (:data:`~data_prep.manifest.SOURCE_COLUMNS` dicts).

    * a ``.csv`` file: a dataset manifest; a row whose onset/apex/offset are
      impossible is left out and reported, as the dataset adapters do
      (:class:`~data_prep.datasets.Manifest` ``.problems``, a
      :class:`~data_prep.datasets.DatasetWarning` each; ``strict``: a
      :class:`~data_prep.datasets.DatasetError`);
    * another file: one video (id = file name without extension);
    * a frame folder (images, no video): one sample;
    * any other folder: every video file (by extension) and every frame
      folder below it, recursively; ids are the relative paths without the
      extension (kept where two files differ only by it), with ``__`` for the
      separators. Images in a folder that also holds videos are not frames
      and are ignored.

    Raises:
        FileNotFoundError: ``input_path`` does not exist.
        ValueError: no sample found, or two samples with the same id.
        DatasetError: ``strict`` and a manifest row is impossible.
    """
    input_path = os.fspath(input_path)
    if not os.path.exists(input_path):
        raise FileNotFoundError(f"{input_path}: no such file or folder")
    if os.path.isfile(input_path):
        if input_path.lower().endswith(".csv"):
            rows, problems = datasets.check_rows(manifest.read_manifest(input_path), None, input_path)
            datasets.report(problems, input_path, strict)
            return datasets.Manifest(rows, problems, sorted({row["label"] for row in rows if row["label"]}))
        return [_source_row(_sample_id(os.path.splitext(os.path.basename(input_path))[0]), input_path)]
    if video.is_frame_folder(input_path):
        return [_source_row(_sample_id(os.path.basename(os.path.abspath(input_path))), input_path)]
    rows = []
    for folder, subfolders, names in os.walk(input_path):
        subfolders.sort()
        for name in sorted(names):
            if name.lower().endswith(video.VIDEO_EXTENSIONS):
                path = os.path.join(folder, name)
                rows.append(_source_row(_sample_id(os.path.splitext(os.path.relpath(path, input_path))[0]), path))
        for name in list(subfolders):
            path = os.path.join(folder, name)
            if video.is_frame_folder(path):
                rows.append(_source_row(_sample_id(os.path.relpath(path, input_path)), path))
                subfolders.remove(name)
    if not rows:
        raise ValueError(f"{input_path}: no video file ({', '.join(video.VIDEO_EXTENSIONS)}) or frame folder found")
    _disambiguate(rows, input_path)
    by_id = {}
    for row in rows:
        by_id.setdefault(row["id"], []).append(row["path"])
    clashes = {sample_id: paths for sample_id, paths in by_id.items() if len(paths) > 1}
    if clashes:
        raise ValueError(f"{input_path}: these files would get the same sample id, rename them or use a "
                         f"manifest CSV with explicit ids: {clashes}")
    return rows


def dataset_samples(name, root, strict=False):
    """The samples of a named dataset from its adapter ``data_prep.datasets.<name>.build_manifest(root, strict)``.

    Raises:
        ValueError: no adapter of that name (the message lists those that exist).
    """
    try:
        adapter = importlib.import_module(f"data_prep.datasets.{name}")
        build = adapter.build_manifest
    except (ImportError, AttributeError):
        folder = os.path.join(os.path.dirname(__file__), "datasets")
        known = sorted(
            os.path.splitext(entry)[0] for entry in os.listdir(folder)
            if entry.endswith(".py") and not entry.startswith("_")
        ) if os.path.isdir(folder) else []
        raise ValueError(
            f"`dataset` must name a dataset adapter (data_prep.datasets.NAME with build_manifest), one of "
            f"{known or 'none yet (the dataset adapters are not written yet)'}, or prepare a folder of videos or a "
            f"manifest CSV with --input instead; received dataset={name!r}"
        ) from None
    return build(root, strict=strict)


def _write_jpeg(path, crop, quality):
    if not cv2.imwrite(path, cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]):
        raise OSError(f"{path}: cannot write the JPEG file")


def _frame_rows(track):
    rows = []
    for index, status, box in zip(track.frame_indices, track.statuses, track.boxes):
        row = {"frame_index": int(index), "status": status}
        if status != "dropped":
            corners = {key: f"{value:.2f}" for key, value in zip(("x0", "y0", "x1", "y1"), box)}
            row.update(file=f"{int(index):06d}.jpg", **corners)
        rows.append(row)
    return rows


def prepare_sample(sample, out_dir, options):
    """Prepare one sample into ``out_dir/crops/<id>``; returns its manifest row.

    Args:
        sample: a source row (``id`` and ``path`` at least).
        out_dir: the output folder.
        options: :class:`PrepareOptions`.

    Raises:
        VideoError, NoFaceError: the sample cannot be used (nothing is left behind).
        ValueError: its onset/apex/offset are impossible (:func:`~data_prep.manifest.row_problems`), beyond
            the video's frames included.
    """
    cropper = options.cropper()
    reader = video.VideoReader(sample["path"])
    impossible = manifest.row_problems(sample, n_frames=reader.info.n_frames)
    if impossible:
        raise ValueError(f"{sample['path']}: sample {sample['id']!r}: {'; '.join(impossible)}")
    indices = None
    if options.sampler is not None:
        superset = _superset_function(options.sampler)
        window = importlib.import_module("data_prep.sampling").phase_window(
            options.sampler, reader.info.n_frames, sample, **options.sampler_options)
        indices = superset(options.sampler, reader.info.n_frames, window=window, **options.sampler_options)
    track = cropper.track(reader, indices)
    crops_root = os.path.join(out_dir, "crops")
    final = os.path.join(crops_root, sample["id"])
    partial = files.temporary_name(final)
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    try:
        for index, crop in cropper.iter_crops(reader, track):
            _write_jpeg(os.path.join(partial, f"{index:06d}.jpg"), crop, options.jpeg_quality)
        manifest.write_csv(os.path.join(partial, "frames.csv"), manifest.FRAME_COLUMNS, _frame_rows(track))
        row = {column: sample.get(column, "") for column in manifest.SOURCE_COLUMNS}
        row.update(
            n_frames=reader.info.n_frames,
            fps="" if reader.info.fps is None else f"{reader.info.fps:.6g}",
            crops_dir=f"crops/{sample['id']}",
            n_crops=len(track.kept_indices),
            n_no_face=len(track.no_face_indices),
        )
        manifest.write_csv(os.path.join(partial, "sample.csv"), manifest.PREPARED_COLUMNS, [row])
        os.rename(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return {key: str(value) for key, value in row.items()}


def _init_worker(threads):
    # Read by TensorFlow when mtcnn first imports it: workers share the cores instead of each taking all.
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(threads))
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    cv2.setNumThreads(threads)
    start_tensorflow_like_parent()  # quiet, as the command that spawned it (before a detector imports TensorFlow)


def _prepare_or_fail(job):
    """``("done", row)`` or ``("failed", (file, reason))``; a failure never stops the batch."""
    sample, out_dir, options = job
    try:
        return "done", prepare_sample(sample, out_dir, options)
    except Exception as error:  # one bad video must not end a batch of thousands
        reason = str(error)
        if reason.startswith(f"{sample['path']}: "):  # the file column names it already
            reason = reason[len(sample["path"]) + 2:]
        return "failed", (sample["path"], f"{type(error).__name__}: {reason}")


def _run_jobs(jobs, workers):
    """Yield the outcome of every job as it finishes, in this process or in ``workers`` processes."""
    if workers == 1 or len(jobs) <= 1:
        yield from map(_prepare_or_fail, jobs)
        return
    # Spawned, not forked: the parent may hold TensorFlow's threads (keras_fer is imported by the CLI).
    threads = max(1, (os.cpu_count() or 1) // workers)
    executor = ProcessPoolExecutor(min(workers, len(jobs)), multiprocessing.get_context("spawn"),
                                   _init_worker, (threads,))
    try:
        pending = {executor.submit(_prepare_or_fail, job): job[0]["path"] for job in jobs}
        for future in as_completed(pending):
            try:
                yield future.result()
            except BrokenProcessPool as error:
                yield "failed", (pending[future], f"{type(error).__name__}: a worker process died (out of memory, "
                                                  "or a crash inside a decoder) while this file was queued or running")
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _finished_row(out_dir, sample):
    """The manifest row of a sample finished by an earlier run, or None; ValueError for a foreign folder."""
    folder = os.path.join(out_dir, "crops", sample["id"])
    if not os.path.exists(folder):
        return None
    record = os.path.join(folder, "sample.csv")
    if not os.path.isfile(record):
        raise ValueError(f"{folder} exists but is not a sample finished by prepare (no sample.csv); "
                         "remove it to prepare the sample again")
    return manifest.read_csv(record, required=manifest.PREPARED_COLUMNS)[0]


def _check_options_file(out_dir, options):
    path = os.path.join(out_dir, "prepare.json")
    wanted = dataclasses.asdict(options)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            used = json.load(handle)
        used.setdefault("sampler_options", {})  # folders prepared before the option existed used none
        if used != wanted:
            raise ValueError(
                f"{out_dir} was prepared with other options {used}; this run asks for {wanted}. "
                "Use another output folder, or the same options to resume."
            )
        return
    files.write_json(path, wanted)


def _remove_leftovers(out_dir, ids):
    """Remove the partial folders of interrupted runs for the samples ``ids`` (this process's share: another
    process's may be in progress)."""
    crops_root = os.path.join(out_dir, "crops")
    for name in os.listdir(crops_root):
        if name.startswith(".") and ".partial-" in name and name[1:].rsplit(".partial-", 1)[0] in ids:
            shutil.rmtree(os.path.join(crops_root, name), ignore_errors=True)


_PROCESS_FAILURE_COLUMNS = ("id", "file", "reason")


def _process_failures_path(out_dir, process_index):
    return os.path.join(out_dir, f"failures.process-{process_index}.csv")


def _shared_outcome(out_dir, samples, num_processes):
    """``(rows_by_id, failures)`` over every process's share, or None while a sample is neither finished nor
    failed (another process is still at work)."""
    failed = {}
    for index in range(num_processes):
        path = _process_failures_path(out_dir, index)
        if os.path.isfile(path):
            failed.update({row["id"]: (row["file"], row["reason"])
                           for row in manifest.read_csv(path, required=_PROCESS_FAILURE_COLUMNS)})
    rows_by_id, failures = {}, []
    for sample in samples:
        try:
            row = _finished_row(out_dir, sample)
        except ValueError:
            row = None
        if row is not None:
            rows_by_id[sample["id"]] = row
        elif sample["id"] in failed:
            failures.append(failed[sample["id"]])
        else:
            return None
    return rows_by_id, failures


def prepare(input_path, out_dir, options=None, workers=1, progress=True, samples=None, process_index=0,
            num_processes=1):
    """Prepare every sample of an input; see the module for the output layout.

    Several processes or machines sharing ``out_dir`` each prepare their
    share (sample ``i`` of the input belongs to process ``i % num_processes``;
    see :func:`data_prep.cluster.process_share`); each records its failures in
    ``failures.process-<index>.csv``, and the last process to finish writes
    ``manifest.csv`` and ``failures.csv`` for all. Each share resumes as a
    single run does.

    Args:
        input_path: video, frame folder, folder of videos, or manifest CSV
            (ignored when ``samples`` is given).
        out_dir: output folder (created).
        options: :class:`PrepareOptions` (None: defaults).
        workers: parallel processes; 1 works in this process.
        progress: show a tqdm progress bar.
        samples: source rows to prepare instead of reading ``input_path``
            (from :func:`dataset_samples`).
        process_index: this process's share (0 .. ``num_processes - 1``).
        num_processes: processes or machines sharing the work.

    Returns:
        :class:`PrepareResult`.
    """
    options = options or PrepareOptions()
    workers = check_int(workers, "workers", minimum=1)
    samples = collect_samples(input_path) if samples is None else list(samples)
    for sample in samples:
        manifest.check_sample_id(sample["id"], "sample list")
    out_dir = os.fspath(out_dir)
    os.makedirs(os.path.join(out_dir, "crops"), exist_ok=True)
    num_processes = check_int(num_processes, "num_processes", minimum=1)
    process_index = check_int(process_index, "process_index", minimum=0, maximum=num_processes - 1)
    mine = [sample for i, sample in enumerate(samples) if i % num_processes == process_index]
    _check_options_file(out_dir, options)
    _remove_leftovers(out_dir, {sample["id"] for sample in mine})

    rows_by_id, skipped, prepared, failures, jobs = {}, [], [], [], []
    for sample in mine:
        try:
            row = _finished_row(out_dir, sample)
        except ValueError as error:
            failures.append((sample["path"], f"ValueError: {error}"))
            continue
        if row is None:
            jobs.append((sample, out_dir, options))
        else:
            rows_by_id[sample["id"]] = row
            skipped.append(sample["id"])

    with tqdm(total=len(mine), initial=len(mine) - len(jobs), desc="prepare", unit="video",
              disable=not progress) as bar:
        for kind, value in _run_jobs(jobs, workers):
            if kind == "done":
                rows_by_id[value["id"]] = value
                prepared.append(value["id"])
            else:
                failures.append(value)
            bar.set_postfix(failed=len(failures))
            bar.update()

    if num_processes > 1:
        reasons = dict(failures)
        manifest.write_csv(_process_failures_path(out_dir, process_index), _PROCESS_FAILURE_COLUMNS,
                           [{"id": sample["id"], "file": sample["path"], "reason": reasons.get(sample["path"], "")}
                            for sample in mine if sample["id"] not in rows_by_id])
        outcome = _shared_outcome(out_dir, samples, num_processes)
        if outcome is None:
            return PrepareResult(out_dir, prepared, skipped, failures, [], complete=False)
        rows_by_id, all_failures = outcome
    else:
        all_failures = failures
    manifest_rows = [rows_by_id[s["id"]] for s in samples if s["id"] in rows_by_id]
    manifest.write_csv(os.path.join(out_dir, "manifest.csv"), manifest.PREPARED_COLUMNS, manifest_rows)
    manifest.write_csv(os.path.join(out_dir, "failures.csv"), manifest.FAILURE_COLUMNS,
                       [{"file": file, "reason": reason} for file, reason in all_failures])
    return PrepareResult(out_dir, prepared, skipped, failures, manifest_rows)
