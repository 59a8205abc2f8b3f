"""The shared model pieces: folding, padding masks, preprocessing layer, end_to_end, attention_model."""

import keras
import numpy as np
import pytest

from keras_fer.layers import ContextAttention
from keras_fer.models.common import (
    FoldFrames,
    FrameMask,
    MaskedMean,
    StemPreprocessing,
    TemporalWeights,
    UnfoldFrames,
    attention_model,
    end_to_end,
    temporal_attention_model,
)
from keras_fer.stems import vggface
from tests.layer_checks import assert_config_roundtrip


def _tiny_head(num_frames=4, dim=6, num_classes=3):
    features = keras.Input((num_frames, dim))
    mask = FrameMask(1)(features)
    context, _ = ContextAttention(5, name="context_attention")(features, mask=mask, return_attention_scores=True)
    video = MaskedMean()(context, mask=mask)
    return keras.Model(features, keras.layers.Dense(num_classes)(video), name="tiny_head")


def _tiny_stem(size=8, dim=6):
    frames = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(dim, 3, strides=2, name="conv")(frames)
    return keras.Model(frames, keras.layers.GlobalAveragePooling2D()(x), name="tiny_stem")


def test_fold_unfold_round_trip_and_order():
    x = np.arange(2 * 3 * 4 * 5 * 1 * 2, dtype="float32").reshape(2, 3, 4, 5, 1, 2)
    folded = FoldFrames(sample_rank=4)(x)
    np.testing.assert_array_equal(folded, x.reshape(6, 4, 5, 1, 2))
    np.testing.assert_array_equal(UnfoldFrames((3,))(folded), x)
    np.testing.assert_array_equal(UnfoldFrames((1, 3))(folded), x.reshape(2, 1, 3, 4, 5, 1, 2))
    assert FoldFrames(3).compute_output_shape((None, 3, 4, 5, 2)) == (None, 4, 5, 2)
    assert UnfoldFrames((3, 2)).compute_output_shape((12, 7)) == (2, 3, 2, 7)


