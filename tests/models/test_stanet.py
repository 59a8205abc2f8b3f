"""STANet models (keras_fer.models.stanet): registry rows, heads, end-to-end flow models, L1 mask penalty."""

import os
import time

import cv2
import keras
import numpy as np
import pytest

from data_prep.flow import flow_sequence, normalize_flow
from data_prep.manifest import read_csv
from data_prep.sampling import interpolate_frames, sample
from keras_fer.layers import TemporalAffinityAttention
from keras_fer.models import stanet
from keras_fer.models.common import MaskedMax, attention_model
from keras_fer.stems import flow_cnn
from tests.layer_checks import assert_config_roundtrip
from tests.models.synthetic_clips import synthetic_clips

SPECS = {spec.name: spec for spec in stanet.MODELS}
T, D, SIZE, FILTERS = 3, 8, 32, (4, 4, 8)  # tiny shapes: L3 is 4x4x8, the depth-2 mask branch works at 4, 2, 1
SAB_NAMES = ("stanet", "stanet_sab", "stanet_sab_l1")
L1_NAMES = ("stanet", "stanet_sab_l1")
TAB_NAMES = ("stanet",)
# The learning check (see its docstring for the choices).
LEARN_MODE, LEARN_SUBJECTS, LEARN_VIDEOS_PER_CLASS, LEARN_TEST_SUBJECTS, LEARN_THRESHOLD = "micro", 24, 2, 6, 2.0
LEARN_RENDER_SIZE = 96


def _flow(batch=2, frames=T, size=SIZE, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, size=(batch, frames, size, size, 2)).astype("float32")


def _features(batch=2, frames=T, dim=D, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, frames, dim)).astype("float32")


def _build(name, input="frames", head=None, **kwargs):
    if input == "features":
        return SPECS[name].build(3, input="features", feature_shape=(T, D), **kwargs)
    if head is None:
        kwargs["feature_shape"] = (T, FILTERS[-1])
    return SPECS[name].build(3, input="frames", head=head, frame_size=(SIZE, SIZE), filters=FILTERS, **kwargs)


