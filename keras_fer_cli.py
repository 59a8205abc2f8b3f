"""The ``keras-fer`` command line. It only orchestrates; the work lives in the packages.

This top-level module is the console script: it defines every option, the wording of option errors and
``keras-fer prepare`` (data_prep only), and answers ``--help`` and ``--version`` without importing TensorFlow
(importing :mod:`keras_fer` registers its layers, which imports TensorFlow); the other commands run in
:mod:`keras_fer.cli`, imported only once the options are parsed.
"""

import argparse
import os
import re
import sys


class _Version(argparse.Action):
    """``--version``: reads keras_fer/version.py without importing the package (and TensorFlow)."""

    def __call__(self, parser, namespace, values, option_string=None):
        import importlib.util
        import runpy

        package = importlib.util.find_spec("keras_fer").submodule_search_locations[0]
        version = runpy.run_path(os.path.join(package, "version.py"))["__version__"]
        print(f"keras-fer {version}")
        parser.exit()


def _option_value(text):
    """An int, else a float, else the text itself: ``"20"`` -> 20, ``"0.5"`` -> 0.5, ``"middle"`` -> "middle"."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


# Python argument names that are not their option's name with underscores (`--folds` is `k` in
# keras_fer.evaluation.splits, `--validation-size` is `size`); every other option is its argument's name.
_ARGUMENT_OPTIONS = {"k": "folds", "size": "validation_size"}
# The one wording of an argument error (data_prep.checks): "`name` must be ...; received name=value".
_ARGUMENT_ERROR = re.compile(r"`(?P<name>\w+)` must (?P<requirement>.*); received (?P=name)=(?P<value>.*)", re.S)


def _error(args, error):
    """Print ``keras-fer COMMAND: error: MESSAGE`` and return 2; an error about a value an option gave names the option.

    The checks below the command line name their Python argument (`` `k` must be an integer >= 2; received
    k=1``); when that argument's value is the one an option gave, the message names the option instead
    (`` `--folds` must be an integer >= 2; received --folds 1``).
    """
    message = str(error)
    found = _ARGUMENT_ERROR.search(message)
    if found:
        options = vars(args)
        name = found["name"] if found["name"] in options else _ARGUMENT_OPTIONS.get(found["name"])
        value = options.get(name)
        if value is not None and re.match(re.escape(repr(value)) + r"(?![\w.])", found["value"]):
            option = "--" + name.replace("_", "-")
            message = (f"{message[:found.start()]}`{option}` must {found['requirement']}; "
                       f"received {option} {found['value']}")
    print(f"keras-fer {args.command}: error: {message}", file=sys.stderr)
    return 2


def _key_values(pairs, flag):
    """``["epochs=5", "decay_epochs=20,40"]`` -> ``{"epochs": 5, "decay_epochs": (20, 40)}`` (commas make tuples)."""
    values = {}
    for pair in pairs or ():
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise ValueError(f"`{flag}` must be KEY=VALUE; received {flag} {pair!r}")
        if key in values:
            raise ValueError(f"{flag} {key!r} is given twice")
        values[key] = tuple(_option_value(v) for v in value.split(",") if v) if "," in value else _option_value(value)
    return values


def _sampler_options(pairs):
    """``["peak=middle", "jitter=0"]`` -> ``{"peak": "middle", "jitter": 0}``; ValueError for a malformed pair."""
    return _key_values(pairs, "--sampler-option")


#: The face detectors of prepare and predict (data_prep.faces.DETECTORS without full_frame; written here so that
#: --help does not import data_prep.faces).
_DETECTORS = ["mtcnn", "blazeface", "blazeface_full", "haar"]


def _detector(args):
    """The face detector of ``keras-fer prepare``."""
    # The synthetic benchmark's frames are the face (cartoon faces that MTCNN and Haar find only on
    # some frames): by default its crops are the whole frames (data_prep.faces.FullFrameDetector).
    return args.detector or ("full_frame" if args.dataset == "synthetic" else "mtcnn")


def _prepare(args):
    from data_prep import prepare as preparation
    from data_prep.cluster import process_share

    try:
        detector = _detector(args)
        margin = args.margin if args.margin is not None else (0.0 if detector == "full_frame" else 0.25)
        options = preparation.PrepareOptions(
            detector=detector,
            detect_every=args.detect_every,
            no_face_policy=args.no_face_policy,
            size=args.size,
            margin=margin,
            align=args.align,
            sampler=args.sampler,
            sampler_options=_sampler_options(args.sampler_option),
            jpeg_quality=args.jpeg_quality,
            detect_max_side=args.detect_max_side,
        )
        if args.dataset == "synthetic" and args.input is None:
            samples = preparation.dataset_samples(args.dataset, os.path.join(args.out, "synthetic"), args.strict)
        elif args.dataset is not None:
            if args.input is None:
                raise ValueError(f"--root DIR (the dataset's root folder) is required for --dataset {args.dataset}")
            samples = preparation.dataset_samples(args.dataset, args.input, args.strict)
        elif args.input is None:
            raise ValueError("--input PATH is required (a video, a frame folder, a folder of videos or a manifest CSV)")
        else:
            samples = preparation.collect_samples(args.input, args.strict)
        process_index, num_processes = process_share(args.process_index, args.num_processes)
        result = preparation.prepare(args.input, args.out, options, workers=args.workers,
                                     progress=not args.no_progress, samples=samples, process_index=process_index,
                                     num_processes=num_processes)
    except (ValueError, FileNotFoundError) as error:
        return _error(args, error)
    counts = f"prepared {len(result.prepared)}, already done {len(result.skipped)}, failed {len(result.failures)}"
    for file, reason in result.failures:
        print(f"  failed: {file}: {reason}", file=sys.stderr)
    if not result.complete:
        print(f"{counts} (process {process_index} of {num_processes}); other processes' samples are unfinished: "
              "the last process to finish writes the manifest")
        return 0
    print(f"{counts}; manifest {args.out}/manifest.csv ({len(result.manifest_rows)} samples), failures "
          f"{args.out}/failures.csv")
    return 0 if result.manifest_rows else 1


def _add_process_share(p, what):
    p.add_argument("--process-index", type=int,
                   help=f"this process's share when several processes or machines {what} (default: TF_CONFIG's "
                        "task, else 0)")
    p.add_argument("--num-processes", type=int,
                   help="processes sharing the work (default: TF_CONFIG's chief and workers, else 1)")


def _add_prepare(sub):
    p = sub.add_parser(
        "prepare",
        help="decode videos, crop faces; writes OUT/manifest.csv, face crops and OUT/failures.csv",
        description="Decode videos or frame folders, detect and crop the face of every frame, and write "
        "OUT/manifest.csv (one row per usable sample), OUT/crops/<id>/ (JPEG crops and frames.csv) and "
        "OUT/failures.csv (file, reason). Resumable: finished samples are skipped. Exit 0 when at least one "
        "sample is usable.",
    )
    p.add_argument("--input", "--root", dest="input",
                   help="a video, a frame folder, a folder of videos (recursive) or a manifest CSV; "
                   "with --dataset, the dataset root (--root is the same option; --dataset synthetic generates its "
                   "videos into OUT/synthetic when it is not given)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--dataset", help="dataset adapter name (data_prep.datasets.NAME)")
    p.add_argument("--sampler", choices=["ast", "stcam", "ecnn_fsa", "ceflnet", "stanet"],
                   help="keep only the frames this paper's sampler can draw (default: every frame)")
    p.add_argument("--sampler-option", action="append", metavar="KEY=VALUE",
                   help="a keyword argument of the --sampler (int, float or text), e.g. peak=middle for stcam, "
                   "num_frames=16 for ast or stanet, num_segments=8 for ecnn_fsa; repeatable")
    p.add_argument("--detector", choices=_DETECTORS + ["full_frame"],
                   help="face detector (default mtcnn; blazeface and blazeface_full: MediaPipe's short and full range "
                        "BlazeFace, 30-80 times faster; full_frame, the whole frame as face, for --dataset synthetic)")
    p.add_argument("--detect-every", type=int, default=1, metavar="K",
                   help="detect on every K-th frame and interpolate the boxes in between (default 1)")
    p.add_argument("--no-face-policy", choices=["hold", "interpolate", "drop"], default="hold",
                   help="frames without a face: hold the last box, interpolate, or drop the frame (default hold)")
    p.add_argument("--size", type=int, default=224, help="crop side in pixels (default 224; 240 for STCAM)")
    p.add_argument("--margin", type=float,
                   help="square side = (1 + MARGIN) x the face box's longer side (default 0.25; 0 for full_frame)")
    p.add_argument("--align", action="store_true", help="rotate so that the eyes are level (MTCNN or BlazeFace)")
    p.add_argument("--detect-max-side", type=int, metavar="PIXELS",
                   help="shrink larger frames to this longer side for detection only (default: full frames)")
    p.add_argument("--jpeg-quality", type=int, default=95, help="JPEG quality of the crops (default 95)")
    p.add_argument("--workers", type=int, default=1, help="parallel processes (default 1)")
    _add_process_share(p, "prepare one folder")
    p.add_argument("--strict", action="store_true",
                   help="a problem in the dataset or manifest (an unknown label, impossible onset/apex/offset) is an "
                   "error; by default it is a warning and the sample is left out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _add_extract(sub):
    p = sub.add_parser(
        "extract",
        help="cache a stem's float16 features of every prepared sample (sharded TFRecords + manifest); resumable",
        description="Run a stem over the face crops of `keras-fer prepare` (every frame the paper's sampler can "
        "draw) and write float16 feature maps into OUT/shards/*.tfrecord with OUT/cache.json and OUT/manifest.csv. "
        "Resumable at any moment: finished samples are kept. See keras_fer.data.cache.",
    )
    p.add_argument("--prepared", required=True, help="output folder of keras-fer prepare")
    p.add_argument("--stem", required=True, help="vggface16, ecnn_vgg16, ecnn_vgg16_3072, ecnn_vgg16_nobranch, "
                   "ecnn_vgg16_fc1, ecnn_vgg16_fc1_k5, ecnn_vgg16_fc2_k5, ecnn_vgg16_fc2, resnet18 or "
                   "fer2013_mini_xception")
    p.add_argument("--out", required=True, help="cache folder (a rerun resumes it)")
    p.add_argument("--weights", help="the stem's weights file (path, or a file name in $KERAS_FER_WEIGHTS_DIR); "
                   "without it the stem is randomly initialised (for tests only)")
    p.add_argument("--input-size", type=int, help="stem input side; crops are resized to it (default 224)")
    p.add_argument("--batch-size", type=int, default=32, help="frames per stem call (default 32)")
    p.add_argument("--sampler", choices=["ast", "stcam", "ecnn_fsa", "ceflnet", "stanet", "none"],
                   help="cache the frames this paper's sampler can draw (default: the sampler of prepare.json; "
                   "none: every crop)")
    p.add_argument("--sampler-option", action="append", metavar="KEY=VALUE",
                   help="a keyword argument of --sampler (default: those of prepare.json); repeatable")
    p.add_argument("--num-shards", type=int, help="shard files (default: one per 64 samples)")
    _add_process_share(p, "fill one cache")
    p.add_argument("--strategy", choices=["default", "mirrored", "multi-worker"], default="default",
                   help="default: one process on one device; mirrored: one process per local GPU (each with "
                        "CUDA_VISIBLE_DEVICES set to its GPU and its share of the samples); multi-worker: this "
                        "machine's share of TF_CONFIG's workers (as without --process-index), split over its GPUs "
                        "as with mirrored")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _add_predict(sub):
    p = sub.add_parser(
        "predict", help="classify videos (or a camera stream) and print one JSON object per video",
        description="Decode, detect and crop the face, sample frames as the model's training data did, extract, "
                    "classify. Prints one JSON object per video (label, probabilities, frames used, frames without "
                    "a face, temporal attention); a path that cannot be used (missing, unreadable, without a face, a "
                    "folder without videos) gets an 'error' entry and the batch goes on. Without --model: the "
                    "FER2013 mini-Xception shipped with keras-fer, probabilities averaged over 16 frames (per-frame "
                    "score fusion). Exit 0 when at least one video was predicted, 1 when every video failed, 2 for a "
                    "bad option or model.")
    p.add_argument("videos", nargs="*", metavar="VIDEO", help="video files, frame folders, folders of videos, or a "
                   "manifest CSV (id,path,...,onset,apex,offset): the sampler then reads each video's annotated "
                   "phases as in training (STCAM's apex, STANet's onset..offset)")
    p.add_argument("--model", help="an output folder of keras-fer train (default: the FER2013 score-fusion predictor)")
    p.add_argument("--stem-weights", help="the stem's weights file, when the model's features came from weights "
                                          "not shipped with keras-fer (checked against the cache's SHA-256)")
    p.add_argument("--annotate", metavar="DIR", help="also write DIR/<video>.mp4 with the face box, label and "
                                                     "probability bars")
    p.add_argument("--timeline", metavar="DIR", help="also write DIR/<video>.png: temporal attention and per-frame "
                                                     "scores over the frames used")
    p.add_argument("--stream", metavar="SOURCE", help="a camera index (0) or a video file: one JSON line per frame "
                                                      "from a window of the latest frames")
    p.add_argument("--window", type=int, help="--stream: frames in the window (default: the model's, else 16)")
    p.add_argument("--stride", type=int, default=1, help="--stream: every K-th frame enters the window (default 1)")
    p.add_argument("--detect-every", type=int, default=1, help="--stream: detect the face every K frames (default 1)")
    p.add_argument("--detect-max-side", type=int, metavar="PIXELS",
                   help="shrink larger frames to this longer side for face detection only (faster, less memory; "
                        "crops come from the full frame; default: the model's training data's setting, full frames "
                        "with --stream)")
    p.add_argument("--detector", choices=_DETECTORS,
                   help="face detector (default: the model's training data's; the default predictor's: blazeface)")
    p.add_argument("--max-frames", type=int, help="--stream: stop after this many frames")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _add_export(sub):
    p = sub.add_parser(
        "export", help="export a trained model for serving: SavedModel in TF Serving's layout, ONNX or TFLite",
        description="Export the model of a `keras-fer train` folder. saved_model writes OUT/NAME/VERSION/ "
                    "(signatures serving_default: uint8 face crops (B, T, H, W, 3) in, STANet: optical flow; "
                    "features: cached stem features in; outputs probabilities, logits, temporal_attention; class "
                    "names and metadata in assets/). onnx and tflite write OUT/NAME.onnx or OUT/NAME.tflite and "
                    "OUT/NAME.class_names.txt.")
    p.add_argument("--model", required=True, help="an output folder of keras-fer train (model.keras, train.json)")
    p.add_argument("--out", required=True, help="output folder (saved_model: TF Serving's model base folder)")
    p.add_argument("--format", choices=["saved_model", "onnx", "tflite"], default="saved_model",
                   help="default: saved_model (onnx needs keras-fer[onnx])")
    p.add_argument("--name", help="model name (default: the registry name in train.json)")
    p.add_argument("--version", type=int, default=1, help="SavedModel version folder, an integer >= 1 (default 1)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing version or file")
    p.add_argument("--stem-weights", help="the stem's weights file, when the model's features came from weights "
                                          "not shipped with keras-fer")
    p.add_argument("--select-tf-ops", action="store_true",
                   help="tflite: keep ops without a TFLite kernel as TensorFlow ops (STCAM's MaxPool3D); the app then "
                        "needs the Flex delegate")


def _add_data_options(p):
    p.add_argument("--data", required=True, help="a feature cache (keras-fer extract) or a prepared folder "
                                                 "(keras-fer prepare, for end-to-end models)")
    p.add_argument("--sampler",
                   help="frame sampler: 'stored' (the data's own), a paper name, or 'none' (every frame); default: "
                        "the data's own, except that train and cv draw a prepared folder kept with every frame "
                        "with the model's paper's sampler")
    p.add_argument("--sampler-option", action="append", metavar="KEY=VALUE", help="sampler option (repeatable)")
    p.add_argument("--image-size", type=int, help="prepared folders: resize the crops to this side")


def _add_fit_options(p):
    p.add_argument("--model", required=True, help="registry name (keras-fer list-models)")
    p.add_argument("--out", required=True, help="output folder (a rerun resumes)")
    p.add_argument("--recipe", help="paper whose recipe to use (default: the model's paper)")
    p.add_argument("--set", action="append", metavar="FIELD=VALUE",
                   help="override a recipe field, e.g. --set decay_epochs=20,40 (repeatable)")
    p.add_argument("--epochs", type=int, help="override the recipe's epochs (a warm-up that does not fit, "
                                              "CEFLNet's 5, shrinks in proportion)")
    p.add_argument("--batch-size", type=int, dest="batch_size", help="override the recipe's batch size")
    p.add_argument("--learning-rate", type=float, dest="learning_rate", help="override the recipe's learning rate")
    p.add_argument("--model-option", action="append", metavar="KEY=VALUE",
                   help="a model argument, e.g. --model-option frame_size=112 (repeatable)")
    p.add_argument("--validation-size", type=_option_value, default=0.1,
                   help="validation subjects carved from training: a fraction (default 0.1) or a count")
    p.add_argument("--validation-by", choices=["subject", "sample"], default="subject",
                   help="carve whole subjects (default) or samples (datasets without subject ids)")
    p.add_argument("--monitor", default="val_loss", help="validation metric that selects the epoch (default val_loss)")
    p.add_argument("--patience", type=int, help="early stopping patience in epochs (default: none)")
    p.add_argument("--seed", type=int, default=0, help="seed of splits, weights, shuffles and draws (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--no-tensorboard", action="store_true", help="no TensorBoard logs")
    _add_strategy(p)


def _add_strategy(p, more=""):
    p.add_argument("--strategy", choices=["default", "mirrored", "multi-worker"], default="default",
                   help="default: one device; mirrored: every local GPU (or CPU device), the recipe's batch split "
                        "over them (MirroredStrategy on TensorFlow, DataParallel on JAX); multi-worker: every "
                        "device of the machines TF_CONFIG names, the same command on each (TensorFlow's "
                        f"MultiWorkerMirroredStrategy; worker 0 writes OUT, which every worker must see){more}")


def _add_training(sub):
    p = sub.add_parser("train", help="train a registry model on a cache or prepared folder (validation-selected)",
                       description="Train on every sample but the validation subjects carved out for epoch "
                                   "selection; writes OUT/model.keras, train.json, history.csv, "
                                   "training_curves.png and TensorBoard logs. A rerun resumes.")
    _add_data_options(p)
    _add_fit_options(p)

    p = sub.add_parser("cv", help="cross-validate a registry model under a protocol",
                       description="Each fold: train with validation subjects carved from its training side, "
                                   "select the epoch on them, predict the test side once. Writes results.json, "
                                   "results.csv, results.md and PNGs; a rerun skips finished folds.")
    _add_data_options(p)
    _add_fit_options(p)
    p.add_argument("--protocol", choices=["kfold", "loso", "dataset"], default="kfold",
                   help="subject-independent k-fold (default), leave-one-subject-out, or the --dataset's protocol")
    p.add_argument("--folds", type=int, default=10, help="k of --protocol kfold (default 10)")
    p.add_argument("--order", choices=["ckplus", "shuffled"], default="ckplus",
                   help="kfold subject order: ascending ids with step k (CK+ convention, default) or shuffled")
    p.add_argument("--dataset", help="dataset adapter name, for --protocol dataset")
    p.add_argument("--data-root", help="the dataset's own folder (official splits of AFEW, DFEW, UCF-101)")

    p = sub.add_parser("evaluate", help="score a trained model (OUT/model.keras of train) on a cache or prepared "
                                        "folder")
    p.add_argument("--model", required=True, help="a .keras model file")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--ids", help="a text file of sample ids to score, one per line (default: all)")
    p.add_argument("--batch-size", type=int, default=8, dest="batch_size", help="clips per batch (default 8)")
    _add_data_options(p)

    p = sub.add_parser("reproduce", help="the papers' results tables (synthetic benchmark by default)",
                       description="Runs each paper's table rows under its protocol and writes OUT/reproduce.md "
                                   "beside the papers' numbers. Without --dataset: the built-in synthetic benchmark "
                                   "end to end (numbers not comparable with the papers').")
    p.add_argument("--paper", default="all", help="ast, stcam, ecnn_fsa, ceflnet, stanet or all (default)")
    p.add_argument("--dataset", default="synthetic", help="synthetic (default) or a dataset adapter name")
    p.add_argument("--data-root", help="the dataset's own folder (official splits of AFEW, DFEW, UCF-101)")
    p.add_argument("--features", help="real datasets: the feature cache (keras-fer extract) the rows read")
    p.add_argument("--quick", action="store_true", help="each paper's full model, one fold, fewer epochs (CI)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--epochs", type=int, help="epochs of every row (default: each plan's or paper recipe's; a "
                                              "warm-up that does not fit, CEFLNet's 5, shrinks in proportion)")
    p.add_argument("--workers", type=int, help="rows trained at once, one process each (default: CPU count, "
                                               "at most 4)")
    p.add_argument("--verbose", action="store_true", help="progress bars")
    p.add_argument("--out", required=True, help="output folder (a rerun resumes)")
    _add_strategy(p, "; mirrored and multi-worker run the rows one after another")


def parse(argv=None):
    """The parsed options of ``argv`` (None: ``sys.argv``), with ``argv`` itself kept as ``args.argv``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    return args


