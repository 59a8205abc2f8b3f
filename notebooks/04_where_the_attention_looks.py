# %% [markdown]
# # Where the attention looks
#
# Each of the five papers adds attention to a video network. `keras_fer.models.attention_model`
# returns, with the same weights, every attention layer's scores beside the logits, and
# `keras_fer.viz` draws them: spatial maps over the face crops, weights over frames or clips, and
# video embeddings.
#
# We run each paper's full model, at small sizes, on real face crops of a CREMA-D clip (an actor
# acting happiness).
#
# **The models here are untrained: their weights are random.** The maps and weights below show
# *how to look* at each paper's attention, not what a trained model attends to. Random attention is
# close to uniform, so expect flat maps and near-equal weights. For a trained model, pass your
# model (from `keras-fer train`, or `keras.saving.load_model`) to the same functions.
#
# Run it from the repository root (or any folder where `tests/fixtures/real_faces/` exists).

# %%
# %matplotlib inline
import cv2
import keras
import numpy as np
from matplotlib.figure import Figure

from data_prep.faces import FaceCropper
from data_prep.flow import flow_sequence, flow_to_rgb, normalize_flow
from data_prep.sampling import interpolate_frames, sample
from keras_fer.models import attention_model, create_model, temporal_attention_model
from keras_fer.models.ceflnet import most_emotional_clip
from keras_fer.viz import (
    attention_overlay_figure,
    embedding_figure,
    spatial_maps,
    temporal_weights_figure,
    video_embeddings,
)

keras.utils.set_random_seed(0)  # the same random weights every run
CLIP = "tests/fixtures/real_faces/crema-d/1001_DFA_HAP_XX.flv"
CLASSES = ["anger", "disgust", "fear", "happiness", "neutral", "sadness"]  # CREMA-D's six


def resized(frames, side):
    """uint8 frames (..., H, W, 3) resized to side x side."""
    flat = frames.reshape(-1, *frames.shape[-3:])
    out = np.stack([cv2.resize(frame, (side, side), interpolation=cv2.INTER_AREA) for frame in flat])
    return out.reshape(*frames.shape[:-3], side, side, 3)


def numpy(outputs):
    return {name: keras.ops.convert_to_numpy(value) for name, value in outputs.items()}


def matrix_figure(scores, frames, title):
    """A (T, T) attention matrix: row t = how frame t's output weighs every frame i."""
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


# %% [markdown]
# ## Face crops from a real clip
#
# `FaceCropper` detects the face with MTCNN (every 5th frame, tracked in between) and cuts a square
# crop around it in every frame. The crops are 96 pixels for drawing; each model gets them resized
# to its own small input size.

# %%
cropper = FaceCropper(detector="mtcnn", detect_every=5, detect_max_side=240, size=96)
crops, track = cropper.crop_video(CLIP)  # (n_frames, 96, 96, 3) RGB uint8
n_frames = len(crops)
print(track.summary())

# %% [markdown]
# ## AST: context attention over past frames
#
# AST reads 20 frames (8 here) at one fixed stride. For each frame t, its context attention weighs
# the frames i <= t (causal) with an additive alignment score and sums them into a context vector;
# the video vector is the mean of the context vectors. The matrix shows the weights a_ti (rows sum
# to 1, zero above the diagonal); the bars show how much each frame contributes to the video
# vector (the column means).

# %%
ast_frames = sample("ast", n_frames, num_frames=8)
ast = create_model("ast", len(CLASSES), input="frames", num_frames=8, frame_size=32, projection_units=16, units=8)
scores = numpy(attention_model(ast)(resized(crops[ast_frames], 32)[None]))["context_attention"][0]
matrix_figure(scores, ast_frames, "AST context attention a_ti (untrained)")

# %%
temporal, source = temporal_attention_model(ast)
weights = numpy(temporal(resized(crops[ast_frames], 32)[None]))["temporal_attention"][0]
temporal_weights_figure(weights, frame_indices=ast_frames, source=source,
                        title="AST: each frame's share (untrained)")

# %% [markdown]
# ## STCAM: spatial-temporal attention maps
#
# STCAM reads 7 frames (the first, 5 in between, the peak) through a 3D Inception-ResNet with
# channel attention (3D-CAM) and spatial-temporal attention (STAM) in every block. STAM's scores
# are sigmoid weights in (0, 1) for every position of every frame; `spatial_maps` takes them per
# frame and `attention_overlay_figure` upsamples them to the crop and overlays them, as STCAM's
# figure 7 does (warm = high weight). The first block (`block_a`) sees a 64-pixel input at 1/8
# resolution: 8 x 8 cells. The maps are drawn unscaled, so a flat colour means the untrained
# attention does not prefer any place.

# %%
stcam_frames = sample("stcam", n_frames)
stcam = create_model("stcam", len(CLASSES), input="frames", num_frames=7, frame_size=64, hidden_units=8)
outputs = numpy(attention_model(stcam)(resized(crops[stcam_frames], 64)[None]))
print("STAM and CAM scores:", {name: value.shape for name, value in outputs.items() if name != "logits"})
maps = spatial_maps(outputs["block_a_stam"], "stam", num_frames=7)  # (1, 7, 8, 8) in (0, 1)
print(f"block_a STAM weights in [{maps.min():.3f}, {maps.max():.3f}]")
attention_overlay_figure(crops[stcam_frames], maps[0], frame_indices=stcam_frames,
                         title="STCAM block_a STAM (untrained)")

# %% [markdown]
# `normalize="frame"` stretches each frame's map to [0, 1] to show where it is highest, at the
# price of turning small differences (here noise) into full colour:

