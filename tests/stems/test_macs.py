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


def soft_mask_branch_macs_by_hand(height, width, channels, depth, kernel_size):
    # Level l (1..depth) convolves a (H // 2**l) x (W // 2**l) map with a k x k "same" conv; the two
    # 1x1 mask convs run at full resolution.
    down = 0
    level_height, level_width = height, width
    for _ in range(depth):
        level_height, level_width = level_height // 2, level_width // 2
        down += level_height * level_width * kernel_size * kernel_size * channels * channels
    return down + 2 * height * width * channels * channels


def test_soft_mask_branch_inside_a_model_counts_its_child_convs_at_their_sizes():
    from keras_fer.layers import SoftMaskBranch

    inputs = keras.Input((8, 6, 2))
    features = keras.layers.Conv2D(4, 1)(inputs)  # (B, 8, 6, 4)
    outputs = SoftMaskBranch(depth=2, kernel_size=3)(features)
    model = keras.Model(inputs, outputs)
    # down_conv_1 on 4x3, down_conv_2 on 2x1, mask convs on 8x6.
    branch = 4 * 3 * 9 * 4 * 4 + 2 * 1 * 9 * 4 * 4 + 2 * 8 * 6 * 4 * 4
    assert branch == soft_mask_branch_macs_by_hand(8, 6, 4, 2, 3)
    assert count_macs(model) == 48 * 2 * 4 + branch
    # A call that also returns the attention scores costs the same.
    inputs = keras.Input((8, 6, 4))
    scored, scores = SoftMaskBranch(depth=2)(inputs, return_attention_scores=True)
    assert count_macs(keras.Model(inputs, [scored, scores])) == branch


def test_flow_cnn_soft_mask_branch_adds_its_hand_count():
    from keras_fer.layers import SoftMaskBranch
    from keras_fer.stems import flow_cnn

    with_branch = flow_cnn((64, 64, 2))
    without_branch = flow_cnn((64, 64, 2), soft_mask=False)
    (branch_layer,) = [layer for layer in with_branch.layers if isinstance(layer, SoftMaskBranch)]
    height, width, channels = branch_layer.input.shape[1:]
    branch = soft_mask_branch_macs_by_hand(height, width, channels, branch_layer.depth, branch_layer.kernel_size)
    assert branch > 0
    assert count_macs(with_branch) - count_macs(without_branch) == branch


# On JAX the symbolic trace count_macs runs (keras_private.symbolic_call) fails in MultiHeadAttention when
# value_dim != key_dim: its output EinsumDense is traced with the key's size (Keras 3.15, jax 0.10).
@pytest.mark.backend("tensorflow")
def test_multi_head_attention_counts_its_four_projections():
    query, value = keras.Input((5, 6)), keras.Input((3, 4))
    attention = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=5)
    model = keras.Model([query, value], attention(query, value))
    query_projection = 5 * 6 * 2 * 3
    key_projection = 3 * 4 * 2 * 3  # key defaults to value
    value_projection = 3 * 4 * 2 * 5
    output_projection = 5 * (2 * 5) * 6  # back to the query's 6 features
    assert count_macs(model) == query_projection + key_projection + value_projection + output_projection


def test_einsum_dense_and_recurrent_layers_by_hand():
    einsum = keras.layers.EinsumDense("abc,cde->abde", output_shape=(None, 3, 4))
    assert layer_macs(einsum, (None, 5, 6)) == 5 * 3 * 4 * 6
    assert layer_macs(keras.layers.LSTM(7), (None, 5, 3)) == 5 * 4 * (3 + 7) * 7
    assert layer_macs(keras.layers.GRU(7, return_sequences=True), (None, 5, 3)) == 5 * 3 * (3 + 7) * 7
    inputs = keras.Input((4, 6))
    lstm_then_dense = keras.layers.Dense(2)(keras.layers.LSTM(5, return_sequences=True)(inputs))
    assert count_macs(keras.Model(inputs, lstm_then_dense)) == 4 * 4 * (6 + 5) * 5 + 4 * 5 * 2


class _TwoDenseBlock(keras.layers.Layer):
    """Calls a shared Dense twice and a Conv1D once."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.shared = keras.layers.Dense(4)
        self.conv = keras.layers.Conv1D(4, 3, padding="same")

    def build(self, input_shape):
        self.shared.build(input_shape)
        self.conv.build(input_shape[:-1] + (4,))

    def call(self, inputs):
        convolved = self.conv(self.shared(inputs))  # (B, T, 4)
        return convolved + self.shared(2.0 * inputs)  # (B, T, 4)


def test_custom_layer_counts_every_child_call_and_restores_call():
    block = _TwoDenseBlock()
    inputs = keras.Input((5, 3))
    model = keras.Model(inputs, block(inputs))
    assert count_macs(model) == 2 * (5 * 3 * 4) + 5 * 3 * 4 * 4
    for child in (block.shared, block.conv):
        assert "call" not in vars(child)
        assert child.call.__func__ is type(child).call
    assert "call" not in vars(block)


class _FailingBlock(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(2)

    def build(self, input_shape):
        self.dense.build(input_shape)

    def call(self, inputs):
        self.dense(inputs)
        raise RuntimeError("boom")


def test_child_patches_are_removed_when_tracing_fails():
    block = _FailingBlock()
    with pytest.raises(RuntimeError, match="boom"):
        count_macs(block, input_shape=(None, 3))
    assert "call" not in vars(block.dense)
    assert block.dense.call.__func__ is keras.layers.Dense.call
