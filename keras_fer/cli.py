"""The ``keras-fer`` command line. It only orchestrates; the work lives in the packages."""

import argparse
import gc
import os
import re
import sys

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


def _list_layers(args):
    from keras_fer import layers

    for name in layers.__all__:
        doc = (getattr(layers, name).__doc__ or "").strip().splitlines()
        print(f"{name:32s} {doc[0] if doc else ''}")
    return 0


def _list_models(args):
    from keras_fer.models import get_spec, list_models

    try:
        names = list_models(args.paper)
    except ValueError as error:
        print(f"keras-fer list-models: error: {error}", file=sys.stderr)
        return 2
    for name in names:
        spec = get_spec(name)
        print(f"{name:28s} {spec.description}\n{'':28s} reproduces: {spec.reproduces}")
    return 0


def _option_value(text):
    """An int, else a float, else the text itself: ``"20"`` -> 20, ``"0.5"`` -> 0.5, ``"middle"`` -> "middle"."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


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


def _prepare(args):
    from data_prep import prepare as preparation

    try:
        # The synthetic benchmark's frames are the face (cartoon faces that MTCNN and Haar find only on
        # some frames): by default its crops are the whole frames (data_prep.faces.FullFrameDetector).
        detector = args.detector or ("full_frame" if args.dataset == "synthetic" else "mtcnn")
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
        result = preparation.prepare(args.input, args.out, options, workers=args.workers,
                                     progress=not args.no_progress, samples=samples)
    except (ValueError, FileNotFoundError) as error:
        return _error(args, error)
    print(
        f"prepared {len(result.prepared)}, already done {len(result.skipped)}, failed {len(result.failures)}; "
        f"manifest {args.out}/manifest.csv ({len(result.manifest_rows)} samples), failures {args.out}/failures.csv"
    )
    for file, reason in result.failures:
        print(f"  failed: {file}: {reason}", file=sys.stderr)
    return 0 if result.manifest_rows else 1


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
    p.add_argument("--strict", action="store_true",
                   help="a problem in the dataset or manifest (an unknown label, impossible onset/apex/offset) is an "
                   "error; by default it is a warning and the sample is left out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_prepare)


def _extract(args):
    from keras_fer.data import cache
    from keras_fer.stems.registry import seed_random_weights

    try:
        if args.sampler == "none":
            sampler = None
        elif args.sampler is None:
            sampler = "prepared"
        else:
            sampler = args.sampler
        options = _sampler_options(args.sampler_option) if args.sampler_option else None
        if seed_random_weights(args.stem, args.weights):  # reproducible: a rerun resumes, predict rebuilds it
            print("keras-fer extract: no --weights: the stem is randomly initialised (seed 0); for tests only",
                  file=sys.stderr)
        result = cache.extract(
            args.prepared, args.out, stem=args.stem, weights=args.weights, input_size=args.input_size,
            batch_size=args.batch_size, sampler=sampler, sampler_options=options, num_shards=args.num_shards,
            process_index=args.process_index, num_processes=args.num_processes, progress=not args.no_progress,
        )
    except (ValueError, FileNotFoundError) as error:  # WeightsNotFoundError is a FileNotFoundError
        return _error(args, error)
    state = (f"complete; manifest {args.out}/manifest.csv" if result["complete"]
             else "incomplete: other processes' shards are still missing; the last process to finish writes "
             "the manifest")
    print(f"extracted {result['computed']}, already done {result['skipped']}; cache {state}")
    return 0


def _add_extract(sub):
    p = sub.add_parser(
        "extract",
        help="cache a stem's float16 features of every prepared sample (sharded TFRecords + manifest); resumable",
        description="Run a stem over the face crops of `keras-fer prepare` (every frame the paper's sampler can "
        "draw) and write float16 feature maps into OUT/shards/*.tfrecord with OUT/cache.json and OUT/manifest.csv. "
        "Resumable at any moment: finished samples are kept. See keras_fer.data.cache.",
    )
    p.add_argument("--prepared", required=True, help="output folder of keras-fer prepare")
    p.add_argument("--stem", required=True, help="vggface16, ecnn_vgg16, resnet18 or fer2013_mini_xception")
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
    p.add_argument("--process-index", type=int, default=0,
                   help="this process's share when several processes or machines fill one cache (default 0)")
    p.add_argument("--num-processes", type=int, default=1, help="processes sharing the work (default 1)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_extract)


def _checked(args, name, minimum):
    """``args.NAME`` (None stays None) checked to be an integer >= ``minimum``, for options no job checks."""
    from data_prep.checks import check_int

    value = getattr(args, name)
    return None if value is None else check_int(value, name, minimum=minimum)


def _source(args):
    from keras_fer.data.sources import open_source

    options = _sampler_options(args.sampler_option) if args.sampler_option else None
    sampler = None if args.sampler == "none" else args.sampler
    return open_source(args.data, sampler=sampler, sampler_options=options, image_size=_checked(args, "image_size", 1))


def _reading(data):
    """A damaged shard or crop met while training or evaluating on ``data`` becomes an error naming the file."""
    from keras_fer.data.sources import reading

    return reading(data)


def _recipe(args):
    from keras_fer.models import get_spec
    from keras_fer.training.recipes import get_recipe

    overrides = _key_values(args.set, "--set")
    for name in ("epochs", "batch_size", "learning_rate"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    return get_recipe(args.recipe or get_spec(args.model).paper, **overrides)


def _fit_options(args):
    return dict(validation_size=args.validation_size, validation_by=args.validation_by, seed=_checked(args, "seed", 0),
                model_kwargs=_key_values(args.model_option, "--model-option"), monitor=args.monitor,
                patience=args.patience, verbose=0 if args.quiet else "auto", tensorboard=not args.no_tensorboard)


def _train(args):
    from keras_fer.jobs import training

    try:
        source = _source(args)
        with _reading(args.data):
            training.train_model(source, args.model, out_dir=args.out, recipe=_recipe(args), **_fit_options(args))
    except (ValueError, TypeError, FileNotFoundError) as error:
        return _error(args, error)
    with open(os.path.join(args.out, "train.json"), encoding="utf-8") as handle:
        import json

        info = json.load(handle)
    print(f"trained {args.model}: epoch {info['best_epoch']} of {info['epochs_run']} selected on "
          f"{len(info['validation_ids'])} validation samples ({info['monitor']}); model {args.out}/model.keras")
    return 0


def _folds(args, rows):
    from keras_fer.evaluation import splits
    from keras_fer.jobs import reproduce

    if args.protocol == "kfold":
        return splits.subject_kfold(rows, k=args.folds, order=args.order, seed=args.seed)
    if args.protocol == "loso":
        return splits.leave_one_subject_out(rows)
    if args.dataset is None:
        raise ValueError("--protocol dataset needs --dataset NAME (and --data-root for AFEW, DFEW, UCF-101)")
    return reproduce.dataset_folds(args.dataset, rows, args.data_root, args.seed)


def _cv(args):
    from keras_fer.jobs import training

    try:
        source = _source(args)
        with _reading(args.data):
            results = training.cross_validate(source, args.model, _folds(args, source.rows), out_dir=args.out,
                                              recipe=_recipe(args), **_fit_options(args))
    except (ValueError, TypeError, FileNotFoundError) as error:
        return _error(args, error)
    with open(os.path.join(args.out, "results.md"), encoding="utf-8") as handle:
        print(handle.read())
    summary = results["summary"]
    print(f"accuracy {summary['accuracy']['mean']:.4f} +- {summary['accuracy']['std']:.4f}, UAR "
          f"{summary['uar']['mean']:.4f} over {len(results['folds'])} folds; results in {args.out}")
    return 0


def _evaluate(args):
    import keras

    import keras_fer  # noqa: F401  (registers the package's layers for loading)
    from keras_fer.jobs import training

    try:
        batch_size = _checked(args, "batch_size", 1)
        source = _source(args)
        ids = None
        if args.ids:
            with open(args.ids, encoding="utf-8") as handle:
                ids = [line.strip() for line in handle if line.strip()]
        if not os.path.isfile(args.model):
            raise FileNotFoundError(f"{args.model}: no such model file (keras-fer train writes OUT/model.keras)")
        network = keras.saving.load_model(args.model)
        with _reading(args.data):
            report = training.evaluate(network, source, ids, args.out, batch_size=batch_size,
                                       title=os.path.basename(args.model), extra={"model_file": args.model})
    except (ValueError, FileNotFoundError) as error:
        return _error(args, error)
    print(f"{report['n_samples']} samples: accuracy {report['accuracy']:.4f}, UAR {report['uar']:.4f}, "
          f"macro-F1 {report['macro_f1']:.4f}; results in {args.out}")
    return 0


def _reproduce(args):
    from keras_fer.jobs import reproduce

    try:
        reproduce.reproduce(args.out, paper=args.paper, dataset=args.dataset, data_root=args.data_root,
                            features=args.features, quick=args.quick, seed=args.seed, epochs=args.epochs,
                            workers=args.workers,
                            verbose="auto" if args.verbose else 0, progress=args.verbose)
    except (ValueError, TypeError, FileNotFoundError) as error:
        return _error(args, error)
    with open(os.path.join(args.out, "reproduce.md"), encoding="utf-8") as handle:
        print(handle.read())
    return 0


def _stream_source(text):
    """A camera index (``"0"``) or a video path."""
    return int(text) if text.isdigit() else text


def _check_predict_options(args):
    """ValueError for a predict option out of range, before the model loads (:func:`_error` names the option)."""
    from data_prep.checks import check_int

    minimums = {"window": 1, "stride": 1, "detect_every": 1, "detect_max_side": 32, "max_frames": 1}
    for name, minimum in minimums.items():
        if getattr(args, name) is not None:
            check_int(getattr(args, name), name, minimum=minimum)


def _predict(args):
    import json

    from keras_fer import inference

    try:
        _check_predict_options(args)
        if args.stream is not None and args.videos:
            raise ValueError("give either videos or --stream SOURCE, not both")
        if args.stream is None and not args.videos:
            raise ValueError("give at least one video or folder of videos (or --stream SOURCE)")
        if args.model is None:
            classifier = inference.default_classifier()
            print(f"keras-fer predict: {inference.DEFAULT_NOTE}", file=sys.stderr)
        else:
            classifier = inference.load_trained(args.model, stem_weights=args.stem_weights)
        if args.stream is not None:
            for result in inference.stream(classifier, _stream_source(args.stream), window=args.window,
                                           stride=args.stride, detect_every=args.detect_every,
                                           detect_max_side=args.detect_max_side, max_frames=args.max_frames,
                                           detector=args.detector):
                print(json.dumps(result), flush=True)
            return 0
    except (ValueError, OSError) as error:
        return _error(args, error)
    succeeded = 0
    for result in inference.predict_videos(classifier, args.videos, progress=not args.no_progress,
                                           annotate_dir=args.annotate, timeline_dir=args.timeline,
                                           detect_max_side=args.detect_max_side, detector=args.detector):
        succeeded += "error" not in result
        print(json.dumps(result), flush=True)
    return 0 if succeeded else 1


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
    p.add_argument("videos", nargs="*", metavar="VIDEO", help="video files, frame folders, or folders of videos")
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
    p.set_defaults(func=_predict)


def _export(args):
    from keras_fer import export

    try:
        path = export.export_trained(args.model, args.out, format=args.format, name=args.name, version=args.version,
                                     overwrite=args.overwrite, stem_weights=args.stem_weights,
                                     select_tf_ops=args.select_tf_ops)
    except (ValueError, OSError, ImportError, export.TFLiteConversionError) as error:
        print(f"keras-fer export: error: {error}", file=sys.stderr)
        return 2
    print(path)
    return 0


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
    p.set_defaults(func=_export)


def _add_data_options(p):
    p.add_argument("--data", required=True, help="a feature cache (keras-fer extract) or a prepared folder "
                                                 "(keras-fer prepare, for end-to-end models)")
    p.add_argument("--sampler", default="stored",
                   help="frame sampler: 'stored' (the data's own, default), a paper name, or 'none'")
    p.add_argument("--sampler-option", action="append", metavar="KEY=VALUE", help="sampler option (repeatable)")
    p.add_argument("--image-size", type=int, help="prepared folders: resize the crops to this side")


def _add_fit_options(p):
    p.add_argument("--model", required=True, help="registry name (keras-fer list-models)")
    p.add_argument("--out", required=True, help="output folder (a rerun resumes)")
    p.add_argument("--recipe", help="paper whose recipe to use (default: the model's paper)")
    p.add_argument("--set", action="append", metavar="FIELD=VALUE",
                   help="override a recipe field, e.g. --set decay_epochs=20,40 (repeatable)")
    p.add_argument("--epochs", type=int, help="override the recipe's epochs")
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


def _add_training(sub):
    p = sub.add_parser("train", help="train a registry model on a cache or prepared folder (validation-selected)",
                       description="Train on every sample but the validation subjects carved out for epoch "
                                   "selection; writes OUT/model.keras, train.json, history.csv, "
                                   "training_curves.png and TensorBoard logs. A rerun resumes.")
    _add_data_options(p)
    _add_fit_options(p)
    p.set_defaults(func=_train)

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
    p.set_defaults(func=_cv)

    p = sub.add_parser("evaluate", help="score a trained model (OUT/model.keras of train) on a cache or prepared "
                                        "folder")
    p.add_argument("--model", required=True, help="a .keras model file")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--ids", help="a text file of sample ids to score, one per line (default: all)")
    p.add_argument("--batch-size", type=int, default=8, dest="batch_size", help="clips per batch (default 8)")
    _add_data_options(p)
    p.set_defaults(func=_evaluate)

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
    p.set_defaults(func=_reproduce)


def build_parser():
    parser = argparse.ArgumentParser(prog="keras-fer", description=__doc__)
    from keras_fer.version import __version__

    parser.add_argument("--version", action="version", version=f"keras-fer {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list-layers", help="the papers' attention layers with their equations")
    p.set_defaults(func=_list_layers)
    p = sub.add_parser("list-models", help="the registry's models, with the paper table row each reproduces")
    p.add_argument("--paper", help="only this paper's models: ast, stcam, ecnn_fsa, ceflnet or stanet")
    p.set_defaults(func=_list_models)
    _add_prepare(sub)
    _add_extract(sub)
    _add_training(sub)
    _add_predict(sub)
    _add_export(sub)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    code = args.func(args)
    # A job that failed mid-epoch leaves its tf.data iterator in a reference cycle; destroyed at interpreter exit it
    # would wait forever for its reader threads' numpy_function calls, which cannot take the GIL then (a hang).
    gc.collect()
    return code


if __name__ == "__main__":
    sys.exit(main())
