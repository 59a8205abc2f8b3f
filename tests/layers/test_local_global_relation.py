"""LocalGlobalRelation (CEFLNet LRL, eq. 2-3) against a NumPy version of the equations."""

import keras
import numpy as np
import pytest

from keras_fer.layers import LocalGlobalRelation
from tests.layer_checks import assert_config_roundtrip, assert_finite, assert_loads_in_new_process

B, N_CLIPS, N_FRAMES, D = 2, 3, 4, 6


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def reference_lrl(frames, q0, b0, q1, b1, summary_pooling="max", mask=None):
    """Eq. 2-3 clip by clip, with plain loops; masked frames are dropped."""
    batch, n_clips, n_frames, _ = frames.shape
    if mask is None:
        mask = np.ones((batch, n_clips, n_frames), dtype=bool)
    outputs = np.zeros((batch, n_clips, q1.shape[1]))
    weights = np.zeros((batch, n_clips, n_frames))
    for b in range(batch):
        for i in range(n_clips):
            keep = np.flatnonzero(mask[b, i])
            if keep.size == 0:
                continue
            clip = frames[b, i, keep].astype(np.float64)  # (K', D)
            summary = clip.max(axis=0) if summary_pooling == "max" else clip.mean(axis=0)
            w = np.array([_sigmoid(np.concatenate([summary, f]) @ q0[:, 0] + b0[0]) for f in clip])
            weights[b, i, keep] = w
            outputs[b, i] = (w @ clip / w.sum()) @ q1 + b1
    return outputs, weights


def _set_random_weights(layer, rng, scale=1.0):
    q0 = rng.normal(scale=scale, size=tuple(layer.relation_kernel.shape))
    q1 = rng.normal(size=tuple(layer.output_kernel.shape))
    layer.relation_kernel.assign(q0)
    layer.output_kernel.assign(q1)
    if layer.use_bias:
        b0 = rng.normal(size=(1,))
        b1 = rng.normal(size=tuple(layer.output_bias.shape))
        layer.relation_bias.assign(b0)
        layer.output_bias.assign(b1)
    else:
        b0, b1 = np.zeros(1), np.zeros(q1.shape[1])
    return q0, b0, q1, b1


def _frames(rng, shape=(B, N_CLIPS, N_FRAMES, D)):
    return rng.normal(size=shape).astype("float32")


@pytest.mark.parametrize(
    "units, summary_pooling, use_bias",
    [(None, "max", True), (5, "max", False), (5, "mean", True)],
)
def test_matches_numpy_equations(units, summary_pooling, use_bias):
    rng = np.random.default_rng(1)
    frames = _frames(rng)
    layer = LocalGlobalRelation(units=units, summary_pooling=summary_pooling, use_bias=use_bias)
    layer.build(frames.shape)
    q0, b0, q1, b1 = _set_random_weights(layer, rng, scale=0.5)

    outputs, weights = layer(frames, return_attention_scores=True)
    expected_outputs, expected_weights = reference_lrl(frames, q0, b0, q1, b1, summary_pooling)

    assert tuple(outputs.shape) == (B, N_CLIPS, units or D)
    np.testing.assert_allclose(np.asarray(outputs), expected_outputs, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(weights), expected_weights, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(layer(frames)), expected_outputs, rtol=1e-4, atol=1e-5)


def test_weights_in_open_unit_interval_and_output_is_weighted_mean_of_frames():
    rng = np.random.default_rng(2)
    frames = _frames(rng)
    layer = LocalGlobalRelation(use_bias=False)
    layer.build(frames.shape)
    layer.output_kernel.assign(np.eye(D))  # q1 = I: R is the weighted mean itself
    layer.relation_kernel.assign(rng.normal(size=(2 * D, 1)))

    outputs, weights = layer(frames, return_attention_scores=True)
    outputs, weights = np.asarray(outputs), np.asarray(weights)

    assert np.all(weights > 0) and np.all(weights < 1)
    # A normalised non-negative weighting stays inside the per-channel range of the clip.
    assert np.all(outputs <= frames.max(axis=2) + 1e-5)
    assert np.all(outputs >= frames.min(axis=2) - 1e-5)


def test_zero_frame_relation_gives_plain_mean_and_identical_frames_ignore_q0():
    rng = np.random.default_rng(3)
    frames = _frames(rng)
    layer = LocalGlobalRelation()
    layer.build(frames.shape)
    _, _, q1, b1 = _set_random_weights(layer, rng)

    # Only the summary half of q0 is non-zero: every frame of a clip gets the same weight.
    q0 = np.concatenate([rng.normal(size=(D, 1)), np.zeros((D, 1))])
    layer.relation_kernel.assign(q0)
    outputs, weights = layer(frames, return_attention_scores=True)
    np.testing.assert_allclose(np.asarray(outputs), frames.mean(axis=2) @ q1 + b1, rtol=1e-4, atol=1e-5)
    weights = np.asarray(weights)
    np.testing.assert_allclose(weights, np.repeat(weights[..., :1], N_FRAMES, axis=-1), rtol=1e-6)

    # When a clip repeats one frame, R = f q1 + b1 whatever q0 is.
    layer.relation_kernel.assign(rng.normal(size=(2 * D, 1)) * 3)
    repeated = np.repeat(frames[:, :, :1], N_FRAMES, axis=2)
    np.testing.assert_allclose(np.asarray(layer(repeated)), frames[:, :, 0] @ q1 + b1, rtol=1e-4, atol=1e-5)


