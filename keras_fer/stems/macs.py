"""Count the multiply-accumulates (MACs) of convolution and dense layers.

Papers quote model cost in MACs (CEFLNet table 7: 63.8 GMACs for 35 frames;
ResNet-18: 1.8 GMACs per 224x224 frame, the convention of the PyTorch
flops-counter the paper cites). This counter adds, per sample (batch axis
excluded), the multiply-accumulates of:

* ``Conv1D``/``Conv2D``/``Conv3D``: output positions x kernel volume x
  input channels / groups x filters;
* ``Conv*DTranspose``: input positions x kernel volume x input channels x filters;
* ``DepthwiseConv1D``/``2D``: output positions x kernel volume x input channels
  x depth multiplier;
* ``SeparableConv1D``/``2D``: the depthwise part plus the 1x1 pointwise part;
* ``Dense``: positions (all axes but batch and last) x input units x units;
* ``EinsumDense``: output elements (batch axis excluded) x the sizes of the
  kernel axes that are summed over (kernel letters absent from the output);
* ``LSTM``/``GRU``/``SimpleRNN`` (and their cells, one step per call): time
  steps x gates (4 for LSTM, 3 for GRU, 1 for SimpleRNN) x (input features +
  units) x units, the input and recurrent kernel products of every gate (other
  ``RNN`` cells count 0);

through nested models, ``TimeDistributed`` (times the time steps), layers that
fold frames into the batch axis (a layer with a ``batch_factor(input_shape)``
method, such as :class:`keras_fer.models.FoldFrames`: the layers after it count
once per folded frame) and custom
layers with child layers (for example ``SoftMaskBranch``, ``NonLocalBlock``,
``keras.layers.MultiHeadAttention``): such a layer's ``call`` is traced
symbolically once, the shapes each child is called with are recorded, and the
children's MACs are summed (recursively, and once per call of a shared child).
Biases, normalisation, activations, pooling, resizing, element-wise ops and the
products computed directly in a custom ``call`` with ``keras.ops`` (attention
score and attention-weighted sums, e.g. ``QK^T`` and ``AV`` of
``MultiHeadAttention``) are not counted, so the count is a lower bound for
attention models.
"""

import math

import keras

from keras_fer.keras_private import child_layers, nodes_by_depth, symbolic_call

_CONV_CLASSES = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
_TRANSPOSED_CONV_CLASSES = (keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose, keras.layers.Conv3DTranspose)
_DEPTHWISE_CLASSES = (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)
_SEPARABLE_CLASSES = (keras.layers.SeparableConv1D, keras.layers.SeparableConv2D)
_RECURRENT_GATES = ((keras.layers.LSTM, 4), (keras.layers.GRU, 3), (keras.layers.SimpleRNN, 1))
_RECURRENT_CELL_GATES = ((keras.layers.LSTMCell, 4), (keras.layers.GRUCell, 3), (keras.layers.SimpleRNNCell, 1))
# Layers with child layers that are counted from their own input/output shapes.
_WHOLE_CLASSES = (keras.Model, keras.layers.TimeDistributed, keras.layers.RNN, keras.layers.EinsumDense)


def _known(shape, layer):
    dims = tuple(shape)[1:]
    if any(dim is None for dim in dims):
        raise ValueError(
            f"count_macs needs fixed shapes; layer {layer.name!r} sees shape {tuple(shape)}. "
            "Build the model with a fixed input_shape."
        )
    return dims


def _positions(shape):
    return math.prod(shape[:-1])


def _is_tensor(value):
    return hasattr(value, "shape") and hasattr(value, "dtype")


def _first_shape(structure):
    tensors = [value for value in keras.tree.flatten(structure) if _is_tensor(value)]
    return tuple(tensors[0].shape)


def _as_keras_tensors(structure):
    return keras.tree.map_structure(
        lambda value: keras.KerasTensor(tuple(value.shape), dtype=keras.backend.standardize_dtype(value.dtype))
        if _is_tensor(value)
        else value,
        structure,
    )


def _einsum_dense_macs(layer, input_shape, output_shape):
    if not layer.built:
        layer.build(tuple(input_shape))
    input_spec, rest = layer.equation.split(",")
    kernel_spec, output_spec = rest.split("->")
    kernel_sizes = dict(zip(kernel_spec, layer.kernel.shape))
    contracted = math.prod(size for letter, size in kernel_sizes.items() if letter not in output_spec)
    if "." not in layer.equation:
        # Output sizes from the equation: the layer's `output_shape` may leave free axes as None.
        sizes = {**dict(zip(input_spec, tuple(input_shape))), **kernel_sizes}
        output_shape = tuple(sizes[letter] for letter in output_spec)
    return math.prod(_known(output_shape, layer)) * contracted


def _counted_whole(layer):
    """True for layers counted from their own shapes rather than by tracing their children."""
    return isinstance(layer, _WHOLE_CLASSES) or not child_layers(layer)


def _traced_child_macs(layer, args, kwargs):
    """Sums the MACs of ``layer``'s direct children over one symbolic call of ``layer.call``.

    Each child's ``call`` is wrapped on the instance to record the tensors it
    receives and returns; the wrappers are removed afterwards, even on error.
    """
    if not layer.built:
        layer.build(_first_shape(args))
    recorded_calls = []
    patched = []
    try:
        for child in child_layers(layer):
            had_instance_call = "call" in child.__dict__
            original_call = child.call

            def recording_call(*call_args, _child=child, _original=original_call, **call_kwargs):
                outputs = _original(*call_args, **call_kwargs)
                recorded_calls.append(
                    (_child, _as_keras_tensors(call_args), _as_keras_tensors(call_kwargs), _as_keras_tensors(outputs))
                )
                return outputs

            patched.append((child, had_instance_call, original_call))
            child.call = recording_call
        symbolic_call(layer.call, *args, **kwargs)
    finally:
        for child, had_instance_call, original_call in patched:
            if had_instance_call:
                child.call = original_call
            else:
                del child.call
    return sum(_call_macs(*recorded_call) for recorded_call in recorded_calls)


