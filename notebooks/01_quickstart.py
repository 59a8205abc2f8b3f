# %% [markdown]
# # Quickstart: the synthetic benchmark, one paper head, and a real video
#
# This notebook runs the whole keras-fer pipeline once, at a small size:
#
# 1. render a small synthetic benchmark (cartoon faces with labelled expressions),
# 2. prepare it (face crops and a manifest, as `keras-fer prepare` does),
# 3. cache per-frame features of a pretrained stem (`keras-fer extract`),
# 4. cross-validate one paper's head, ECNN-FSA, with its training recipe and few epochs (`keras-fer cv`),
# 5. look at the results, the confusion matrix and the training curves,
# 6. predict the expression in a real video with the default predictor (`keras-fer predict`).
#
# It takes about a minute on 2 CPU cores. Everything is written under the current folder
# (`synthetic/`, `prepared/`, `features/`, `runs/`). Run it from the repository root (or from any
# folder where `tests/fixtures/real_faces/` exists) so that the real video in step 6 is found.

# %%
# %matplotlib inline
import cv2
import numpy as np
from IPython.display import Markdown, display
from matplotlib.figure import Figure

from data_prep import manifest
from data_prep.prepare import PrepareOptions, prepare
from data_prep.synthetic import generate_dataset
from keras_fer import viz
from keras_fer.data import cache
from keras_fer.data.sources import open_source
from keras_fer.evaluation import splits
from keras_fer.inference import default_classifier, predict_video
from keras_fer.jobs import training
from keras_fer.training import get_recipe
from keras_fer.training.train import read_history

# %% [markdown]
# ## 1. Render a small synthetic benchmark
#
# No licensed face data can ship with keras-fer, so it renders its own benchmark: cartoon faces whose
# brows, eyes and mouth move like facial action units, with subjects that differ in face shape, skin,
# background and resting face, plus blinks, head motion, flicker and noise. The `macro` mode has six
# classes (chance is 1/6). Here: 6 subjects x 6 classes x 2 videos of 32 frames at 64 x 64 pixels
# (the default is 10 subjects, 3 videos per class, 112 pixels). The same seed gives the same pixels.

# %%
rows = generate_dataset("synthetic", mode="macro", n_subjects=6, videos_per_class=2, size=64, n_frames=32, seed=0)
print(len(rows), "videos, for example:", rows[0])

# %% [markdown]
# ## 2. Prepare: face crops and a manifest
#
# `prepare` decodes every video, finds the face in every frame and writes square crops plus
# `prepared/manifest.csv`. Each synthetic frame *is* the face, so the `full_frame` detector takes the
# whole frame (MTCNN is for real videos, see notebook 02). `sampler="ecnn_fsa"` keeps only the frames
# ECNN-FSA's sampler can draw; it draws one random frame per segment in training, so that is every frame here.

# %%
options = PrepareOptions(detector="full_frame", margin=0.0, size=64, sampler="ecnn_fsa")
result = prepare("synthetic/manifest.csv", "prepared", options, progress=False)
print(len(result.manifest_rows), "videos prepared,", len(result.failures), "failures")


# %% [markdown]
# One video of each class of subject S01, 8 of its 32 crops. The expression rises and falls between
# the `onset` and `offset` frames of the manifest.

# %%
def crop_strip(prepared_dir, rows, n_shown=8):
    """One row of crops per manifest row, n_shown frames evenly spread over the video."""
    figure = Figure(figsize=(1.2 * n_shown, 1.3 * len(rows)), layout="constrained")
    axes = figure.subplots(len(rows), n_shown, squeeze=False)
    for row_axes, row in zip(axes, rows):
        frames = [int(r["frame_index"]) for r in manifest.read_csv(f"{prepared_dir}/{row['crops_dir']}/frames.csv")]
        for ax, frame in zip(row_axes, np.array(frames)[np.linspace(0, len(frames) - 1, n_shown).astype(int)]):
            image = cv2.imread(f"{prepared_dir}/{row['crops_dir']}/{frame:06d}.jpg")[..., ::-1]
            ax.imshow(image)
            ax.set_title(f"{row['label']} {frame}", fontsize=7)
            ax.set_axis_off()
    return figure


prepared_rows = manifest.read_manifest("prepared/manifest.csv")
crop_strip("prepared", [r for r in prepared_rows if r["subject"] == "S01" and r["id"].endswith("_1")])

# %% [markdown]
# ## 3. Cache features of a pretrained stem
#
# The papers put their attention on top of pretrained backbones (VGGFace, ECNN, ResNet-18) whose
# weights cannot ship. The FER2013 mini-Xception that ships with keras-fer stands in: it runs once
# over the crops and its 128-d features per frame go into a sharded cache, which training then reads
# with new frame draws every epoch.

