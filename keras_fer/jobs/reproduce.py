"""``keras-fer reproduce``: run a paper's results-table rows under a protocol and print them beside the paper's numbers.

With ``dataset="synthetic"`` (the default) everything runs from nothing on a
CPU: the built-in synthetic benchmark is rendered (:mod:`data_prep.synthetic`),
prepared (``keras-fer prepare``, whole-frame crops), its features extracted
(``keras-fer extract``), and every row of each paper is cross-validated
(subject-independent folds, the epoch selected on a validation subject carved
from the training side, the test subjects predicted once).
Synthetic numbers are NOT comparable with the papers' numbers (other data,
a stand-in stem, scaled-down settings); the table prints the papers' numbers
only to say which row is which.

What the synthetic run changes, per paper (:data:`SYNTHETIC_PLANS`; each is
said in the table's notes):

- Stem: the papers' pretrained stems (VGGFace, ECNN, ResNet-18) are replaced
  by the FER2013 mini-Xception that keras-fer ships (128-d per frame), frozen
  and cached: weights for the papers' stems cannot ship, and random stems give
  chance-level features (see the models' learning checks).
- STCAM trains end to end on 32x32 face-framed crops, its rows starting from
  a baseline stem pre-trained once on 60 other synthetic subjects (a stand-in
  for the paper's Kinetics pre-training, :func:`pretrained_stem`); AST's small
  CNN on 32x32 crops; STANet on
  optical flow of the synthetic ``micro`` mode at 32x32, with 10 flow fields and
  narrower filters (its learning check's scale).
- Epochs, batch sizes and learning rates are scaled to the small data; the
  rows trained end to end run on the first fold only (CPU time).
- ECNN-FSA's rows each read the stand-in of the ECNN variant their spec
  names (without the enhanced branch, 3072-d, FC layers or a 5x5 kernel in
  the branch; :func:`keras_fer.stems.ecnn.ecnn_stand_in`), each cached once.
- Rows that need data the synthetic benchmark lacks (68-point landmarks) are
  listed as skipped, with the reason.

Rows train in parallel worker processes (``workers``): the synthetic models
are small enough that one process keeps only one core busy.

With a real dataset, ``reproduce`` runs the rows on a feature cache that
``keras-fer prepare``/``extract`` made from the user's copy (see docs/training.md, "Real datasets"),
under the dataset's protocol (:func:`dataset_folds`); rows trained end to
end are listed as skipped with the command that runs them
(:func:`end_to_end_reason`), and so are rows whose ECNN variant is not the
cache's stem, with the ``keras-fer extract --stem`` that caches it.

Example:

>>> results = reproduce("runs/repro", paper="ecnn_fsa", quick=True)   # doctest: +SKIP
>>> print(open("runs/repro/reproduce.md").read())                     # doctest: +SKIP
"""

import dataclasses
import os
import time

from data_prep import files
from data_prep.checks import check_int
from data_prep.tensorflow_logs import start_single_threaded_worker
from keras_fer import backends
from keras_fer.data.flow import flow_source
from keras_fer.evaluation import reported, splits
from keras_fer.jobs import training
from keras_fer.models.registry import get_spec, list_models
from keras_fer.training import distribute
from keras_fer.training.recipes import get_recipe

__all__ = ["PAPERS", "SYNTHETIC_PLANS", "SyntheticPlan", "dataset_folds", "end_to_end_reason", "pretrained_stem",
           "reproduce", "synthetic_data"]

PAPERS = ("ast", "stcam", "ecnn_fsa", "ceflnet", "stanet")
STAND_IN_STEM = "fer2013_mini_xception"

