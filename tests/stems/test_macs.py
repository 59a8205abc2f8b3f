import keras
import pytest

from keras_fer.stems.macs import count_macs, layer_macs


def test_conv2d_macs_by_hand():
    # 7x7x4 input, 3x3 kernel, stride 2, valid: 3x3 outputs, each 3*3*4 multiply-adds per filter, 5 filters.
    layer = keras.layers.Conv2D(5, 3, strides=2)
    assert count_macs(layer, input_shape=(None, 7, 7, 4)) == 3 * 3 * (3 * 3 * 4) * 5 == 1620
    # "same" padding: 7x7 outputs.
    assert layer_macs(keras.layers.Conv2D(4, 3, padding="same"), (None, 7, 7, 2)) == 49 * 9 * 2 * 4


def test_grouped_conv3d_depthwise_separable_transposed_and_dense_by_hand():
    assert layer_macs(keras.layers.Conv2D(8, 1, groups=2), (None, 5, 5, 4)) == 25 * 1 * 2 * 8
    assert layer_macs(keras.layers.Conv3D(6, (3, 7, 7), padding="same"), (None, 5, 7, 7, 2)) == 5 * 49 * 147 * 2 * 6
    assert layer_macs(keras.layers.DepthwiseConv2D(3, depth_multiplier=2), (None, 6, 6, 3)) == 16 * 9 * 3 * 2
    separable = keras.layers.SeparableConv2D(10, 3, padding="same")
    assert layer_macs(separable, (None, 4, 4, 3)) == 16 * 9 * 3 + 16 * 3 * 10
    assert layer_macs(keras.layers.Conv2DTranspose(2, 3, strides=2), (None, 4, 4, 5)) == 16 * 9 * 5 * 2
    assert layer_macs(keras.layers.Dense(8), (None, 5, 16)) == 5 * 16 * 8


def test_model_sums_layers_calls_nested_models_and_time_distributed():
    frame_inputs = keras.Input((7, 7, 3))
    frame_features = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, padding="same")(frame_inputs))
    frame_model = keras.Model(frame_inputs, frame_features)
    frame_macs = 49 * 27 * 4

    clip = keras.Input((5, 7, 7, 3))
    per_frame = keras.layers.TimeDistributed(frame_model)(clip)  # (B, 5, 4)
    shared = keras.layers.Dense(6)
    x = shared(per_frame)  # (B, 5, 6)
    x = shared(keras.layers.Dense(4)(x))  # called a second time on (B, 5, 4)
    x = keras.layers.BatchNormalization()(x)  # not counted
    model = keras.Model(clip, x)
    expected = 5 * frame_macs + 5 * 4 * 6 + 5 * 6 * 4 + 5 * 4 * 6
    assert count_macs(model) == expected


def test_sequential_model():
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4), keras.layers.ReLU(), keras.layers.Dense(2)])
    assert count_macs(model) == 8 * 4 + 4 * 2


def test_unknown_sizes_and_missing_input_shape_are_errors():
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3, name="conv_x")(inputs))
    with pytest.raises(ValueError, match="conv_x"):
        count_macs(model)
    with pytest.raises(ValueError, match="input_shape"):
        count_macs(keras.layers.Dense(3))
