"""The source of keras-fer's notebooks: writes notebooks/*.ipynb with nbformat, outputs cleared.

Run: ``python scripts/make_notebooks.py notebooks`` from the repository root. Edit the cells here and regenerate;
``tests/test_notebooks.py`` checks that the stored notebooks are what this script writes, and runs them.
"""

import pathlib
import sys

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def md(text):
    return new_markdown_cell(text.strip("\n"))


def code(text):
    return new_code_cell(text.strip("\n"))


# ---------------------------------------------------------------------------------------------------- 01 quickstart

QUICKSTART = [
    md("""
# Quickstart: the synthetic benchmark, one paper head, and a real video

This notebook runs the whole keras-fer pipeline once, at a small size:

1. render a small synthetic benchmark (cartoon faces with labelled expressions),
2. prepare it (face crops and a manifest, as `keras-fer prepare` does),
3. cache per-frame features of a pretrained stem (`keras-fer extract`),
4. cross-validate one paper's head, ECNN-FSA, with its training recipe and few epochs (`keras-fer cv`),
5. look at the results, the confusion matrix and the training curves,
6. predict the expression in a real video with the default predictor (`keras-fer predict`).

It takes about a minute on 2 CPU cores. Everything is written under the current folder
(`synthetic/`, `prepared/`, `features/`, `runs/`). Run it from the repository root (or from any
folder where `tests/fixtures/real_faces/` exists) so that the real video in step 6 is found.
"""),
    code("""
%matplotlib inline
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
from keras_fer.jobs import training
from keras_fer.inference import default_classifier, predict_video
from keras_fer.training import get_recipe
from keras_fer.training.train import read_history
"""),
    md("""
## 1. Render a small synthetic benchmark

No licensed face data can ship with keras-fer, so it renders its own benchmark: cartoon faces whose
brows, eyes and mouth move like facial action units, with subjects that differ in face shape, skin,
background and resting face, plus blinks, head motion, flicker and noise. The `macro` mode has six
classes (chance is 1/6). Here: 6 subjects x 6 classes x 2 videos of 32 frames at 64 x 64 pixels
(the default is 10 subjects, 3 videos per class, 112 pixels). The same seed gives the same pixels.
"""),
    code("""
rows = generate_dataset("synthetic", mode="macro", n_subjects=6, videos_per_class=2, size=64, n_frames=32, seed=0)
print(len(rows), "videos, for example:", rows[0])
"""),
    md("""
## 2. Prepare: face crops and a manifest

`prepare` decodes every video, finds the face in every frame and writes square crops plus
`prepared/manifest.csv`. Each synthetic frame *is* the face, so the `full_frame` detector takes the
whole frame (MTCNN is for real videos, see notebook 02). `sampler="ecnn_fsa"` keeps only the frames
ECNN-FSA's sampler can draw; it draws one random frame per segment in training, so that is every frame here.
"""),
    code("""
options = PrepareOptions(detector="full_frame", margin=0.0, size=64, sampler="ecnn_fsa")
result = prepare("synthetic/manifest.csv", "prepared", options, progress=False)
print(len(result.manifest_rows), "videos prepared,", len(result.failures), "failures")
"""),
    md("""
One video of each class of subject S01, 8 of its 32 crops. The expression rises and falls between
the `onset` and `offset` frames of the manifest.
"""),
    code("""
def crop_strip(prepared_dir, rows, n_shown=8):
    \"\"\"One row of crops per manifest row, n_shown frames evenly spread over the video.\"\"\"
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
"""),
    md("""
## 3. Cache features of a pretrained stem

The papers put their attention on top of pretrained backbones (VGGFace, ECNN, ResNet-18) whose
weights cannot ship. The FER2013 mini-Xception that ships with keras-fer stands in: it runs once
over the crops and its 128-d features per frame go into a sharded cache, which training then reads
with new frame draws every epoch.
"""),
    code("""
cache.extract("prepared", "features", stem="fer2013_mini_xception", progress=False)
source = open_source("features")
features, labels = next(iter(source.dataset(None, training=True, batch_size=8, seed=0)))
print("classes:", source.class_names)
print("one batch:", tuple(features.shape), "= (videos, frames drawn by ECNN-FSA's sampler, features)")
"""),
    md("""
## 4. Cross-validate ECNN-FSA's head

Three subject-independent folds: each tests on 2 subjects it never trained on. Inside each fold one
training subject is held out to pick the best epoch, so the test subjects are predicted once, at
the end, and never used for any choice.

The recipe is the paper's (SGD with momentum 0.9), scaled to this tiny data set as
`keras-fer reproduce` does: learning rate 0.03 instead of 1e-3, batch 8 instead of 48, and 15
epochs. `verbose=0` hides Keras's progress bars (`"auto"` shows them).
"""),
    code("""
folds = splits.subject_kfold(source.rows, k=3, order="ckplus")
for fold in folds:
    print(fold.name, "test subjects:", sorted({r["subject"] for r in source.rows if r["id"] in set(fold.test_ids)}))
recipe = get_recipe("ecnn_fsa", epochs=15, batch_size=8, learning_rate=0.03)
print(recipe.optimizer, "momentum", recipe.momentum, "| the paper:", recipe.source)
"""),
    code("""
results = training.cross_validate(source, "ecnn_fsa", folds, out_dir="runs/ecnn_fsa", recipe=recipe,
                                  validation_size=1, verbose=0, tensorboard=False)
accuracy = results["summary"]["accuracy"]
print(f"test accuracy {accuracy['mean']:.1%} +- {accuracy['std']:.1%} over {accuracy['n_folds']} folds "
      f"(chance {1 / len(source.class_names):.1%})")
"""),
    md("""
`runs/ecnn_fsa/results.md` (also `.json` and `.csv`) holds one row per fold: the test accuracy,
unweighted average recall (UAR), macro F1 and the epoch chosen on the validation subject.
"""),
    code("""
display(Markdown(filename="runs/ecnn_fsa/results.md"))
"""),
    md("""
The confusion matrix summed over the three folds: rows are the true classes, columns the
predictions, each row in percent of its videos.
"""),
    code("""
counts = np.sum([fold["confusion_matrix"] for fold in results["folds"]], axis=0)
viz.confusion_matrix_figure(counts, source.class_names, title="ECNN-FSA head, 3 folds")
"""),
    md("""
The training curves of the first fold (from its `history.csv`). The dotted line marks the epoch
whose weights were kept: the one with the lowest loss on the validation subject.
"""),
    code("""
first = results["folds"][0]
viz.training_curves_figure(read_history(f"runs/ecnn_fsa/{first['fold']}/history.csv"), best_epoch=first["best_epoch"],
                           title=f"ECNN-FSA, {first['fold']}")
"""),
    md("""
## 5. Predict a real video

`default_classifier()` is the predictor `keras-fer predict` uses without `--model`: the shipped
FER2013 mini-Xception on 16 frames (one per segment), with the per-frame probabilities averaged
(ECNN-FSA's score-fusion baseline). It is not one of the five papers' models, and its classes are
FER2013's seven. It detects the face with MTCNN, so the first call takes a few seconds. The clip is
a CREMA-D actor acting happiness.
"""),
    code("""
classifier = default_classifier()
prediction = predict_video(classifier, "tests/fixtures/real_faces/crema-d/1001_DFA_HAP_XX.flv")
result = prediction.result
print("label:", result["label"])
print("probabilities:", result["probabilities"])
print("frames used:", result["frames_used"], "| frames without a face:", result["frames_without_face"])
"""),
    md("""
The frames the predictor used, with each class's probability per frame (lines) and the weight of
each frame in the average (bars; equal here: score fusion has no attention). A model trained with
`keras-fer train` and passed as `--model` shows its own attention weights instead.
"""),
    code("""
viz.temporal_weights_figure(result["temporal_attention"]["weights"], frame_indices=result["frames_used"],
                            frame_scores=prediction.frame_probabilities, class_names=list(classifier.class_names),
                            source=result["temporal_attention"]["source"], title="1001_DFA_HAP_XX")
"""),
    md("""
Next: notebook 02 prepares real videos (face detection, frames without a face, optical flow),
03 reproduces a paper's results table, 04 shows where each paper's attention looks.

Steps 2-5 from the command line, on the `synthetic/` folder of step 1 (they give the same
numbers as above):

```bash
keras-fer prepare --dataset synthetic --root synthetic --out prepared --size 64 --sampler ecnn_fsa
keras-fer extract --prepared prepared/ --stem fer2013_mini_xception --out features/
keras-fer cv --data features/ --model ecnn_fsa --folds 3 --epochs 15 --batch-size 8 --learning-rate 0.03 --validation-size 1 --out runs/ecnn_fsa
keras-fer predict tests/fixtures/real_faces/crema-d/1001_DFA_HAP_XX.flv
```
"""),
]

