"""CEFLNet models (Liu et al., 2022): SAL against NumPy, every registry row, size and cost, learning check."""

import keras
import numpy as np
import pytest

from keras_fer.models import ceflnet
from keras_fer.models.ceflnet import (
    MODELS,
    VARIANTS,
    ClipSelfAttention,
    build_ceflnet,
    ceflnet_head,
    most_emotional_clip,
)
from keras_fer.models.common import attention_model
from keras_fer.stems import count_macs
from tests.layer_checks import assert_config_roundtrip, assert_finite
from tests.models import ceflnet_reference as reference

B, N_CLIPS, N_FRAMES, D = 2, 3, 4, 8
SPECS = {spec.name: spec for spec in MODELS}
VARIANT_OF = {"ceflnet": "full", "ceflnet_official": "full", "ceflnet_sal_lrl": "sal_lrl", "ceflnet_sal": "sal",
              "ceflnet_baseline": "baseline", "ceflnet_lstm": "lstm"}
SCORE_NAMES = {
    "full": {"self_attention_learning", "local_global_relation", "emotional_intensity_activation"},
    "sal_lrl": {"self_attention_learning", "local_global_relation"},
    "sal": {"self_attention_learning"},
    "baseline": set(),
    "lstm": set(),
}


def _features(seed=0, shape=(B, N_CLIPS, N_FRAMES, D), padded=True):
    """Random features; with ``padded``, video 1 has one padded clip and video 0 one padded frame."""
    x = np.random.default_rng(seed).normal(size=shape).astype("float32")
    if padded:
        x[1, -1] = 0.0
        x[0, 0, -1] = 0.0
    return x


