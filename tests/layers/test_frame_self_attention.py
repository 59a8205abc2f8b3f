"""FrameSelfAttention (ECNN-FSA eq. 1-2) against a NumPy version of
Q, K, V = X W_q, X W_k, X W_v and X* = softmax(s Q K^T) V."""

import keras
import numpy as np
import pytest

from keras_fer.layers import FrameSelfAttention
from tests.layer_checks import assert_config_roundtrip, assert_finite, assert_loads_in_new_process

BATCH, FRAMES, DIM = 2, 5, 8


def reference_frame_self_attention(features, wq, wk, wv, scale, biases=None, mask=None):
    """Row-by-row loop over eq. 1-2, in float64."""
    features = features.astype(np.float64)
    batch, frames, _ = features.shape
    bq, bk, bv = biases if biases is not None else (0.0, 0.0, 0.0)
    valid = np.ones((batch, frames), bool) if mask is None else mask
    scores = np.zeros((batch, frames, frames))
    outputs = np.zeros((batch, frames, wv.shape[1]))
    for b in range(batch):
        keys_at = np.flatnonzero(valid[b])
        q = features[b] @ wq + bq
        k = features[b] @ wk + bk
        v = features[b] @ wv + bv
        for t in keys_at:
            logits = np.array([scale * q[t] @ k[i] for i in keys_at])
            weights = np.exp(logits - logits.max())
            weights /= weights.sum()
            scores[b, t, keys_at] = weights
            outputs[b, t] = weights @ v[keys_at]
    return outputs, scores


def random_projections(rng, dim=DIM, units=DIM, spread=1.0):
    return tuple(rng.normal(size=(dim, units)) * spread for _ in range(3))


def make_layer(projections, biases=None, **kwargs):
    wq, wk, wv = projections
    layer = FrameSelfAttention(units=wq.shape[1], use_bias=biases is not None, **kwargs)
    layer.build((None, None, wq.shape[0]))
    layer.query_kernel.assign(wq)
    layer.key_kernel.assign(wk)
    layer.value_kernel.assign(wv)
    if biases is not None:
        layer.query_bias.assign(biases[0])
        layer.key_bias.assign(biases[1])
        layer.value_bias.assign(biases[2])
    return layer


def run(layer, features, mask=None):
    outputs, scores = layer(features, mask=mask, return_attention_scores=True)
    return keras.ops.convert_to_numpy(outputs), keras.ops.convert_to_numpy(scores)


@pytest.fixture
def rng():
    return np.random.default_rng(3)


@pytest.fixture
def features(rng):
    return rng.normal(size=(BATCH, FRAMES, DIM)).astype("float32")


@pytest.mark.parametrize(
    "units, scale, use_bias",
    [(DIM, 0.1, False), (4, 0.5, True), (6, None, False)],
)
def test_matches_numpy_equation(rng, features, units, scale, use_bias):
    projections = random_projections(rng, units=units, spread=1.5)
    biases = tuple(rng.normal(size=(units,)) for _ in range(3)) if use_bias else None
    layer = make_layer(projections, biases, scale=scale)
    expected_scale = scale if scale is not None else 1.0 / np.sqrt(units)
    expected_outputs, expected_scores = reference_frame_self_attention(
        features, *projections, expected_scale, biases=biases
    )
    outputs, scores = run(layer, features)
    assert outputs.shape == (BATCH, FRAMES, units)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)
    np.testing.assert_allclose(outputs, expected_outputs, atol=1e-4)
    # The test data must make attention non-uniform, or it proves little.
    assert np.ptp(expected_scores, axis=-1).max() > 0.2


def test_default_units_keep_the_feature_size_and_paper_scale(features):
    layer = FrameSelfAttention()
    outputs, scores = run(layer, features)
    assert outputs.shape == (BATCH, FRAMES, DIM) and scores.shape == (BATCH, FRAMES, FRAMES)
    assert layer.query_kernel.shape == (DIM, DIM) and layer.scale == 0.1
    assert len(layer.weights) == 3  # no biases: the paper lists only the weight matrices
    np.testing.assert_allclose(scores.sum(-1), 1.0, atol=1e-6)
    assert np.all(scores > 0.0)