# ------------------------------------------------------------------------------------- 02 prepare a real dataset

PREPARE = [
    md("""
# Preparing a real dataset: six CREMA-D clips stand in

keras-fer reads twelve datasets in their official layouts (CK+, Oulu-CASIA, MMI, AFEW, DFEW,
CASME I/II, SMIC, BU-3DFE, UCF-101, CREMA-D, and any CSV manifest). None can ship with it: you
download them from their owners. This notebook goes through the same steps on the six CREMA-D
clips in `tests/fixtures/real_faces/crema-d/` (one actor saying one sentence with six acted emotions),
which are small enough to run in under a minute:

1. read the dataset's layout into a manifest (the `crema_d` adapter),
2. detect and crop the faces with MTCNN, keeping the frames STANet's sampler can draw,
3. look at the crops and at what happened in every frame,
4. see how videos with frames without a face, or without any face, are reported,
5. compute optical flow for STANet,
6. cache stem features for training.

Run it from the repository root (or any folder where `tests/fixtures/real_faces/` exists). It writes
into the current folder.
"""),
    code("""
%matplotlib inline
import collections

import cv2
import numpy as np
from IPython.display import Markdown, display
from matplotlib.figure import Figure

from data_prep import datasets, manifest
from data_prep.flow import flow_sequence, flow_to_rgb, normalize_flow
from data_prep.prepare import PrepareOptions, dataset_samples, prepare
from data_prep.sampling import interpolate_frames, sample, superset
from keras_fer.data import cache, pipeline

ROOT = "tests/fixtures/real_faces/crema-d"


def table(rows, columns):
    \"\"\"A list of dicts as a Markdown table.\"\"\"
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row.get(column, "")) for column in columns) + " |" for row in rows]
    return Markdown("\\n".join(lines))
"""),
    md("""
## 1. Read the dataset's layout

Each adapter in `data_prep.datasets` turns an official layout into manifest rows: `id`, `path`,
`label`, `subject` and, where the dataset gives them, `onset`/`apex`/`offset` frames. CREMA-D puts
the labels in the file names (`1001_DFA_HAP_XX`: actor 1001, sentence DFA, happiness). Anything the
adapter cannot use (an unknown label, a missing annotation) is a *problem*, printed and kept in
`rows.problems`, never skipped in silence.
"""),
    code("""
rows = datasets.build_manifest("crema_d", ROOT)
print(len(rows), "clips; problems:", rows.problems)
table([{**row, "path": row["path"].split("/")[-1]} for row in rows], ["id", "path", "label", "subject"])
"""),
    md("""
## 2. Detect and crop the faces

`keras-fer prepare --dataset crema_d --root ROOT --out DIR` runs the adapter and then `prepare`;
in Python, `dataset_samples` gives the same rows to `prepare`. The options:

* `detector="mtcnn"`: MTCNN (its weights ship in the `mtcnn` wheel; `"haar"` is OpenCV's cascade);
* `detect_every=5`: detect on every 5th frame and track the box in between;
* `detect_max_side=240`: detect on frames shrunk to 240 pixels (faster; crops come from the full frame);
* `size=112`: crop side in pixels (the papers use 192-240; small here to keep the notebook fast);
* `sampler="stanet"`: keep only the frames STANet's sampler can read (it interpolates 20 frames,
  so both neighbours of each position), not every frame.
"""),
    code("""
options = PrepareOptions(detector="mtcnn", detect_every=5, detect_max_side=240, size=112, sampler="stanet")
result = prepare(None, "prepared_crema_d", options, progress=False, samples=dataset_samples("crema_d", ROOT))
print(len(result.prepared), "clips prepared;", len(result.failures), "failures")
prepared = manifest.read_manifest("prepared_crema_d/manifest.csv")
table(prepared, ["id", "label", "n_frames", "fps", "n_crops", "n_no_face"])
"""),
    md("""
`n_frames` is counted by decoding (container metadata can be wrong), `n_crops` is how many frames
STANet's sampler needs, and `n_no_face` how many of those had no detected or tracked face. The
frames kept are exactly `superset("stanet", n_frames)`:
"""),
    code("""
hap = next(row for row in prepared if row["id"] == "1001_DFA_HAP_XX")
print(superset("stanet", int(hap["n_frames"])))
"""),
    md("""
## 3. Look at the crops and the per-frame report

Eight crops of each clip (crops are named by their frame number in the video):
"""),
    code("""
def read_crop(row, frame):
    return cv2.imread(f"prepared_crema_d/{row['crops_dir']}/{frame:06d}.jpg")[..., ::-1]  # RGB


def frame_report(row):
    return manifest.read_csv(f"prepared_crema_d/{row['crops_dir']}/frames.csv")


figure = Figure(figsize=(9.6, 1.3 * len(prepared)), layout="constrained")
for row_axes, row in zip(figure.subplots(len(prepared), 8), prepared):
    frames = [int(r["frame_index"]) for r in frame_report(row)]
    for ax, frame in zip(row_axes, np.array(frames)[np.linspace(0, len(frames) - 1, 8).astype(int)]):
        ax.imshow(read_crop(row, frame))
        ax.set_title(f"{row['label']} {frame}", fontsize=7)
        ax.set_axis_off()
figure
"""),
    md("""
`crops/<id>/frames.csv` gives every examined frame its box and status: `detected` (MTCNN found
the face), `tracked` (between two detections that found it), or, for a frame without a face, what
the no-face policy did (`held`, `interpolated`, `dropped`).
"""),
    code("""
report = frame_report(hap)
display(table(report[:6], ["frame_index", "file", "status", "x0", "y0", "x1", "y1"]))
print({row["id"]: dict(collections.Counter(r["status"] for r in frame_report(row))) for row in prepared})
"""),
    md("""
## 4. Frames without a face, and videos without any face

A frame without a face is never dropped in silence: a dropped frame would shift which frames a
sampler sees. Two clips show what happens. `face_noface.mov` shows a man, then a cartoon with no
human face; `no_face.mp4` is the cartoon only. Here they are listed in a manifest CSV (only `id`
and `path` are required; relative paths are relative to the CSV), which is how you prepare any
collection of videos that has no adapter. The default policy `hold` gives a frame without a face
the box of the last face before it.
"""),
    code("""
with open("no_face_manifest.csv", "w", encoding="utf-8") as handle:
    handle.write("id,path\\n"
                 "face_noface,tests/fixtures/real_faces/pyfeat/face_noface.mov\\n"
                 "no_face,tests/fixtures/real_faces/pyfeat/no_face.mp4\\n")
options = PrepareOptions(detector="mtcnn", detect_every=10, detect_max_side=320, size=112, no_face_policy="hold")
result = prepare("no_face_manifest.csv", "prepared_no_face", options, progress=False)
display(table(manifest.read_manifest("prepared_no_face/manifest.csv"), ["id", "n_frames", "n_crops", "n_no_face"]))
"""),
    md("""
`no_face.mp4` has no face at all: it is not in the manifest but in `failures.csv`, with the reason.
A batch run records it and goes on.
"""),
    code("""
failures = manifest.read_failures("prepared_no_face/failures.csv")
table([{**row, "file": row["file"].split("/")[-1]} for row in failures], ["file", "reason"])
"""),
    md("""
In `face_noface.mov` the face is found until the cartoon starts; from then on every frame is
`held`. The plot shows each frame's status; below it, crops around the change (a held crop is the
last face box cut out of the cartoon frame, so the model sees what is really there).
"""),
    code("""
row = manifest.read_manifest("prepared_no_face/manifest.csv")[0]
report = manifest.read_csv(f"prepared_no_face/{row['crops_dir']}/frames.csv")
statuses = [r["status"] for r in report]
print(dict(collections.Counter(statuses)), "| first frame without a face:", statuses.index("held"))

names = ["detected", "tracked", "held"]
figure = Figure(figsize=(9, 3.4), layout="constrained")
timeline, strip = figure.subfigures(2, 1, height_ratios=[1, 1.2])
ax = timeline.subplots()
ax.scatter([int(r["frame_index"]) for r in report], [names.index(s) for s in statuses], s=6)
ax.set_yticks(range(len(names)), labels=names)
ax.set_xlabel("frame")
first_held = int(report[statuses.index("held")]["frame_index"])
for ax, frame in zip(strip.subplots(1, 6), range(first_held - 9, first_held + 9, 3)):
    ax.imshow(cv2.imread(f"prepared_no_face/{row['crops_dir']}/{frame:06d}.jpg")[..., ::-1])
    ax.set_title(f"{frame}: {statuses[frame]}", fontsize=8)
    ax.set_axis_off()
figure
"""),
    md("""
The other policies: `interpolate` (a box between the faces before and after) and `drop` (no
crop; not allowed together with a sampler). `keras-fer prepare --no-face-policy` chooses one.

## 5. Optical flow for STANet

STANet reads optical flow between adjacent frames of 20 frames interpolated over the video (the
paper used FlowNet 2.0, whose weights cannot ship; `data_prep.flow` offers OpenCV's DIS,
Farneback and TV-L1). The sampler gives 20 float positions; `interpolate_frames` blends the two
neighbouring crops of each position (the prepared folder holds exactly those crops).
"""),
    code("""
crop_frames = [int(r["frame_index"]) for r in frame_report(hap)]
crops = np.stack([read_crop(hap, frame) for frame in crop_frames])  # (n_crops, 112, 112, 3)
positions = sample("stanet", int(hap["n_frames"]))  # 20 floats in [0, n_frames - 1]
frames = interpolate_frames(crops, positions, frame_indices=crop_frames)  # (20, 112, 112, 3)
flows = np.stack(list(flow_sequence(frames, method="dis")))  # (19, 112, 112, 2): dx, dy in pixels
cnn_input = normalize_flow(flows, bound=20.0)  # clipped to +-20 pixels and scaled to [-1, 1]
print("positions:", np.round(positions, 1))
print("flow:", flows.shape, f"largest motion {np.abs(flows).max():.1f} px; CNN input in "
      f"[{cnn_input.min():.2f}, {cnn_input.max():.2f}]")
"""),
    md("""
The interpolated frames (top) and the flow from each to the next (bottom), colour-coded as in
STANet's figure 6: the hue is the direction, the brightness the speed (here scaled to the largest
motion of the clip).
"""),
    code("""
shown = np.linspace(0, len(flows) - 1, 8).astype(int)
largest = float(np.linalg.norm(flows, axis=-1).max())
figure = Figure(figsize=(9.6, 2.7), layout="constrained")
axes = figure.subplots(2, 8)
for column, index in enumerate(shown):
    axes[0, column].imshow(frames[index])
    axes[0, column].set_title(f"{positions[index]:.1f}", fontsize=8)
    axes[1, column].imshow(flow_to_rgb(flows[index], bound=largest))
for ax in axes.ravel():
    ax.set_axis_off()
figure
"""),
    md("""
## 6. Cache stem features

`extract` runs a stem over the crops once and writes the features of every frame the sampler can
read (here the FER2013 mini-Xception that ships with keras-fer; for the papers' stems, pass a
weights file). The readers then draw the sampler's frames from the cache: STANet's 20
interpolated frames per clip, blended from the cached neighbours.
"""),
    code("""
cache.extract("prepared_crema_d", "features_crema_d", stem="fer2013_mini_xception", progress=False)
info = cache.open_cache("features_crema_d")
print(info.num_samples, "clips; classes", info.classes, "; features per frame", info.feature_shape)
features, labels = next(iter(pipeline.feature_dataset("features_crema_d", training=False, batch_size=6)))
print("a batch for training:", tuple(features.shape), [info.classes[int(i)] for i in labels])
"""),
    md("""
From here, `keras-fer train`/`cv` (or `keras_fer.jobs.training`, notebook 01) train a head on
the cache. Six clips of one actor are far too few to train or measure anything: with a real
dataset, only the root folder and the adapter name change:

```bash
keras-fer prepare --dataset crema_d --root CREMA-D/VideoFlash --out prepared/ --sampler stanet
keras-fer extract --prepared prepared/ --stem fer2013_mini_xception --out features/
```
"""),
]

