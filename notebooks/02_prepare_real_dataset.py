# %% [markdown]
# # Preparing a real dataset: six CREMA-D clips stand in
#
# keras-fer reads twelve datasets in their official layouts (CK+, Oulu-CASIA, MMI, AFEW, DFEW,
# CASME I/II, SMIC, BU-3DFE, UCF-101, CREMA-D, and any CSV manifest). None can ship with it: you
# download them from their owners. This notebook goes through the same steps on the six CREMA-D
# clips in `tests/fixtures/real_faces/crema-d/` (one actor saying one sentence with six acted emotions),
# which are small enough to run in under a minute:
#
# 1. read the dataset's layout into a manifest (the `crema_d` adapter),
# 2. detect and crop the faces with MTCNN, keeping the frames STANet's sampler can draw,
# 3. look at the crops and at what happened in every frame,
# 4. see how videos with frames without a face, or without any face, are reported,
# 5. compute optical flow for STANet,
# 6. cache stem features for training.
#
# Run it from the repository root (or any folder where `tests/fixtures/real_faces/` exists). It writes
# into the current folder.

# %%
# %matplotlib inline
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
    """A list of dicts as a Markdown table."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row.get(column, "")) for column in columns) + " |" for row in rows]
    return Markdown("\n".join(lines))


# %% [markdown]
# ## 1. Read the dataset's layout
#
# Each adapter in `data_prep.datasets` turns an official layout into manifest rows: `id`, `path`,
# `label`, `subject` and, where the dataset gives them, `onset`/`apex`/`offset` frames. CREMA-D puts
# the labels in the file names (`1001_DFA_HAP_XX`: actor 1001, sentence DFA, happiness). Anything the
# adapter cannot use (an unknown label, a missing annotation) is a *problem*, printed and kept in
# `rows.problems`, never skipped in silence.

# %%
rows = datasets.build_manifest("crema_d", ROOT)
print(len(rows), "clips; problems:", rows.problems)
table([{**row, "path": row["path"].split("/")[-1]} for row in rows], ["id", "path", "label", "subject"])

# %% [markdown]
# ## 2. Detect and crop the faces
#
# `keras-fer prepare --dataset crema_d --root ROOT --out DIR` runs the adapter and then `prepare`;
# in Python, `dataset_samples` gives the same rows to `prepare`. The options:
#
# * `detector="mtcnn"`: MTCNN (its weights ship in the `mtcnn` wheel; `"haar"` is OpenCV's cascade);
# * `detect_every=5`: detect on every 5th frame and track the box in between;
# * `detect_max_side=240`: detect on frames shrunk to 240 pixels (faster; crops come from the full frame);
# * `size=112`: crop side in pixels (the papers use 192-240; small here to keep the notebook fast);
# * `sampler="stanet"`: keep only the frames STANet's sampler can read (it interpolates 20 frames,
#   so both neighbours of each position), not every frame.

# %%
options = PrepareOptions(detector="mtcnn", detect_every=5, detect_max_side=240, size=112, sampler="stanet")
result = prepare(None, "prepared_crema_d", options, progress=False, samples=dataset_samples("crema_d", ROOT))
print(len(result.prepared), "clips prepared;", len(result.failures), "failures")
prepared = manifest.read_manifest("prepared_crema_d/manifest.csv")
table(prepared, ["id", "label", "n_frames", "fps", "n_crops", "n_no_face"])

# %% [markdown]
# `n_frames` is counted by decoding (container metadata can be wrong), `n_crops` is how many frames
# STANet's sampler needs, and `n_no_face` how many of those had no detected or tracked face. The
# frames kept are exactly `superset("stanet", n_frames)`:

# %%
hap = next(row for row in prepared if row["id"] == "1001_DFA_HAP_XX")
print(superset("stanet", int(hap["n_frames"])))


# %% [markdown]
# ## 3. Look at the crops and the per-frame report
#
# Eight crops of each clip (crops are named by their frame number in the video):

# %%
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

# %% [markdown]
# `crops/<id>/frames.csv` gives every examined frame its box and status: `detected` (MTCNN found
# the face), `tracked` (between two detections that found it), or, for a frame without a face, what
# the no-face policy did (`held`, `interpolated`, `dropped`).

# %%
report = frame_report(hap)
display(table(report[:6], ["frame_index", "file", "status", "x0", "y0", "x1", "y1"]))
print({row["id"]: dict(collections.Counter(r["status"] for r in frame_report(row))) for row in prepared})

# %% [markdown]
# ## 4. Frames without a face, and videos without any face
#
# A frame without a face is never dropped in silence: a dropped frame would shift which frames a
# sampler sees. Two clips show what happens. `face_noface.mov` shows a man, then a cartoon with no
# human face; `no_face.mp4` is the cartoon only. Here they are listed in a manifest CSV (only `id`
# and `path` are required; relative paths are relative to the CSV), which is how you prepare any
# collection of videos that has no adapter. The default policy `hold` gives a frame without a face
# the box of the last face before it.

# %%
with open("no_face_manifest.csv", "w", encoding="utf-8") as handle:
    handle.write("id,path\n"
                 "face_noface,tests/fixtures/real_faces/pyfeat/face_noface.mov\n"
                 "no_face,tests/fixtures/real_faces/pyfeat/no_face.mp4\n")
options = PrepareOptions(detector="mtcnn", detect_every=10, detect_max_side=320, size=112, no_face_policy="hold")
result = prepare("no_face_manifest.csv", "prepared_no_face", options, progress=False)
display(table(manifest.read_manifest("prepared_no_face/manifest.csv"), ["id", "n_frames", "n_crops", "n_no_face"]))

# %% [markdown]
# `no_face.mp4` has no face at all: it is not in the manifest but in `failures.csv`, with the reason.
# A batch run records it and goes on.

# %%
failures = manifest.read_failures("prepared_no_face/failures.csv")
table([{**row, "file": row["file"].split("/")[-1]} for row in failures], ["file", "reason"])

# %% [markdown]
# In `face_noface.mov` the face is found until the cartoon starts; from then on every frame is
# `held`. The plot shows each frame's status; below it, crops around the change (a held crop is the
# last face box cut out of the cartoon frame, so the model sees what is really there).

# %%
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

# %% [markdown]
# The other policies: `interpolate` (a box between the faces before and after) and `drop` (no
# crop; not allowed together with a sampler). `keras-fer prepare --no-face-policy` chooses one.
#
# ## 5. Optical flow for STANet
#
# STANet reads optical flow between adjacent frames of 20 frames interpolated over the video (the
# paper used FlowNet 2.0, whose weights cannot ship; `data_prep.flow` offers OpenCV's DIS,
# Farneback and TV-L1). The sampler gives 20 float positions; `interpolate_frames` blends the two
# neighbouring crops of each position (the prepared folder holds exactly those crops).

# %%
crop_frames = [int(r["frame_index"]) for r in frame_report(hap)]
crops = np.stack([read_crop(hap, frame) for frame in crop_frames])  # (n_crops, 112, 112, 3)
positions = sample("stanet", int(hap["n_frames"]))  # 20 floats in [0, n_frames - 1]
frames = interpolate_frames(crops, positions, frame_indices=crop_frames)  # (20, 112, 112, 3)
flows = np.stack(list(flow_sequence(frames, method="dis")))  # (19, 112, 112, 2): dx, dy in pixels
cnn_input = normalize_flow(flows, bound=20.0)  # clipped to +-20 pixels and scaled to [-1, 1]
print("positions:", np.round(positions, 1))
print("flow:", flows.shape, f"largest motion {np.abs(flows).max():.1f} px; CNN input in "
      f"[{cnn_input.min():.2f}, {cnn_input.max():.2f}]")

# %% [markdown]
# The interpolated frames (top) and the flow from each to the next (bottom), colour-coded as in
# STANet's figure 6: the hue is the direction, the brightness the speed (here scaled to the largest
# motion of the clip).

# %%
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

# %% [markdown]
# ## 6. Cache stem features
#
# `extract` runs a stem over the crops once and writes the features of every frame the sampler can
# read (here the FER2013 mini-Xception that ships with keras-fer; for the papers' stems, pass a
# weights file). The readers then draw the sampler's frames from the cache: STANet's 20
# interpolated frames per clip, blended from the cached neighbours.

# %%
cache.extract("prepared_crema_d", "features_crema_d", stem="fer2013_mini_xception", progress=False)
info = cache.open_cache("features_crema_d")
print(info.num_samples, "clips; classes", info.classes, "; features per frame", info.feature_shape)
features, labels = next(iter(pipeline.feature_dataset("features_crema_d", training=False, batch_size=6)))
print("a batch for training:", tuple(features.shape), [info.classes[int(i)] for i in labels])

# %% [markdown]
# From here, `keras-fer train`/`cv` (or `keras_fer.jobs.training`, notebook 01) train a head on
# the cache. Six clips of one actor are far too few to train or measure anything: with a real
# dataset, only the root folder and the adapter name change:
#
# ```bash
# keras-fer prepare --dataset crema_d --root CREMA-D/VideoFlash --out prepared/ --sampler stanet
# keras-fer extract --prepared prepared/ --stem fer2013_mini_xception --out features/
# ```