def test_permutation_equivariance(rng, features):
    layer = make_layer(random_projections(rng, spread=1.5), scale=0.3)
    permutation = np.array([3, 0, 4, 1, 2])
    outputs, scores = run(layer, features)
    permuted_outputs, permuted_scores = run(layer, features[:, permutation])
    np.testing.assert_allclose(permuted_outputs, outputs[:, permutation], atol=1e-5)
    np.testing.assert_allclose(permuted_scores, scores[:, permutation][:, :, permutation], atol=1e-6)


def test_scale_multiplies_the_logits(rng, features):
    projections = random_projections(rng)
    small, large = 0.1, 0.4
    _, scores_small = run(make_layer(projections, scale=small), features)
    _, scores_large = run(make_layer(projections, scale=large), features)
    # log p_s(i) - log p_s(j) = s (l_i - l_j): the log-ratios grow by large / small.
    log_small, log_large = np.log(scores_small), np.log(scores_large)
    ratio_small = log_small - log_small[..., :1]
    ratio_large = log_large - log_large[..., :1]
    np.testing.assert_allclose(ratio_large[..., 1:], ratio_small[..., 1:] * (large / small), rtol=1e-3, atol=1e-4)


def test_scale_sets_the_sharpness(rng, features):
    projections = random_projections(rng)
    entropies = []
    for scale in (1e-4, 0.03, 0.1, 0.3, 1.0):
        _, scores = run(make_layer(projections, scale=scale), features)
        entropies.append(-(scores * np.log(scores + 1e-30)).sum(-1))
    assert np.all(np.diff(np.stack(entropies), axis=0) < 0.0)
    # s -> 0: plain averaging over the frames.
    _, near_uniform = run(make_layer(projections, scale=1e-6), features)
    np.testing.assert_allclose(near_uniform, 1.0 / FRAMES, atol=1e-4)
    # large s: each frame attends to its highest-logit frame.
    wq, wk, _ = projections
    logits = np.einsum("btc,bsc->bts", features @ wq, features @ wk)
    _, sharp = run(make_layer(projections, scale=1e3), features)
    np.testing.assert_array_equal(sharp.argmax(-1), logits.argmax(-1))
    assert sharp.max(-1).min() > 0.99


def test_masked_frames_get_zero_weight_and_change_nothing(rng, features):
    projections = random_projections(rng, spread=1.5)
    biases = tuple(rng.normal(size=(DIM,)) for _ in range(3))
    layer = make_layer(projections, biases, scale=0.2)
    mask = np.array([[True, True, True, False, False], [False, True, True, False, True]])
    outputs, scores = run(layer, features, mask)
    expected_outputs, expected_scores = reference_frame_self_attention(
        features, *projections, 0.2, biases=biases, mask=mask
    )
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)
    np.testing.assert_allclose(outputs, expected_outputs, atol=1e-4)
    for b in range(BATCH):
        assert np.all(scores[b][:, ~mask[b]] == 0.0)  # padded keys
        assert np.all(scores[b][~mask[b]] == 0.0)  # padded queries
        np.testing.assert_allclose(scores[b][mask[b]].sum(-1), 1.0, atol=1e-6)

    padded = features.copy()
    padded[~mask] = rng.normal(size=padded[~mask].shape) * 10.0
    new_outputs, new_scores = run(layer, padded, mask)
    np.testing.assert_allclose(new_outputs[mask], outputs[mask], atol=1e-6)
    np.testing.assert_allclose(new_scores, scores, atol=1e-6)

    # A clip padded at its end gives what the unpadded clip gives.
    short_outputs, _ = run(layer, features[:1, :3])
    np.testing.assert_allclose(outputs[0, :3], short_outputs[0], atol=1e-5)


def test_fully_masked_clip_is_finite(rng, features):
    layer = make_layer(random_projections(rng), biases=tuple(np.ones(DIM) for _ in range(3)))
    mask = np.array([[False] * FRAMES, [True] * FRAMES])
    outputs, scores = run(layer, features, mask)
    assert_finite(outputs, scores)
    assert np.all(outputs[0] == 0.0) and np.all(scores[0] == 0.0)
    unmasked_outputs, _ = run(layer, features[1:])
    np.testing.assert_allclose(outputs[1], unmasked_outputs[0], atol=1e-6)