# ---------------------------------------------------------------------------------------- 03 reproduce a table

REPRODUCE = [
    md("""
# Reproducing a paper's results table

`keras_fer.jobs.reproduce.reproduce` (`keras-fer reproduce`) runs the rows of a paper's
results tables (its full model, baselines and ablations) under a subject-independent protocol and
writes a table with the paper's own numbers beside each row.

Without a dataset it runs from nothing on the built-in synthetic benchmark: it renders the
benchmark, prepares it, caches features of a stand-in stem, and cross-validates each row.
`quick=True` runs only the paper's full model, on the first fold, with fewer epochs. Here: CEFLNet,
quick, about a minute on 2 CPU cores.

**Synthetic numbers are not comparable with the papers' numbers.** The data are cartoon faces,
not CK+ or DFEW; a FER2013 mini-Xception stands in for the papers' pretrained stems; training is
scaled down. The papers' numbers are printed only to say which row is which. To compare with a
paper, run the same rows on the paper's dataset (see the end of this notebook).
"""),
    code("""
from IPython.display import Image, Markdown, display

from keras_fer.evaluation.reported import PROTOCOLS, reported
from keras_fer.jobs.reproduce import SYNTHETIC_PLANS, reproduce
"""),
    md("""
What the synthetic run changes for CEFLNet:
"""),
    code("""
plan = SYNTHETIC_PLANS["ceflnet"]
print(plan.note)
print(f"quick=True: the full model only, on the first fold, {plan.quick_epochs} epochs")
"""),
    md("""
Run it. `workers=1` trains the rows in this process. (With several rows, for example
`paper="all"`, the default runs them in up to 4 spawned worker processes, which also works from a
notebook.)
"""),
    code("""
results = reproduce("runs/reproduce_ceflnet", paper="ceflnet", quick=True, workers=1)
print(f"{results['seconds']:.0f} s")
"""),
    md("""
The table `reproduce` wrote (`runs/reproduce_ceflnet/reproduce.md`; the same data are in
`reproduce.json`). "folds x epochs" is what ran; "paper reports" is the paper's number for that
row on each dataset it used.
"""),
    code("""
display(Markdown(filename="runs/reproduce_ceflnet/reproduce.md"))
"""),
    md("""
Our row beside chance, and the CEFLNet paper's own numbers for the same model (from
`keras_fer.evaluation.reported`, with the table each comes from):
"""),
    code("""
row = results["papers"]["ceflnet"]["rows"][0]
accuracy = row["summary"]["accuracy"]["mean"]
print(f"{row['model']} on synthetic macro: {accuracy:.1%} accuracy on {row['n_folds']} fold, chance {1 / 6:.1%}")

lines = ["| model | dataset | metric | paper (%) | source |", "|---|---|---|---|---|"]
lines += [f"| `{e.model}` | {e.dataset} | {e.metric} | {e.value:g} | {e.source} |" for e in reported("ceflnet")]
display(Markdown("\\n".join(lines)))
"""),
    md("""
Each number was measured under its dataset's protocol, which the papers describe as:
"""),
    code("""
for dataset in sorted({e.dataset for e in reported("ceflnet")}):
    print(f"{dataset}: {PROTOCOLS[dataset]}")
"""),
    md("""
The run's confusion matrix on the test subjects of its fold (rows: true classes):
"""),
    code("""
Image("runs/reproduce_ceflnet/ceflnet/ceflnet/confusion_matrix.png")
"""),
    md("""
The whole table, every row of the five papers, takes about 13 minutes on 2 CPU cores:

```bash
keras-fer reproduce --out runs/reproduce
```

On a real dataset (your own licensed copy, prepared and cached as in notebook 02, with the
papers' stems' weights), the same call runs the dataset's protocol and prints only the paper's
numbers on that dataset, which are then comparable:

```bash
keras-fer reproduce --paper ceflnet --dataset bu3dfe --data-root BU3DFE/ --features bu3dfe_resnet18/ --out runs/ceflnet_bu3dfe
```
"""),
]

