import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
import tensorflow as tf

from keras_fer.export import export_saved_model, input_kind, load_metadata
from keras_fer.export import saved_model as saved_model_module
from keras_fer.models import create_model
from tests.export.tiny_models import (
    CLASSES,
    assert_outputs_match,
    ast_fer2013,
    features_for,
    inputs_for,
    keras_reference,
    paper_model,
)

# Loads a SavedModel with TensorFlow alone: keras_fer and data_prep cannot be imported (a sys.meta_path finder
# refuses them) and, with --block-keras, neither can keras: sys.modules["keras"] = None marks it as absent, which
# both `import keras` and importlib.util.find_spec (TensorFlow's import probes keras with it) honour; a finder
# raising ImportError would break TensorFlow's own import instead of emulating an environment without Keras.
LOADER = textwrap.dedent("""
    import importlib.abc, json, sys
    import numpy as np

    class Blocker(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path=None, target=None):
            if fullname.split(".")[0] in ("keras_fer", "data_prep"):
                raise ImportError(f"{fullname} is blocked in this process")
            return None

    sys.meta_path.insert(0, Blocker())
    if "--block-keras" in sys.argv:
        sys.modules["keras"] = None
    for name in ["keras_fer", "data_prep"] + (["keras"] if "--block-keras" in sys.argv else []):
        try:
            __import__(name)
        except ImportError:
            pass
        else:
            raise SystemExit(f"{name} was importable")
    import tensorflow as tf

    export, out = sys.argv[1], sys.argv[2]
    loaded = tf.saved_model.load(export)
    results = {}
    for signature, function in loaded.signatures.items():
        name, = function.structured_input_signature[1]
        x = np.load(f"{out}/{signature}_input.npy")
        for key, value in function(**{name: tf.constant(x)}).items():
            results[f"{signature}/{key}"] = value.numpy()
    results["class_names_asset"] = np.array(loaded.class_names_asset.asset_path.numpy().decode())
    np.savez(f"{out}/outputs.npz", **results)
    loaded_modules = sorted({name.split(".")[0] for name, module in sys.modules.items() if module is not None}
                            & {"keras", "keras_fer", "data_prep"})
    print(json.dumps({"modules": loaded_modules}))
""")


def _run_loader(export, out, block_keras):
    args = [sys.executable, "-c", LOADER, export, out] + (["--block-keras"] if block_keras else [])
    result = subprocess.run(args, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1]), dict(np.load(f"{out}/outputs.npz"))


@pytest.fixture(scope="module")
def ast_export(tmp_path_factory):
    """AST on the shipped FER2013 stem, exported with both signatures; inputs and Keras outputs of each."""
    out = tmp_path_factory.mktemp("ast_export")
    model, head = ast_fer2013()
    path = export_saved_model(model, out / "exports", name="ast", class_names=CLASSES, head=head,
                              metadata={"sampler": "ast", "sampler_options": {"num_frames": 4}, "recipe": "ast"})
    frames, features = inputs_for(model), features_for(head)
    np.save(out / "serving_default_input.npy", frames)
    np.save(out / "features_input.npy", features)
    return {"path": path, "dir": out, "model": model, "head": head,
            "expected": {"serving_default": keras_reference(model, frames),
                         "features": keras_reference(head, features)}}


@pytest.mark.parametrize("block_keras", [False, True], ids=["without_keras_fer", "without_keras"])
def test_saved_model_loads_and_matches_keras_without_keras_fer(ast_export, block_keras):
    modules, outputs = _run_loader(ast_export["path"], str(ast_export["dir"]), block_keras)
    # TensorFlow alone serves it: Keras is not needed either (and is not imported when blocked).
    assert "keras_fer" not in modules["modules"] and "data_prep" not in modules["modules"]
    if block_keras:
        assert "keras" not in modules["modules"]
    for signature, expected in ast_export["expected"].items():
        assert_outputs_match({key: outputs[f"{signature}/{key}"] for key in expected}, expected)
    assert str(outputs["class_names_asset"]).endswith(os.path.join("ast", "1", "assets", "class_names.txt"))