def _call_macs(layer, args, kwargs, outputs=None):
    """MACs of one call of ``layer`` with the tensors (or ``KerasTensor``s) ``args``/``kwargs``."""
    if _counted_whole(layer):
        output_shape = None if outputs is None else _first_shape(outputs)
        return _leaf_macs(layer, _first_shape(args), output_shape)
    return _traced_child_macs(layer, args, kwargs)


def layer_macs(layer, input_shape, output_shape=None):
    """MACs per sample of one call of ``layer`` on ``input_shape`` (batch axis included).

    Args:
        layer: a Keras layer; layers other than those listed in the module
            docstring, without counted descendants, count 0.
        input_shape: the call's input shape, batch axis first (a layer with
            child layers is traced with one float32 input of this shape).
        output_shape: the call's output shape; computed with
            ``layer.compute_output_shape`` when omitted.

    Returns:
        int, multiply-accumulates for one sample.

    Example:
        >>> layer_macs(keras.layers.Conv2D(4, 3, padding="same"), (None, 7, 7, 2))
        3528
    """
    if _counted_whole(layer):
        return _leaf_macs(layer, input_shape, output_shape)
    return _traced_child_macs(layer, (keras.KerasTensor(tuple(input_shape)),), {})


def _leaf_macs(layer, input_shape, output_shape=None):
    if isinstance(layer, keras.Model):
        return count_macs(layer)
    if isinstance(layer, keras.layers.TimeDistributed):
        time_steps = _known(input_shape, layer)[0]
        step_shape = (input_shape[0],) + tuple(input_shape)[2:]
        return time_steps * layer_macs(layer.layer, step_shape)
    for recurrent_class, gates in _RECURRENT_GATES:
        if isinstance(layer, recurrent_class):
            time_steps, features = _known(input_shape, layer)
            return time_steps * gates * (features + layer.units) * layer.units
    for cell_class, gates in _RECURRENT_CELL_GATES:
        if isinstance(layer, cell_class):
            features = _known(input_shape, layer)[-1]
            return gates * (features + layer.units) * layer.units
    if isinstance(layer, keras.layers.RNN):
        return 0
    if output_shape is None:
        output_shape = layer.compute_output_shape(tuple(input_shape))
    if isinstance(layer, keras.layers.EinsumDense):
        return _einsum_dense_macs(layer, input_shape, output_shape)
    if isinstance(layer, _CONV_CLASSES):
        inputs, outputs = _known(input_shape, layer), _known(output_shape, layer)
        return _positions(outputs) * math.prod(layer.kernel_size) * inputs[-1] // layer.groups * layer.filters
    if isinstance(layer, _TRANSPOSED_CONV_CLASSES):
        inputs = _known(input_shape, layer)
        return _positions(inputs) * math.prod(layer.kernel_size) * inputs[-1] * layer.filters
    if isinstance(layer, _DEPTHWISE_CLASSES):
        inputs, outputs = _known(input_shape, layer), _known(output_shape, layer)
        return _positions(outputs) * math.prod(layer.kernel_size) * inputs[-1] * layer.depth_multiplier
    if isinstance(layer, _SEPARABLE_CLASSES):
        inputs, outputs = _known(input_shape, layer), _known(output_shape, layer)
        depthwise_channels = inputs[-1] * layer.depth_multiplier
        depthwise = _positions(outputs) * math.prod(layer.kernel_size) * depthwise_channels
        return depthwise + _positions(outputs) * depthwise_channels * layer.filters
    if isinstance(layer, keras.layers.Dense):
        inputs = _known(input_shape, layer)
        return _positions(inputs) * inputs[-1] * layer.units
    return 0


def count_macs(model, input_shape=None):
    """Multiply-accumulates per sample of convolution and dense layers (see module docstring).

    Args:
        model: a functional or ``Sequential`` Keras model with fixed input
            shapes, or a single layer (then ``input_shape`` is required).
        input_shape: for a single layer, its input shape with the batch axis.

    Returns:
        int, MACs for one sample (one frame for a frame stem, one clip for C3D).

    Raises:
        ValueError: a counted layer has an unknown (``None``) size.

    Example:
        >>> count_macs(keras_fer.stems.resnet18())  # doctest: +SKIP
        1813561344
    """
    if not isinstance(model, keras.Model):
        if input_shape is None:
            raise ValueError(f"count_macs: pass `input_shape` to count the single layer {model.name!r}")
        return layer_macs(model, input_shape)
    try:
        graph = nodes_by_depth(model)
    except ValueError as error:
        raise ValueError(f"count_macs: {error}") from None
    # Layers that fold frames into the batch axis (keras_fer.models.FoldFrames) say so with `batch_factor`:
    # a layer after them runs on that many "samples" per sample of the model, until they are unfolded.
    samples_of = {}  # id(KerasTensor) -> its samples per model sample
    total = 0
    for depth in sorted(graph, reverse=True):  # inputs first
        for node in graph[depth]:
            if node.is_input:
                continue
            operation = node.operation
            samples = max((samples_of.get(id(tensor), 1) for tensor in node.input_tensors), default=1)
            total += samples * _call_macs(operation, node.arguments.args, node.arguments.kwargs, node.output_tensors)
            if hasattr(operation, "batch_factor"):
                samples = samples * operation.batch_factor(node.input_tensors[0].shape)
            for tensor in node.output_tensors:
                samples_of[id(tensor)] = samples
    return int(total)
