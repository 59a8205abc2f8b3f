"""The one place keras-fer reads Keras's private API, so that a Keras upgrade breaks here, loudly.

Keras 3 has no public API for three things keras-fer needs, and one bug to work around:

* the calls of a layer inside a functional graph (``layer._inbound_nodes``):
  :func:`keras_fer.models.attention_model` reads the scores of every layer called
  with ``return_attention_scores=True``, and :func:`keras_fer.viz.embedding_model`
  finds the tensor a layer produced in one particular model;
* a functional model's nodes in graph order (``model._nodes_by_depth``) and a
  layer's direct child layers (``layer._flatten_layers``): :func:`keras_fer.stems.count_macs`
  walks them;
* a symbolic trace that runs a layer's own ``call`` (``keras.src.backend.compute_output_spec``):
  ``Layer.compute_output_spec`` skips ``call`` for layers with a custom
  ``compute_output_shape``, and :func:`~keras_fer.stems.count_macs` must see the calls inside;
* ``model.fit`` under ``tf.distribute.MultiWorkerMirroredStrategy`` fails in Keras 3
  (keras-team/keras#20585, tensorflow/tensorflow#72388): :func:`multi_worker_fit` mends the two
  private functions at fault while a multi-worker job trains.

Each function below checks that the attribute exists and raises :class:`KerasPrivateAPIError`
naming it and the installed Keras version otherwise. ``tests/test_keras_private.py`` exercises
every function, so an upgrade that renames one fails there first.
"""

import contextlib

import keras

__all__ = ["KerasPrivateAPIError", "child_layers", "inbound_nodes", "is_functional", "multi_worker_fit",
           "nodes_by_depth", "symbolic_call"]


class KerasPrivateAPIError(RuntimeError):
    """The installed Keras lacks a private attribute keras-fer relies on."""


def _attribute(owner, name):
    try:
        return getattr(owner, name)
    except AttributeError:
        raise KerasPrivateAPIError(
            f"Keras {keras.__version__}: {type(owner).__name__} has no private attribute {name!r}, which keras-fer "
            "reads (keras_fer/keras_private.py); this Keras version is not supported") from None


def inbound_nodes(layer):
    """The nodes (calls) of ``layer`` in every functional graph it was called in."""
    return list(_attribute(layer, "_inbound_nodes"))


def is_functional(model):
    """True for a functional ``keras.Model`` (one whose graph of nodes :func:`nodes_by_depth` reads directly)."""
    return isinstance(model, keras.Model) and hasattr(model, "_nodes_by_depth")


def nodes_by_depth(model):
    """``{depth: [node, ...]}`` of a functional model (depth 0 holds the outputs).

    A ``keras.Sequential`` model keeps its graph in an inner functional model once built.

    Raises:
        ValueError: ``model`` is a Sequential model that is not built.
    """
    if isinstance(model, keras.Sequential) and not hasattr(model, "_nodes_by_depth"):
        functional = getattr(model, "_functional", None)
        if functional is None:
            raise ValueError(f"Sequential model {model.name!r} is not built; give it an Input first")
        model = functional
    return _attribute(model, "_nodes_by_depth")


def child_layers(layer):
    """The direct child layers of ``layer`` (not recursive, without ``layer`` itself)."""
    return list(_attribute(layer, "_flatten_layers")(include_self=False, recursive=False))


def symbolic_call(function, *args, **kwargs):
    """Run ``function`` on symbolic tensors (``keras.KerasTensor``) and return its symbolic outputs.

    Unlike ``Layer.compute_output_spec``, this runs ``call`` itself, so the layers called inside are traced.
    """
    from keras.src.backend import compute_output_spec

    return compute_output_spec(function, *args, **kwargs)


@contextlib.contextmanager
def multi_worker_fit():
    """Within this context ``model.fit`` and ``model.evaluate`` work under ``MultiWorkerMirroredStrategy``.

    Keras 3's TensorFlow trainer fails there twice (keras-team/keras#20585):

    * before the first step it builds the model from one batch, made by
      ``strategy.reduce("MEAN", batch)``: a structure of per-replica tensors,
      which ``reduce`` refuses ("unsupported type PerReplica"). Only the shapes
      matter, so this takes the first local replica's part of the batch;
    * after each step it averages the per-replica metrics with
      ``strategy.reduce("MEAN", value, axis=0)``, which fails on scalars
      ("Invalid reduction dimension 0 for input with 0 dimensions"). This
      averages them over the replicas instead (``axis=None``), as
      ``MirroredStrategy`` does.

    Other strategies are not touched. The originals are put back on exit.
    """
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer

    original_reduce = _attribute(trainer, "reduce_per_replica")
    is_multi_worker = _attribute(trainer, "_collective_all_reduce_multi_worker")
    original_build = _attribute(trainer.TensorFlowTrainer, "_maybe_symbolic_build")

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and is_multi_worker(strategy):
            return tf.nest.map_structure(lambda value: strategy.reduce("MEAN", value, axis=None), values)
        return original_reduce(values, strategy, reduction)

    def maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = self.distribute_strategy
        if iterator is None or not is_multi_worker(strategy):
            return original_build(self, iterator=iterator, data_batch=data_batch)
        for _, _, batches in iterator:
            batch = tf.nest.map_structure(
                lambda value: strategy.experimental_local_results(value)[0]
                if isinstance(value, tf.distribute.DistributedValues) else value, next(batches))
            break
        with strategy.scope():
            self._symbolic_build(data_batch=batch)

    trainer.reduce_per_replica = reduce_per_replica
    trainer.TensorFlowTrainer._maybe_symbolic_build = maybe_symbolic_build
    try:
        yield
    finally:
        trainer.reduce_per_replica = original_reduce
        trainer.TensorFlowTrainer._maybe_symbolic_build = original_build