def _randomise(model, seed=1, scale=0.5):
    """Random weights everywhere (LayerNorm gamma/beta too), so that no test passes by a zero initialisation."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        weight.assign(rng.normal(scale=scale, size=tuple(weight.shape)).astype("float32"))


# ----------------------------------------------------------------------------- SAL layer


@pytest.mark.parametrize("output_projection, use_bias", [(True, True), (False, False), (True, False)])
def test_clip_self_attention_matches_numpy_eq1(output_projection, use_bias):
    x = _features(2)
    layer = ClipSelfAttention(output_projection=output_projection, use_bias=use_bias)
    layer.build(x.shape)
    for weight in layer.weights:
        weight.assign(np.random.default_rng(3).normal(scale=0.5, size=tuple(weight.shape)))
    mask = np.any(x != 0, axis=-1)
    outputs, scores = layer(x, mask=mask, return_attention_scores=True)
    outputs, scores = keras.ops.convert_to_numpy(outputs), keras.ops.convert_to_numpy(scores)
    assert outputs.shape == x.shape and scores.shape == (B, N_CLIPS, N_FRAMES, N_FRAMES)
    for b in range(B):
        for i in range(N_CLIPS):
            keep = np.flatnonzero(mask[b, i])
            if keep.size == 0:
                np.testing.assert_array_equal(outputs[b, i], 0.0)
                np.testing.assert_array_equal(scores[b, i], 0.0)
                continue
            expected, expected_scores = reference.sal(layer, x[b, i, keep])
            np.testing.assert_allclose(outputs[b, i, keep], expected, rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(scores[b, i][np.ix_(keep, keep)], expected_scores, rtol=1e-4, atol=1e-6)
            dropped = np.setdiff1d(np.arange(N_FRAMES), keep)
            np.testing.assert_array_equal(outputs[b, i, dropped], 0.0)
            np.testing.assert_array_equal(scores[b, i][:, dropped], 0.0)
    # Without a mask every frame counts.
    no_mask = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(no_mask[0, 1], reference.sal(layer, x[0, 1])[0], rtol=1e-4, atol=1e-4)


def test_clip_self_attention_frames_attend_only_within_their_clip():
    x = _features(4, padded=False)
    layer = ClipSelfAttention()
    changed = x.copy()
    changed[:, 1] += 5.0  # clip 1 changes; clips 0 and 2 must not
    a, b = keras.ops.convert_to_numpy(layer(x)), keras.ops.convert_to_numpy(layer(changed))
    np.testing.assert_allclose(a[:, [0, 2]], b[:, [0, 2]], rtol=1e-6, atol=1e-6)
    assert not np.allclose(a[:, 1], b[:, 1])


def test_clip_self_attention_config_and_bad_arguments():
    clone = assert_config_roundtrip(ClipSelfAttention(output_projection=False, use_bias=False, epsilon=1e-3))
    assert (clone.output_projection, clone.use_bias, clone.epsilon) == (False, False, 1e-3)
    for kwargs, name in (({"output_projection": 1}, "output_projection"), ({"use_bias": "yes"}, "use_bias"),
                         ({"epsilon": 0.0}, "epsilon")):
        with pytest.raises(ValueError, match=name):
            ClipSelfAttention(**kwargs)
    with pytest.raises(ValueError, match="rank 4"):
        ClipSelfAttention()(np.zeros((2, 5, 8), "float32"))


# ----------------------------------------------------------------------------- heads against NumPy


@pytest.mark.parametrize("variant", ["full", "sal_lrl", "sal", "baseline"])
def test_head_matches_numpy_with_padding(variant):
    """Eq. 1-9 composed (and the averaging of the rows without EIAN/LRL), padded frames and clips dropped."""
    head = ceflnet_head(5, feature_shape=(N_CLIPS, N_FRAMES, D), variant=variant)
    _randomise(head)
    x = _features(5)
    expected = reference.ceflnet_head(head, x, variant)
    outputs = attention_model(head)(x)
    assert set(outputs) == {"logits"} | SCORE_NAMES[variant]
    np.testing.assert_allclose(outputs["logits"], expected["logits"], rtol=1e-4, atol=1e-4)
    for name, key in (("self_attention_learning", "sal"), ("local_global_relation", "lrl"),
                      ("emotional_intensity_activation", "eian")):
        if name in outputs:
            np.testing.assert_allclose(outputs[name], expected[key], rtol=1e-4, atol=1e-5)


def test_lstm_head_reads_the_frames_in_clip_order_and_skips_padding():
    head = ceflnet_head(4, feature_shape=(N_CLIPS, N_FRAMES, D), variant="lstm", lstm_units=6)
    x = _features(6, padded=False)
    x[1, -1] = 0.0  # last clip of video 1 padded: the LSTM stops after 8 frames
    logits = keras.ops.convert_to_numpy(head(x))
    lstm = head.get_layer("lstm")
    kernel, recurrent, bias = (np.asarray(w.numpy(), np.float64) for w in lstm.weights)
    for b in range(B):
        frames = x[b].reshape(-1, D)
        frames = frames[np.any(frames != 0, axis=-1)]
        h, c = np.zeros(6), np.zeros(6)
        for f in frames:  # keras gate order i, f, c, o; sigmoid and tanh
            z = f @ kernel + h @ recurrent + bias
            i, fg, g, o = np.split(z, 4)
            c = reference._sigmoid(fg) * c + reference._sigmoid(i) * np.tanh(g)
            h = reference._sigmoid(o) * np.tanh(c)
        expected = reference._dense(h, head.get_layer("classifier"))
        np.testing.assert_allclose(logits[b], expected, rtol=1e-4, atol=1e-5)


def test_full_head_scores_and_most_emotional_clip():
    head = ceflnet_head(3, feature_shape=(N_CLIPS, N_FRAMES, D))
    _randomise(head, scale=0.3)
    x = _features(7)
    outputs = {key: keras.ops.convert_to_numpy(value) for key, value in attention_model(head)(x).items()}
    sal, lrl, intensity = (outputs[name] for name in
                           ("self_attention_learning", "local_global_relation", "emotional_intensity_activation"))
    assert sal.shape == (B, N_CLIPS, N_FRAMES, N_FRAMES)
    assert lrl.shape == (B, N_CLIPS, N_FRAMES)
    assert intensity.shape == (B, N_CLIPS)
    valid = np.any(x != 0, axis=-1)
    np.testing.assert_allclose(sal.sum(-1)[valid], 1.0, rtol=1e-5)
    assert np.all((lrl[valid] > 0) & (lrl[valid] < 1)) and np.all(lrl[~valid] == 0)
    np.testing.assert_allclose(intensity.sum(-1), 1.0, rtol=1e-5)
    assert intensity[1, -1] == 0.0  # the padded clip is never the most emotional one
    clip = most_emotional_clip(outputs)
    np.testing.assert_array_equal(clip, np.argmax(intensity, axis=-1))
    np.testing.assert_array_equal(most_emotional_clip(intensity), clip)
    assert clip.dtype == np.int64 and clip.shape == (B,)
    with pytest.raises(ValueError, match="only the full model"):
        most_emotional_clip({"logits": outputs["logits"]})
    with pytest.raises(ValueError, match="N_clips"):
        most_emotional_clip(np.zeros(3))


# ----------------------------------------------------------------------------- every registry model


@pytest.mark.parametrize("name", sorted(SPECS))
def test_registry_model_trains_one_step_and_round_trips(name, tmp_path):
    spec = SPECS[name]
    assert spec.paper == "ceflnet" and spec.reproduces.startswith("CEFLNet table 6")
    head = spec.build(4, input="features", head=None, feature_shape=(N_CLIPS, N_FRAMES, D))
    assert head.name.startswith("ceflnet") and tuple(head.output.shape) == (None, 4)
    assert set(attention_model(head).output) == {"logits"} | SCORE_NAMES[VARIANT_OF[name]]
    x, y = _features(8), np.array([0, 3])
    # One step: eager is much faster than tracing a graph.
    head.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                 run_eagerly=True)
    before = [w.numpy().copy() for w in head.trainable_weights]
    loss = head.train_on_batch(x, y)
    assert np.isfinite(loss)
    assert all(not np.array_equal(a, w.numpy()) for a, w in zip(before, head.trainable_weights))
    head.save(tmp_path / f"{name}.keras")
    loaded = keras.saving.load_model(tmp_path / f"{name}.keras")
    np.testing.assert_allclose(loaded(x), head(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_registry_end_to_end_shares_the_head(name):
    spec = SPECS[name]
    head = spec.build(3, input="features", head=None, feature_shape=(2, 2, 512))
    model = spec.build(3, input="frames", head=head, frame_size=32)
    assert model.layers[-1] is head
    assert tuple(model.input.shape) == (None, 2, 2, 32, 32, 3)
    frames = np.random.default_rng(9).integers(0, 256, size=(1, 2, 2, 32, 32, 3)).astype("uint8")
    stem = model.get_layer("resnet18")
    features = stem(model.get_layer("preprocessing")(frames.reshape(4, 32, 32, 3)))
    expected = head(keras.ops.reshape(features, (1, 2, 2, 512)))
    np.testing.assert_allclose(model(frames), expected, rtol=1e-4, atol=1e-5)


def test_end_to_end_full_model_trains_stem_and_head_and_round_trips(tmp_path):
    model = build_ceflnet(3, input="frames", feature_shape=(2, 2, 512), frame_size=32)
    frames = np.random.default_rng(10).integers(0, 256, size=(2, 2, 2, 32, 32, 3)).astype("uint8")
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  run_eagerly=True)
    stem_kernel = model.get_layer("resnet18").get_layer("conv1").kernel
    head_kernel = model.layers[-1].get_layer("classifier").kernel
    before = stem_kernel.numpy().copy(), head_kernel.numpy().copy()
    loss = model.train_on_batch(frames, np.array([0, 2]))
    assert np.isfinite(loss)
    assert not np.array_equal(before[0], stem_kernel.numpy()) and not np.array_equal(before[1], head_kernel.numpy())
    outputs = attention_model(model)(frames)
    assert tuple(outputs["emotional_intensity_activation"].shape) == (2, 2)
    assert_finite(*outputs.values())
    model.save(tmp_path / "ceflnet.keras")
    loaded = keras.saving.load_model(tmp_path / "ceflnet.keras")
    np.testing.assert_allclose(loaded(frames), model(frames), rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- size and cost (table 8, 9)


def test_parameters_and_macs_match_the_paper_at_224():
    """Table 8: 12.83 M parameters and 63.8 GMACs for 7 x 5 frames at 224x224, each within 3 %.

    Parameters: trainable ones (ptflops, which the paper cites, counts
    ``requires_grad`` parameters, not the batch-norm statistics). MACs: the
    per-frame stem times 35 plus the head, each from ``count_macs`` on the
    symbolic model (nothing runs at 224). ``count_macs`` of the end-to-end
    model would count the folded per-frame stem once, so it is not used. The
    attention products QK^T and AV, the LRL FCs and the EIAN scores are not
    counted by ``count_macs``; computed here, they are under 0.01 % of the total.
    """
    model = build_ceflnet(6, input="frames")
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert abs(trainable / 12.83e6 - 1) < 0.03, trainable
    assert trainable == 11_176_512 + 1_318_919  # ResNet-18 without its FC + the head
    num_clips, frames_per_clip, dim = 7, 5, 512
    stem, head = model.get_layer("resnet18"), model.layers[-1]
    macs = num_clips * frames_per_clip * count_macs(stem) + count_macs(head)
    assert abs(macs / 63.8e9 - 1) < 0.03, macs
    uncounted = (2 * num_clips * frames_per_clip**2 * dim  # QK^T and AV inside each clip
                 + num_clips * frames_per_clip * 2 * dim + num_clips * dim * dim  # LRL q0 and q1
                 + num_clips * dim)  # EIAN 1-D convolution
    assert uncounted / macs < 1e-4
    # Table 9: the cost grows by one ResNet-18 per frame (1.82 G in ptflops; 1.81 G conv + FC here).
    assert abs(count_macs(stem) / 1.8229e9 - 1) < 0.01


# ----------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: ceflnet_head(1), "num_classes"),
        (lambda: ceflnet_head(3, variant="transformer"), "variant"),
        (lambda: ceflnet_head(3, feature_shape=(7, 512)), "feature_shape"),
        (lambda: ceflnet_head(3, feature_shape=(7, 0, 512)), "feature_shape"),
        (lambda: ceflnet_head(3, variant="full", lstm_units=64), "lstm_units"),
        (lambda: ceflnet_head(3, variant="sal", eian_pooling="sum"), "eian_pooling"),
        (lambda: ceflnet_head(3, variant="baseline", sal_use_bias=False), "sal_use_bias"),
        (lambda: ceflnet_head(3, variant="lstm", lstm_units=0), "lstm_units"),
        (lambda: ceflnet_head(3, lrl_summary_pooling="min"), "summary_pooling"),
        (lambda: build_ceflnet(3, input="clips"), "input"),
        (lambda: build_ceflnet(3, input="features", frame_size=64), "frame_size"),
        (lambda: build_ceflnet(3, input="frames", feature_shape=(1, 1, 512), frame_size=16), "frame_size"),
        (lambda: build_ceflnet(3, input="frames", head=ceflnet_head(3, (1, 1, 512)), eian_pooling="sum"), "head"),
        (lambda: build_ceflnet(3, input="frames", head=ceflnet_head(3, (1, 1, 512)), feature_shape=(1, 2, 512)),
         "feature_shape"),
        (lambda: build_ceflnet(3, input="frames", feature_shape=(1, 1, 16), frame_size=32), "expects"),
    ],
)
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_variants_and_registry_rows():
    assert set(VARIANT_OF.values()) == set(VARIANTS)
    assert set(SPECS) == set(VARIANT_OF)
    for name, spec in SPECS.items():
        head = spec.build(3, input="features", head=None, feature_shape=(2, 2, 8))
        assert head.name == ("ceflnet_head" if name == "ceflnet" else f"{name}_head")
        with pytest.raises(TypeError, match="variant"):
            spec.build(3, input="features", head=None, variant="full")
    assert ceflnet.FEATURE_SHAPE == (7, 5, 512)


def test_create_model_knows_the_ceflnet_names():
    """Passes once all five paper modules exist (the registry imports them all)."""
    from keras_fer.models import create_model, list_models

    assert set(list_models("ceflnet")) == set(SPECS)
    head = create_model("ceflnet", 6, input="features", feature_shape=(2, 2, 16))
    assert tuple(head.output.shape) == (None, 6)


# ----------------------------------------------------------------------------- learning check


@pytest.mark.slow
def test_full_model_learns_the_synthetic_macro_benchmark(tmp_path):
    """The full CEFLNet head learns synthetic macro expressions of unseen subjects (6 classes, chance 1/6).

    Data: the synthetic benchmark, mode "macro", 6 subjects x 6 classes x 3 videos of 32 frames at 64x64;
    subject-independent split, 4 subjects train (72 videos) and 2 test (36 videos).

    Frame encoder: the shipped FER2013 mini-Xception (:func:`keras_fer.stems.fer2013_mini_xception`,
    128-d features), frozen; features of every frame are extracted once, then the head trains on them
    with feature_shape (7, 5, 128). The paper uses "a DCNN like a pre-trained ResNet-18" (section 3.2)
    and no pre-trained ResNet-18 ships with the package; a frozen randomly initialised ResNet-18 does
    not work here (its features at 48-64 px are dominated by identity and background: test accuracy
    stayed at chance, 0.17, for Glorot and He initialisations) and training ResNet-18 end to end is far
    beyond a few CPU minutes (about 7 training frames per second at 32x32 on 2 cores).

    Sampling: CEFLNet's sampler (``data_prep.sampling.sample("ceflnet", ...)``, paper defaults): a new
    training draw per video and epoch, the deterministic test draw for evaluation; the 32-frame videos
    are stretched to the paper's 105 frames, and the features are linearly interpolated at the sampled
    positions (``interpolate_frames``, as the feature cache does). Training: Adam, learning rate 1e-3
    (the paper's 1e-4 needs its 120 epochs), batch 8 (the paper's), 30 epochs, cross-entropy on logits.

    Threshold: accuracy on the test subjects >= 2 x chance (1/3); measured 0.861 in two runs (about 2 minutes on
    2 shared CPU cores, rendering included).
    """
    from data_prep.sampling import interpolate_frames, sample
    from keras_fer.stems import fer2013
    from tests.models.synthetic_clips import synthetic_clips

    data = synthetic_clips(tmp_path / "synthetic", mode="macro", n_subjects=6, videos_per_class=3, size=64,
                           n_frames=32, seed=0)
    stem = fer2013.fer2013_mini_xception()
    num_videos, num_frames = data.frames.shape[:2]
    frames = fer2013.preprocess_input(data.frames.reshape(-1, 64, 64, 3))
    features = stem.predict(frames, batch_size=256, verbose=0)[0].reshape(num_videos, num_frames, -1)
    test_subjects = sorted(set(data.subjects))[-2:]
    is_test = np.isin(data.subjects, test_subjects)

    def draw(videos, training, seed):
        positions = [sample("ceflnet", num_frames, training=training, seed=seed + i) for i in range(len(videos))]
        return np.stack([interpolate_frames(v, p) for v, p in zip(videos, positions)]).astype("float32")

    head = build_ceflnet(len(data.class_names), input="features", feature_shape=(7, 5, features.shape[-1]))
    head.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                 metrics=["accuracy"], jit_compile=False)
    train_x, train_y = features[~is_test], data.labels[~is_test]
    for epoch in range(30):
        head.fit(draw(train_x, True, 1000 * epoch), train_y, batch_size=8, epochs=1, shuffle=True, verbose=0)
    test_x = draw(features[is_test], False, 0)
    _, accuracy = head.evaluate(test_x, data.labels[is_test], verbose=0)
    print(f"CEFLNet synthetic macro test accuracy: {accuracy:.3f} (chance {1 / len(data.class_names):.3f})")
    assert accuracy >= 2.0 / len(data.class_names)
    clips = most_emotional_clip(attention_model(head)(test_x))
    assert clips.shape == (len(test_x),) and np.all((clips >= 0) & (clips < 7))
