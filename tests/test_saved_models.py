"""saved_models/: one exported model per paper, trained on the synthetic benchmark; each loads and serves."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from keras_fer.export import load_metadata
from keras_fer.jobs.reproduce import PAPERS

SAVED = os.path.join(os.path.dirname(os.path.dirname(__file__)), "saved_models")
with open(os.path.join(SAVED, "models.json"), encoding="utf-8") as _handle:
    RECORDS = json.load(_handle)


def test_one_model_per_paper_and_the_readme_describes_them():
    assert [record["paper"] for record in RECORDS] == list(PAPERS)
    with open(os.path.join(SAVED, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    assert "not for real faces" in readme
    for record in RECORDS:
        assert f"`{record['paper']}/1/`" in readme


@pytest.mark.parametrize("record", RECORDS, ids=[record["paper"] for record in RECORDS])
def test_each_saved_model_serves_its_signatures(record):
    path = os.path.join(SAVED, record["path"])
    metadata = load_metadata(path)
    assert metadata["class_names"] == record["classes"] and metadata["registry_model"] == record["model"]
    loaded = tf.saved_model.load(path)
    serve = loaded.signatures["serving_default"]
    (name, spec), = serve.structured_input_signature[1].items()
    shape = [2 if size is None else size for size in spec.shape]
    rng = np.random.default_rng(0)
    if spec.dtype == tf.uint8:
        inputs = rng.integers(0, 256, size=shape).astype(np.uint8)
    else:
        inputs = rng.uniform(-1, 1, size=shape).astype(np.float32)
    outputs = serve(**{name: tf.constant(inputs)})
    probabilities = outputs["probabilities"].numpy()
    assert probabilities.shape == (2, len(record["classes"]))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(probabilities, tf.nn.softmax(outputs["logits"]).numpy(), atol=1e-6)
    weights = outputs["temporal_attention"].numpy()
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)