#: The synthetic benchmark's size per mode (``data_prep.synthetic.generate_dataset`` arguments).
SYNTHETIC_DATA = {
    "macro": dict(mode="macro", n_subjects=6, videos_per_class=3, size=64, n_frames=32),
    "micro": dict(mode="micro", n_subjects=24, videos_per_class=2, size=96, n_frames=32),
    # STCAM's rows: the macro benchmark's subjects, faces framed as a detector crops them (data_prep.synthetic).
    "macro_faces": dict(mode="macro", n_subjects=6, videos_per_class=3, size=64, n_frames=32, framing="face"),
    # STCAM's stand-in for Kinetics pre-training: 60 other subjects (rendered with the seed + 1), one video per class.
    "macro_faces_pretraining": dict(mode="macro", n_subjects=60, videos_per_class=1, size=64, n_frames=32,
                                    framing="face"),
}
#: Subject-independent folds of the synthetic protocol, and validation subjects carved from each training side.
SYNTHETIC_FOLDS, SYNTHETIC_VALIDATION_SUBJECTS = 3, 1
#: Folds run by the rows trained end to end (STCAM, AST's small CNN, STANet), to fit the run in 15 CPU minutes.
SYNTHETIC_END_TO_END_FOLDS = 1
#: ECNN-FSA's LSTM widths on the stand-in variants: the paper's divided by ``STAND_IN_WIDTH_DIVISOR`` (8), as the
#: stand-in's features are (256-d for 2048, 128-d for the 1024-d trunk alone).
_ECNN_LSTM_UNITS = {"ecnn_lstm": (256,), "ecnn_lstm2": (256, 256), "ecnn_lstm2_fc1_k5": (256, 256),
                    "ecnn_lstm2_fc2_k5": (256, 256), "ecnn_lstm2_fc2_k7": (256, 256), "ecnn_nobranch_lstm": (256,),
                    "ecnn_nobranch_lstm_3000": (375,), "ecnn_nobranch_lstm2": (256, 256),
                    "ecnn_nobranch_lstm2_3000": (375, 375), "ecnn_nobranch_lstm2_2048_1024": (256, 128)}


def stand_in_stem(model):
    """The stem whose cache ``model`` reads on the synthetic benchmark: the stand-in of its spec's ECNN variant
    (:func:`keras_fer.stems.ecnn.ecnn_stand_in`), else :data:`STAND_IN_STEM`."""
    from keras_fer.stems.ecnn import ECNN_STAND_INS

    stem = get_spec(model).stem
    return next((name for name, variant in ECNN_STAND_INS.items() if variant == stem), STAND_IN_STEM)


def end_to_end_reason(model):
    """Why ``model`` cannot run on a cache of per-frame stem features (None when it can)."""
    if model.startswith("stcam"):
        return "3D network trained end to end (its stem is not cached): keras-fer cv --data PREPARED/"
    if model.startswith("stanet"):
        return ("reads optical flow: cross-validate an ArraySource of flow (keras_fer.data.sources) with "
                "keras_fer.jobs.training.cross_validate")
    if model.startswith("ast_cnn"):
        return "small CNN trained end to end: keras-fer cv --data PREPARED/"
    if model.startswith("ast_landmarks"):
        return "reads 68-point landmarks (data_prep.landmarks), not stem features"
    return None


@dataclasses.dataclass(frozen=True)
class SyntheticPlan:
    """How one paper's rows run on the synthetic benchmark.

    Args:
        mode: the data the rows read, a key of :data:`SYNTHETIC_DATA` (``"macro"``, ``"macro_faces"``, ``"micro"``).
        source: ``"features"`` (the stand-in stem's cache), ``"frames"`` (prepared crops, drawn by the sampler
            in each sample's annotated window: STCAM's peak is the apex) or ``"flow"``.
        sampler: the paper's sampler name, drawn by the readers.
        recipe: overrides of the paper's recipe (epochs, batch size, learning rate, ...).
        quick_epochs: epochs with ``quick=True``.
        model_kwargs: model arguments (sizes) for end-to-end rows.
        frames_rows: rows that train end to end on crops even though the plan reads features.
        frames_kwargs: their model arguments (``frame_size`` sets the crops' size too).
        frames_epochs: their epochs (None: the plan's).
        skip: row -> reason it does not run on synthetic data.
        row_kwargs: row -> model arguments scaled to the stand-in features.
        validation_subjects: subjects carved from each fold's training side to select the epoch.
        pretraining: None, or how the stem that every row starts from is pre-trained once
            (:func:`pretrained_stem`): ``data`` (a key of :data:`SYNTHETIC_DATA`, rendered with the seed + 1),
            ``model`` (trained on it), ``stem`` (its layer whose weights are kept), ``epochs``,
            ``quick_epochs`` and ``recipe`` (overrides of the plan's recipe).
        note: one line for the table.
    """

    mode: str
    source: str
    sampler: str
    recipe: dict
    quick_epochs: int
    model_kwargs: dict = dataclasses.field(default_factory=dict)
    frames_rows: tuple = ()
    frames_kwargs: dict = dataclasses.field(default_factory=dict)
    frames_epochs: object = None
    skip: dict = dataclasses.field(default_factory=dict)
    row_kwargs: dict = dataclasses.field(default_factory=dict)
    validation_subjects: int = SYNTHETIC_VALIDATION_SUBJECTS
    pretraining: object = None
    note: str = ""


