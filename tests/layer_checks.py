"""Checks that every attention layer must pass (the layer contract of docs/models.md, "Attention layers")."""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np


def assert_config_roundtrip(layer):
    """``from_config(get_config())`` rebuilds a layer with the same config."""
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    return clone


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def assert_loads_in_new_process(model, inputs, tmp_path, atol=1e-5):
    """Save ``model`` as ``.keras``; a fresh Python process that only does
    ``import keras_fer`` loads it and reproduces the outputs on ``inputs``."""
    model_path = tmp_path / "model.keras"
    model.save(model_path)
    inputs = _as_list(inputs)
    expected = _as_list(model(inputs if len(inputs) > 1 else inputs[0]))
    data_path = tmp_path / "data.npz"
    np.savez(
        data_path,
        **{f"x{i}": np.asarray(x) for i, x in enumerate(inputs)},
        **{f"y{i}": keras.ops.convert_to_numpy(y) for i, y in enumerate(expected)},
    )
    script = textwrap.dedent(
        f"""
        import json, numpy as np, keras
        import keras_fer
        model = keras.saving.load_model({str(model_path)!r})
        data = np.load({str(data_path)!r})
        xs = [data[f"x{{i}}"] for i in range({len(inputs)})]
        ys = model(xs if len(xs) > 1 else xs[0])
        ys = list(ys) if isinstance(ys, (list, tuple)) else [ys]
        err = max(float(np.max(np.abs(keras.ops.convert_to_numpy(y) - data[f"y{{i}}"]))) for i, y in enumerate(ys))
        print(json.dumps({{"max_abs_err": err, "n": len(ys)}}))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["n"] == len(expected)
    assert report["max_abs_err"] <= atol, report


def assert_finite(*tensors):
    for t in tensors:
        arr = keras.ops.convert_to_numpy(keras.ops.cast(t, "float32"))
        assert np.all(np.isfinite(arr)), "non-finite values"