# ---------------------------------------------------------------------------------- 04 where the attention looks

ATTENTION = [
    md("""
# Where the attention looks

Each of the five papers adds attention to a video network. `keras_fer.models.attention_model`
returns, with the same weights, every attention layer's scores beside the logits, and
`keras_fer.viz` draws them: spatial maps over the face crops, weights over frames or clips, and
video embeddings.

We run each paper's full model, at small sizes, on real face crops of a CREMA-D clip (an actor
acting happiness).

**The models here are untrained: their weights are random.** The maps and weights below show
*how to look* at each paper's attention, not what a trained model attends to. Random attention is
close to uniform, so expect flat maps and near-equal weights. For a trained model, pass your
model (from `keras-fer train`, or `keras.saving.load_model`) to the same functions.

Run it from the repository root (or any folder where `tests/fixtures/real_faces/` exists).
"""),
    code("""
%matplotlib inline
import cv2
import keras
import numpy as np
from matplotlib.figure import Figure

from data_prep.faces import FaceCropper
from data_prep.flow import flow_sequence, flow_to_rgb, normalize_flow
from data_prep.sampling import interpolate_frames, sample
from keras_fer.models import attention_model, create_model, temporal_attention_model
from keras_fer.models.ceflnet import most_emotional_clip
from keras_fer.viz import (attention_overlay_figure, embedding_figure, spatial_maps, temporal_weights_figure,
                           video_embeddings)

keras.utils.set_random_seed(0)  # the same random weights every run
CLIP = "tests/fixtures/real_faces/crema-d/1001_DFA_HAP_XX.flv"
CLASSES = ["anger", "disgust", "fear", "happiness", "neutral", "sadness"]  # CREMA-D's six


def resized(frames, side):
    \"\"\"uint8 frames (..., H, W, 3) resized to side x side.\"\"\"
    flat = frames.reshape(-1, *frames.shape[-3:])
    out = np.stack([cv2.resize(frame, (side, side), interpolation=cv2.INTER_AREA) for frame in flat])
    return out.reshape(*frames.shape[:-3], side, side, 3)


def numpy(outputs):
    return {name: keras.ops.convert_to_numpy(value) for name, value in outputs.items()}


def matrix_figure(scores, frames, title):
    \"\"\"A (T, T) attention matrix: row t = how frame t's output weighs every frame i.\"\"\"
    figure = Figure(figsize=(4.2, 3.6), layout="constrained")
    ax = figure.subplots()
    image = ax.imshow(scores, cmap="viridis", vmin=0.0)
    ax.set_xticks(range(len(frames)), labels=frames, fontsize=7)
    ax.set_yticks(range(len(frames)), labels=frames, fontsize=7)
    ax.set_xlabel("attended frame i")
    ax.set_ylabel("output frame t")
    ax.set_title(title, fontsize=9)
    figure.colorbar(image, ax=ax)
    return figure
"""),
    md("""
## Face crops from a real clip

`FaceCropper` detects the face with MTCNN (every 5th frame, tracked in between) and cuts a square
crop around it in every frame. The crops are 96 pixels for drawing; each model gets them resized
to its own small input size.
"""),
    code("""
cropper = FaceCropper(detector="mtcnn", detect_every=5, detect_max_side=240, size=96)
crops, track = cropper.crop_video(CLIP)  # (n_frames, 96, 96, 3) RGB uint8
n_frames = len(crops)
print(track.summary())
"""),
    md("""
## AST: context attention over past frames

AST reads 20 frames (8 here) at one fixed stride. For each frame t, its context attention weighs
the frames i <= t (causal) with an additive alignment score and sums them into a context vector;
the video vector is the mean of the context vectors. The matrix shows the weights a_ti (rows sum
to 1, zero above the diagonal); the bars show how much each frame contributes to the video
vector (the column means).
"""),
    code("""
ast_frames = sample("ast", n_frames, num_frames=8)
ast = create_model("ast", len(CLASSES), input="frames", num_frames=8, frame_size=32, projection_units=16, units=8)
scores = numpy(attention_model(ast)(resized(crops[ast_frames], 32)[None]))["context_attention"][0]
matrix_figure(scores, ast_frames, "AST context attention a_ti (untrained)")
"""),
    code("""
temporal, source = temporal_attention_model(ast)
weights = numpy(temporal(resized(crops[ast_frames], 32)[None]))["temporal_attention"][0]
temporal_weights_figure(weights, frame_indices=ast_frames, source=source,
                        title="AST: each frame's share (untrained)")
"""),
    md("""
## STCAM: spatial-temporal attention maps

STCAM reads 7 frames (the first, 5 in between, the peak) through a 3D Inception-ResNet with
channel attention (3D-CAM) and spatial-temporal attention (STAM) in every block. STAM's scores
are sigmoid weights in (0, 1) for every position of every frame; `spatial_maps` takes them per
frame and `attention_overlay_figure` upsamples them to the crop and overlays them, as STCAM's
figure 7 does (warm = high weight). The first block (`block_a`) sees a 64-pixel input at 1/8
resolution: 8 x 8 cells. The maps are drawn unscaled, so a flat colour means the untrained
attention does not prefer any place.
"""),
    code("""
stcam_frames = sample("stcam", n_frames)
stcam = create_model("stcam", len(CLASSES), input="frames", num_frames=7, frame_size=64, hidden_units=8)
outputs = numpy(attention_model(stcam)(resized(crops[stcam_frames], 64)[None]))
print("STAM and CAM scores:", {name: value.shape for name, value in outputs.items() if name != "logits"})
maps = spatial_maps(outputs["block_a_stam"], "stam", num_frames=7)  # (1, 7, 8, 8) in (0, 1)
print(f"block_a STAM weights in [{maps.min():.3f}, {maps.max():.3f}]")
attention_overlay_figure(crops[stcam_frames], maps[0], frame_indices=stcam_frames,
                         title="STCAM block_a STAM (untrained)")
"""),
    md("""
`normalize="frame"` stretches each frame's map to [0, 1] to show where it is highest, at the
price of turning small differences (here noise) into full colour:
"""),
    code("""
attention_overlay_figure(crops[stcam_frames], spatial_maps(outputs["block_a_stam"], "stam", num_frames=7,
                                                           normalize="frame")[0],
                         frame_indices=stcam_frames, title="STCAM block_a STAM, each frame rescaled (untrained)")
"""),
    md("""
STCAM has no attention over time (its 3D network mixes frames in its convolutions), so
`temporal_attention_model` gives equal weights and says so:
"""),
    code("""
print(temporal_attention_model(stcam)[1])
"""),
    md("""
## ECNN-FSA: frame self-attention

ECNN-FSA reads one frame from each of 5 equal segments. Its frame self-attention weighs every
frame against every other, softmax(s Q K^T) with s = 0.1 (eq. 1-2), and the attended frames are
averaged into the video vector.
"""),
    code("""
ecnn_frames = sample("ecnn_fsa", n_frames)
ecnn = create_model("ecnn_fsa", len(CLASSES), input="frames", num_frames=5, frame_size=32)
scores = numpy(attention_model(ecnn)(resized(crops[ecnn_frames], 32)[None]))["frame_self_attention"][0]
matrix_figure(scores, ecnn_frames, "ECNN-FSA frame self-attention (untrained)")
"""),
    code("""
temporal, source = temporal_attention_model(ecnn)
weights = numpy(temporal(resized(crops[ecnn_frames], 32)[None]))["temporal_attention"][0]
temporal_weights_figure(weights, frame_indices=ecnn_frames, source=source,
                        title="ECNN-FSA: each frame's share (untrained)")
"""),
    md("""
## CEFLNet: emotional intensity over clips

CEFLNet cuts 75 frames of the video (stretched to 105 frames when shorter) into 7 windows of 15
frames that overlap by 5, and reads 5 frames of each window: 7 clips of 5 frames. Inside each clip, self-attention and a local-global relation summarise the frames; across clips, the
emotional intensity activation gives each clip a weight A (softmax over clips, eq. 6), and
argmax A is the *most emotional clip* (orange, as in CEFLNet's figure 6). The bars sit at the
first frame of each clip.
"""),
    code("""
positions = sample("ceflnet", n_frames)  # (7 clips, 5 frames) float positions in the video
clips = interpolate_frames(crops, positions)  # (7, 5, 96, 96, 3)
ceflnet = create_model("ceflnet", len(CLASSES), input="frames", frame_size=32, feature_shape=(7, 5, 512))
outputs = numpy(attention_model(ceflnet)(resized(clips, 32)[None]))
intensity, chosen = outputs["emotional_intensity_activation"][0], int(most_emotional_clip(outputs)[0])
print("intensity A:", np.round(intensity, 3), "| most emotional clip:", chosen)
temporal_weights_figure(intensity, frame_indices=np.round(positions[:, 0], 1), chosen=chosen,
                        source="emotional_intensity_activation", title="CEFLNet intensity over clips (untrained)")
"""),
    md("""
The frames of the chosen clip:
"""),
    code("""
figure = Figure(figsize=(7, 1.7), layout="constrained")
for ax, frame, position in zip(figure.subplots(1, 5), clips[chosen], positions[chosen]):
    ax.imshow(frame)
    ax.set_title(f"frame {position:.1f}", fontsize=8)
    ax.set_axis_off()
figure.suptitle(f"clip {chosen}, the most emotional for the untrained model", fontsize=9)
figure
"""),
    md("""
## STANet: soft mask on optical flow, and temporal weights

STANet reads optical flow between adjacent frames of 20 frames interpolated over the video.
Its spatial attention branch computes a soft mask M in [0, 1] on the flow CNN's features and
enhances them as (1 + M) x; its temporal branch weighs the frames with w (softmax, eq. 3-5).
We compute DIS flow on the 96-pixel crops and give the model 64-pixel flow (1/8: an 8 x 8 mask).
"""),
    code("""
stanet_positions = sample("stanet", n_frames)  # 20 floats
stanet_frames = interpolate_frames(crops, stanet_positions)  # (20, 96, 96, 3)
flows = np.stack(list(flow_sequence(stanet_frames, method="dis")))  # (19, 96, 96, 2), pixels
small = np.stack([cv2.resize(flow, (64, 64), interpolation=cv2.INTER_AREA) for flow in flows]) * (64 / 96)
flow_input = normalize_flow(small, bound=5.0)  # (19, 64, 64, 2) in [-1, 1]
stanet = create_model("stanet", len(CLASSES), input="frames", frame_size=(64, 64), filters=(8, 16, 32),
                      feature_shape=(len(flows), 32))
outputs = numpy(attention_model(stanet)(flow_input[None]))
print("soft mask M:", outputs["soft_mask_branch"].shape, "| temporal weights w:", outputs["temporal_attention"].shape)

largest = float(np.linalg.norm(flows, axis=-1).max())
figure = Figure(figsize=(9.6, 1.5), layout="constrained")
for ax, index in zip(figure.subplots(1, 8), np.linspace(0, len(flows) - 1, 8).astype(int)):
    ax.imshow(flow_to_rgb(flows[index], bound=largest))
    ax.set_title(f"flow {stanet_positions[index]:.1f}", fontsize=7)
    ax.set_axis_off()
figure
"""),
    md("""
The soft mask, averaged over its channels (`spatial_maps(..., "soft_mask")`), over the crop each
flow field starts from:
"""),
    code("""
maps = spatial_maps(outputs["soft_mask_branch"], "soft_mask")  # (1, 19, 8, 8)
attention_overlay_figure(stanet_frames[:-1], maps[0], frame_indices=np.round(stanet_positions[:-1], 1),
                         title="STANet soft mask M (untrained)")
"""),
    code("""
temporal_weights_figure(outputs["temporal_attention"][0], frame_indices=np.round(stanet_positions[:-1], 1),
                        source="temporal_attention", title="STANet temporal weights w (untrained)")
"""),
    md("""
## Video embeddings

CEFLNet's figure 7 shows its video representations (the vector its classifier reads) projected
to 2-D with t-SNE. `video_embeddings` reads that vector from any model of this package, and
`embedding_figure` projects and draws it, one colour per class. Here: the six CREMA-D clips of one
actor through the untrained CEFLNet, projected with PCA. With six points from a random network
nothing can be read into the layout; with a trained model and a data set of many videos, classes
that the model separates form groups (`method="tsne"` as in the paper).
"""),
    code("""
videos = [CLIP.replace("HAP", code) for code in ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")]
inputs = []
for path in videos:
    video_crops, _ = cropper.crop_video(path)
    inputs.append(resized(interpolate_frames(video_crops, sample("ceflnet", len(video_crops))), 32))
embeddings = video_embeddings(ceflnet, np.stack(inputs))  # (6, D)
print("embeddings:", embeddings.shape)
embedding_figure(embeddings, list(range(6)), CLASSES, method="pca", title="CEFLNet video embeddings (untrained)")
"""),
]