SYNTHETIC_PLANS = {
    "ast": SyntheticPlan(
        mode="macro", source="features", sampler="ast", recipe=dict(epochs=20, batch_size=8), quick_epochs=10,
        frames_rows=("ast_cnn", "ast_cnn_lstm"), frames_kwargs=dict(num_frames=20, frame_size=32), frames_epochs=10,
        skip={"ast_landmarks": "needs 68-point landmarks, which the synthetic faces do not have",
              "ast_landmarks_lstm": "needs 68-point landmarks, which the synthetic faces do not have"},
        note="stand-in stem features (20 x 128) instead of VGGFace pool5; Adam 1e-3, 20 epochs, batch 8; the small CNN "
             "rows end to end at 32x32, 10 epochs, first fold"),
    "stcam": SyntheticPlan(
        mode="macro_faces", source="frames", sampler="stcam", quick_epochs=1,
        recipe=dict(epochs=8, batch_size=8, optimizer="adam", learning_rate=3e-5, momentum=0.0, nesterov=False,
                    weight_decay=0.0, schedule="constant", augmentation=("horizontal_flip", "temporal_jitter")),
        model_kwargs=dict(num_frames=7, frame_size=32, bn_momentum=0.9),
        pretraining=dict(data="macro_faces_pretraining", model="stcam_baseline", stem="inception_resnet3d_none",
                         epochs=30, quick_epochs=1, recipe=dict(learning_rate=3e-4, schedule="step",
                                                                 decay_epochs=(20,))),
        note="end to end at 32x32 on face-framed clips (paper: 224), 7 frames peaked at each clip's annotated apex, "
             "the recipe's flips and temporal jitter but not its corner/centre crops (the reader's crop is a 240/224 "
             "zoom resampled back to 32 px; with it the baseline began to learn about 4 epochs later and was at "
             "0.56 instead of 0.64 on validation after 20, one run each); instead of Kinetics pre-training, every "
             "row starts from "
             "the baseline's stem trained once on 60 other synthetic subjects (30 epochs, Adam 3e-4, a tenth from "
             "epoch 21; the layers a row adds start at random), then trains 8 epochs at Adam 3e-5, no weight decay, "
             "batch 8, first fold"),
    "ecnn_fsa": SyntheticPlan(
        mode="macro", source="features", sampler="ecnn_fsa", recipe=dict(epochs=20, batch_size=8, learning_rate=0.03),
        quick_epochs=15,
        row_kwargs={model: {"lstm_units": units} for model, units in _ECNN_LSTM_UNITS.items()},
        note="each row on the stand-in of its ECNN variant (keras_fer.stems.ecnn.ecnn_stand_in): the stand-in stem's "
             "add_4 as the trunk (128-d; 256-d through a 1x1 conv for the 3072-d rows) plus a seeded, frozen "
             "enhanced branch on add_3 (128-d; k x k conv, FC layers as the row's), 1/8 of the paper's widths "
             "(5 x 256 instead of 5 x 2048), LSTM widths 1/8 of the paper's too; SGD momentum 0.9, lr 0.03, "
             "20 epochs, batch 8"),
    "ceflnet": SyntheticPlan(
        mode="macro", source="features", sampler="ceflnet", recipe=dict(epochs=20, batch_size=8, learning_rate=1e-3),
        quick_epochs=15, row_kwargs={"ceflnet_lstm": {"lstm_units": 128}},
        note="stand-in stem features (7 x 5 x 128) instead of ResNet-18 (the LSTM row: 128 units, as wide as its "
             "input); Adam 1e-3 with cosine and 5 warm-up epochs, 20 epochs, batch 8"),
    "stanet": SyntheticPlan(
        mode="micro", source="flow", sampler="stanet", quick_epochs=10,
        recipe=dict(epochs=60, batch_size=8, learning_rate=3e-3, weight_decay=0.0,
                    augmentation=get_recipe("stanet").augmentation + ("horizontal_flip",)),
        model_kwargs=dict(frame_size=(32, 32), filters=(8, 16, 32)), validation_subjects=4,
        note="Farneback flow of the onset..offset window, 10 fields at 32x32 (paper: 20 at 192, FlowNet 2.0), "
             "filters 8-16-32, Adam 3e-3, 60 epochs, the recipe's corner crops and rescaling plus horizontal flips "
             "(the paper's SMIC-HS augmentation), first fold "
             "(24 subjects), the epoch selected on 4 validation subjects (24 clips; with one subject's 6 clips and "
             "30 epochs the full model had selected epoch 1, at chance)"),
}


