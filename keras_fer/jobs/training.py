"""Run a protocol: train and test a registry model on each fold, select epochs honestly, write the results.

:func:`run_fold` trains on a fold's training side, picks the epoch on
validation subjects carved from that side
(:func:`keras_fer.evaluation.splits.validation_split`), and predicts the
test side once, at the end, with the selected weights. :func:`cross_validate`
does that for every fold (a rerun skips finished folds and resumes an
interrupted one) and reports the mean and standard deviation over folds plus
the composite scores over all folds' predictions (MEGC UF1/UAR for the
micro-expression protocols).

Output folder of :func:`cross_validate` (each fold's folder is :func:`run_fold`'s):

| file | holds |
|---|---|
| ``results.json`` | model, recipe, per-fold reports, mean/std summary, composite scores |
| ``results.csv`` | one row per fold plus ``mean`` and ``std`` rows |
| ``results.md`` | the same as a Markdown table |
| ``confusion_matrix.png`` | row-normalised confusion matrix summed over folds |
| ``FOLD/result.json``, ``FOLD/predictions.csv`` | the fold's report; id, label, prediction and probabilities per test sample |
| ``FOLD/confusion_matrix.png``, ``FOLD/training_curves.png`` | the fold's figures (selected epoch marked) |
| ``FOLD/history.csv``, ``FOLD/best.weights.h5``, ``FOLD/logs/`` | see :func:`keras_fer.training.train.fit` |

Example:

>>> from keras_fer.data.sources import open_source
>>> from keras_fer.evaluation import splits
>>> from keras_fer.jobs import training
>>> source = open_source("features/")                                         # doctest: +SKIP
>>> folds = splits.subject_kfold(source.rows, k=10)                           # doctest: +SKIP
>>> results = training.cross_validate(source, "ast", folds, out_dir="runs/ast")  # doctest: +SKIP
>>> results["summary"]["accuracy"]["mean"]                                     # doctest: +SKIP
"""  # noqa: E501

import inspect
import json
import math
import os
import time

import keras
import numpy as np
import tensorflow as tf

from data_prep import manifest
from data_prep.files import atomic_path, write_json, write_text
from keras_fer import backends
from keras_fer.evaluation import metrics, splits
from keras_fer.jobs import train_folder
from keras_fer.models.registry import check_stem
from keras_fer.training import distribute, train
from keras_fer.training import recipes as paper_recipes

__all__ = ["cross_validate", "evaluate", "predict_once", "run_fold", "train_model"]

RESULT = "result.json"
SUMMARY_METRICS = ("accuracy", "uar", "macro_f1")
#: The largest validation side kept in memory between epochs (:func:`_kept_in_memory`).
VALIDATION_CACHE_BYTES = 256 * 2**20


def _write_csv(path, header, rows):
    """Rows given as lists, written atomically by :func:`data_prep.manifest.write_csv`."""
    manifest.write_csv(path, header, [dict(zip(header, row)) for row in rows])


def _recipe_record(recipe):
    """The recipe's fields for a results file (its ``gaps`` prose left out)."""
    return {key: value for key, value in vars(recipe).items() if key != "gaps"}


def predict_once(model, dataset):
    """(labels, logits) of one pass over ``dataset``: the only time a test side is seen."""
    labels, logits = [], []
    for inputs, batch_labels in dataset:
        logits.append(keras.ops.convert_to_numpy(model(inputs, training=False)))
        labels.append(np.asarray(batch_labels))
    return np.concatenate(labels), np.concatenate(logits).astype(np.float64)


def _resolve_recipe(recipe, model_name):
    from keras_fer.models import get_spec

    paper = get_spec(model_name).paper
    if recipe is None:
        return paper_recipes.get_recipe(paper)
    return paper_recipes.get_recipe(recipe) if isinstance(recipe, str) else recipe


def _shape_options(model, input, shape):
    """The model options the data decides: a head's ``feature_shape``; an end-to-end model's ``num_frames`` and
    ``frame_size`` (from frames ``(T, H, W, C)``), where its builder takes them and its registry name does not fix
    them."""
    from keras_fer.models import get_spec

    if input == "features":
        return {"feature_shape": shape}
    spec = get_spec(model)
    takes = set(inspect.signature(spec.builder).parameters) - set(spec.fixed)
    options = {}
    if "num_frames" in takes and shape[0] is not None:
        options["num_frames"] = shape[0]
    if "frame_size" in takes and len(shape) == 4 and None not in shape[1:3]:
        options["frame_size"] = shape[1] if shape[1] == shape[2] else shape[1:3]
    return options


