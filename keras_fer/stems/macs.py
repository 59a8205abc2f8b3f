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

through nested models and ``TimeDistributed`` (times the time steps). Biases,
normalisation, activations, pooling, element-wise ops and attention matrix
products are not counted (so the count is a lower bound for attention models).
"""

import math

import keras

_CONV_CLASSES = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
_TRANSPOSED_CONV_CLASSES = (keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose, keras.layers.Conv3DTranspose)
_DEPTHWISE_CLASSES = (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)
_SEPARABLE_CLASSES = (keras.layers.SeparableConv1D, keras.layers.SeparableConv2D)


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


def layer_macs(layer, input_shape, output_shape=None):
    """MACs per sample of one call of ``layer`` on ``input_shape`` (batch axis included).

    Args:
        layer: a Keras layer; layers other than those listed in the module
            docstring count 0.
        input_shape: the call's input shape, batch axis first.
        output_shape: the call's output shape; computed with
            ``layer.compute_output_shape`` when omitted.

    Returns:
        int, multiply-accumulates for one sample.

    Example:
        >>> layer_macs(keras.layers.Conv2D(4, 3, padding="same"), (None, 7, 7, 2))
        3528
    """
    if isinstance(layer, keras.Model):
        return count_macs(layer)
    if isinstance(layer, keras.layers.TimeDistributed):
        time_steps = _known(input_shape, layer)[0]
        step_shape = (input_shape[0],) + tuple(input_shape)[2:]
        return time_steps * layer_macs(layer.layer, step_shape)
    if output_shape is None:
        output_shape = layer.compute_output_shape(tuple(input_shape))
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
    nodes_by_depth = getattr(model, "_nodes_by_depth", None)
    if nodes_by_depth is None and isinstance(model, keras.Sequential):
        # Sequential models keep their functional graph in `_functional` once built.
        functional = getattr(model, "_functional", None)
        if functional is None:
            raise ValueError(f"count_macs: Sequential model {model.name!r} is not built; give it an Input first")
        nodes_by_depth = functional._nodes_by_depth
    total = 0
    for nodes in nodes_by_depth.values():
        for node in nodes:
            if node.is_input:
                continue
            inputs, outputs = node.input_tensors, node.output_tensors
            total += layer_macs(node.operation, inputs[0].shape, outputs[0].shape)
    return total