def _check_paper(paper):
    if paper == "all":
        return PAPERS
    if paper not in PAPERS:
        raise ValueError(f"`paper` must be 'all' or one of {PAPERS}; received paper={paper!r}")
    return (paper,)


def synthetic_data(root, mode, seed=0, progress=False):
    """Render, prepare and (macro) extract the synthetic benchmark of ``mode`` under ``root``; returns the folders.

    Returns ``{"prepared": DIR, "cache": DIR or None}``; a rerun reuses what is there.
    """
    from data_prep import synthetic
    from data_prep.prepare import PrepareOptions, dataset_samples, prepare
    from keras_fer.data import cache

    settings = SYNTHETIC_DATA[mode]
    videos, prepared = os.path.join(root, "videos"), os.path.join(root, "prepared")
    if not os.path.isfile(os.path.join(videos, "synthetic.json")):
        synthetic.generate_dataset(videos, seed=seed, **settings)
    if not os.path.isfile(os.path.join(prepared, "manifest.csv")):
        # face-framed frames already are a detector's crop, margin included: no black border around them
        margin = {"margin": 0.0} if settings.get("framing") == "face" else {}
        options = PrepareOptions(detector="full_frame", size=settings["size"], **margin)
        prepare(videos, prepared, options, progress=progress, samples=dataset_samples("synthetic", videos))
    folders = {"prepared": prepared, "cache": None}
    if mode == "macro":
        folders["cache"] = os.path.join(root, f"features_{STAND_IN_STEM}")
        cache.extract(prepared, folders["cache"], stem=STAND_IN_STEM, sampler=None, batch_size=256,
                      progress=progress)
    return folders


def pretrained_stem(root, paper, seed=0, quick=False, progress=False):
    """The stem that ``paper``'s synthetic rows start from, pre-trained once as its plan's ``pretraining`` says.

    The plan's ``model`` is trained (``keras_fer.jobs.training.train_model``, the epoch selected on 6 of its
    subjects) on the ``data`` rendered with ``seed + 1``, subjects the benchmark's folds never see, and its
    ``stem`` layer's weights are written by layer name (:func:`keras_fer.stems.weights.save_h5_by_name`), so
    that every row's model loads the layers it shares with that stem. Returns the file's path; a rerun reuses it.
    """
    from keras_fer.data.sources import FrameSource
    from keras_fer.stems.weights import save_h5_by_name

    plan = SYNTHETIC_PLANS[paper]
    settings = plan.pretraining
    path = _pretrained_path(root, paper, quick)
    if os.path.isfile(path):
        return path
    folders = synthetic_data(os.path.join(root, "data", settings["data"]), settings["data"], seed + 1, progress)
    source = FrameSource(folders["prepared"], sampler=plan.sampler, image_size=plan.model_kwargs["frame_size"])
    epochs = settings["quick_epochs" if quick else "epochs"]
    recipe = get_recipe(paper, **{**plan.recipe, **settings["recipe"], "epochs": epochs})
    network = training.train_model(source, settings["model"], out_dir=os.path.join(os.path.dirname(path),
                                                                                     settings["model"]),
                                   recipe=recipe, validation_size=0.1, seed=seed, model_kwargs=plan.model_kwargs,
                                   verbose=0, tensorboard=False)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    save_h5_by_name(network.get_layer(settings["stem"]), path)
    return path