def _check_input(network, model, shape, given):
    """The model reads what the data gives, or a ValueError that says which option to change."""
    expected = tuple(network.inputs[0].shape[1:])
    channels = {2: "optical flow", 3: "RGB frames"}
    if len(expected) == len(shape) >= 4 and expected[-1] != shape[-1] and {expected[-1], shape[-1]} == {2, 3}:
        raise ValueError(f"model {model!r} reads {channels[expected[-1]]}, but the data gives "
                         f"{channels[shape[-1]]}: " + (
                             "compute STANet's flow with `keras-fer flow --prepared PREPARED --out FLOW` and train "
                             "on --data FLOW" if expected[-1] == 2 else
                             "a flow cache (keras-fer flow) is for STANet's models; train this one on the prepared "
                             "folder or a feature cache"))
    if len(expected) == len(shape) and all(a is None or b is None or a == b for a, b in zip(expected, shape)):
        return
    raise ValueError(f"model {model!r} reads inputs of shape {expected} per clip, but the data gives {shape}"
                     + (f" (with --model-option {given})" if given else "")
                     + ": choose the frames with --sampler and --sampler-option, their size with --image-size, or "
                       "build the model for the data with --model-option (e.g. num_frames=, frame_size=)")


def _kept_in_memory(dataset, clips):
    """``dataset`` (the fold's validation side, ``clips`` clips) cached in memory after its first pass when its
    clips have a fixed shape and weigh at most :data:`VALIDATION_CACHE_BYTES`, else ``dataset`` itself.

    A test-mode reader draws the same frames in the same order every pass, so the cache changes nothing but
    time: Keras makes the reader's iterator twice per epoch for validation (about 30 ms each for the feature
    cache's pipeline on 2 CPU cores); the cache's iterators cost next to nothing (BENCHMARKS.md, "keras-fer reproduce").
    """
    per_clip = 0
    for spec in tf.nest.flatten(dataset.element_spec):
        if not spec.shape[1:].is_fully_defined():
            return dataset
        per_clip += int(np.prod(spec.shape[1:])) * spec.dtype.size
    return dataset.cache() if per_clip * clips <= VALIDATION_CACHE_BYTES else dataset


def _fit(source, model, fold, out_dir, recipe, validation_size, validation_by, seed, model_kwargs, monitor, patience,
         verbose, tensorboard, strategy):
    """Build ``model`` with ``recipe``, fit it on the fold's training side, select on its validation side.

    The training side gets the recipe's spatial augmentations (:func:`keras_fer.data.augment.from_recipe`;
    frames and flow only), recorded in ``augmentation.json`` beside the fit's files.
    """
    from keras_fer.data import augment

    if source.input == "features" and source.preparation:  # a cache of another ECNN variant: which extract to run
        check_stem(model, source.preparation["stem"])
    if not fold.validation_ids:
        fold = splits.validation_split(source.rows, fold, size=validation_size, seed=seed, by=validation_by)
    train_ids, validation_ids = list(fold.train_ids), list(fold.validation_ids)
    batch_size = recipe.batch_size  # the global batch: split over the replicas
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False)  # set by fit before each epoch: exact resume
    augmentation = augment.from_recipe(recipe) if source.input == "frames" else None  # features: none
    train_data = source.dataset(train_ids, training=True, batch_size=batch_size, seed=seed, epoch=epoch,
                                **({} if augmentation is None else {"augmentation": augmentation}))
    write_json(os.path.join(out_dir, "augmentation.json"),
               {"input": source.input, "applied": None if augmentation is None else augmentation.record()})
    validation_data = _kept_in_memory(source.dataset(validation_ids, training=False, batch_size=batch_size),
                                      len(validation_ids))
    shape = tuple(train_data.element_spec[0].shape[1:])  # (T, ...); T None without a sampler
    kwargs = {**_shape_options(model, source.input, shape), **(model_kwargs or {})}
    keras.utils.set_random_seed(seed)
    with distribute.scope(strategy) as placement:
        network = paper_recipes.build_model(recipe, len(source.class_names), math.ceil(len(train_ids) / batch_size),
                                            model=model, input=source.input, **kwargs)
        _check_input(network, model, shape, model_kwargs or {})
        fitted = train.fit(network, distribute.for_replicas(train_data, placement.replicas, training=True),
                           distribute.for_replicas(validation_data, placement.replicas, training=False),
                           epochs=recipe.epochs, out_dir=out_dir, monitor=monitor, patience=patience,
                           tensorboard=tensorboard, verbose=verbose, epoch=epoch)
    return network, fitted, fold, placement