def test_keras_mask_propagates_through_a_model(features):
    inputs = keras.Input((FRAMES, DIM))
    masked = keras.layers.Masking(mask_value=0.0)(inputs)
    fused = FrameSelfAttention(units=4, name="fsa")(masked)
    pooled = keras.layers.GlobalAveragePooling1D()(fused)
    model = keras.Model(inputs, pooled)
    layer = model.get_layer("fsa")
    padded = features.copy()
    padded[1, 2:] = 0.0
    mask = np.any(padded != 0.0, axis=-1)
    projections = [keras.ops.convert_to_numpy(w) for w in (layer.query_kernel, layer.key_kernel, layer.value_kernel)]
    expected_outputs, _ = reference_frame_self_attention(padded, *projections, 0.1, mask=mask)
    expected = np.stack([expected_outputs[b, mask[b]].mean(0) for b in range(BATCH)])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(padded)), expected, atol=1e-5)


def test_mixed_precision_is_finite_and_close_to_float32(rng):
    # s |Q K^T| reaches ~1e5 here, beyond float16's range (65504).
    features = rng.normal(size=(BATCH, FRAMES, DIM)).astype("float32") * 100.0
    projections = random_projections(rng, spread=3.0)
    reference = make_layer(projections)
    layer = make_layer(projections, dtype="mixed_float16")
    mask = np.array([[True, True, True, False, False], [False] * FRAMES])
    outputs, scores = layer(features, mask=mask, return_attention_scores=True)
    assert outputs.dtype == "float16" and scores.dtype == "float16"
    assert_finite(outputs, scores)
    expected_outputs, expected_scores = run(reference, features, mask)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(scores).astype("float32"), expected_scores, atol=2e-2)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(outputs).astype("float32"), expected_outputs, rtol=2e-2, atol=1.0
    )


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"units": 0}, "units"),
        ({"units": -2}, "units"),
        ({"units": 4.0}, "units"),
        ({"units": "8"}, "units"),
        ({"scale": 0.0}, "scale"),
        ({"scale": -0.1}, "scale"),
        ({"scale": float("inf")}, "scale"),
        ({"scale": float("nan")}, "scale"),
        ({"scale": "0.1"}, "scale"),
        ({"scale": True}, "scale"),
        ({"use_bias": "no"}, "use_bias"),
    ],
)
def test_bad_arguments_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        FrameSelfAttention(**kwargs)


@pytest.mark.parametrize("shape", [(2, 8), (2, 5, 7, 7, 8), (2, 5, None)])
def test_bad_input_shapes_raise(shape):
    with pytest.raises(ValueError, match="input_shape"):
        FrameSelfAttention().build(shape)


def test_output_shapes_and_symbolic_call():
    assert FrameSelfAttention().compute_output_shape((2, 5, 8)) == (2, 5, 8)
    assert FrameSelfAttention(units=3).compute_output_shape((2, 5, 8)) == (2, 5, 3)
    outputs, scores = FrameSelfAttention(units=3)(keras.Input((5, 8)), return_attention_scores=True)
    assert tuple(outputs.shape) == (None, 5, 3)
    assert tuple(scores.shape) == (None, 5, 5)


def test_config_roundtrip_with_non_default_arguments():
    layer = FrameSelfAttention(units=6, scale=0.5, use_bias=True, name="fsa")
    clone = assert_config_roundtrip(layer)
    assert (clone.units, clone.scale, clone.use_bias) == (6, 0.5, True)
    assert assert_config_roundtrip(FrameSelfAttention(scale=None)).scale is None


def test_model_loads_in_new_process(features, tmp_path):
    inputs = keras.Input((FRAMES, DIM))
    masked = keras.layers.Masking(mask_value=0.0)(inputs)
    fused, scores = FrameSelfAttention(units=4, scale=0.3, use_bias=True)(masked, return_attention_scores=True)
    pooled = keras.layers.GlobalAveragePooling1D()(fused)
    model = keras.Model(inputs, [pooled, scores])
    padded = features.copy()
    padded[0, 3:] = 0.0
    assert_loads_in_new_process(model, padded, tmp_path)