def test_serving_default_takes_uint8_frames_and_features_take_float32(ast_export):
    loaded = tf.saved_model.load(ast_export["path"])
    frames_spec = loaded.signatures["serving_default"].structured_input_signature[1]["frames"]
    features_spec = loaded.signatures["features"].structured_input_signature[1]["features"]
    assert frames_spec.dtype == tf.uint8 and frames_spec.shape.as_list() == [None, 4, 32, 32, 3]
    assert features_spec.dtype == tf.float32 and features_spec.shape.as_list() == [None, 4, 128]
    with pytest.raises(tf.errors.InvalidArgumentError, match="uint8"):  # the signature refuses float frames
        loaded.signatures["serving_default"](frames=tf.zeros((1, 4, 32, 32, 3), tf.float32))


def test_tf_serving_layout_and_assets(ast_export):
    path = ast_export["path"]
    base = os.path.dirname(path)
    assert os.path.basename(path) == "1" and os.listdir(base) == ["1"]  # nothing temporary left beside it
    assert {"saved_model.pb", "variables", "assets"} <= set(os.listdir(path))
    assert os.path.isfile(os.path.join(path, "variables", "variables.index"))
    with open(os.path.join(path, "assets", "class_names.txt"), encoding="utf-8") as handle:
        assert handle.read() == "anger\nhappiness\nsurprise\n"
    info = load_metadata(path)
    assert info == load_metadata(base)  # the model folder reads its highest version
    assert info["path"] == path and info["name"] == "ast" and info["version"] == 1
    assert info["class_names"] == CLASSES and info["num_classes"] == 3
    assert info["model"] == ast_export["model"].name and info["stem"] == ["fer2013"]
    assert info["sampler"] == "ast" and info["sampler_options"] == {"num_frames": 4} and info["recipe"] == "ast"
    assert info["input_kinds"] == {"serving_default": "frames", "features": "features"}
    assert info["signatures"]["serving_default"]["input"] | {"description": None} == {
        "name": "frames", "dtype": "uint8", "shape": [None, 4, 32, 32, 3], "description": None}
    assert info["signatures"]["features"]["outputs"] == {
        "probabilities": [None, 3], "logits": [None, 3], "temporal_attention": [None, 4]}
    assert info["temporal_attention_source"] == {"serving_default": "context_attention",
                                                 "features": "context_attention"}
    assert info["frame_size"] == [32, 32] and info["time_steps"] == [4]
    assert info["num_parameters"] == ast_export["model"].count_params()
    assert info["tensorflow_version"] == tf.__version__ and "keras_fer_version" in info


def test_concurrent_calls_give_the_sequential_outputs(ast_export):
    serve = tf.saved_model.load(ast_export["path"]).signatures["serving_default"]
    rng = np.random.default_rng(7)
    batches = [rng.integers(0, 256, size=(2, 4, 32, 32, 3)).astype("uint8") for _ in range(8 * 3)]
    sequential = [serve(frames=tf.constant(x)) for x in batches]

    start = threading.Barrier(8)

    def worker(thread):
        start.wait()  # all eight threads call at once
        return [(i, serve(frames=tf.constant(batches[i]))) for i in range(thread, len(batches), 8)]

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = [pair for future in [pool.submit(worker, t) for t in range(8)] for pair in future.result()]
    assert sorted(i for i, _ in results) == list(range(len(batches)))
    for i, outputs in results:
        for key in ("probabilities", "logits", "temporal_attention"):
            np.testing.assert_allclose(outputs[key].numpy(), sequential[i][key].numpy(), rtol=1e-6, atol=1e-7)
    assert not np.allclose(sequential[0]["logits"].numpy(), sequential[1]["logits"].numpy())  # inputs differ


def test_existing_version_needs_overwrite(tmp_path):
    model, head = ast_fer2013(num_frames=2)
    path = export_saved_model(model, tmp_path, name="ast", version=3, class_names=CLASSES)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_saved_model(model, tmp_path, name="ast", version=3, class_names=["a", "b", "c"])
    assert load_metadata(path)["class_names"] == CLASSES  # untouched
    assert export_saved_model(model, tmp_path, name="ast", version=3, class_names=["a", "b", "c"],
                              overwrite=True) == path
    assert load_metadata(path)["class_names"] == ["a", "b", "c"]
    assert "features" not in load_metadata(path)["signatures"]  # no head, no features signature
    export_saved_model(model, tmp_path, name="ast", version=12, class_names=CLASSES)
    assert sorted(os.listdir(tmp_path / "ast")) == ["12", "3"]  # nothing temporary left
    assert load_metadata(tmp_path / "ast")["version"] == 12  # the highest version, as TF Serving picks