def _add_flow(sub):
    p = sub.add_parser(
        "flow",
        help="cache STANet's optical flow of every prepared sample's onset..offset window; resumable",
        description="Interpolate each prepared sample's annotated onset..offset window to NUM_FLOWS + 1 frames "
        "(STANet sec. 4.1), compute the optical flow between adjacent frames from the face crops, resize it to "
        "SIZE and write it, normalised, into a cache with the feature cache's layout (OUT/cache.json, "
        "OUT/shards/, OUT/manifest.csv): `keras-fer train|cv|evaluate --data OUT` read it. See keras_fer.data.flow.",
    )
    p.add_argument("--prepared", required=True, help="output folder of keras-fer prepare (manifest with onset and "
                   "offset; every frame of the window kept)")
    p.add_argument("--out", required=True, help="cache folder (a rerun resumes it)")
    p.add_argument("--num-flows", type=int, default=20, help="flow fields per sample (default 20, the paper's)")
    p.add_argument("--size", type=int, default=192, help="side of the flow fields (default 192, the paper's)")
    p.add_argument("--method", choices=["farneback", "dis", "tvl1"], default="farneback",
                   help="OpenCV estimator (the paper's FlowNet 2.0 is not available; default farneback)")
    p.add_argument("--bound", type=float, help="clip the flow at +-BOUND pixels before dividing by it "
                   "(default SIZE / 64)")
    p.add_argument("--num-shards", type=int, help="shard files (default: one per 64 samples)")
    _add_process_share(p, "fill one cache")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_parser():
    parser = argparse.ArgumentParser(prog="keras-fer", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action=_Version, nargs=0, help="show the version and exit")
    parser.add_argument("--verbose", action="store_true", dest="tensorflow_logs",
                        help="(before the command) show TensorFlow's start-up and C++ log lines on stderr; hidden by "
                             "default, unless TF_CPP_MIN_LOG_LEVEL is set")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list-layers", help="the papers' attention layers with their equations")
    p = sub.add_parser("list-models", help="the registry's models, with the paper table row each reproduces")
    p.add_argument("--paper", help="only this paper's models: ast, stcam, ecnn_fsa, ceflnet or stanet")
    _add_prepare(sub)
    _add_extract(sub)
    _add_flow(sub)
    _add_training(sub)
    _add_predict(sub)
    _add_export(sub)
    return parser


# Face detectors that need no TensorFlow: `keras-fer prepare` with them runs without importing it (and
# shows its progress bar at once).
_DETECTORS_WITHOUT_TENSORFLOW = ("haar", "full_frame")


def main(argv=None):
    """``keras-fer ...``: parse the options, then run the command (in :mod:`keras_fer.cli` if it needs keras_fer)."""
    args = parse(argv)
    if args.command == "export":  # TensorFlow's formats; model.keras does not depend on the backend it trained on
        os.environ["KERAS_BACKEND"] = "tensorflow"
    if args.command != "prepare" or _detector(args) not in _DETECTORS_WITHOUT_TENSORFLOW:
        from data_prep.tensorflow_logs import start_tensorflow

        start_tensorflow(show_logs=args.tensorflow_logs)
    if args.command == "prepare":
        return _prepare(args)  # data_prep only: no keras_fer (nor TensorFlow for Haar or full frames)
    from keras_fer import cli

    return cli.run(args)


if __name__ == "__main__":
    sys.exit(main())