# %%
attention_overlay_figure(crops[stcam_frames], spatial_maps(outputs["block_a_stam"], "stam", num_frames=7,
                                                           normalize="frame")[0],
                         frame_indices=stcam_frames, title="STCAM block_a STAM, each frame rescaled (untrained)")

# %% [markdown]
# STCAM has no attention over time (its 3D network mixes frames in its convolutions), so
# `temporal_attention_model` gives equal weights and says so:

# %%
print(temporal_attention_model(stcam)[1])

# %% [markdown]
# ## ECNN-FSA: frame self-attention
#
# ECNN-FSA reads one frame from each of 5 equal segments. Its frame self-attention weighs every
# frame against every other, softmax(s Q K^T) with s = 0.1 (eq. 1-2), and the attended frames are
# averaged into the video vector.

# %%
ecnn_frames = sample("ecnn_fsa", n_frames)
ecnn = create_model("ecnn_fsa", len(CLASSES), input="frames", num_frames=5, frame_size=32)
scores = numpy(attention_model(ecnn)(resized(crops[ecnn_frames], 32)[None]))["frame_self_attention"][0]
matrix_figure(scores, ecnn_frames, "ECNN-FSA frame self-attention (untrained)")

# %%
temporal, source = temporal_attention_model(ecnn)
weights = numpy(temporal(resized(crops[ecnn_frames], 32)[None]))["temporal_attention"][0]
temporal_weights_figure(weights, frame_indices=ecnn_frames, source=source,
                        title="ECNN-FSA: each frame's share (untrained)")

# %% [markdown]
# ## CEFLNet: emotional intensity over clips
#
# CEFLNet cuts 75 frames of the video (stretched to 105 frames when shorter) into 7 windows of 15
# frames that overlap by 5, and reads 5 frames of each window: 7 clips of 5 frames. Inside each clip, self-attention and a local-global relation summarise the frames; across clips, the
# emotional intensity activation gives each clip a weight A (softmax over clips, eq. 6), and
# argmax A is the *most emotional clip* (orange, as in CEFLNet's figure 6). The bars sit at the
# first frame of each clip.

# %%
positions = sample("ceflnet", n_frames)  # (7 clips, 5 frames) float positions in the video
clips = interpolate_frames(crops, positions)  # (7, 5, 96, 96, 3)
ceflnet = create_model("ceflnet", len(CLASSES), input="frames", frame_size=32, feature_shape=(7, 5, 512))
outputs = numpy(attention_model(ceflnet)(resized(clips, 32)[None]))
intensity, chosen = outputs["emotional_intensity_activation"][0], int(most_emotional_clip(outputs)[0])
print("intensity A:", np.round(intensity, 3), "| most emotional clip:", chosen)
temporal_weights_figure(intensity, frame_indices=np.round(positions[:, 0], 1), chosen=chosen,
                        source="emotional_intensity_activation", title="CEFLNet intensity over clips (untrained)")

# %% [markdown]
# The frames of the chosen clip:

# %%
figure = Figure(figsize=(7, 1.7), layout="constrained")
for ax, frame, position in zip(figure.subplots(1, 5), clips[chosen], positions[chosen]):
    ax.imshow(frame)
    ax.set_title(f"frame {position:.1f}", fontsize=8)
    ax.set_axis_off()
figure.suptitle(f"clip {chosen}, the most emotional for the untrained model", fontsize=9)
figure

# %% [markdown]
# ## STANet: soft mask on optical flow, and temporal weights
#
# STANet reads optical flow between adjacent frames of 20 frames interpolated over the video.
# Its spatial attention branch computes a soft mask M in [0, 1] on the flow CNN's features and
# enhances them as (1 + M) x; its temporal branch weighs the frames with w (softmax, eq. 3-5).
# We compute DIS flow on the 96-pixel crops and give the model 64-pixel flow (1/8: an 8 x 8 mask).

# %%
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

# %% [markdown]
# The soft mask, averaged over its channels (`spatial_maps(..., "soft_mask")`), over the crop each
# flow field starts from:

# %%
maps = spatial_maps(outputs["soft_mask_branch"], "soft_mask")  # (1, 19, 8, 8)
attention_overlay_figure(stanet_frames[:-1], maps[0], frame_indices=np.round(stanet_positions[:-1], 1),
                         title="STANet soft mask M (untrained)")

# %%
temporal_weights_figure(outputs["temporal_attention"][0], frame_indices=np.round(stanet_positions[:-1], 1),
                        source="temporal_attention", title="STANet temporal weights w (untrained)")

# %% [markdown]
# ## Video embeddings
#
# CEFLNet's figure 7 shows its video representations (the vector its classifier reads) projected
# to 2-D with t-SNE. `video_embeddings` reads that vector from any model of this package, and
# `embedding_figure` projects and draws it, one colour per class. Here: the six CREMA-D clips of one
# actor through the untrained CEFLNet, projected with PCA. With six points from a random network
# nothing can be read into the layout; with a trained model and a data set of many videos, classes
# that the model separates form groups (`method="tsne"` as in the paper).

# %%
videos = [CLIP.replace("HAP", code) for code in ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")]
inputs = []
for path in videos:
    video_crops, _ = cropper.crop_video(path)
    inputs.append(resized(interpolate_frames(video_crops, sample("ceflnet", len(video_crops))), 32))
embeddings = video_embeddings(ceflnet, np.stack(inputs))  # (6, D)
print("embeddings:", embeddings.shape)
embedding_figure(embeddings, list(range(6)), CLASSES, method="pca", title="CEFLNet video embeddings (untrained)")
