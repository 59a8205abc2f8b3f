"""Build ``saved_models/``: each paper's full model trained on the synthetic benchmark, exported for TF Serving.

Run: ``python scripts/build_saved_models.py [OUT]`` (default ``saved_models``; about 10 minutes on 2 CPU cores).
Each paper's model is trained as ``keras-fer reproduce`` trains its row (:data:`SYNTHETIC_PLANS`: the same
synthetic data, stand-in FER2013 stem, sampler, recipe and sizes) by :func:`keras_fer.jobs.training.train_model`
on every synthetic subject but one, which selects the epoch, then exported with
:func:`keras_fer.export.export_trained` (as ``keras-fer export``) to ``OUT/<paper>/1/``. ``OUT/models.json`` records,
per model, what it was trained on, the selected epoch and its validation accuracy. The models are for trying the
tooling (serving, predict, notebooks), not for real faces: synthetic cartoon faces, 6 or 3 classes, minutes of CPU
training.
"""

import json
import os
import shutil
import sys
import tempfile

from keras_fer.export import export_trained
from keras_fer.jobs import training
from keras_fer.jobs.reproduce import PAPERS, SYNTHETIC_DATA, SYNTHETIC_PLANS, synthetic_data, synthetic_row
from keras_fer.training.recipes import get_recipe


def train(paper, root):
    """Train ``paper``'s full model on the synthetic benchmark under ``root`` as its reproduce row does.

    Returns:
        ``(run folder of keras-fer train, source, plan)``.
    """
    plan = SYNTHETIC_PLANS[paper]
    folders = synthetic_data(os.path.join(root, plan.mode), plan.mode)
    recipe = get_recipe(paper, **plan.recipe)
    source, _, recipe, model_kwargs, (validation_size, _) = synthetic_row(plan, recipe.model, folders, recipe,
                                                                          False, None)
    run = os.path.join(root, "runs", paper)
    training.train_model(source, recipe.model, out_dir=run, recipe=recipe, validation_size=validation_size,
                         model_kwargs=model_kwargs, verbose=0, tensorboard=False)
    return run, source, plan


def build(paper, root, out):
    """Train ``paper``'s full model on synthetic data under ``root``, export it to ``out/paper/1``; its record."""
    run, source, plan = train(paper, root)
    with open(os.path.join(run, "train.json"), encoding="utf-8") as handle:
        info = json.load(handle)
    trained_on = f"keras-fer synthetic benchmark ({plan.mode}: {SYNTHETIC_DATA[plan.mode]})"
    extra = {"trained_on": trained_on, "for": "trying the tooling; not for real faces"}
    if source.preparation is None:  # STANet's optical flow, computed by the plan (no face settings recorded)
        extra.update(sampler=plan.sampler, sampler_options={"num_frames": 11}, flow=(
            "Farneback flow between 11 frames of the onset..offset window (stanet sampler), fields resized to "
            "32x32 and normalised by data_prep.flow.normalize_flow(bound=0.5)"))
    path = export_trained(run, out, overwrite=True, name=paper, extra_metadata=extra)
    history = info["history"]
    accuracy_key = next(key for key in history if key.startswith("val_") and key.endswith("categorical_accuracy"))
    accuracy = round(history[accuracy_key][info["best_epoch"] - 1], 4)
    return {"paper": paper, "model": info["model"], "path": os.path.relpath(path, out),
            "classes": list(source.class_names), "trained_on": trained_on, "epochs_run": info["epochs_run"],
            "best_epoch": info["best_epoch"], "validation_accuracy": accuracy,
            "n_validation": len(info["validation_ids"]), "n_train": len(source.rows) - len(info["validation_ids"])}


def main(out="saved_models"):
    root = tempfile.mkdtemp(prefix="saved_models_")
    try:
        records = [build(paper, root, out) for paper in PAPERS]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    with open(os.path.join(out, "models.json"), "w", encoding="utf-8") as handle:
        json.dump(records, handle, indent=2)
        handle.write("\n")
    for record in records:
        print(f"{record['paper']:9s} {record['model']:9s} epoch {record['best_epoch']} of {record['epochs_run']}, "
              f"validation accuracy {record['validation_accuracy']}")


if __name__ == "__main__":
    main(*sys.argv[1:])
