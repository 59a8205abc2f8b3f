"""keras_fer.keras_private: every private Keras attribute keras-fer reads still exists in the installed Keras."""

import keras
import pytest

from keras_fer import keras_private


def _model():
    inputs = keras.Input((4,))
    dense = keras.layers.Dense(3, name="dense")
    return keras.Model(inputs, dense(inputs)), dense


def test_inbound_nodes_and_nodes_by_depth_see_the_graph():
    model, dense = _model()
    assert keras_private.is_functional(model)
    (node,) = keras_private.inbound_nodes(dense)
    assert node.operation is dense
    graph = keras_private.nodes_by_depth(model)
    assert any(node is other for nodes in graph.values() for other in nodes)


def test_nodes_by_depth_of_a_sequential_model_and_an_unbuilt_one():
    built = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    assert not keras_private.is_functional(built)
    assert sum(len(nodes) for nodes in keras_private.nodes_by_depth(built).values()) == 2  # input and Dense
    with pytest.raises(ValueError, match="not built"):
        keras_private.nodes_by_depth(keras.Sequential([keras.layers.Dense(2)]))


def test_child_layers_and_symbolic_call():
    model, dense = _model()
    assert keras_private.child_layers(model)[-1] is dense
    out = keras_private.symbolic_call(dense.call, keras.KerasTensor((2, 4)))
    assert tuple(out.shape) == (2, 3)


def test_a_missing_attribute_names_itself_and_the_keras_version():
    with pytest.raises(keras_private.KerasPrivateAPIError, match=r"_inbound_nodes.*not supported"):
        keras_private.inbound_nodes(object())


def test_multi_worker_fit_mends_the_trainer_and_puts_it_back():
    """The fit itself is tested by tests/cli/test_multi_worker.py (two worker processes)."""
    from keras.src.backend.tensorflow import trainer

    originals = trainer.reduce_per_replica, trainer.TensorFlowTrainer._maybe_symbolic_build
    with keras_private.multi_worker_fit():
        assert (trainer.reduce_per_replica, trainer.TensorFlowTrainer._maybe_symbolic_build) != originals
    assert (trainer.reduce_per_replica, trainer.TensorFlowTrainer._maybe_symbolic_build) == originals
