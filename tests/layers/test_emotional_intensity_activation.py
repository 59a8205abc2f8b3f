"""EmotionalIntensityActivation (CEFLNet EIAN, eq. 5-8) against a NumPy version of the equations."""

import keras
import numpy as np
import pytest

from keras_fer.layers import EmotionalIntensityActivation, LocalGlobalRelation
from tests.layer_checks import assert_config_roundtrip, assert_finite, assert_loads_in_new_process

B, N_CLIPS, D = 2, 5, 6


def reference_eian(clips, kernel, pooling="max", mask=None):
    """Eq. 5, 7, 8 with plain loops; masked clips are zeroed, get A = 0 and skip pooling."""
    batch, n_clips, _ = clips.shape
    if mask is None:
        mask = np.ones((batch, n_clips), dtype=bool)
    width = kernel.shape[0]
    half = width // 2
    outputs = np.zeros((batch, clips.shape[2]))
    intensity = np.zeros((batch, n_clips))
    for b in range(batch):
        keep = np.flatnonzero(mask[b])
        if keep.size == 0:
            continue
        features = np.where(mask[b][:, None], clips[b], 0.0).astype(np.float64)  # (n, D)
        logits = np.zeros(n_clips)
        for k in range(n_clips):  # eq. 5: W^T V^f, a 1-D convolution zero-padded at the ends
            for j in range(width):
                source = k + j - half
                if 0 <= source < n_clips:
                    logits[k] += features[source] @ kernel[j, :, 0]
        exp = np.exp(logits[keep] - logits[keep].max())
        intensity[b, keep] = exp / exp.sum()
        activation_map = intensity[b][:, None] * features  # eq. 7
        if pooling == "max":
            outputs[b] = activation_map[keep].max(axis=0)  # eq. 8
        else:
            outputs[b] = activation_map[keep].sum(axis=0)
    return outputs, intensity


def _clips(rng, shape=(B, N_CLIPS, D)):
    return rng.normal(size=shape).astype("float32")


def _layer_with_kernel(rng, clips_shape, **kwargs):
    layer = EmotionalIntensityActivation(**kwargs)
    layer.build(clips_shape)
    kernel = rng.normal(size=tuple(layer.score_kernel.shape))
    layer.score_kernel.assign(kernel)
    return layer, kernel


@pytest.mark.parametrize("kernel_size, pooling", [(1, "max"), (3, "max"), (3, "sum")])
def test_matches_numpy_equations(kernel_size, pooling):
    rng = np.random.default_rng(1)
    clips = _clips(rng)
    layer, kernel = _layer_with_kernel(rng, clips.shape, kernel_size=kernel_size, pooling=pooling)

    outputs, intensity = layer(clips, return_attention_scores=True)
    expected_outputs, expected_intensity = reference_eian(clips, kernel, pooling)

    assert tuple(outputs.shape) == (B, D) and tuple(intensity.shape) == (B, N_CLIPS)
    np.testing.assert_allclose(np.asarray(outputs), expected_outputs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(intensity), expected_intensity, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(layer(clips)), expected_outputs, rtol=1e-5, atol=1e-6)