def test_a_failed_export_leaves_no_version_folder(tmp_path, monkeypatch):
    model, _ = ast_fer2013(num_frames=2)
    path = export_saved_model(model, tmp_path, name="ast", version=1, class_names=CLASSES)

    def crash(functions, folder, assets=None):
        with open(os.path.join(folder, "saved_model.pb"), "wb") as handle:
            handle.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(saved_model_module, "save_functions", crash)
    with pytest.raises(OSError, match="disk full"):
        export_saved_model(model, tmp_path, name="ast", version=2, class_names=CLASSES)
    with pytest.raises(OSError, match="disk full"):
        export_saved_model(model, tmp_path, name="ast", version=1, class_names=["a", "b", "c"], overwrite=True)
    assert os.listdir(tmp_path / "ast") == ["1"]
    assert load_metadata(path)["class_names"] == CLASSES  # the old version is intact


@pytest.mark.parametrize("kwargs, match", [
    ({"name": "ast/1"}, "`name`"),
    ({"name": ""}, "`name`"),
    ({"version": 0}, "`version`"),
    ({"version": True}, "`version`"),
    ({"version": "1"}, "`version`"),
    ({"class_names": ["a", "b"]}, "`class_names`"),
    ({"class_names": ["a", "a", "b"]}, "`class_names`"),
    ({"class_names": ["a", "b", "c\n"]}, "`class_names`"),
    ({"class_names": "abc"}, "`class_names`"),
    ({"metadata": {"sampler": object()}}, "`metadata`"),
    ({"metadata": {"class_names": ["x"]}}, r"may not set \['class_names'\]"),
    ({"metadata": ["sampler"]}, "`metadata`"),
    ({"overwrite": "yes"}, "`overwrite`"),
])
def test_bad_arguments_are_named(tmp_path, kwargs, match):
    model, _ = ast_fer2013(num_frames=2)
    arguments = {"name": "ast", "class_names": CLASSES, **kwargs}
    with pytest.raises(ValueError, match=match):
        export_saved_model(model, tmp_path, **arguments)
    assert not os.path.exists(tmp_path / "ast" / "1")


def test_model_and_head_are_checked(tmp_path):
    model, head = ast_fer2013(num_frames=2)
    with pytest.raises(ValueError, match="end-to-end model"):
        export_saved_model(head, tmp_path, name="ast", class_names=CLASSES)
    other_head = create_model("ast", 3, input="features", feature_shape=(2, 128))
    with pytest.raises(ValueError, match="`head` must be the head object inside `model`"):
        export_saved_model(model, tmp_path, name="ast", class_names=CLASSES, head=other_head)
    with pytest.raises(ValueError, match="`model` must be a keras.Model"):
        export_saved_model("model.keras", tmp_path, name="ast", class_names=CLASSES)
    assert input_kind(model) == "frames" and input_kind(head) == "features"


def test_load_metadata_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="saved_model.pb"):
        load_metadata(tmp_path)
    model, _ = ast_fer2013(num_frames=2)
    path = export_saved_model(model, tmp_path, name="ast", class_names=CLASSES)
    os.remove(os.path.join(path, saved_model_module.CHECKSUMS))  # an export written before the checksums
    with open(os.path.join(path, "assets", "class_names.txt"), "w", encoding="utf-8") as handle:
        handle.write("x\ny\nz\n")
    with pytest.raises(ValueError, match="disagree"):
        load_metadata(path)
    with open(os.path.join(path, "assets", "keras_fer.json"), "w", encoding="utf-8") as handle:
        handle.write("{not json")
    with pytest.raises(ValueError, match="keras_fer.json: not readable JSON"):
        load_metadata(path)
    os.remove(os.path.join(path, "assets", "keras_fer.json"))
    with pytest.raises(FileNotFoundError, match="keras_fer.json"):
        load_metadata(path)


def _edit(path, name, change):
    file = os.path.join(path, *name.split("/"))
    with open(file, "rb") as handle:
        data = bytearray(handle.read())
    with open(file, "wb") as handle:
        handle.write(change(data))


