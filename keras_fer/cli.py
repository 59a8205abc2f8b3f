"""What each ``keras-fer`` command does. It only orchestrates; the work lives in the packages.

The options live in the top-level module :mod:`keras_fer_cli` (the console script), which answers ``--help``
without importing TensorFlow and calls :func:`run` here.
"""

import gc
import os
import sys

from keras_fer_cli import _error, _key_values, _prepare, _sampler_options, parse


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


def _extract(args):
    from data_prep.cluster import process_share
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
        process_index, num_processes = process_share(args.process_index, args.num_processes)
        gpus = _local_gpus() if args.strategy != "default" else []
        if len(gpus) > 1:
            return _extract_per_gpu(args, gpus, process_index, num_processes)
        result = cache.extract(
            args.prepared, args.out, stem=args.stem, weights=args.weights, input_size=args.input_size,
            batch_size=args.batch_size, sampler=sampler, sampler_options=options, num_shards=args.num_shards,
            process_index=process_index, num_processes=num_processes, progress=not args.no_progress,
        )
    except (ValueError, FileNotFoundError) as error:  # WeightsNotFoundError is a FileNotFoundError
        return _error(args, error)
    state = (f"complete; manifest {args.out}/manifest.csv" if result["complete"]
             else "incomplete: other processes' shards are still missing; the last process to finish writes "
             "the manifest")
    print(f"extracted {result['computed']}, already done {result['skipped']}; cache {state}")
    return 0


def _flow(args):
    from data_prep.cluster import process_share
    from keras_fer.data.flow import extract_flow

    try:
        process_index, num_processes = process_share(args.process_index, args.num_processes)
        result = extract_flow(args.prepared, args.out, num_flows=args.num_flows, size=args.size, method=args.method,
                              bound=args.bound, num_shards=args.num_shards, process_index=process_index,
                              num_processes=num_processes, progress=not args.no_progress)
    except (ValueError, FileNotFoundError) as error:
        return _error(args, error)
    state = (f"complete; manifest {os.path.join(args.out, 'manifest.csv')}" if result["complete"]
             else "incomplete: other processes' shards are still missing")
    print(f"flow of {result['computed']} samples, already done {result['skipped']}; cache {state}")
    return 0


def _local_gpus():
    """The CUDA_VISIBLE_DEVICES entries of this machine's GPUs (all of them when it is not set)."""
    import tensorflow as tf

    count = len(tf.config.list_physical_devices("GPU"))
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    return visible.split(",")[:count] if visible else [str(index) for index in range(count)]


def _extract_per_gpu(args, gpus, process_index, num_processes):
    """``extract --strategy mirrored|multi-worker`` on a machine with several GPUs: one child process per GPU,
    each with its share of this process's share of the samples (the last one to finish writes the manifest)."""
    import subprocess

    base = [sys.executable, "-c", "import sys, keras_fer_cli; sys.exit(keras_fer_cli.main())"] + args.argv
    children = []
    for index, gpu in enumerate(gpus):
        share = ["--strategy", "default", "--process-index", str(process_index * len(gpus) + index),
                 "--num-processes", str(num_processes * len(gpus))]
        children.append(subprocess.Popen(base + share, env={**os.environ, "CUDA_VISIBLE_DEVICES": gpu}))
    failed = [gpu for gpu, child in zip(gpus, children) if child.wait() != 0]
    if failed:
        return _error(args, ValueError(f"the extraction on GPU(s) {', '.join(failed)} failed (see above); "
                                       "run the same command again to finish the cache"))
    print(f"extracted on {len(gpus)} GPUs ({', '.join(gpus)}); cache {args.out}")
    return 0


def _checked(args, name, minimum):
    """``args.NAME`` (None stays None) checked to be an integer >= ``minimum``, for options no job checks."""
    from data_prep.checks import check_int

    value = getattr(args, name)
    return None if value is None else check_int(value, name, minimum=minimum)