def _pretrained_path(root, paper, quick):
    return os.path.join(root, "pretrained", f"{SYNTHETIC_PLANS[paper].pretraining['model']}_"
                                            f"{'quick' if quick else 'full'}_stem.h5")


def _pretrain(task):
    """:func:`pretrained_stem` of one paper (``task``: its arguments) -> (paper, seconds it took)."""
    started = time.perf_counter()
    pretrained_stem(**task)
    return task["paper"], round(time.perf_counter() - started, 1)


def _run_jobs(todo, pretraining, workers):
    """Every job's row, in ``todo``'s order, after the stems they start from (``pretraining``: tasks of
    :func:`pretrained_stem`); returns (rows, {paper: seconds of pre-training})."""
    if workers == 1 or len(todo) + len(pretraining) <= 1:
        pretrained = dict(_pretrain(task) for task in pretraining)
        return [_run_job(job) for job in todo], pretrained
    import concurrent.futures
    import multiprocessing

    waits = {task["paper"] for task in pretraining}
    with concurrent.futures.ProcessPoolExecutor(min(workers, len(todo) + len(pretraining)),
                                                initializer=start_single_threaded_worker,
                                                mp_context=multiprocessing.get_context("spawn")) as pool:
        stems = [pool.submit(_pretrain, task) for task in pretraining]  # first, beside the rows that need none
        futures = {index: pool.submit(_run_job, job) for index, job in enumerate(todo) if job["paper"] not in waits}
        try:
            pretrained = dict(stem.result() for stem in stems)
        except BaseException:  # no row waits for the others to finish first
            for future in futures.values():
                future.cancel()
            raise
        futures.update({index: pool.submit(_run_job, job) for index, job in enumerate(todo) if index not in futures})
        return [futures[index].result() for index in range(len(todo))], pretrained


def stand_in_caches(folders, models, progress=False):
    """Cache, once, the stand-in ECNN variants (:func:`stand_in_stem`) that ``models`` read on the synthetic
    benchmark, each as its own cache beside the stand-in stem's; records them in ``folders["caches"]``."""
    from keras_fer.data import cache
    from keras_fer.stems import fer2013
    from keras_fer.stems.ecnn import ecnn_stand_in

    caches = folders.setdefault("caches", {})
    for stem in dict.fromkeys(stand_in_stem(model) for model in models):
        if stem == STAND_IN_STEM or stem in caches:
            continue
        path = os.path.join(os.path.dirname(folders["prepared"]), f"features_{stem}")
        cache.extract(folders["prepared"], path, stem=stem, stem_model=ecnn_stand_in(stem),
                      preprocess=fer2013.preprocess_input, sampler=None, batch_size=256, progress=progress)
        caches[stem] = path
    return folders


def _rows(paper, quick):
    return [get_recipe(paper).model] if quick else list_models(paper)


def _format(summary, metric):
    entry = summary.get(metric)
    if not entry:
        return ""
    return f"{100 * entry['mean']:.1f} ± {100 * entry['std']:.1f}"


def _reported_text(model, dataset):
    """The paper's numbers for ``model``: on ``dataset``, or on every dataset for a synthetic run."""
    entries = reported.reported(model, None if dataset == "synthetic" else dataset)
    return "; ".join(f"{e.dataset} {e.metric} {e.value:g}" for e in entries) or "none on this dataset"


def _markdown(results, dataset):
    lines = []
    for paper, block in results["papers"].items():
        pretraining = (f", {block['pretraining_seconds']:.0f} s of it pre-training the stem"
                       if "pretraining_seconds" in block else "")
        lines.append(f"### {paper} ({block['seconds']:.0f} s of training{pretraining})\n")
        if block.get("note"):
            lines.append(f"{block['note']}.\n")
        lines.append("| model | paper table row | accuracy % (mean ± std) | UAR % | folds x epochs "
                     "| paper reports (%) |")
        lines.append("|---|---|---|---|---|---|")
        for row in block["rows"]:
            if row.get("skipped"):
                ours, uar, folds = f"skipped: {row['skipped']}", "", ""
            else:
                ours, uar = _format(row["summary"], "accuracy"), _format(row["summary"], "uar")
                folds = f"{row['n_folds']} x {row['epochs']}"
            lines.append(f"| `{row['model']}` | {row['reproduces']} | {ours} | {uar} | {folds} | {row['reported']} |")
        lines.append("")
    header = (f"keras-fer reproduce on {dataset}: {results['seconds']:.0f} s with {results['workers']} worker(s)"
              + (", quick" if results["quick"] else "") + ".\n")
    if dataset == "synthetic":
        header += ("Synthetic numbers are not comparable with the papers' numbers: other data, a stand-in stem and "
                   f"scaled-down training. Chance is {100 / 6:.1f} % (macro, 6 classes) and {100 / 3:.1f} % "
                   "(micro, 3 classes: STANet).\n")
    return header + "\n" + "\n".join(lines)