def evaluate(network, source, ids, out_dir, *, batch_size=8, title="", figures=True, extra=None):
    """Predict the samples ``ids`` of ``source`` once; write ``result.json``, ``predictions.csv`` and the PNG.

    Args:
        network: a trained model (logits out).
        source: a :mod:`keras_fer.data.sources` source.
        ids: the sample ids (None: all).
        out_dir: output folder.
        batch_size: clips per batch.
        title: the confusion matrix's title.
        figures: write ``confusion_matrix.png``.
        extra: entries added to the report.

    Returns:
        The :func:`~keras_fer.evaluation.metrics.classification_report` with ``extra``.
    """
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    ids = [row["id"] for row in source.rows] if ids is None else list(ids)
    labels, logits = predict_once(network, source.dataset(ids, training=False, batch_size=batch_size))
    predicted = logits.argmax(axis=-1)
    report = metrics.classification_report(labels, predicted, len(source.class_names), source.class_names)
    report.update(extra or {})
    probabilities = metrics.softmax(logits)
    _write_csv(os.path.join(out_dir, "predictions.csv"),
               ["id", "label", "predicted"] + [f"p_{name}" for name in source.class_names],
               [[sample_id, source.class_names[int(y)], source.class_names[int(p)]] + [f"{v:.6f}" for v in row]
                for sample_id, y, p, row in zip(ids, labels, predicted, probabilities)])
    if figures:
        from keras_fer import viz

        viz.confusion_matrix_figure(np.asarray(report["confusion_matrix"]), report["class_names"], normalise=True,
                                    title=title, path=os.path.join(out_dir, "confusion_matrix.png"))
    write_json(os.path.join(out_dir, RESULT), report)
    return report


def _curves(out_dir, fitted, title):
    from keras_fer import viz

    if fitted.history:
        viz.training_curves_figure(fitted.history, best_epoch=fitted.best_epoch, title=title,
                                   path=os.path.join(out_dir, "training_curves.png"))


def run_fold(source, model, fold, *, out_dir, recipe=None, validation_size=0.1, validation_by="subject", seed=0,
             model_kwargs=None, monitor="val_loss", patience=None, verbose="auto", tensorboard=True, figures=True,
             strategy="default"):
    """Train ``model`` on one fold of ``source``, select the epoch on validation data, test once; returns the report.

    Args:
        source: a :mod:`keras_fer.data.sources` source.
        model: a registry name (:func:`keras_fer.models.list_models`).
        fold: a :class:`~keras_fer.evaluation.splits.Fold`; without ``validation_ids`` they are carved from its
            training side with :func:`~keras_fer.evaluation.splits.validation_split` (``validation_size``,
            ``validation_by``, ``seed``).
        out_dir: the fold's output folder.
        recipe: None (the model's paper recipe), a paper name, or a :class:`~keras_fer.training.recipes.Recipe`
            (its epochs, batch size, optimizer and schedule are used).
        validation_size: subjects (int) or fraction of them (float) held out for selection.
        validation_by: ``"subject"`` or ``"sample"`` (datasets without subject ids).
        seed: seed of the validation choice, the weights, the shuffles and the frame draws.
        model_kwargs: the model's own arguments; for a feature source ``feature_shape`` defaults to the data's.
        monitor: the validation metric that selects the epoch.
        patience: early stopping patience (None: train every epoch, keep the best).
        verbose: Keras's progress bars (``"auto"``), 0 for none.
        tensorboard: write TensorBoard logs.
        figures: write the confusion matrix and training curve PNGs.
        strategy: ``"default"`` (one device), ``"mirrored"`` (every local device) or ``"multi-worker"``
            (every device of the machines ``TF_CONFIG`` names; the chief writes ``out_dir``):
            :mod:`keras_fer.training.distribute`.

    Returns:
        :func:`keras_fer.evaluation.metrics.classification_report` of the test side, plus ``fold``,
        ``model``, ``best_epoch``, ``epochs_run``, ``monitor``, ``n_train``, ``n_validation``, ``seconds``, and
        where it trained: ``strategy``, ``backend``, ``replicas``, ``workers``, ``global_batch``.
    """
    with distribute.output_folder(out_dir, strategy) as out_dir:
        return _run_fold(source, model, fold, out_dir, _resolve_recipe(recipe, model), validation_size,
                         validation_by, seed, model_kwargs, monitor, patience, verbose, tensorboard, figures, strategy)


