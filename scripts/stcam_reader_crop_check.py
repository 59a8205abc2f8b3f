"""Does STCAM's baseline learn through the frame reader with and without the corner/centre crop?

Run: ``python scripts/stcam_reader_crop_check.py [EPOCHS]`` (default 8; about 3 minutes per arm on 2 cores).
It renders the face-framed data that ``keras-fer reproduce`` pre-trains STCAM's stem on
(:data:`keras_fer.jobs.reproduce.SYNTHETIC_DATA` ``"macro_faces_pretraining"``: 60 subjects x 6 classes,
64 px, prepared with the full-frame detector and read at 32 px), then trains ``stcam_baseline`` from scratch
with ``keras_fer.jobs.training.train_model`` twice, from the same initial weights and the plan's pre-training
recipe (Adam 3e-4, batch 8, STCAM's sampler peaked at the annotated apex, temporal jitter, flips), once with
the recipe's ``corner_center_crop`` added. At 32 px that crop is a 30 px window resampled back to 32
(bilinear; :mod:`keras_fer.data.augment`). It prints one JSON line per arm and epoch: the spatial
augmentations applied, the training and validation accuracies (6 validation subjects, chance 1/6).
"""

import json
import os
import sys
import tempfile


def main(epochs=8):
    from keras_fer.data.sources import FrameSource
    from keras_fer.jobs import reproduce, training
    from keras_fer.training.recipes import get_recipe

    plan = reproduce.SYNTHETIC_PLANS["stcam"]
    settings = plan.pretraining
    with tempfile.TemporaryDirectory(prefix="stcam_reader_crop_") as root:
        folders = reproduce.synthetic_data(os.path.join(root, "data"), settings["data"], seed=1)
        source = FrameSource(folders["prepared"], sampler=plan.sampler, image_size=plan.model_kwargs["frame_size"])
        for crop in ((), ("corner_center_crop",)):
            recipe = get_recipe("stcam", **{**plan.recipe, **settings["recipe"], "epochs": int(epochs),
                                            "augmentation": plan.recipe["augmentation"] + crop})
            out = os.path.join(root, "crop" if crop else "no_crop")
            training.train_model(source, settings["model"], out_dir=out, recipe=recipe, validation_size=0.1,
                                 seed=0, model_kwargs=plan.model_kwargs, verbose=0, tensorboard=False,
                                 figures=False)
            history = _read_json(os.path.join(out, "train.json"))["history"]
            applied = _read_json(os.path.join(out, "augmentation.json"))["applied"]["names"]
            for epoch, (train, validation) in enumerate(zip(history["sparse_categorical_accuracy"],
                                                            history["val_sparse_categorical_accuracy"]), 1):
                print(json.dumps({"augmentation": list(applied), "epoch": epoch, "train_accuracy": round(train, 3),
                                  "validation_accuracy": round(validation, 3)}), flush=True)


def _read_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)

if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