def dataset_folds(dataset, rows, data_root=None, seed=0):
    """The protocol's folds of ``dataset`` (the papers' protocols; see :mod:`keras_fer.evaluation.splits`).

    Official splits for AFEW, DFEW and UCF-101 (read from ``data_root``, the dataset's own folder),
    leave-one-subject-out for the micro-expression sets (CASME I/II, SMIC), subject-independent 10-fold in
    ascending subject order otherwise (CK+, Oulu-CASIA, MMI, BU-3DFE).
    """
    if dataset in ("afew", "dfew", "ucf101"):
        if data_root is None:
            raise ValueError(f"{dataset}: its official splits are read from the dataset's folder; give --data-root")
        folds = splits.official_splits(dataset, data_root)
        ids = {row["id"] for row in rows}
        return [splits.Fold(f.name, [i for i in f.train_ids if i in ids], [i for i in f.test_ids if i in ids])
                for f in folds]
    if dataset in ("casme1", "casme2", "smic"):
        return splits.leave_one_subject_out(rows)
    return splits.subject_kfold(rows, k=10, order="ckplus", seed=seed)


def _run_row(source, model, folds, out_dir, recipe, model_kwargs, verbose, validation, tensorboard, seed, strategy):
    validation_size, validation_by = validation
    return training.cross_validate(source, model, folds, out_dir=out_dir, recipe=recipe, seed=seed, strategy=strategy,
                                   validation_size=validation_size, validation_by=validation_by,
                                   model_kwargs=model_kwargs,
                                   verbose=verbose, tensorboard=tensorboard, figures=True,
                                   fold_figures=False)


_FLOW_SOURCES = {}  # prepared folder -> its flow ArraySource, computed once per process
def synthetic_row(plan, model, folders, recipe, quick, epochs):
    """(source, folds, recipe, model arguments, (validation size, grouping)) of a synthetic row that runs."""
    from keras_fer.data.sources import FeatureSource, FrameSource

    model_kwargs = {}
    if plan.source == "flow":
        if folders["prepared"] not in _FLOW_SOURCES:
            _FLOW_SOURCES[folders["prepared"]] = flow_source(folders["prepared"])
        source, model_kwargs = _FLOW_SOURCES[folders["prepared"]], dict(plan.model_kwargs)
    elif plan.source == "frames":
        source = FrameSource(folders["prepared"], sampler=plan.sampler, image_size=plan.model_kwargs["frame_size"])
        model_kwargs = dict(plan.model_kwargs)
        if folders.get("stem_weights"):
            model_kwargs["stem_weights"] = folders["stem_weights"]
    elif model in plan.frames_rows:
        source = FrameSource(folders["prepared"], sampler=plan.sampler, image_size=plan.frames_kwargs["frame_size"])
        model_kwargs = dict(plan.frames_kwargs)
        if plan.frames_epochs and epochs is None and not quick:
            recipe = dataclasses.replace(recipe, epochs=plan.frames_epochs)
    else:
        source = FeatureSource(folders.get("caches", {}).get(stand_in_stem(model), folders["cache"]),
                               sampler=plan.sampler)
        model_kwargs = dict(plan.row_kwargs.get(model, {}))
    folds = splits.subject_kfold(source.rows, k=SYNTHETIC_FOLDS, order="ckplus")
    if quick or source.input == "frames":
        folds = folds[:1 if quick else SYNTHETIC_END_TO_END_FOLDS]
    return source, folds, recipe, model_kwargs, (plan.validation_subjects, "subject")