def _run_fold(source, model, fold, out_dir, recipe, validation_size, validation_by, seed, model_kwargs, monitor,
              patience, verbose, tensorboard, figures, strategy):
    os.makedirs(out_dir, exist_ok=True)
    started = time.perf_counter()
    network, fitted, fold, placement = _fit(source, model, fold, out_dir, recipe, validation_size, validation_by,
                                            seed, model_kwargs, monitor, patience, verbose, tensorboard, strategy)
    if figures:
        _curves(out_dir, fitted, f"{model} {fold.name}")
    extra = dict(fold=fold.name, model=model, best_epoch=fitted.best_epoch, epochs_run=fitted.epochs_run,
                 monitor=fitted.monitor, n_train=len(fold.train_ids), n_validation=len(fold.validation_ids),
                 **placement.record(), global_batch=recipe.batch_size)
    report = evaluate(network, source, fold.test_ids, out_dir, batch_size=recipe.batch_size,
                      title=f"{model} {fold.name}", figures=figures, extra=extra)
    report["seconds"] = round(time.perf_counter() - started, 1)
    write_json(os.path.join(out_dir, RESULT), report)
    return report


def train_model(source, model, *, out_dir, recipe=None, validation_size=0.1, validation_by="subject", seed=0,
                model_kwargs=None, monitor="val_loss", patience=None, verbose="auto", tensorboard=True, figures=True,
                strategy="default"):
    """``keras-fer train``: fit on every sample of ``source`` but the carved validation ones; save ``model.keras``.

    The arguments are :func:`run_fold`'s. Writes ``model.keras`` (the selected epoch's weights), ``train.json``
    (recipe, selected epoch, the validation ids, and the source's ``preparation``: faces, sampler and stem, which
    :func:`keras_fer.inference.load_trained` needs to run the model on a video) and the training curves beside
    :func:`~keras_fer.training.train.fit`'s files. Returns the trained model.
    """
    with distribute.output_folder(out_dir, strategy) as out_dir:
        return _train_model(source, model, out_dir, _resolve_recipe(recipe, model), validation_size, validation_by,
                            seed, model_kwargs, monitor, patience, verbose, tensorboard, figures, strategy)


def _train_model(source, model, out_dir, recipe, validation_size, validation_by, seed, model_kwargs, monitor,
                 patience, verbose, tensorboard, figures, strategy):
    os.makedirs(out_dir, exist_ok=True)
    everything = splits.Fold("train", [row["id"] for row in source.rows], [])
    network, fitted, fold, placement = _fit(source, model, everything, out_dir, recipe, validation_size,
                                            validation_by, seed, model_kwargs, monitor, patience, verbose,
                                            tensorboard, strategy)
    if figures:
        _curves(out_dir, fitted, model)
    with atomic_path(os.path.join(out_dir, train_folder.MODEL), suffix=".keras") as partial:
        network.save(partial)
    train_folder.write_train_json(out_dir, {
        "model": model, "class_names": list(source.class_names), "data": getattr(source, "path", None),
        "preparation": source.preparation, "recipe": _recipe_record(recipe), "best_epoch": fitted.best_epoch,
        "epochs_run": fitted.epochs_run, "monitor": fitted.monitor, "validation_ids": list(fold.validation_ids),
        "history": fitted.history, **placement.record(), "global_batch": recipe.batch_size})
    return network


