# %% [markdown]
# # Export and serving with a SavedModel
#
# This notebook trains a small AST head on the synthetic benchmark, exports it in TF Serving's layout with
# `keras_fer.export`, and serves it: from TensorFlow alone (what TF Serving runs), from several threads at once,
# and as ONNX and TFLite files. The model is trained on synthetic cartoon faces for a minute, so its answers on
# the real clip at the end mean nothing: the notebook shows the serving path, not accuracy.
#
# It takes about a minute on 2 CPU cores and writes under the current folder (`synthetic/`, `prepared/`,
# `features/`, `runs/`, `exports/`). Run it from the repository root (or any folder with `tests/fixtures/real_faces/`).

# %%
# %matplotlib inline
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
from keras_fer.export import export_onnx, export_tflite, export_trained, load_metadata
from keras_fer.inference import load_trained
from keras_fer.jobs import training
from keras_fer.training import get_recipe

# %% [markdown]
# ## 1. Train a small AST head (as `keras-fer train` does)
#
# A small synthetic benchmark, face crops, the FER2013 stand-in stem's features, then AST's head with its
# recipe (5 epochs, one validation subject selects the epoch). `train_model` writes `runs/ast/model.keras` and
# `train.json`, which records how videos were prepared: what `export` needs to put the stem in front of the head.

# %%
generate_dataset("synthetic", mode="macro", n_subjects=4, videos_per_class=1, size=64, n_frames=24)
prepare("synthetic", "prepared", PrepareOptions(detector="full_frame", size=64), progress=False,
        samples=dataset_samples("synthetic", "synthetic"))
cache.extract("prepared", "features", stem="fer2013_mini_xception", sampler=None, progress=False)
source = open_source("features", sampler="ast", sampler_options={"num_frames": 8})
recipe = get_recipe("ast", epochs=5, batch_size=4)
model = training.train_model(source, "ast", out_dir="runs/ast", recipe=recipe, validation_size=1, verbose=0,
                             tensorboard=False)
with open("runs/ast/train.json", encoding="utf-8") as handle:
    print(json.load(handle)["preparation"])

# %% [markdown]
# ## 2. Export in TF Serving's layout (`keras-fer export --model runs/ast --out exports`)
#
# The version folder `exports/ast/1/` holds `saved_model.pb`, `variables/` and `assets/` (`class_names.txt`,
# `keras_fer.json`). Two signatures: `serving_default` reads uint8 face crops (the FER2013 stem and its
# preprocessing run inside the graph), `features` reads cached features. Both return `probabilities`, `logits`
# and `temporal_attention`. `load_metadata` reads the assets back with plain Python.

# %%
path = export_trained("runs/ast", "exports", overwrite=True)
print(path, sorted(os.listdir(path)), sorted(os.listdir(os.path.join(path, "assets"))))
metadata = load_metadata("exports/ast")
print({key: metadata[key] for key in ("class_names", "sampler", "sampler_options", "temporal_attention_source")})
print(json.dumps(metadata["signatures"]["serving_default"]["input"]))

# %% [markdown]
# ## 3. Serve it from TensorFlow alone
#
# `tf.saved_model.load` needs neither keras-fer nor Keras (a test checks this in a process that cannot import
# them). A client prepares frames as the metadata says: detect and crop the face (here MTCNN with a 25 % margin on
# a real CREMA-D clip; the model was trained on full synthetic frames), draw the frames with the paper's sampler,
# and send uint8 crops.

# %%
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

# %% [markdown]
# ## 4. Several threads at once
#
# One loaded SavedModel may be called from many threads: 8 threads give the same outputs as calls one after
# another (TF Serving does this for concurrent requests).

# %%
batches = [np.random.default_rng(seed).integers(0, 256, size=frames.shape, dtype=np.uint8) for seed in range(8)]
sequential = [served(frames=tf.constant(b))["logits"].numpy() for b in batches]
with concurrent.futures.ThreadPoolExecutor(8) as pool:
    threaded = list(pool.map(lambda b: served(frames=tf.constant(b))["logits"].numpy(), batches))
print("same outputs:", all(np.allclose(a, b, atol=1e-6) for a, b in zip(sequential, threaded)))

# %% [markdown]
# ## 5. ONNX and TFLite
#
# `export_onnx` converts the `serving_default` graph with tf2onnx (installed by the `test` and `onnx` extras);
# onnxruntime then computes the same outputs. `export_tflite` converts both signatures with builtin TFLite ops
# where they exist (STCAM's `MaxPool3D` needs `select_tf_ops=True` and the Flex delegate).

# %%
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

# %% [markdown]
# ## 6. TF Serving
#
# With Docker, TF Serving serves the folder as it is (not run here):
#
# ```text
# docker run --rm -p 8501:8501 -v "$PWD/exports/ast:/models/ast" -e MODEL_NAME=ast tensorflow/serving
# curl http://localhost:8501/v1/models/ast/metadata
# curl -X POST http://localhost:8501/v1/models/ast:predict -d '{"signature_name": "serving_default", "instances": [{"frames": ...}]}'
# ```
#
# The class names are not sent by TF Serving: read them from `exports/ast/1/assets/class_names.txt`, in the order
# of the `probabilities` columns.