def _real_row(model, features, recipe, dataset, data_root, seed, quick):
    """(source, folds, recipe, model arguments, (validation size, grouping)) of a row on a real cache that runs."""
    from keras_fer.data.sources import open_source

    source = open_source(features, sampler=recipe.sampler)
    if source.input != "features":
        raise ValueError(f"{features}: reproduce on a real dataset reads a feature cache (keras-fer extract); train "
                         "end-to-end rows with keras-fer cv on the prepared folder")
    folds = dataset_folds(dataset, source.rows, data_root, seed)[:1 if quick else None]
    # the protocol's default share of the training subjects (or samples: AFEW, DFEW have no subject ids)
    return source, folds, recipe, {}, (0.1, "sample" if dataset in ("afew", "dfew") else "subject")


def _paper_recipe(name, dataset, quick, epochs):
    if dataset == "synthetic":
        plan = SYNTHETIC_PLANS[name]
        row_epochs = epochs if epochs is not None else plan.quick_epochs if quick else plan.recipe["epochs"]
        return get_recipe(name, **{**plan.recipe, "epochs": row_epochs})  # a warm-up that does not fit shrinks
    return get_recipe(name) if epochs is None else get_recipe(name, epochs=epochs)


def _row_header(model, dataset):
    return {"model": model, "reproduces": get_spec(model).reproduces, "reported": _reported_text(model, dataset)}


def _skip_reason(job):
    """Why a row does not run (None when it does): the synthetic plan's reason, or an end-to-end row on a cache."""
    if job["dataset"] == "synthetic":
        return SYNTHETIC_PLANS[job["paper"]].skip.get(job["model"])
    return end_to_end_reason(job["model"]) or _cache_stem_reason(job["model"], job["features"])


def _cache_stem_reason(model, features):
    """Why ``model`` cannot read the cache ``features`` (another ECNN variant's), with the extract to run."""
    from keras_fer.data.sources import open_source
    from keras_fer.models.registry import stem_mismatch

    if get_spec(model).stem is None:
        return None
    preparation = open_source(features).preparation or {}
    reason = stem_mismatch(model, preparation.get("stem"))
    return reason and f"{reason}, then reproduce with --features FEATURES/"


def _run_job(job):
    """One table row (a dict of :func:`reproduce`'s arguments plus ``paper``, ``model``, ``folders``) -> its row."""
    name, model, dataset = job["paper"], job["model"], job["dataset"]
    started = time.perf_counter()
    row = _row_header(model, dataset)
    recipe = _paper_recipe(name, dataset, job["quick"], job["epochs"])
    if dataset == "synthetic":
        setup = synthetic_row(SYNTHETIC_PLANS[name], model, job["folders"], recipe, job["quick"], job["epochs"])
    else:
        setup = _real_row(model, job["features"], recipe, dataset, job["data_root"], job["seed"], job["quick"])
    source, folds, recipe, model_kwargs, validation = setup
    summary = _run_row(source, model, folds, os.path.join(job["out_dir"], name, model), recipe, model_kwargs,
                       job["verbose"], validation, not job["quick"], job["seed"], job["strategy"])
    row.update(summary=summary["summary"], composite=summary["composite"], n_folds=len(summary["folds"]),
               epochs=recipe.epochs, seconds=round(time.perf_counter() - started, 1))
    return row