# %%
cache.extract("prepared", "features", stem="fer2013_mini_xception", progress=False)
source = open_source("features")
features, labels = next(iter(source.dataset(None, training=True, batch_size=8, seed=0)))
print("classes:", source.class_names)
print("one batch:", tuple(features.shape), "= (videos, frames drawn by ECNN-FSA's sampler, features)")

# %% [markdown]
# ## 4. Cross-validate ECNN-FSA's head
#
# Three subject-independent folds: each tests on 2 subjects it never trained on. Inside each fold one
# training subject is held out to pick the best epoch, so the test subjects are predicted once, at
# the end, and never used for any choice.
#
# The recipe is the paper's (SGD with momentum 0.9), scaled to this tiny data set as
# `keras-fer reproduce` does: learning rate 0.03 instead of 1e-3, batch 8 instead of 48, and 15
# epochs. `verbose=0` hides Keras's progress bars (`"auto"` shows them).

# %%
folds = splits.subject_kfold(source.rows, k=3, order="ckplus")
for fold in folds:
    print(fold.name, "test subjects:", sorted({r["subject"] for r in source.rows if r["id"] in set(fold.test_ids)}))
recipe = get_recipe("ecnn_fsa", epochs=15, batch_size=8, learning_rate=0.03)
print(recipe.optimizer, "momentum", recipe.momentum, "| the paper:", recipe.source)

# %%
results = training.cross_validate(source, "ecnn_fsa", folds, out_dir="runs/ecnn_fsa", recipe=recipe,
                                  validation_size=1, verbose=0, tensorboard=False)
accuracy = results["summary"]["accuracy"]
print(f"test accuracy {accuracy['mean']:.1%} +- {accuracy['std']:.1%} over {accuracy['n_folds']} folds "
      f"(chance {1 / len(source.class_names):.1%})")

# %% [markdown]
# `runs/ecnn_fsa/results.md` (also `.json` and `.csv`) holds one row per fold: the test accuracy,
# unweighted average recall (UAR), macro F1 and the epoch chosen on the validation subject.

# %%
display(Markdown(filename="runs/ecnn_fsa/results.md"))

# %% [markdown]
# The confusion matrix summed over the three folds: rows are the true classes, columns the
# predictions, each row in percent of its videos.

# %%
counts = np.sum([fold["confusion_matrix"] for fold in results["folds"]], axis=0)
viz.confusion_matrix_figure(counts, source.class_names, title="ECNN-FSA head, 3 folds")

# %% [markdown]
# The training curves of the first fold (from its `history.csv`). The dotted line marks the epoch
# whose weights were kept: the one with the lowest loss on the validation subject.

# %%
first = results["folds"][0]
viz.training_curves_figure(read_history(f"runs/ecnn_fsa/{first['fold']}/history.csv"), best_epoch=first["best_epoch"],
                           title=f"ECNN-FSA, {first['fold']}")

# %% [markdown]
# ## 5. Predict a real video
#
# `default_classifier()` is the predictor `keras-fer predict` uses without `--model`: the shipped
# FER2013 mini-Xception on 16 frames (one per segment), with the per-frame probabilities averaged
# (ECNN-FSA's score-fusion baseline). It is not one of the five papers' models, and its classes are
# FER2013's seven. It detects the face with MTCNN, so the first call takes a few seconds. The clip is
# a CREMA-D actor acting happiness.

# %%
classifier = default_classifier()
prediction = predict_video(classifier, "tests/fixtures/real_faces/crema-d/1001_DFA_HAP_XX.flv")
result = prediction.result
print("label:", result["label"])
print("probabilities:", result["probabilities"])
print("frames used:", result["frames_used"], "| frames without a face:", result["frames_without_face"])

# %% [markdown]
# The frames the predictor used, with each class's probability per frame (lines) and the weight of
# each frame in the average (bars; equal here: score fusion has no attention). A model trained with
# `keras-fer train` and passed as `--model` shows its own attention weights instead.

# %%
viz.temporal_weights_figure(result["temporal_attention"]["weights"], frame_indices=result["frames_used"],
                            frame_scores=prediction.frame_probabilities, class_names=list(classifier.class_names),
                            source=result["temporal_attention"]["source"], title="1001_DFA_HAP_XX")

# %% [markdown]
# Next: notebook 02 prepares real videos (face detection, frames without a face, optical flow),
# 03 reproduces a paper's results table, 04 shows where each paper's attention looks.
#
# Steps 2-5 from the command line, on the `synthetic/` folder of step 1 (they give the same
# numbers as above):
#
# ```bash
# keras-fer prepare --dataset synthetic --root synthetic --out prepared --size 64 --sampler ecnn_fsa
# keras-fer extract --prepared prepared/ --stem fer2013_mini_xception --out features/
# keras-fer cv --data features/ --model ecnn_fsa --folds 3 --epochs 15 --batch-size 8 --learning-rate 0.03 --validation-size 1 --out runs/ecnn_fsa
# keras-fer predict tests/fixtures/real_faces/crema-d/1001_DFA_HAP_XX.flv
# ```