def test_intensity_is_a_distribution_and_argmax_is_the_highest_scoring_clip():
    rng = np.random.default_rng(2)
    clips = _clips(rng)
    layer = EmotionalIntensityActivation()
    layer.build(clips.shape)
    kernel = np.zeros((1, D, 1))
    kernel[0, 2, 0] = 1.0  # score of a clip = its channel 2
    layer.score_kernel.assign(kernel)

    _, intensity = layer(clips, return_attention_scores=True)
    intensity = np.asarray(intensity)

    assert np.all(intensity > 0)
    np.testing.assert_allclose(intensity.sum(axis=-1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(intensity.argmax(axis=-1), clips[..., 2].argmax(axis=-1))  # eq. 6


def test_identical_clips_get_uniform_intensity():
    rng = np.random.default_rng(3)
    clip = _clips(rng, (B, 1, D))
    clips = np.repeat(clip, N_CLIPS, axis=1)
    layer, _ = _layer_with_kernel(rng, clips.shape)

    outputs, intensity = layer(clips, return_attention_scores=True)

    np.testing.assert_allclose(np.asarray(intensity), 1.0 / N_CLIPS, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(outputs), clip[:, 0] / N_CLIPS, rtol=1e-5, atol=1e-7)


def test_width_one_kernel_is_equivariant_to_clip_order():
    rng = np.random.default_rng(4)
    clips = _clips(rng)
    layer, _ = _layer_with_kernel(rng, clips.shape)
    permutation = np.array([3, 0, 4, 1, 2])

    outputs, intensity = layer(clips, return_attention_scores=True)
    permuted_outputs, permuted_intensity = layer(clips[:, permutation], return_attention_scores=True)

    np.testing.assert_allclose(np.asarray(permuted_outputs), np.asarray(outputs), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(permuted_intensity), np.asarray(intensity)[:, permutation], rtol=1e-6)


@pytest.mark.parametrize("kernel_size, pooling", [(1, "max"), (3, "max"), (3, "sum")])
def test_padded_clips_change_nothing(kernel_size, pooling):
    rng = np.random.default_rng(5)
    valid = _clips(rng, (B, 3, D))
    padded = np.concatenate([valid, 1e3 * _clips(rng, (B, 2, D))], axis=1)  # 2 garbage clips
    mask = np.zeros((B, 5), dtype=bool)
    mask[:, :3] = True
    layer, kernel = _layer_with_kernel(rng, padded.shape, kernel_size=kernel_size, pooling=pooling)

    outputs, intensity = layer(padded, mask=mask, return_attention_scores=True)
    short_outputs, short_intensity = layer(valid, return_attention_scores=True)

    np.testing.assert_allclose(np.asarray(outputs), np.asarray(short_outputs), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(intensity)[:, :3], np.asarray(short_intensity), rtol=1e-5)
    assert np.all(np.asarray(intensity)[:, 3:] == 0)

    # A masked clip in the middle: its values do not matter, and the reference agrees.
    clips = _clips(rng)
    middle = np.ones((B, N_CLIPS), dtype=bool)
    middle[0, 2] = False
    outputs, intensity = layer(clips, mask=middle, return_attention_scores=True)
    changed = clips.copy()
    changed[0, 2] = -1e3
    np.testing.assert_allclose(np.asarray(layer(changed, mask=middle)), np.asarray(outputs), rtol=1e-6)
    expected_outputs, expected_intensity = reference_eian(clips, kernel, pooling, middle)
    np.testing.assert_allclose(np.asarray(outputs), expected_outputs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(intensity), expected_intensity, rtol=1e-5, atol=1e-7)


def test_max_pooling_ignores_masked_clips_when_all_valid_activations_are_negative():
    clips = -np.ones((1, 3, D), dtype="float32")
    mask = np.array([[True, True, False]])
    layer = EmotionalIntensityActivation()
    outputs = np.asarray(layer(clips, mask=mask))
    # A masked clip contributes 0 to M; it must not win the max over negative activations.
    np.testing.assert_allclose(outputs, -0.5 * np.ones((1, D)), rtol=1e-6)


def test_fully_masked_video_is_zero_and_finite():
    rng = np.random.default_rng(6)
    clips = _clips(rng)
    mask = np.ones((B, N_CLIPS), dtype=bool)
    mask[1] = False
    layer = EmotionalIntensityActivation(kernel_size=3)
    outputs, intensity = layer(clips, mask=mask, return_attention_scores=True)

    assert_finite(outputs, intensity)
    assert np.all(np.asarray(outputs)[1] == 0) and np.all(np.asarray(intensity)[1] == 0)
    np.testing.assert_allclose(np.asarray(intensity)[0].sum(), 1.0, rtol=1e-6)
    assert layer.compute_mask(clips, mask) is None


def test_clip_mask_from_local_global_relation_is_used():
    rng = np.random.default_rng(7)
    inputs = keras.Input(shape=(None, 4, D))
    masked = keras.layers.Masking(mask_value=0.0)(inputs)
    clips = LocalGlobalRelation()(masked)
    outputs, intensity = EmotionalIntensityActivation()(clips, return_attention_scores=True)
    model = keras.Model(inputs, [outputs, intensity])
    frames = rng.normal(size=(B, 3, 4, D)).astype("float32")
    frames[0, 2] = 0.0  # the last clip of video 0 is padding

    outputs, intensity = (np.asarray(t) for t in model(frames))
    short_outputs, short_intensity = (np.asarray(t) for t in model(frames[:, :2]))

    assert intensity[0, 2] == 0
    np.testing.assert_allclose(intensity[0, :2], short_intensity[0], rtol=1e-5)
    np.testing.assert_allclose(outputs[0], short_outputs[0], rtol=1e-5, atol=1e-6)


def test_symbolic_call_returns_both_shapes():
    inputs = keras.Input(shape=(N_CLIPS, D))
    layer = EmotionalIntensityActivation(kernel_size=3)
    outputs, intensity = layer(inputs, return_attention_scores=True)
    assert tuple(outputs.shape) == (None, D)
    assert tuple(intensity.shape) == (None, N_CLIPS)
    assert layer.compute_output_shape((B, N_CLIPS, D)) == (B, D)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"kernel_size": 0}, "kernel_size"),
        ({"kernel_size": 2}, "kernel_size"),
        ({"kernel_size": 1.0}, "kernel_size"),
        ({"kernel_size": True}, "kernel_size"),
        ({"pooling": "mean"}, "pooling"),
    ],
)
def test_bad_arguments_raise(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        EmotionalIntensityActivation(**kwargs)


def test_bad_input_shapes_raise():
    with pytest.raises(ValueError, match=r"input_shape=\(2, 5\)"):
        EmotionalIntensityActivation()(np.zeros((2, 5), "float32"))
    with pytest.raises(ValueError, match=r"input_shape=\(2, 3, 4, 6\)"):
        EmotionalIntensityActivation()(np.zeros((2, 3, 4, 6), "float32"))
    with pytest.raises(ValueError, match="feature size D"):
        EmotionalIntensityActivation()(keras.Input(shape=(5, None)))


def test_mixed_float16_is_finite():
    rng = np.random.default_rng(8)
    clips = 300.0 * _clips(rng)
    mask = np.ones((B, N_CLIPS), dtype=bool)
    mask[0, 3:] = False
    mask[1] = False
    layer, kernel = _layer_with_kernel(rng, clips.shape, kernel_size=3, dtype="mixed_float16")

    outputs, intensity = layer(clips, mask=mask, return_attention_scores=True)

    assert outputs.dtype == "float16" and intensity.dtype == "float16"
    assert_finite(outputs, intensity)
    np.testing.assert_allclose(np.asarray(intensity, dtype="float32")[0].sum(), 1.0, rtol=1e-2)
    expected_outputs, _ = reference_eian(clips, kernel, "max", mask)
    np.testing.assert_allclose(np.asarray(outputs, dtype="float32"), expected_outputs, rtol=2e-2, atol=1.0)


def test_config_roundtrip_with_non_default_arguments():
    layer = EmotionalIntensityActivation(kernel_size=5, pooling="sum", name="eian")
    clone = assert_config_roundtrip(layer)
    assert (clone.kernel_size, clone.pooling) == (5, "sum")


def test_saved_model_loads_in_new_process(tmp_path):
    rng = np.random.default_rng(9)
    inputs = keras.Input(shape=(N_CLIPS, D))
    outputs, intensity = EmotionalIntensityActivation(kernel_size=3, pooling="sum")(
        inputs, return_attention_scores=True
    )
    model = keras.Model(inputs, [outputs, intensity])
    assert_loads_in_new_process(model, _clips(rng), tmp_path)