def reproduce(out_dir, paper="all", dataset="synthetic", data_root=None, features=None, quick=False, seed=0,
              epochs=None, workers=None, verbose=0, progress=False, strategy="default"):
    """Run the results-table rows of ``paper`` (or all five) and write ``reproduce.md``/``reproduce.json``.

    Args:
        out_dir: output folder (a rerun resumes: finished folds are read back).
        paper: a paper name or ``"all"``.
        dataset: ``"synthetic"`` or a dataset adapter name.
        data_root: with a real dataset: its own folder (for the official splits of AFEW, DFEW, UCF-101).
        features: with a real dataset: the feature cache (``keras-fer extract``) the rows read.
        quick: the paper's full model only, on the first fold, with fewer epochs (CI).
        seed: seed of the data, folds, weights and draws.
        epochs: None (the plan's or recipe's) or the epochs of every row (a plan's stem pre-training keeps its own).
        workers: rows trained at once, each in its own process (None: the CPU count, at most 4; 1: in this
            process). The small synthetic models leave a core idle, so 2 workers on 2 cores take about half
            the time. Workers are spawned: a script that calls this needs ``if __name__ == "__main__":``.
        verbose: Keras progress bars (0: none).
        progress: tqdm bars while preparing and extracting.
        strategy: ``"default"`` (one device per row), ``"mirrored"`` (every local device for each row) or
            ``"multi-worker"`` (every device of the machines ``TF_CONFIG`` names; the chief writes ``out_dir``);
            with either of the last two the rows run one after another, in this process: ``workers`` is 1.

    Returns:
        The dict written to ``reproduce.json``.
    """
    papers = _check_paper(paper)
    if epochs is not None:
        epochs = check_int(epochs, "epochs", minimum=1)
    if workers is None:
        workers = max(1, min(4, os.cpu_count() or 1))
    workers = check_int(workers, "workers", minimum=1)
    if strategy != "default":  # each row takes every device
        workers = 1
    if dataset != "synthetic":
        from data_prep.datasets import ADAPTERS

        if dataset not in ADAPTERS:
            raise ValueError(f"`dataset` must be 'synthetic' or one of {sorted(ADAPTERS)}; "
                             f"received dataset={dataset!r}")
        if features is None:
            raise ValueError("a real dataset needs `features`: the feature cache to read "
                             "(see docs/training.md, 'Real datasets')")
    with distribute.output_folder(out_dir, strategy) as out_dir:
        return _reproduce(out_dir, papers, dataset, data_root, features, quick, seed, epochs, workers, verbose,
                          progress, strategy)


def _reproduce(out_dir, papers, dataset, data_root, features, quick, seed, epochs, workers, verbose, progress,
               strategy):
    os.makedirs(out_dir, exist_ok=True)
    started = time.perf_counter()
    data, jobs, pretraining = {}, [], []
    for name in papers:
        folders = None
        if dataset == "synthetic":
            mode = SYNTHETIC_PLANS[name].mode
            if mode not in data:
                data[mode] = synthetic_data(os.path.join(out_dir, "data", mode), mode, seed, progress)
            folders = data[mode]
            if SYNTHETIC_PLANS[name].source == "features":
                stand_in_caches(folders, _rows(name, quick), progress)
            if SYNTHETIC_PLANS[name].pretraining:
                pretraining.append(dict(root=out_dir, paper=name, seed=seed, quick=quick, progress=progress))
                folders = {**folders, "stem_weights": _pretrained_path(out_dir, name, quick)}
        jobs += [dict(paper=name, model=model, dataset=dataset, folders=folders, features=features,
                      data_root=data_root, quick=quick, epochs=epochs, seed=seed, out_dir=out_dir, verbose=verbose,
                      strategy=strategy)
                 for model in _rows(name, quick)]
    skipped = {index: _skip_reason(job) for index, job in enumerate(jobs)}
    todo = [job for index, job in enumerate(jobs) if not skipped[index]]
    done, pretrained = _run_jobs(todo, pretraining, workers)
    done = iter(done)
    rows = []
    for index, job in enumerate(jobs):
        if skipped[index]:
            rows.append({**_row_header(job["model"], dataset), "skipped": skipped[index]})
        else:
            rows.append(next(done))
    results = {"dataset": dataset, "quick": quick, "seed": seed, "workers": workers, "backend": backends.name(),
               "papers": {}}
    for job, row in zip(jobs, rows):
        block = results["papers"].setdefault(job["paper"], {"rows": [], "seconds": 0.0})
        if dataset == "synthetic":
            block["note"] = SYNTHETIC_PLANS[job["paper"]].note
        block["rows"].append(row)
        block["seconds"] = round(block["seconds"] + row.get("seconds", 0.0), 1)
    for paper, seconds in pretrained.items():  # 0 when a rerun found the stem there
        block = results["papers"][paper]
        block["pretraining_seconds"] = seconds
        block["seconds"] = round(block["seconds"] + seconds, 1)
    results["seconds"] = time.perf_counter() - started
    files.write_json(os.path.join(out_dir, "reproduce.json"), results)
    files.write_text(os.path.join(out_dir, "reproduce.md"), _markdown(results, dataset))
    return results