def _fold_rows(reports):
    rows = []
    for report in reports:
        rows.append([report["fold"], report["n_samples"]] + [f"{report[m]:.4f}" for m in SUMMARY_METRICS]
                    + [report["best_epoch"], report["epochs_run"]])
    return rows


def _markdown(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def cross_validate(source, model, folds, *, out_dir, recipe=None, validation_size=0.1, validation_by="subject",
                   seed=0, model_kwargs=None, monitor="val_loss", patience=None, verbose="auto", tensorboard=True,
                   figures=True, fold_figures=True, strategy="default"):
    """:func:`run_fold` on every fold; mean and std over folds, composite scores; results files in ``out_dir``.

    A fold whose ``result.json`` exists is not trained again (rerun after an
    interruption to finish the rest; an interrupted fold resumes from its last
    finished epoch). The arguments are :func:`run_fold`'s; ``figures`` draws
    the confusion matrix over all folds, ``fold_figures`` each fold's PNGs.

    Returns:
        ``{"model", "recipe", "folds": [fold reports], "summary": {metric: {"mean", "std", "per_fold",
        "n_folds"}}, "composite": {"uf1", "uar", "accuracy", ...}, "class_names"}`` (also ``results.json``).
    """
    with distribute.output_folder(out_dir, strategy) as out_dir:
        return _cross_validate(source, model, folds, out_dir, _resolve_recipe(recipe, model), validation_size,
                               validation_by, seed, model_kwargs, monitor, patience, verbose, tensorboard, figures,
                               fold_figures, strategy)


def _cross_validate(source, model, folds, out_dir, recipe, validation_size, validation_by, seed, model_kwargs, monitor,
                    patience, verbose, tensorboard, figures, fold_figures, strategy):
    os.makedirs(out_dir, exist_ok=True)
    splits.check_folds(folds, source.rows)
    reports = []
    for fold in folds:
        fold_dir = os.path.join(out_dir, fold.name)
        done = os.path.join(fold_dir, RESULT)
        if os.path.isfile(done):
            with open(done, encoding="utf-8") as handle:
                reports.append(json.load(handle))
            continue
        reports.append(_run_fold(source, model, fold, fold_dir, recipe, validation_size, validation_by, seed,
                                 model_kwargs, monitor, patience, verbose, tensorboard, figures and fold_figures,
                                 strategy))
    summary = splits.summarise([{m: r[m] for m in SUMMARY_METRICS + ("best_epoch",)} for r in reports])
    counts = np.sum([np.asarray(r["confusion_matrix"]) for r in reports], axis=0)
    composite = metrics.composite_from_counts(counts, len(reports))  # over all folds' predictions (MEGC UF1/UAR)
    composite["confusion_matrix"] = composite["confusion_matrix"].tolist()
    results = {"model": model, "recipe": _recipe_record(recipe),
               "class_names": list(source.class_names), "folds": reports, "summary": summary,
               "composite": composite, "backend": backends.name(), "strategy": strategy}
    write_json(os.path.join(out_dir, "results.json"), results)
    header = ["fold", "n_test"] + list(SUMMARY_METRICS) + ["best_epoch", "epochs_run"]
    rows = _fold_rows(reports)
    mean = ["mean", int(counts.sum())] + [f"{summary[m]['mean']:.4f}" for m in SUMMARY_METRICS] + [
        f"{summary['best_epoch']['mean']:.1f}", ""]
    std = ["std", ""] + [f"{summary[m]['std']:.4f}" for m in SUMMARY_METRICS] + [
        f"{summary['best_epoch']['std']:.1f}", ""]
    _write_csv(os.path.join(out_dir, "results.csv"), header, rows + [mean, std])
    selected_on = "subjects" if validation_by == "subject" else "samples"
    write_text(os.path.join(out_dir, "results.md"), f"{model}: {len(reports)} fold(s), epoch selected on validation "
               f"{selected_on}\n\n" + _markdown(header, rows + [mean, std]))
    if figures:
        from keras_fer import viz

        viz.confusion_matrix_figure(counts, source.class_names, normalise=True, title=f"{model}, all folds",
                                    path=os.path.join(out_dir, "confusion_matrix.png"))
    return results
