"""README's attention figures on a real clip: AST's temporal weights and STANet's soft mask.

Run: ``python scripts/readme_figures.py`` (about 5 minutes on 2 CPU cores). It trains AST's and STANet's full
models on the synthetic benchmark exactly as ``scripts/build_saved_models.py`` does (so as ``saved_models/``),
then runs them on the real CREMA-D clip ``tests/fixtures/real_faces/crema-d/1001_DFA_HAP_XX.flv`` and writes

* ``docs/real_clip_ast_temporal.png``: ``keras-fer predict``'s timeline of AST's context-attention weights over
  the 20 frames its sampler drew (MTCNN face crops, FER2013 stand-in features);
* ``docs/real_clip_stanet_soft_mask.png``: STANet's soft mask M (mean over channels, min-max rescaled over the
  clip) on the Farneback flow between 11 face crops of the clip, upsampled and overlaid on those crops.

The models never saw a real face: the figures show the tooling on real footage, not what a model trained on a
facial-expression dataset attends to.
"""

import dataclasses
import os
import shutil
import sys
import tempfile

import cv2
import keras
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import build_saved_models

from data_prep import faces, flow, sampling, video
from keras_fer import inference, viz
from keras_fer.models import attention_model

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIP = os.path.join(REPOSITORY, "tests", "fixtures", "real_faces", "crema-d", "1001_DFA_HAP_XX.flv")
DOCS = os.path.join(REPOSITORY, "docs")
REAL_FACES = {"detector": "mtcnn", "margin": 0.25}


def ast_timeline(run, root):
    """AST's temporal weights on the real clip, through ``predict``'s timeline (faces found by MTCNN)."""
    classifier = inference.load_trained(run)
    classifier = dataclasses.replace(classifier, face={**classifier.face, **REAL_FACES})
    result, = inference.predict_videos(classifier, [CLIP], progress=False, timeline_dir=root)
    shutil.copyfile(result["timeline"], os.path.join(DOCS, "real_clip_ast_temporal.png"))
    return result


def stanet_soft_mask(run, size=32, num_flows=10):
    """STANet's soft mask on the flow between 11 face crops of the real clip, overlaid on those crops."""
    model = keras.saving.load_model(os.path.join(run, "model.keras"), compile=False)
    reader = video.VideoReader(CLIP)
    positions = sampling.sample("stanet", reader.info.n_frames, num_frames=num_flows + 1)
    indices = np.unique(np.round(positions).astype(int))
    crops, _ = faces.FaceCropper(size=96, **REAL_FACES).crop_video(reader, indices)
    fields = np.stack(list(flow.flow_sequence(crops, method="farneback")))  # (10, 96, 96, 2) pixels
    scale = size / crops.shape[1]
    fields = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in fields]) * scale
    clip = flow.normalize_flow(fields, bound=0.5)[None].astype("float32")  # (1, 10, 32, 32, 2)
    scores = attention_model(model)(clip)
    key = next(name for name in scores if "soft_mask" in name)
    maps = viz.spatial_maps(np.asarray(scores[key]), "soft_mask", normalize="clip")[0]  # (10, h, w), min-max
    viz.attention_overlay_figure(
        crops[:-1], maps, frame_indices=indices[:-1], max_frames=5,
        title="STANet soft mask M (min-max over the clip) on the flow from each crop to the next; trained on "
              "synthetic data only",
        path=os.path.join(DOCS, "real_clip_stanet_soft_mask.png"))
    return np.asarray(scores[key])


def main():
    root = tempfile.mkdtemp(prefix="readme_figures_")
    try:
        result = ast_timeline(build_saved_models.train("ast", root)[0], root)
        print(f"AST on {os.path.basename(CLIP)}: {result['label']}; weights {result['temporal_attention']['weights']}")
        mask = stanet_soft_mask(build_saved_models.train("stanet", root)[0])
        print(f"STANet soft mask M: {mask.shape}, values {mask.min():.3f}-{mask.max():.3f} before rescaling")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
