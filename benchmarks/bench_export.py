"""Export of each paper's full model: SavedModel, ONNX and TFLite, with sizes, times and parity.

For each model of :data:`MODELS` (``create_model(name, 7, input="frames")``
with the papers' own stems, randomly initialised, at the settings given there)
this script measures:

* SavedModel (:func:`keras_fer.export.export_saved_model`): export seconds,
  folder size, ``tf.saved_model.load`` seconds, latency of one
  ``serving_default`` call on one clip, and the largest difference from the
  Keras model's logits;
* ONNX (:func:`keras_fer.export.export_onnx`, if tf2onnx and onnxruntime are
  installed): export seconds, file size, onnxruntime latency and largest
  difference;
* TFLite (:func:`keras_fer.export.export_tflite`, batch 1): builtin ops, else
  the ops that fail and whether ``select_tf_ops=True`` converts; latency and
  largest difference where the ``tf.lite.Interpreter`` can run it;

and the throughput of one loaded SavedModel called from 1 thread and from 8
threads at once (AST on the shipped FER2013 stem, 20 frames of 64x64 crops,
one clip per call), side by side in one run.

Usage:
    python benchmarks/bench_export.py                      # every model (about 10 min on 2 cores)
    python benchmarks/bench_export.py --models ast stanet --calls 24
"""

import argparse
import concurrent.futures
import os
import shutil
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

from keras_fer.export import TFLiteConversionError, export_onnx, export_saved_model, export_tflite
from keras_fer.models import create_model, end_to_end
from keras_fer.models.common import StemPreprocessing
from keras_fer.stems import fer2013_mini_xception

CLASSES = ["anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise"]
#: name -> (create_model arguments, what the settings are)
MODELS = {
    "ast": (dict(name="ast", num_frames=20, frame_size=64), "VGGFace16, 20 x 64x64"),
    "ast_lstm": (dict(name="ast_lstm", num_frames=20, frame_size=64), "VGGFace16 + LSTM, 20 x 64x64"),
    "stcam": (dict(name="stcam", num_frames=7, frame_size=64), "3D-Inception-ResNet + CAM/STAM, 7 x 64x64"),
    "ecnn_fsa": (dict(name="ecnn_fsa", num_frames=5, frame_size=64), "ECNN (VGG16 + branch), 5 x 64x64"),
    "ceflnet": (dict(name="ceflnet", feature_shape=(7, 5, 512), frame_size=64), "ResNet-18, 7 clips x 5 x 64x64"),
    "stanet": (dict(name="stanet", frame_size=(64, 64)), "flow CNN 32-64-128 + LSTM, 20 flows x 64x64"),
}


def folder_mb(path):
    total = sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files)
    return total / 2**20


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def latency(call, repeats=5):
    call()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        call()
    return (time.perf_counter() - start) / repeats


def clip(model, batch=1, seed=0):
    rng = np.random.default_rng(seed)
    shape = (batch, *model.inputs[0].shape[1:])
    if shape[-1] == 3:
        return rng.integers(0, 256, size=shape).astype("uint8")
    return rng.normal(size=shape).astype("float32")


def bench_model(key, out):
    arguments, settings = MODELS[key]
    arguments = dict(arguments)
    model = create_model(arguments.pop("name"), len(CLASSES), input="frames", **arguments)
    head = model.layers[-1] if len(model.layers[-1].inputs[0].shape) >= 3 else None
    x = clip(model)
    kind = "frames" if x.dtype == np.uint8 else "flow"
    logits = np.asarray(model(x.astype("float32")))
    row = {"model": key, "settings": settings, "params_m": model.count_params() / 1e6}

    path, row["sm_export_s"] = timed(export_saved_model, model, out, name=key, class_names=CLASSES, head=head)
    row["sm_mb"] = folder_mb(path)
    loaded, row["sm_load_s"] = timed(tf.saved_model.load, path)
    serve = loaded.signatures["serving_default"]
    row["sm_ms"] = 1000 * latency(lambda: serve(**{kind: tf.constant(x)}))
    row["sm_diff"] = float(np.abs(serve(**{kind: tf.constant(x)})["logits"].numpy() - logits).max())

    try:
        import onnxruntime
    except ImportError:
        row["onnx"] = "onnxruntime not installed"
    else:
        onnx_path, row["onnx_export_s"] = timed(export_onnx, model, os.path.join(out, f"{key}.onnx"))
        row["onnx_mb"] = os.path.getsize(onnx_path) / 2**20
        session = onnxruntime.InferenceSession(onnx_path)
        row["onnx_ms"] = 1000 * latency(lambda: session.run(["logits"], {kind: x}))
        row["onnx_diff"] = float(np.abs(session.run(["logits"], {kind: x})[0] - logits).max())
        row["onnx"] = "converts, runs"

    tflite_path = os.path.join(out, f"{key}.tflite")
    try:
        _, row["tflite_export_s"] = timed(export_tflite, model, tflite_path, head=head)
        row["tflite"] = "builtin ops"
    except TFLiteConversionError as error:
        row["tflite"] = f"not with builtin ops ({', '.join(error.ops)})"
        try:
            _, row["tflite_export_s"] = timed(export_tflite, model, tflite_path, head=head, select_tf_ops=True)
            row["tflite"] += "; converts with select_tf_ops=True"
        except TFLiteConversionError as select_error:
            row["tflite"] += f"; not with select_tf_ops either ({', '.join(select_error.ops)})"
            return row
    row["tflite_mb"] = os.path.getsize(tflite_path) / 2**20
    try:
        runner = tf.lite.Interpreter(model_path=tflite_path).get_signature_runner("serving_default")
        row["tflite_ms"] = 1000 * latency(lambda: runner(**{kind: x}))
        row["tflite_diff"] = float(np.abs(runner(**{kind: x})["logits"] - logits).max())
    except RuntimeError as error:
        row["tflite"] += "; not run: " + ("no Flex delegate in tf.lite.Interpreter" if "Flex" in str(error)
                                          else str(error).splitlines()[0])
    return row