def _source(args):
    """The data of ``--data``. Without ``--sampler``: drawn as the data was kept (``stored``), except on a prepared
    folder kept with every frame: ``train`` and ``cv`` draw it with the model's paper's sampler, as the paper did,
    and ``evaluate`` as the model's training did (its ``train.json``, with its image size)."""
    from keras_fer.data.sources import open_source

    options = _sampler_options(args.sampler_option) if args.sampler_option else None
    sampler = {None: "stored", "none": None}.get(args.sampler, args.sampler)
    image_size = _checked(args, "image_size", 1)
    kept = open_source(args.data) if args.sampler is None else None
    if kept is not None and kept.preparation["input"] == "frames" and kept.preparation["sampler"] is None:
        if args.command in ("train", "cv"):
            from keras_fer.models import get_spec

            sampler = get_spec(args.model).paper
        elif args.command == "evaluate":
            trained = _trained_preparation(args.model)
            if trained.get("input") == "frames" and trained.get("sampler") is not None:
                sampler, options = trained["sampler"], options or trained["sampler_options"]
                image_size = image_size or trained.get("image_size")
    return open_source(args.data, sampler=sampler, sampler_options=options, image_size=image_size)


def _trained_preparation(model_file):
    """The ``preparation`` that ``train.json`` beside ``model_file`` records ({} without one)."""
    import json

    path = os.path.join(os.path.dirname(os.path.abspath(model_file)), "train.json")
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle).get("preparation") or {}


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
                patience=args.patience, verbose=0 if args.quiet else "auto", tensorboard=not args.no_tensorboard,
                strategy=args.strategy)


def _not_chief(args):
    """True (and says so) in a multi-worker job's workers other than the chief, which write nothing into OUT."""
    from keras_fer.training import distribute

    if distribute.is_chief(args.strategy):
        return False
    print(f"{args.command} done on this worker; the chief (worker 0) writes the results into {args.out}")
    return True


def _train(args):
    from keras_fer.jobs import training

    try:
        source = _source(args)
        with _reading(args.data):
            training.train_model(source, args.model, out_dir=args.out, recipe=_recipe(args), **_fit_options(args))
    except (ValueError, TypeError, FileNotFoundError) as error:
        return _error(args, error)
    if _not_chief(args):
        return 0
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
    if _not_chief(args):
        return 0
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
                            workers=args.workers, strategy=args.strategy,
                            verbose="auto" if args.verbose else 0, progress=args.verbose)
    except (ValueError, TypeError, FileNotFoundError) as error:
        return _error(args, error)
    if _not_chief(args):
        return 0
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


COMMANDS = {
    "list-layers": _list_layers,
    "list-models": _list_models,
    "prepare": _prepare,
    "extract": _extract,
    "flow": _flow,
    "train": _train,
    "cv": _cv,
    "evaluate": _evaluate,
    "reproduce": _reproduce,
    "predict": _predict,
    "export": _export,
}


def run(args):
    """Run the command of parsed options (:func:`keras_fer_cli.build_parser`); its exit code."""
    if args.command in ("train", "cv", "reproduce") and args.strategy == "multi-worker":
        from keras_fer.training import distribute

        try:  # before any TensorFlow operation: the collective operations are configured once, at start-up
            distribute.multi_worker_strategy()
        except ValueError as error:
            return _error(args, error)
    code = COMMANDS[args.command](args)
    # A job that failed mid-epoch leaves its tf.data iterator in a reference cycle; destroyed at interpreter exit it
    # would wait forever for its reader threads' numpy_function calls, which cannot take the GIL then (a hang).
    gc.collect()
    return code


def main(argv=None):
    """``keras-fer ...`` in a process that has imported keras_fer already (tests, ``python -m keras_fer.cli``)."""
    return run(parse(argv))


if __name__ == "__main__":
    sys.exit(main())