@pytest.mark.parametrize("name, change, error, match", [
    ("assets/class_names.txt", lambda data: b"surprise\nhappiness\nanger\n", ValueError,
     "class_names.txt: damaged or edited"),
    ("variables/variables.data-00000-of-00001",
     lambda data: data[:len(data) // 2] + bytes(64) + data[len(data) // 2 + 64:], ValueError,
     "variables.data-00000-of-00001: damaged or edited"),
    ("variables/variables.index", None, FileNotFoundError, "variables.index: missing from the export"),
])
def test_a_damaged_or_edited_export_is_named(ast_export, tmp_path, name, change, error, match):
    path = shutil.copytree(ast_export["path"], tmp_path / "1")
    assert load_metadata(path)["class_names"] == CLASSES  # the copy is intact
    with open(os.path.join(path, saved_model_module.CHECKSUMS), encoding="utf-8") as handle:
        assert name in handle.read()
    if change is None:
        os.remove(os.path.join(path, *name.split("/")))
    else:
        size = os.path.getsize(os.path.join(path, *name.split("/")))
        _edit(path, name, change)
        assert name == "assets/class_names.txt" or os.path.getsize(os.path.join(path, *name.split("/"))) == size
    with pytest.raises(error, match=match):
        load_metadata(path)


def test_a_file_added_to_an_export_is_named(ast_export, tmp_path):
    path = shutil.copytree(ast_export["path"], tmp_path / "1")
    with open(os.path.join(path, "assets", "extra.txt"), "w", encoding="utf-8") as handle:
        handle.write("x")
    with pytest.raises(ValueError, match="extra.txt: not part of the export"):
        load_metadata(path)


def _round_trip(model, head, tmp_path):
    path = export_saved_model(model, tmp_path, name=model.name, class_names=CLASSES, head=head)
    loaded = tf.saved_model.load(path)
    x = inputs_for(model)
    kind = input_kind(model)
    assert_outputs_match(loaded.signatures["serving_default"](**{kind: tf.constant(x)}), keras_reference(model, x))
    if head is None:
        assert list(loaded.signatures) == ["serving_default"]
    else:
        features = features_for(head)
        assert_outputs_match(loaded.signatures["features"](features=tf.constant(features)),
                             keras_reference(head, features))
    return load_metadata(path)


@pytest.mark.parametrize("paper, kind, source", [
    ("ast", "frames", "context_attention"),
    ("ecnn_fsa", "frames", "frame_self_attention"),
    ("stanet", "flow", "temporal_attention"),
])
def test_each_papers_full_model_round_trips(tmp_path, paper, kind, source):
    model, head = paper_model(paper)
    info = _round_trip(model, head, tmp_path)
    assert info["input_kinds"] == {"serving_default": kind, "features": "features"}
    assert info["temporal_attention_source"] == {"serving_default": source, "features": source}
    assert info["signatures"]["serving_default"]["input"]["dtype"] == ("uint8" if kind == "frames" else "float32")


def test_ceflnet_round_trips_with_attention_over_clips(tmp_path):
    model, head = paper_model("ceflnet")  # ResNet-18 stem: 12 M parameters
    info = _round_trip(model, head, tmp_path)
    assert info["time_steps"] == [2, 2] and info["signatures"]["serving_default"]["outputs"]["temporal_attention"] \
        == [None, 2]
    assert info["temporal_attention_source"]["serving_default"] == "emotional_intensity_activation"


def test_stcam_round_trips_without_features_signature(tmp_path):
    model, _ = paper_model("stcam")  # 3D-Inception-ResNet: 7 M parameters
    info = _round_trip(model, None, tmp_path)
    assert info["temporal_attention_source"] == {"serving_default": "none: equal weights"}
    with pytest.raises(ValueError, match="no time axis"):
        export_saved_model(model, tmp_path, name="stcam_with_head", class_names=CLASSES, head=model.layers[-1])


def test_stanet_loads_without_keras_fer(tmp_path):
    model, head = paper_model("stanet")
    path = export_saved_model(model, tmp_path / "exports", name="stanet", class_names=CLASSES, head=head)
    flow, features = inputs_for(model), features_for(head)
    np.save(tmp_path / "serving_default_input.npy", flow)
    np.save(tmp_path / "features_input.npy", features)
    _, outputs = _run_loader(path, str(tmp_path), block_keras=True)
    for signature, expected in (("serving_default", keras_reference(model, flow)),
                                ("features", keras_reference(head, features))):
        assert_outputs_match({key: outputs[f"{signature}/{key}"] for key in expected}, expected)