def fer2013_ast(num_frames=20, size=64):
    """AST's head on the shipped FER2013 stem (preprocessing inside the stem), 20 frames of 64x64 crops."""
    crops = keras.Input((size, size, 3))
    pretrained = fer2013_mini_xception()
    stem = keras.Model(crops, pretrained(StemPreprocessing("fer2013")(crops))[0], name="fer2013")
    head = create_model("ast", len(CLASSES), input="features", feature_shape=(num_frames, 128))
    return end_to_end(stem, head, (num_frames, size, size, 3), preprocessing="none")


def bench_threads(out, calls):
    """Calls per second of one loaded SavedModel: ``calls`` one-clip calls from 1 thread, then from 8 at once."""
    path = export_saved_model(fer2013_ast(), out, name="ast_fer2013", class_names=CLASSES)
    serve = tf.saved_model.load(path).signatures["serving_default"]
    rng = np.random.default_rng(0)
    clips = [tf.constant(rng.integers(0, 256, size=(1, 20, 64, 64, 3)).astype("uint8")) for _ in range(calls)]
    serve(frames=clips[0])  # warm-up
    rows = {}
    for threads in (1, 8):
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(lambda frames: serve(frames=frames), clips))
        rows[threads] = calls / (time.perf_counter() - start)
    return rows


def markdown(rows, throughput, calls):
    lines = ["| model | settings | params (M) | SavedModel export s | SavedModel MB | load s | serving ms/clip | "
             "max diff | ONNX export s | ONNX MB | onnxruntime ms/clip | ONNX max diff | TFLite (batch 1) | "
             "TFLite convert s | TFLite MB | TFLite ms/clip | TFLite max diff |", "|" + "---|" * 17]

    def cell(row, key, spec):
        return format(row[key], spec) if key in row else ""

    for row in rows:
        lines.append("| " + " | ".join([
            f"`{row['model']}`", row["settings"], cell(row, "params_m", ".2f"), cell(row, "sm_export_s", ".1f"),
            cell(row, "sm_mb", ".1f"), cell(row, "sm_load_s", ".1f"), cell(row, "sm_ms", ".0f"),
            cell(row, "sm_diff", ".1e"), cell(row, "onnx_export_s", ".1f"), cell(row, "onnx_mb", ".1f"),
            cell(row, "onnx_ms", ".0f"), cell(row, "onnx_diff", ".1e"), row.get("tflite", ""),
            cell(row, "tflite_export_s", ".1f"), cell(row, "tflite_mb", ".1f"), cell(row, "tflite_ms", ".0f"),
            cell(row, "tflite_diff", ".1e")]) + " |")
    if throughput:
        lines += ["", f"One loaded SavedModel (AST on the FER2013 stem, 20 x 64x64 uint8 crops, one clip per call, "
                      f"{calls} calls): " + ", ".join(f"{threads} thread{'s' if threads > 1 else ''}: "
                                                     f"{rate:.1f} calls/s" for threads, rate in throughput.items())]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--calls", type=int, default=48, help="calls of the thread benchmark (0: skip it)")
    parser.add_argument("--out", help="keep the exports in this folder (default: a temporary one, deleted)")
    args = parser.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="bench_export_")
    try:
        rows = []
        for key in args.models:
            rows.append(bench_model(key, out))
            print(rows[-1], flush=True)
        throughput = bench_threads(out, args.calls) if args.calls else {}
        print(markdown(rows, throughput, args.calls))
    finally:
        if not args.out:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