def _compile(model, learning_rate=1e-2):
    """Eager steps: at these tiny shapes tracing a tf.function costs more than the step."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), run_eagerly=True)
    return model


def _changed(before, model):
    return [not np.array_equal(old, new.numpy()) for old, new in zip(before, model.trainable_weights)]


# ---------------------------------------------------------------- registry rows


def test_models_are_the_rows_of_table_2():
    assert list(SPECS) == ["stanet", "stanet_sab_l1", "stanet_sab", "stanet_baseline"]
    for spec in stanet.MODELS:
        assert spec.paper == "stanet"
        assert "table 2" in spec.reproduces and spec.description
    assert "baseline+SAB+TAB+l1" in SPECS["stanet"].reproduces
    assert "baseline+SAB+l1" in SPECS["stanet_sab_l1"].reproduces
    assert "baseline+SAB (" in SPECS["stanet_sab"].reproduces
    assert "baseline (" in SPECS["stanet_baseline"].reproduces


def test_paper_defaults():
    head = SPECS["stanet"].build(5, input="features")
    assert tuple(head.inputs[0].shape) == (None, 20, 128)
    assert head.name == "stanet_head" and head.outputs[0].shape[-1] == 5
    assert isinstance(head.get_layer("temporal_attention"), TemporalAffinityAttention)
    assert head.get_layer("temporal_attention").hidden == "lstm"
    stem = stanet.stanet_stem(frames_per_sample=20)  # 192x192 flow, l1 = 1e-8
    assert tuple(stem.inputs[0].shape) == (None, 192, 192, 2) and tuple(stem.outputs[0].shape) == (None, 128)
    penalty = stem.get_layer("soft_mask_l1")
    assert (penalty.l1_penalty, penalty.frames_per_sample) == (1e-8, 20)
    with pytest.raises(ValueError):
        SPECS["stanet_baseline"].build(3, input="features").get_layer("temporal_attention")


# ---------------------------------------------------------------- every registry model


@pytest.mark.parametrize("name", list(SPECS))
def test_head_and_end_to_end_build_train_and_share_the_head(name):
    head = _build(name, "features")
    model = _build(name, head=head)
    assert model.layers[-1] is head
    assert tuple(model.inputs[0].shape) == (None, T, SIZE, SIZE, 2)
    stem = model.get_layer("stanet_stem")
    assert ("soft_mask_branch" in [layer.name for layer in stem.layers]) == (name in SAB_NAMES)
    assert ("soft_mask_l1" in [layer.name for layer in stem.layers]) == (name in L1_NAMES)
    assert ("temporal_attention" in [layer.name for layer in head.layers]) == (name in TAB_NAMES)

    flow, labels = _flow(), np.array([0, 2])
    before = [w.numpy() for w in model.trainable_weights]
    loss = _compile(model).train_on_batch(flow, labels)
    assert np.isfinite(loss)
    changed = _changed(before, model)
    assert all(changed), [w.path for w, c in zip(model.trainable_weights, changed) if not c]

    features = _features()
    before = [w.numpy() for w in head.trainable_weights]
    loss = _compile(head).train_on_batch(features, labels)
    assert np.isfinite(loss)
    assert all(_changed(before, head))
    np.testing.assert_allclose(model(flow), head(model.get_layer("unfold")(stem(flow.reshape(-1, SIZE, SIZE, 2)))),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", list(SPECS))
def test_keras_file_round_trip(name, tmp_path):
    model = _build(name, l1_penalty=0.25) if name in L1_NAMES else _build(name)
    flow = _flow(seed=1)
    rng = np.random.default_rng(12)
    for weight in model.non_trainable_weights:  # BN statistics away from their initial values
        weight.assign(rng.uniform(0.5, 1.5, size=weight.shape).astype("float32"))
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded(flow), model(flow), rtol=1e-5, atol=1e-6)
    if name in L1_NAMES:
        assert loaded.get_layer("stanet_stem").get_layer("soft_mask_l1").l1_penalty == 0.25
        np.testing.assert_allclose(float(loaded.losses[0]), float(model.losses[0]), rtol=1e-5)
    head = loaded.layers[-1]  # the head inside the loaded model is the same head, on features
    np.testing.assert_allclose(head(_features()), model.layers[-1](_features()), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- attention scores


def test_attention_scores_of_the_full_model():
    model = _build("stanet")
    flow = _flow(seed=2)
    outputs = attention_model(model)(flow)
    assert sorted(outputs) == ["logits", "soft_mask_branch", "temporal_attention"]
    np.testing.assert_allclose(outputs["logits"], model(flow), rtol=1e-5, atol=1e-6)
    mask = keras.ops.convert_to_numpy(outputs["soft_mask_branch"])
    assert mask.shape == (2, T, SIZE // 8, SIZE // 8, FILTERS[-1])
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    weights = keras.ops.convert_to_numpy(outputs["temporal_attention"])
    assert weights.shape == (2, T) and np.all(weights > 0)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)
    head_scores = attention_model(model.layers[-1])(_features())
    assert sorted(head_scores) == ["logits", "temporal_attention"]


def test_attention_scores_of_the_ablations():
    flow = _flow(seed=3)
    assert sorted(attention_model(_build("stanet_sab"))(flow)) == ["logits", "soft_mask_branch"]
    assert sorted(attention_model(_build("stanet_baseline"))(flow)) == ["logits"]


# ---------------------------------------------------------------- the L1 mask penalty (eq. 7)


def test_l1_penalty_is_a_model_loss_matching_numpy():
    model = _build("stanet", l1_penalty=0.5)
    flow = _flow(seed=4)
    mask = keras.ops.convert_to_numpy(attention_model(model)(flow)["soft_mask_branch"])  # (B, T, h, w, C)
    model(flow)
    assert len(model.losses) == 1
    # ||M(X)||_1 summed over frames, pixels and channels per sample, averaged over the samples.
    expected = 0.5 * np.abs(mask).reshape(2, -1).sum(axis=1).mean()
    np.testing.assert_allclose(float(model.losses[0]), expected, rtol=1e-5)
    assert _build("stanet_sab").losses == [] and _build("stanet_baseline").losses == []
    model(flow)
    assert len(model.losses) == 1  # a new call replaces the loss, it does not pile up


@pytest.mark.parametrize("name", L1_NAMES)
def test_train_on_batch_adds_the_l1_penalty(name):
    model = _build(name, l1_penalty=1.0)
    flow, labels = _flow(seed=5), np.array([2, 1])
    logits = model(flow, training=True)  # BN uses batch statistics, as in train_on_batch
    penalty = float(model.losses[0])
    cross_entropy = float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits))
    assert penalty > 10 * cross_entropy  # lambda = 1 makes the penalty dominate, so leaving it out fails
    model.compile(optimizer=keras.optimizers.SGD(0.0),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), run_eagerly=True)
    np.testing.assert_allclose(model.train_on_batch(flow, labels), cross_entropy + penalty, rtol=1e-4)


def test_soft_mask_l1_penalty_layer_matches_numpy_and_round_trips():
    rng = np.random.default_rng(6)
    features = rng.normal(size=(6, 5)).astype("float32")
    soft_mask = rng.uniform(0, 1, size=(6, 2, 2, 3)).astype("float32")  # B = 2 samples of T = 3 frames, folded
    layer = stanet.SoftMaskL1Penalty(0.3, frames_per_sample=3)
    np.testing.assert_array_equal(layer([features, soft_mask]), features)
    np.testing.assert_allclose(float(layer.losses[0]), 0.3 * soft_mask.sum() / 2, rtol=1e-6)
    clone = assert_config_roundtrip(layer)
    assert (clone.l1_penalty, clone.frames_per_sample) == (0.3, 3)
    for bad in ({"l1_penalty": -1.0}, {"l1_penalty": "big"}, {"l1_penalty": True}, {"frames_per_sample": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            stanet.SoftMaskL1Penalty(**bad)


# ---------------------------------------------------------------- head computation and masking


def test_head_matches_numpy_eq_3_to_5_with_mean_pooling():
    head = stanet.stanet_head(4, feature_shape=(T, D), hidden="identity")  # H = the features themselves
    x = _features(seed=7) * 0.3
    kernel, bias = (w.numpy() for w in head.get_layer("logits").weights)
    affinity = np.tanh(np.einsum("btd,bsd->bts", x, x))  # eq. 3
    p = affinity.sum(axis=-1)  # eq. 4
    w = np.exp(p - p.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    y = ((1 + w[:, :, None]) * x).mean(axis=1)  # eq. 5, then the average over frames
    np.testing.assert_allclose(head(x), y @ kernel + bias, rtol=1e-5, atol=1e-5)


def test_masked_max_matches_numpy():
    x = _features(batch=3, frames=4, seed=8)
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]], bool)
    out = keras.ops.convert_to_numpy(MaskedMax()(x, mask=mask))
    np.testing.assert_allclose(out[0], x[0, :2].max(axis=0))
    np.testing.assert_allclose(out[1], x[1].max(axis=0))
    np.testing.assert_array_equal(out[2], np.zeros(D))
    np.testing.assert_allclose(MaskedMax()(x), x.max(axis=1))


@pytest.mark.parametrize("pooling", stanet.POOLINGS)
@pytest.mark.parametrize("temporal_attention", stanet.TEMPORAL_ATTENTIONS)
def test_padded_frames_change_nothing(pooling, temporal_attention):
    head = stanet.stanet_head(3, feature_shape=(None, D), temporal_attention=temporal_attention, pooling=pooling)
    x = _features(batch=1, frames=3, seed=9)
    padded = np.concatenate([x, np.zeros((1, 2, D), "float32")], axis=1)
    np.testing.assert_allclose(head(padded), head(x), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- stem weights and argument checks


def test_stem_loads_flow_cnn_weights(tmp_path):
    cnn = flow_cnn(input_shape=(SIZE, SIZE, 2), filters=FILTERS)
    for weight in cnn.weights:
        weight.assign(np.random.default_rng(10).normal(size=weight.shape).astype("float32") * 0.1
                      + (1.0 if "variance" in weight.path else 0.0))
    path = tmp_path / "flow.weights.h5"
    cnn.save_weights(path)
    stem = stanet.stanet_stem((SIZE, SIZE), filters=FILTERS, weights=str(path))
    frames = _flow(batch=2, frames=1, seed=11)[:, 0]
    np.testing.assert_allclose(stem(frames), cnn(frames)[0], rtol=1e-5, atol=1e-6)


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="spatial_attention"):
        stanet.build_stanet(3, spatial_attention="cbam")
    with pytest.raises(ValueError, match="temporal_attention"):
        stanet.build_stanet(3, temporal_attention="lstm")
    with pytest.raises(ValueError, match="input"):
        stanet.build_stanet(3, input="flow")
    with pytest.raises(ValueError, match="l1_penalty"):
        _build("stanet_baseline", l1_penalty=1e-8)
    with pytest.raises(ValueError, match="l1_penalty"):
        _build("stanet", l1_penalty=-1.0)
    with pytest.raises(ValueError, match="weights"):
        stanet.build_stanet(3, weights="flow.weights.h5")
    with pytest.raises(ValueError, match="num_classes=4"):
        SPECS["stanet"].build(4, input="frames", head=_build("stanet", "features"))
    with pytest.raises(ValueError, match="fixed number of frames"):
        stanet.build_stanet(3, input="frames", head=stanet.stanet_head(3, (None, 128)))
    with pytest.raises(ValueError, match="feature_shape"):
        stanet.stanet_head(3, feature_shape=(20, 7, 7, 128))
    with pytest.raises(ValueError, match="dropout"):
        stanet.stanet_head(3, dropout=1.0)
    with pytest.raises(ValueError, match="pooling"):
        stanet.stanet_head(3, pooling="attention")
    with pytest.raises(ValueError, match="hidden"):
        stanet.stanet_head(3, temporal_attention="none", hidden="dense")
    with pytest.raises(ValueError, match="frame_size"):
        stanet.stanet_stem(frame_size=192)
    with pytest.raises(TypeError, match="fixed by the model name"):
        SPECS["stanet_sab"].build(3, temporal_attention="affinity")
    with pytest.raises(TypeError):
        SPECS["stanet"].build(3, l1_penality=1e-8)


# ---------------------------------------------------------------- learning check


def _expression_windows(out_dir):
    """``(onset, offset)`` frame indices per video of a synthetic benchmark, in ``synthetic_clips`` order."""
    rows = read_csv(os.path.join(out_dir, "manifest.csv"))  # written by generate_dataset, same row order
    return np.array([(int(row["onset"]), int(row["offset"])) for row in rows])


def _flow_clip(video, window, num_flows, size, bound):
    """STANet's input for one video: the onset..offset frames interpolated to ``num_flows + 1``, their flow, scaled.

    As on the paper's micro-expression datasets (CASME I/II, SMIC give onset and offset frames), the
    expression sequence onset..offset is interpolated (``sample("stanet", ...)`` on the window), flow is
    computed between adjacent interpolated frames at the video's resolution, area-resized to ``size`` (with
    the displacements scaled to match) and clipped at ``bound`` pixels (``normalize_flow``).
    """
    onset, offset = window
    positions = onset + sample("stanet", offset - onset + 1, num_frames=num_flows + 1)
    frames = interpolate_frames(video, positions)  # (num_flows + 1, H, W, 3)
    flows = np.stack(list(flow_sequence(frames, method="farneback")))  # (num_flows, H, W, 2) in pixels
    scale = size / video.shape[1]
    flows = np.stack([cv2.resize(flow, (size, size), interpolation=cv2.INTER_AREA) for flow in flows]) * scale
    return normalize_flow(flows, bound=bound)  # (num_flows, size, size, 2) in [-1, 1]


@pytest.mark.slow
def test_stanet_learns_the_synthetic_micro_benchmark(tmp_path):
    """The full STANet (SAB + TAB + L1, lambda = 1e-8) trained end to end from scratch beats chance on new subjects.

    Synthetic benchmark, mode "micro" (3 classes, chance 1/3; weak 15-35 % expressions lasting 12-22 % of
    the frames, with head motion, blinks, flicker and noise at the mode's defaults), 24 subjects x 2 videos
    per class, 96x96 videos of 32 frames, subject-independent split (the last 6 subjects only tested: 36
    test, 108 train videos). As in the paper (sec. 4.1): the expression sequence from the manifest's onset
    to offset frame linearly interpolated (``sample("stanet", ...)``), optical flow between adjacent
    interpolated frames, horizontal-flip augmentation (the paper's for SMIC-HS; the mirrored flow's dx
    changes sign), Adam, cross-entropy + L1 mask penalty. Scaled down to fit a few CPU minutes: 10 flow
    frames (not 20) at 32x32 (not 192x192), flow CNN widths 8-16-32 (not 32-64-128), Farneback flow
    (FlowNet 2.0 is not available) computed at 96 px, where the movements are about a pixel, then
    area-resized to 32 px and clipped at 0.5 pixel, Adam lr 3e-3 (the paper's 1e-5 is for 30-100 epochs on
    full-size data) dropped to 3e-4 for the last 10 of 30 epochs, batch 8, no weight decay.

    What made micro learnable: flow of the onset..offset window instead of the whole video (whole
    video: 0.30-0.53 in every run tried), and flow computed at 96 px rather than 64 px (0.72). Test accuracy
    seen after 30 epochs at a constant 3e-3: 0.86 (weight seed 0) and 0.94 (seed 1); it was 0.33 for the first
    ~12 epochs (the BN moving averages, momentum 0.99, lag) and 0.67-0.92 over epochs 20-30, so the last
    epoch's figure depended on rounding: 0.639 with TensorFlow's oneDNN kernels on (an AVX-512 CPU), 0.889
    with them off, same seeds. With the drop for the last 10 epochs: 0.917 with oneDNN on and off
    (2026-12-07). Threshold 2 x chance (0.67). Deterministic for one CPU's kernels (seeded data and weights).
    """
    start = time.perf_counter()
    out_dir = tmp_path / "clips"
    clips = synthetic_clips(out_dir, mode=LEARN_MODE, n_subjects=LEARN_SUBJECTS,
                            videos_per_class=LEARN_VIDEOS_PER_CLASS, size=LEARN_RENDER_SIZE, n_frames=32, seed=0)
    windows = _expression_windows(out_dir)  # (N, 2)
    num_flows, size, num_classes = 10, 32, len(clips.class_names)
    flows = np.stack([_flow_clip(video, window, num_flows, size, bound=0.5)
                      for video, window in zip(clips.frames, windows)])  # (N, T, H, W, 2)
    train, test = clips.split(LEARN_TEST_SUBJECTS)
    tested = np.isin(clips.subjects, np.unique(test.subjects))
    train_x, test_x = flows[~tested], flows[tested]
    flipped = train_x[:, :, :, ::-1].copy()  # (N, T, H, W, 2) mirrored left-right
    flipped[..., 0] *= -1.0  # dx changes sign in the mirror
    train_x, train_y = np.concatenate([train_x, flipped]), np.concatenate([train.labels, train.labels])

    keras.utils.set_random_seed(0)
    model = SPECS["stanet"].build(num_classes, input="frames", frame_size=(size, size), filters=(8, 16, 32),
                                  feature_shape=(num_flows, 32))
    steps_per_epoch = -(-len(train_y) // 8)
    rate = keras.optimizers.schedules.PiecewiseConstantDecay([20 * steps_per_epoch], [3e-3, 3e-4])
    model.compile(optimizer=keras.optimizers.Adam(rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(train_x, train_y, batch_size=8, epochs=30, verbose=0)
    accuracy = float(np.mean(np.argmax(model.predict(test_x, verbose=0), axis=-1) == test.labels))
    elapsed = time.perf_counter() - start
    print(f"STANet synthetic {LEARN_MODE}: test accuracy {accuracy:.3f} (chance {1 / num_classes:.3f}), "
          f"{len(train.labels)} train / {len(test.labels)} test videos, {elapsed:.0f} s")
    assert accuracy >= LEARN_THRESHOLD * (1 / num_classes), accuracy