# ---------------------------------------------------------------------------------------------------- 05 export

EXPORT = [
    md("""
# Export and serving with a SavedModel

This notebook trains a small AST head on the synthetic benchmark, exports it in TF Serving's layout with
`keras_fer.export`, and serves it: from TensorFlow alone (what TF Serving runs), from several threads at once,
and as ONNX and TFLite files. The model is trained on synthetic cartoon faces for a minute, so its answers on
the real clip at the end mean nothing: the notebook shows the serving path, not accuracy.

It takes about a minute on 2 CPU cores and writes under the current folder (`synthetic/`, `prepared/`,
`features/`, `runs/`, `exports/`). Run it from the repository root (or any folder with `tests/fixtures/real_faces/`).
"""),
    code("""
%matplotlib inline
import concurrent.futures
import json
import os

import numpy as np
import tensorflow as tf

from data_prep import faces, sampling, video
from data_prep.prepare import PrepareOptions, dataset_samples, prepare
from data_prep.synthetic import generate_dataset
from keras_fer import viz
from keras_fer.data import cache
from keras_fer.data.sources import open_source
from keras_fer.jobs import training
from keras_fer.export import export_onnx, export_tflite, export_trained, load_metadata
from keras_fer.inference import load_trained
from keras_fer.training import get_recipe
"""),
    md("""
## 1. Train a small AST head (as `keras-fer train` does)

A small synthetic benchmark, face crops, the FER2013 stand-in stem's features, then AST's head with its
recipe (5 epochs, one validation subject selects the epoch). `train_model` writes `runs/ast/model.keras` and
`train.json`, which records how videos were prepared: what `export` needs to put the stem in front of the head.
"""),
    code("""
generate_dataset("synthetic", mode="macro", n_subjects=4, videos_per_class=1, size=64, n_frames=24)
prepare("synthetic", "prepared", PrepareOptions(detector="full_frame", size=64), progress=False,
        samples=dataset_samples("synthetic", "synthetic"))
cache.extract("prepared", "features", stem="fer2013_mini_xception", sampler=None, progress=False)
source = open_source("features", sampler="ast", sampler_options={"num_frames": 8})
recipe = get_recipe("ast", epochs=5, batch_size=4)
model = training.train_model(source, "ast", out_dir="runs/ast", recipe=recipe, validation_size=1, verbose=0,
                             tensorboard=False)
print(json.load(open("runs/ast/train.json"))["preparation"])
"""),
    md("""
## 2. Export in TF Serving's layout (`keras-fer export --model runs/ast --out exports`)

The version folder `exports/ast/1/` holds `saved_model.pb`, `variables/` and `assets/` (`class_names.txt`,
`keras_fer.json`). Two signatures: `serving_default` reads uint8 face crops (the FER2013 stem and its
preprocessing run inside the graph), `features` reads cached features. Both return `probabilities`, `logits`
and `temporal_attention`. `load_metadata` reads the assets back with plain Python.
"""),
    code("""
path = export_trained("runs/ast", "exports", overwrite=True)
print(path, sorted(os.listdir(path)), sorted(os.listdir(os.path.join(path, "assets"))))
metadata = load_metadata("exports/ast")
print({key: metadata[key] for key in ("class_names", "sampler", "sampler_options", "temporal_attention_source")})
print(json.dumps(metadata["signatures"]["serving_default"]["input"]))
"""),
    md("""
## 3. Serve it from TensorFlow alone

`tf.saved_model.load` needs neither keras-fer nor Keras (a test checks this in a process that cannot import
them). A client prepares frames as the metadata says: detect and crop the face (here MTCNN with a 25 % margin on
a real CREMA-D clip; the model was trained on full synthetic frames), draw the frames with the paper's sampler,
and send uint8 crops.
"""),
    code("""
clip = "tests/fixtures/real_faces/crema-d/1001_DFA_HAP_XX.flv"
reader = video.VideoReader(clip)
positions = sampling.sample(metadata["sampler"], reader.info.n_frames, **metadata["sampler_options"])
indices = np.round(positions).astype(int)
height, width = metadata["signatures"]["serving_default"]["input"]["shape"][2:4]
crops, track = faces.FaceCropper(detector="mtcnn", size=height, margin=0.25).crop_video(reader, np.unique(indices))
frames = crops[np.searchsorted(np.unique(indices), indices)][None]  # (1, 8, 64, 64, 3) uint8

served = tf.saved_model.load(path).signatures["serving_default"]
outputs = served(frames=tf.constant(frames))
probabilities = outputs["probabilities"].numpy()[0]
print(dict(zip(metadata["class_names"], probabilities.round(3))))
keras_logits = load_trained("runs/ast").frames_model()(frames).numpy()
print("largest difference from the Keras model:", float(np.abs(keras_logits - outputs["logits"].numpy()).max()))
viz.temporal_weights_figure(outputs["temporal_attention"].numpy()[0], frame_indices=indices,
                            source=metadata["temporal_attention_source"]["serving_default"],
                            title="AST's context attention over the frames sent (served SavedModel)")
"""),
    md("""
## 4. Several threads at once

One loaded SavedModel may be called from many threads: 8 threads give the same outputs as calls one after
another (TF Serving does this for concurrent requests).
"""),
    code("""
batches = [np.random.default_rng(seed).integers(0, 256, size=frames.shape, dtype=np.uint8) for seed in range(8)]
sequential = [served(frames=tf.constant(b))["logits"].numpy() for b in batches]
with concurrent.futures.ThreadPoolExecutor(8) as pool:
    threaded = list(pool.map(lambda b: served(frames=tf.constant(b))["logits"].numpy(), batches))
print("same outputs:", all(np.allclose(a, b, atol=1e-6) for a, b in zip(sequential, threaded)))
"""),
    md("""
## 5. ONNX and TFLite

`export_onnx` converts the `serving_default` graph with tf2onnx (installed by the `test` and `onnx` extras);
onnxruntime then computes the same outputs. `export_tflite` converts both signatures with builtin TFLite ops
where they exist (STCAM's `MaxPool3D` needs `select_tf_ops=True` and the Flex delegate).
"""),
    code("""
import onnxruntime

network = load_trained("runs/ast").frames_model()
export_onnx(network, "exports/ast.onnx")
session = onnxruntime.InferenceSession("exports/ast.onnx")
onnx_logits, = session.run(["logits"], {"frames": frames})
print("ONNX vs SavedModel:", float(np.abs(onnx_logits - outputs["logits"].numpy()).max()))

export_tflite(network, "exports/ast.tflite")
interpreter = tf.lite.Interpreter("exports/ast.tflite")
runner = interpreter.get_signature_runner("serving_default")
tflite_logits = runner(frames=frames)["logits"]
print("TFLite vs SavedModel:", float(np.abs(tflite_logits - outputs["logits"].numpy()).max()))
"""),
    md("""
## 6. TF Serving

With Docker, TF Serving serves the folder as it is (not run here):

```text
docker run --rm -p 8501:8501 -v "$PWD/exports/ast:/models/ast" -e MODEL_NAME=ast tensorflow/serving
curl http://localhost:8501/v1/models/ast/metadata
curl -X POST http://localhost:8501/v1/models/ast:predict -d '{"signature_name": "serving_default", "instances": [{"frames": ...}]}'
```

The class names are not sent by TF Serving: read them from `exports/ast/1/assets/class_names.txt`, in the order
of the `probabilities` columns.
"""),
]


NOTEBOOKS = {
    "01_quickstart.ipynb": QUICKSTART,
    "02_prepare_real_dataset.ipynb": PREPARE,
    "03_reproduce_a_table.ipynb": REPRODUCE,
    "04_where_the_attention_looks.ipynb": ATTENTION,
    "05_export_and_serving.ipynb": EXPORT,
}


def main(out_dir):
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        for index, cell in enumerate(cells):
            cell["id"] = f"cell-{index:02d}"  # stable ids: regenerating changes nothing
        notebook = new_notebook(cells=cells, metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        })
        nbformat.validate(notebook)
        nbformat.write(notebook, out / name)
        print("wrote", out / name)


if __name__ == "__main__":
    main(sys.argv[1])