def test_frame_order_inside_a_clip_does_not_matter():
    rng = np.random.default_rng(4)
    frames = _frames(rng)
    layer = LocalGlobalRelation(units=4)
    layer.build(frames.shape)
    _set_random_weights(layer, rng)
    permutation = np.array([2, 0, 3, 1])

    outputs, weights = layer(frames, return_attention_scores=True)
    permuted_outputs, permuted_weights = layer(frames[:, :, permutation], return_attention_scores=True)

    np.testing.assert_allclose(np.asarray(permuted_outputs), np.asarray(outputs), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(permuted_weights), np.asarray(weights)[:, :, permutation], rtol=1e-5)


@pytest.mark.parametrize("summary_pooling", ["max", "mean"])
def test_masked_frames_change_nothing(summary_pooling):
    rng = np.random.default_rng(5)
    valid = _frames(rng, (B, N_CLIPS, 3, D))
    padded = np.concatenate([valid, 1e3 * _frames(rng, (B, N_CLIPS, 2, D))], axis=2)  # garbage in 2 frames
    mask = np.zeros((B, N_CLIPS, 5), dtype=bool)
    mask[..., :3] = True
    layer = LocalGlobalRelation(units=4, summary_pooling=summary_pooling)
    layer.build(padded.shape)
    q0, b0, q1, b1 = _set_random_weights(layer, rng)

    outputs, weights = layer(padded, mask=mask, return_attention_scores=True)
    short_outputs, short_weights = layer(valid, return_attention_scores=True)

    np.testing.assert_allclose(np.asarray(outputs), np.asarray(short_outputs), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(weights)[..., :3], np.asarray(short_weights), rtol=1e-5)
    assert np.all(np.asarray(weights)[..., 3:] == 0)

    # An irregular mask, against the reference that drops the masked frames.
    frames = _frames(rng, (B, N_CLIPS, 5, D))
    irregular = rng.random((B, N_CLIPS, 5)) < 0.6
    irregular[:, :, 0] = True
    outputs, weights = layer(frames, mask=irregular, return_attention_scores=True)
    expected_outputs, expected_weights = reference_lrl(frames, q0, b0, q1, b1, summary_pooling, irregular)
    np.testing.assert_allclose(np.asarray(outputs), expected_outputs, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(weights), expected_weights, rtol=1e-4, atol=1e-6)


def test_fully_masked_clip_is_zero_and_finite_and_masked_out():
    rng = np.random.default_rng(6)
    frames = _frames(rng)
    mask = np.ones((B, N_CLIPS, N_FRAMES), dtype=bool)
    mask[0, 1] = False
    layer = LocalGlobalRelation()
    outputs, weights = layer(frames, mask=mask, return_attention_scores=True)

    assert_finite(outputs, weights)
    assert np.all(np.asarray(outputs)[0, 1] == 0)
    assert np.all(np.asarray(weights)[0, 1] == 0)
    assert np.any(np.asarray(outputs)[0, 0] != 0)
    clip_mask = np.asarray(layer.compute_mask(frames, mask))
    assert clip_mask.shape == (B, N_CLIPS)
    assert not clip_mask[0, 1] and clip_mask.sum() == B * N_CLIPS - 1
    assert layer.compute_mask(frames, None) is None


def test_clip_mask_reaches_the_next_layer():
    rng = np.random.default_rng(9)
    inputs = keras.Input(shape=(N_CLIPS, N_FRAMES, D))
    masked = keras.layers.Masking(mask_value=0.0)(inputs)
    layer = LocalGlobalRelation(units=4)
    clips = layer(masked)
    pooled = keras.layers.GlobalAveragePooling1D()(clips)  # averages the unmasked clips only
    model = keras.Model(inputs, [clips, pooled])
    frames = _frames(rng)
    frames[0, 2] = 0.0  # the last clip of video 0 is padding
    _set_random_weights(layer, rng)

    clips, pooled = (np.asarray(t) for t in model(frames))

    np.testing.assert_allclose(pooled[0], clips[0, :2].mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pooled[1], clips[1].mean(axis=0), rtol=1e-5, atol=1e-6)