def test_frame_mask_and_masked_mean_match_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 3, 3, 4)).astype("float32")
    x[0, 3:] = 0.0  # two padded frames
    x[1, 1, 0, 0, 0] = 0.0  # a single zero value does not make a padded frame
    mask = keras.ops.convert_to_numpy(FrameMask(feature_rank=3)(x))
    np.testing.assert_array_equal(mask, [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    mean = keras.ops.convert_to_numpy(MaskedMean()(x, mask=mask))
    np.testing.assert_allclose(mean[0], x[0, :3].mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mean[1], x[1].mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(MaskedMean()(np.zeros((1, 3, 2)), mask=np.zeros((1, 3), bool)), np.zeros((1, 2)))


def test_stem_preprocessing_is_the_stem_function():
    frames = np.random.default_rng(1).integers(0, 256, size=(2, 4, 4, 3)).astype("uint8")
    np.testing.assert_allclose(StemPreprocessing("vggface")(frames), vggface.preprocess_input(frames.astype("float32")),
                               rtol=1e-6)
    np.testing.assert_allclose(StemPreprocessing("unit")(frames), frames / 255.0, rtol=1e-6)
    assert StemPreprocessing("fer2013").compute_output_shape((None, 5, 48, 48, 3)) == (None, 5, 64, 64, 1)


@pytest.mark.parametrize(
    "layer",
    [FoldFrames(sample_rank=4), UnfoldFrames((7, 5)), FrameMask(feature_rank=2), StemPreprocessing("resnet18"),
     TemporalWeights("equal")],
)
def test_config_round_trip(layer):
    assert_config_roundtrip(layer)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: StemPreprocessing("caffe"), "preprocessing"),
        (lambda: FoldFrames(sample_rank=0), "sample_rank"),
        (lambda: UnfoldFrames(()), "lead_shape"),
        (lambda: UnfoldFrames((7, -1)), "lead_shape"),
        (lambda: FrameMask(feature_rank="3"), "feature_rank"),
        (lambda: TemporalWeights("rows"), "kind"),
    ],
)
def test_bad_arguments_name_the_argument(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_end_to_end_shares_the_head_and_matches_stem_then_head():
    head, stem = _tiny_head(), _tiny_stem()
    model = end_to_end(stem, head, (4, 8, 8, 3), preprocessing="unit")
    assert model.layers[-1] is head
    frames = np.random.default_rng(2).integers(0, 256, size=(2, 4, 8, 8, 3)).astype("uint8")
    features = stem(frames.reshape(8, 8, 8, 3) / 255.0)
    expected = head(keras.ops.reshape(features, (2, 4, 6)))
    np.testing.assert_allclose(model(frames), expected, rtol=1e-5, atol=1e-6)


def test_end_to_end_rejects_shapes_that_do_not_chain():
    with pytest.raises(ValueError, match="does not end with the stem's input"):
        end_to_end(_tiny_stem(), _tiny_head(), (4, 16, 16, 3))
    with pytest.raises(ValueError, match="expects"):
        end_to_end(_tiny_stem(dim=7), _tiny_head(), (4, 8, 8, 3))


def test_attention_model_of_head_and_end_to_end_after_reload(tmp_path):
    head = _tiny_head()
    model = end_to_end(_tiny_stem(), head, (4, 8, 8, 3), preprocessing="unit")
    frames = np.random.default_rng(3).integers(0, 256, size=(2, 4, 8, 8, 3)).astype("uint8")
    frames[1, 2:] = 0  # padding
    outputs = attention_model(model)(frames)
    assert sorted(outputs) == ["context_attention", "logits"]
    np.testing.assert_allclose(outputs["logits"], model(frames), rtol=1e-5, atol=1e-6)
    scores = keras.ops.convert_to_numpy(outputs["context_attention"])
    assert scores.shape == (2, 4, 4)
    np.testing.assert_allclose(scores.sum(axis=-1), [[1, 1, 1, 1], [1, 1, 0, 0]], rtol=1e-5)
    assert np.all(np.triu(scores, k=1) == 0)  # causal
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    reloaded = attention_model(loaded)(frames)
    for key in outputs:
        np.testing.assert_allclose(reloaded[key], outputs[key], rtol=1e-5, atol=1e-6)
    head_scores = attention_model(head)(np.ones((1, 4, 6), "float32"))
    assert sorted(head_scores) == ["context_attention", "logits"]


def test_count_macs_counts_a_per_frame_stem_once_per_frame():
    from keras_fer.stems import count_macs

    stem, head = _tiny_stem(), _tiny_head()
    model = end_to_end(stem, head, (4, 8, 8, 3))
    assert count_macs(model) == 4 * count_macs(stem) + count_macs(head)
    assert count_macs(stem) == 3 * 3 * 3 * 6 * 3 * 3  # 3x3 output positions of a 3x3x3 -> 6 conv


def test_end_to_end_padding_changes_nothing_at_valid_frames():
    head = _tiny_head()
    stem_inputs = keras.Input((8, 8, 3))
    stem = keras.Model(stem_inputs, keras.layers.Dense(6, bias_initializer="ones")(
        keras.layers.GlobalAveragePooling2D()(stem_inputs)))  # zero frames give non-zero features
    model = end_to_end(stem, head, (4, 8, 8, 3), preprocessing="vggface")
    frames = np.random.default_rng(4).integers(1, 256, size=(1, 4, 8, 8, 3)).astype("uint8")
    padded = frames.copy()
    padded[0, 3] = 0
    short_head = keras.Model(head.inputs, head.outputs)  # same weights, 3 valid frames
    features = stem(vggface.preprocess_input(frames[0, :3].astype("float32")))
    expected = short_head(np.concatenate([features, np.zeros((1, 6), "float32")])[None])
    np.testing.assert_allclose(model(padded), expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(model(padded), model(frames))


def test_end_to_end_checks_the_shape_after_preprocessing():
    frames = keras.Input((64, 64, 1))
    stem = keras.Model(frames, keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(6, 3)(frames)))
    model = end_to_end(stem, _tiny_head(), (4, 48, 48, 3), preprocessing="fer2013")
    assert model.output_shape == (None, 3)


def test_temporal_weights_are_each_frames_share_of_the_averaged_context():
    # AST: video = mean_t sum_i a_ti f_i, so frame i's weight is the mean over real rows t of a_ti.
    head = _tiny_head()
    features = np.random.default_rng(3).normal(size=(2, 4, 6)).astype("float32")
    features[1, 3] = 0.0  # the second clip has 3 real frames
    attention, source = temporal_attention_model(head)
    assert source == "context_attention"
    out = attention(features)
    scores = np.asarray(attention_model(head)(features)["context_attention"])
    expected = [scores[0].mean(axis=0), np.append(scores[1, :3].mean(axis=0)[:3], 0.0)]
    np.testing.assert_allclose(out["temporal_attention"], expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(out["logits"], head(features), rtol=1e-5, atol=1e-6)
    # The video vector really is the weighted sum of the frames' features (a linear map before the Dense).
    model_end = end_to_end(_tiny_stem(), head, (4, 8, 8, 3), preprocessing="unit")
    attention_end, source_end = temporal_attention_model(model_end)
    assert source_end == "context_attention"
    assert attention_end(np.zeros((1, 4, 8, 8, 3), "uint8"))["temporal_attention"].shape == (1, 4)


def test_temporal_weights_equal_over_real_frames_without_attention():
    features = keras.Input((5, 6))
    head = keras.Model(features, keras.layers.Dense(3)(MaskedMean()(features, mask=FrameMask(1)(features))))
    attention, source = temporal_attention_model(head)
    assert source == "none: equal weights"
    clips = np.ones((2, 5, 6), "float32")
    clips[1, 2:] = 0.0
    np.testing.assert_allclose(attention(clips)["temporal_attention"], [[0.2] * 5, [0.5, 0.5, 0, 0, 0]], atol=1e-7)
    with pytest.raises(ValueError, match="no time axis"):
        vectors = keras.Input((6,))
        temporal_attention_model(keras.Model(vectors, keras.layers.Dense(3)(vectors)))


def test_end_to_end_preprocesses_each_frame_even_when_it_changes_the_frame_shape():
    # FER2013's preprocessing turns (H, W, 3) RGB into (64, 64, 1) gray: it runs on the folded frames.
    from keras_fer.stems import fer2013

    base = fer2013.fer2013_mini_xception()
    stem = keras.Model(base.inputs[0], base.outputs[0])
    features = keras.Input((3, 128))
    head = keras.Model(features, keras.layers.Dense(2)(MaskedMean()(features)))
    model = end_to_end(stem, head, (3, 48, 48, 3), preprocessing="fer2013")
    frames = np.random.default_rng(4).integers(1, 256, size=(2, 3, 48, 48, 3)).astype("uint8")
    per_frame = stem(fer2013.preprocess_input(frames.reshape(6, 48, 48, 3)))
    expected = head(keras.ops.reshape(per_frame, (2, 3, 128)))
    np.testing.assert_allclose(model(frames), expected, rtol=1e-4, atol=1e-5)
    assert sorted(attention_model(model)(frames)) == ["logits"]