def test_symbolic_call_returns_both_shapes():
    inputs = keras.Input(shape=(N_CLIPS, N_FRAMES, D))
    layer = LocalGlobalRelation(units=5)
    outputs, weights = layer(inputs, return_attention_scores=True)
    assert tuple(outputs.shape) == (None, N_CLIPS, 5)
    assert tuple(weights.shape) == (None, N_CLIPS, N_FRAMES)
    assert layer.compute_output_shape((B, N_CLIPS, N_FRAMES, D)) == (B, N_CLIPS, 5)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"units": 0}, "units"),
        ({"units": 2.5}, "units"),
        ({"units": True}, "units"),
        ({"summary_pooling": "avg"}, "summary_pooling"),
        ({"use_bias": "yes"}, "use_bias"),
    ],
)
def test_bad_arguments_raise(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        LocalGlobalRelation(**kwargs)


def test_bad_input_shapes_raise():
    with pytest.raises(ValueError, match=r"input_shape=\(2, 4, 6\)"):
        LocalGlobalRelation()(np.zeros((2, 4, 6), "float32"))
    with pytest.raises(ValueError, match="feature size D"):
        LocalGlobalRelation()(keras.Input(shape=(3, 4, None)))


def test_mixed_float16_is_finite_even_when_weights_underflow():
    rng = np.random.default_rng(7)
    frames = 200.0 * _frames(rng)
    mask = np.ones((B, N_CLIPS, N_FRAMES), dtype=bool)
    mask[1, 2] = False
    layer = LocalGlobalRelation(units=4, dtype="mixed_float16")
    layer.build(frames.shape)
    # Logits near -1e4: every float16 sigmoid weight underflows to 0.
    layer.relation_kernel.assign(np.zeros((2 * D, 1)))
    layer.relation_bias.assign(np.array([-1.0e4]))

    outputs, weights = layer(frames, mask=mask, return_attention_scores=True)

    assert outputs.dtype == "float16" and weights.dtype == "float16"
    assert_finite(outputs, weights)
    # Equal logits: R is the plain mean of the clip's frames, projected.
    q1 = np.asarray(layer.output_kernel)
    expected = frames.mean(axis=2) @ q1
    expected[1, 2] = 0.0
    np.testing.assert_allclose(np.asarray(outputs, dtype="float32"), expected, rtol=2e-2, atol=0.5)


def test_config_roundtrip_with_non_default_arguments():
    layer = LocalGlobalRelation(units=7, summary_pooling="mean", use_bias=False, name="lrl")
    clone = assert_config_roundtrip(layer)
    assert (clone.units, clone.summary_pooling, clone.use_bias) == (7, "mean", False)


def test_saved_model_loads_in_new_process(tmp_path):
    rng = np.random.default_rng(8)
    inputs = keras.Input(shape=(N_CLIPS, N_FRAMES, D))
    masked = keras.layers.Masking(mask_value=0.0)(inputs)
    outputs, weights = LocalGlobalRelation(units=5, summary_pooling="mean")(masked, return_attention_scores=True)
    model = keras.Model(inputs, [outputs, weights])
    frames = _frames(rng)
    frames[0, 1, 3] = 0.0  # one padded frame, masked by the Masking layer
    assert_loads_in_new_process(model, frames, tmp_path)


# ----------------------------------------------------------------------------- the authors' code's options


def test_code_options_pool_the_summary_from_other_features_and_read_it_in_q1():
    """``summary_inputs`` (the SAL outputs in the authors' code) feed only f^'; with
    ``output_features="summary_and_pooled"``, R = [f^' : weighted mean] q1 + b1."""
    rng = np.random.default_rng(11)
    frames, sal = _frames(rng), _frames(rng)
    mask = np.ones((B, N_CLIPS, N_FRAMES), dtype=bool)
    mask[0, 1, 2] = False
    layer = LocalGlobalRelation(output_features="summary_and_pooled", dropout=0.5)
    outputs, weights = layer(frames, mask=mask, summary_inputs=sal, return_attention_scores=True)
    assert tuple(layer.output_kernel.shape) == (2 * D, D)
    q0, b0 = np.asarray(layer.relation_kernel)[:, 0], np.asarray(layer.relation_bias)
    q1, b1 = np.asarray(layer.output_kernel), np.asarray(layer.output_bias)
    for b in range(B):
        for i in range(N_CLIPS):
            keep = np.flatnonzero(mask[b, i])
            summary = sal[b, i, keep].max(axis=0)
            w = _sigmoid(np.concatenate([np.broadcast_to(summary, (keep.size, D)), frames[b, i, keep]], -1) @ q0 + b0)
            expected = np.concatenate([summary, w @ frames[b, i, keep] / w.sum()]) @ q1 + b1
            np.testing.assert_allclose(np.asarray(outputs)[b, i], expected, rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(np.asarray(weights)[b, i, keep], w, rtol=1e-4, atol=1e-5)
    # Dropout (before q0) acts in training only.
    assert not np.allclose(layer(frames, summary_inputs=sal, training=True), layer(frames, summary_inputs=sal))
    # Without summary_inputs, or with the frames themselves, it is eq. 2-3's reading.
    np.testing.assert_allclose(layer(frames, summary_inputs=frames), layer(frames), atol=1e-6)


@pytest.mark.parametrize("kwargs, argument", [({"output_features": "sum"}, "output_features"),
                                              ({"dropout": 1.0}, "dropout"), ({"dropout": True}, "dropout")])
def test_bad_code_options_raise(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        LocalGlobalRelation(**kwargs)


def test_config_roundtrip_with_the_code_options():
    clone = assert_config_roundtrip(LocalGlobalRelation(output_features="summary_and_pooled", dropout=0.5, name="lrl"))
    assert (clone.output_features, clone.dropout) == ("summary_and_pooled", 0.5)
