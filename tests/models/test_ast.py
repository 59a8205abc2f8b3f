"""AST models (Deshmukh et al., 2021): registry entries, heads against NumPy versions of the paper's equations,
end-to-end wrappers, serialisation, attention read-out, and a learning check on the synthetic benchmark."""

import time

import keras
import numpy as np
import pytest

from data_prep.landmarks import pairwise_distances
from data_prep.sampling import sample
from keras_fer.models import ast
from keras_fer.models.common import attention_model
from tests.layer_checks import assert_config_roundtrip

SPECS = {spec.name: spec for spec in ast.MODELS}
ATTENTION_MODELS = ("ast", "ast_landmarks", "ast_cnn")
BATCH, FRAMES, CLASSES = 2, 4, 3
# Tiny shapes per model: (features kwargs, end-to-end kwargs).
TINY = {
    "vgg": ({"feature_shape": (FRAMES, 1, 1, 512), "units": 8}, {"num_frames": FRAMES, "frame_size": 32}),
    "cnn": ({"num_frames": FRAMES, "frame_size": 32, "filters": (4, 8), "units": 8},
            {"num_frames": FRAMES, "frame_size": 32, "filters": (4, 8)}),
    "landmarks": ({"num_frames": FRAMES, "num_points": 5, "units": 8}, {"num_frames": FRAMES, "num_points": 5}),
}


def family(name):
    if name.startswith("ast_landmarks"):
        return "landmarks"
    if name.startswith("ast_cnn"):
        return "cnn"
    return "vgg"


def tiny_head(name):
    return SPECS[name].build(CLASSES, input="features", **TINY[family(name)][0])


def tiny_end_to_end(name, head):
    return SPECS[name].build(CLASSES, input="frames", head=head, **TINY[family(name)][1])


def random_inputs(model, rng, pad_last=True):
    """Random inputs of ``model``: frames in [0, 255], landmark points in a 64-pixel frame, features in [0, 2)
    (post-ReLU scale). With ``pad_last`` the last frame of the second clip is padding (all zero): heads and the
    landmark model detect it; frames through a stem's preprocessing and convolutions are not all-zero features."""
    shape = (BATCH, *model.inputs[0].shape[1:])
    high = {"frames": 255.0}.get(model.inputs[0].name, 2.0)
    if model.inputs[0].name == "frames" and shape[-1] == 2:
        high = 64.0
    x = rng.uniform(0.0, high, size=shape).astype("float32")
    if pad_last:
        x[1, -1] = 0.0
    return x


def snapshot(model):
    return [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]


def assert_one_step_learns(model, x):
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = snapshot(model)
    loss = model.train_on_batch(x, np.array([0, CLASSES - 1]))
    loss = float(np.asarray(loss).reshape(-1)[0])
    assert np.isfinite(loss)
    after = snapshot(model)
    unchanged = [w.path for w, a, b in zip(model.trainable_weights, before, after) if np.array_equal(a, b)]
    assert not unchanged, f"weights that did not change: {unchanged}"


def assert_round_trip(model, x, tmp_path):
    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------------------------- registry


def test_models_cover_the_papers_tables():
    assert [spec.name for spec in ast.MODELS] == [
        "ast", "ast_lstm", "ast_gap", "ast_landmarks", "ast_landmarks_lstm", "ast_cnn", "ast_cnn_lstm"]
    for spec in ast.MODELS:
        assert spec.paper == "ast"
        assert spec.reproduces.startswith("AST table ")
        assert spec.description and "\n" not in spec.description


def test_default_shapes_are_the_papers():
    assert SPECS["ast"].build(7, input="features").inputs[0].shape == (None, 20, 7, 7, 512)
    assert SPECS["ast_gap"].build(7, input="features").inputs[0].shape == (None, 20, 7, 7, 512)
    assert SPECS["ast_cnn"].build(7, input="features").inputs[0].shape == (None, 20, 7, 7, 256)
    assert SPECS["ast_landmarks"].build(7, input="features").inputs[0].shape == (None, 20, 68 * 67 // 2)
    model = SPECS["ast"].build(7, input="frames")
    assert model.inputs[0].shape == (None, 20, 224, 224, 3)
    assert model.get_layer("preprocessing").preprocessing == "vggface"
    assert model.layers[-1].inputs[0].shape == (None, 20, 7, 7, 512)
    assert model.output.shape == (None, 7)


def test_benchmark_call_builds_the_head():
    head = SPECS["ast"].build(6, input="features", feature_shape=(20, 7, 7, 512))
    assert head.inputs[0].shape == (None, 20, 7, 7, 512) and head.output.shape == (None, 6)
    assert head.get_layer("context_attention").causal


# --------------------------------------------------------------------------------- every registry model


@pytest.mark.parametrize("name", list(SPECS))
def test_head_trains_and_round_trips(name, tmp_path):
    rng = np.random.default_rng(0)
    head = tiny_head(name)
    x = random_inputs(head, rng)
    assert head.output.shape == (None, CLASSES)
    assert_one_step_learns(head, x)
    assert_round_trip(head, x, tmp_path)


@pytest.mark.parametrize("name", list(SPECS))
def test_end_to_end_shares_the_head(name):
    rng = np.random.default_rng(1)
    head = tiny_head(name)
    model = tiny_end_to_end(name, head)
    assert model.layers[-1] is head
    logits = np.asarray(model(random_inputs(model, rng, pad_last=False)))
    assert logits.shape == (BATCH, CLASSES) and np.all(np.isfinite(logits))


@pytest.mark.parametrize("name", ["ast_cnn", "ast_landmarks"])
def test_end_to_end_trains_and_round_trips(name, tmp_path):
    """One model per small stem (the 14.7 M-parameter VGGFace stem has its own tests in tests/stems)."""
    rng = np.random.default_rng(1)
    model = tiny_end_to_end(name, tiny_head(name))
    x = random_inputs(model, rng, pad_last=False)
    assert_one_step_learns(model, x)
    assert_round_trip(model, x, tmp_path)


def test_end_to_end_builds_its_own_head():
    model = SPECS["ast_cnn_lstm"].build(CLASSES, input="frames", num_frames=3, frame_size=32, filters=(4,))
    head = model.layers[-1]
    assert head.name == "ast_cnn_lstm" and head.inputs[0].shape == (None, 3, 16, 16, 4)
    assert "lstm" in [layer.name for layer in head.layers]


# ---------------------------------------------------------------------------------- attention read-out


def check_scores(scores, valid):
    """AST context attention: causal rows over the valid frames that sum to 1; padded rows and keys are zero."""
    batch, frames = valid.shape
    assert scores.shape == (batch, frames, frames)
    np.testing.assert_array_equal(np.triu(scores, k=1), 0.0)
    pair = valid[:, :, None] & valid[:, None, :]
    np.testing.assert_array_equal(scores[~pair], 0.0)
    np.testing.assert_allclose(scores.sum(-1)[valid], 1.0, atol=1e-5)
    assert np.all(scores >= 0.0)


@pytest.mark.parametrize("name", ATTENTION_MODELS)
def test_attention_scores_of_head_and_end_to_end(name):
    rng = np.random.default_rng(2)
    head = tiny_head(name)
    valid = np.ones((BATCH, FRAMES), bool)
    valid[1, -1] = False
    x = random_inputs(head, rng)
    outputs = attention_model(head)(x)
    assert sorted(outputs) == ["context_attention", "logits"]
    np.testing.assert_allclose(np.asarray(outputs["logits"]), np.asarray(head(x)), rtol=1e-5, atol=1e-6)
    check_scores(np.asarray(outputs["context_attention"]), valid)
    model = tiny_end_to_end(name, head)
    outputs = attention_model(model)(random_inputs(model, rng, pad_last=False))
    assert sorted(outputs) == ["context_attention", "logits"]
    check_scores(np.asarray(outputs["context_attention"]), np.ones((BATCH, FRAMES), bool))


@pytest.mark.parametrize("name", ["ast_lstm", "ast_gap", "ast_landmarks_lstm", "ast_cnn_lstm"])
def test_baselines_have_no_attention(name):
    outputs = attention_model(tiny_head(name))(random_inputs(tiny_head(name), np.random.default_rng(3)))
    assert sorted(outputs) == ["logits"]


# ------------------------------------------------------------------------- heads against NumPy equations


def reference_head(head, features, valid, temporal, frame_features):
    """AST section 3 in float64: f_i per frame; attention c_t = sum_{i<=t} softmax_i(v.tanh(W1 f_i + W2 f_t + b)) f_i
    and video = mean_t c_t, or video = mean_t f_i (GAP); logits = video W + b. Padded frames are skipped."""
    batch, frames = valid.shape
    f = features.reshape(batch, frames, -1).astype(np.float64)
    if frame_features == "avg_pool":
        f = features.astype(np.float64).mean(axis=(2, 3))
    elif frame_features == "flatten_project":
        kernel, bias = (np.asarray(w, np.float64) for w in head.get_layer("projection").weights)
        f = np.maximum(f @ kernel + bias, 0.0)
    videos = []
    for b in range(batch):
        steps = np.flatnonzero(valid[b])
        if temporal == "gap":
            videos.append(f[b, steps].mean(0))
            continue
        layer = head.get_layer("context_attention")
        w1, w2, bias, v = (np.asarray(w, np.float64) for w in
                           (layer.key_kernel, layer.query_kernel, layer.bias, layer.score_vector))
        contexts = []
        for t in steps:
            keys = steps[steps <= t]
            energies = np.array([v @ np.tanh(f[b, i] @ w1 + f[b, t] @ w2 + bias) for i in keys])
            alpha = np.exp(energies - energies.max())
            contexts.append((alpha / alpha.sum()) @ f[b, keys])
        videos.append(np.mean(contexts, axis=0))
    kernel, bias = (np.asarray(w, np.float64) for w in head.get_layer("logits").weights)
    return np.stack(videos) @ kernel + bias


@pytest.mark.parametrize("temporal, frame_features", [
    ("attention", "flatten"), ("attention", "avg_pool"), ("attention", "flatten_project"), ("gap", "flatten")])
def test_head_matches_numpy(temporal, frame_features):
    rng = np.random.default_rng(4)
    head = ast.ast_head(CLASSES, feature_shape=(5, 2, 2, 3), temporal=temporal, frame_features=frame_features,
                        units=6, projection_units=7)
    if temporal == "attention":  # weights large enough for a far-from-uniform softmax
        layer = head.get_layer("context_attention")
        for weight in (layer.key_kernel, layer.query_kernel, layer.bias, layer.score_vector):
            weight.assign(rng.normal(size=weight.shape) * 1.5)
    features = rng.normal(size=(3, 5, 2, 2, 3)).astype("float32")
    valid = np.ones((3, 5), bool)
    valid[1, 3:] = False
    valid[2, 1:] = False
    features[~valid] = 0.0
    expected = reference_head(head, features, valid, temporal, frame_features)
    np.testing.assert_allclose(np.asarray(head(features)), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("temporal", ast.TEMPORAL_MODELS)
def test_padding_changes_nothing(temporal):
    """A clip padded with all-zero frames gives the logits of the clip alone (T may be None)."""
    rng = np.random.default_rng(5)
    head = ast.ast_head(CLASSES, feature_shape=(None, 2, 2, 3), temporal=temporal, units=4)
    clip = rng.normal(size=(1, 3, 2, 2, 3)).astype("float32")
    padded = np.concatenate([clip, np.zeros((1, 2, 2, 2, 3), "float32")], axis=1)
    np.testing.assert_allclose(np.asarray(head(padded)), np.asarray(head(clip)), rtol=1e-5, atol=1e-6)


def test_non_causal_attention_sees_later_frames():
    head = ast.ast_head(CLASSES, feature_shape=(4, 3), causal=False, units=4)
    scores = np.asarray(attention_model(head)(np.random.default_rng(6).normal(size=(2, 4, 3)))["context_attention"])
    assert np.all(scores[:, np.triu_indices(4, k=1)[0], np.triu_indices(4, k=1)[1]] > 0.0)


# ------------------------------------------------------------------------------------ PairwiseDistances


@pytest.mark.parametrize("normalize", ast.NORMALIZERS)
def test_pairwise_distances_match_data_prep(normalize):
    points = np.random.default_rng(7).uniform(0, 64, size=(3, 6, 2)).astype("float32")
    points[2] = 0.0  # padding
    expected = pairwise_distances(points.astype(np.float64), normalize)
    expected[2] = 0.0  # data_prep gives NaN for a zero-size face; the layer keeps padding at zero
    got = np.asarray(ast.PairwiseDistances(normalize)(points))
    assert got.shape == (3, 15)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_pairwise_distances_config_and_errors():
    clone = assert_config_roundtrip(ast.PairwiseDistances(None, name="d"))
    assert clone.normalize is None
    with pytest.raises(ValueError, match="normalize"):
        ast.PairwiseDistances("inter_ocular")
    with pytest.raises(ValueError, match=r"\(B, n, 2\)"):
        ast.PairwiseDistances()(np.zeros((2, 5, 3), "float32"))


def test_landmark_end_to_end_equals_head_on_distances():
    head = tiny_head("ast_landmarks")
    model = tiny_end_to_end("ast_landmarks", head)
    points = np.random.default_rng(8).uniform(0, 64, size=(BATCH, FRAMES, 5, 2)).astype("float32")
    distances = pairwise_distances(points.astype(np.float64), "face_size").astype("float32")
    np.testing.assert_allclose(np.asarray(model(points)), np.asarray(head(distances)), rtol=1e-4, atol=1e-5)


# -------------------------------------------------------------------------------------------- arguments


@pytest.mark.parametrize("kwargs, match", [
    ({"temporal": "transformer"}, "temporal"),
    ({"frame_features": "max_pool"}, "frame_features"),
    ({"units": 0}, "units"),
    ({"projection_units": 1.5}, "projection_units"),
    ({"dropout": 1.0}, "dropout"),
    ({"causal": 1}, "causal"),
    ({"feature_shape": (4, 7, 512)}, "feature_shape"),
    ({"feature_shape": (4, 7, 0, 512)}, "feature_shape"),
])
def test_head_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ast.ast_head(CLASSES, **{"feature_shape": (4, 2, 2, 8), **kwargs})


def test_builders_reject_bad_arguments():
    with pytest.raises(ValueError, match="num_classes"):
        SPECS["ast"].build(1, input="features")
    with pytest.raises(ValueError, match="input"):
        SPECS["ast"].build(CLASSES, input="video")
    with pytest.raises(ValueError, match="feature_shape"):
        SPECS["ast_cnn"].build(CLASSES, input="frames", feature_shape=(4, 2, 2, 8))
    with pytest.raises(ValueError, match="head"):
        SPECS["ast"].build(CLASSES, input="features", head=tiny_head("ast"))
    with pytest.raises(ValueError, match="num_points"):
        SPECS["ast_landmarks"].build(CLASSES, num_points=1)
    with pytest.raises(ValueError, match="filters"):
        ast.ast_cnn_stem((32, 32, 3), filters=())
    with pytest.raises(ValueError, match=r"`input_shape` must be at least 64 pixels high and wide for 6 2x2 poolings; "
                                         r"received input_shape=\(32, 32, 3\)"):
        ast.ast_cnn_stem((32, 32, 3), filters=(4,) * 6)
    with pytest.raises(TypeError, match="temporal"):
        SPECS["ast"].build(CLASSES, temporal="lstm")
    with pytest.raises(TypeError):
        SPECS["ast"].build(CLASSES, unit=8)  # a typo is not swallowed


def test_create_model_reaches_ast():
    from keras_fer.models import create_model, list_models

    assert set(SPECS) <= set(list_models("ast"))
    head = create_model("ast", 6, input="features", feature_shape=(20, 7, 7, 512))
    assert head.name == "ast" and head.output.shape == (None, 6)


# --------------------------------------------------------------------------------------- learning check


@pytest.mark.slow
def test_ast_learns_the_synthetic_macro_benchmark(tmp_path):
    """The full AST model (registry ``ast``: causal context attention, mean of context vectors, FC) learns the
    synthetic ``macro`` benchmark on subjects it never saw.

    As in the paper, the head reads per-frame maps of a frozen CNN pretrained on faces and is trained alone: the
    paper's VGGFace weights cannot ship, and a randomly initialised VGG16 gave near-constant features (the head
    stayed at chance in our trial) whose extraction alone took minutes on 2 CPU cores; the FER2013 mini-Xception that
    keras-fer ships gives a 4x4x128 map per 64x64 frame (our stand-in for the 7x7x512 ``pool5``), extracted
    once. 6 subjects x 6 classes x 3 videos of 32 frames; the last 2 subjects are the test side. The paper's
    sampler takes 20 frames at a fixed stride (a random span per epoch in training, the centred one in test).
    Adam 1e-3, batch 8, 20 epochs. Chance is 1/6; we assert >= 2x chance (we saw 0.556, deterministic;
    0.50-0.67 in trials with other seeds). About 90-115 s on 2 busy CPU cores, rendering included.
    """
    from keras_fer.stems import fer2013_mini_xception
    from keras_fer.stems.fer2013 import preprocess_input
    from tests.models.synthetic_clips import synthetic_clips

    start = time.perf_counter()
    clips = synthetic_clips(tmp_path / "macro", mode="macro", n_subjects=6, videos_per_class=3, size=64,
                            n_frames=32, seed=0)
    train, test = clips.split(2)
    pretrained = fer2013_mini_xception(pooling=None)
    stem = keras.Model(pretrained.inputs[0], pretrained.outputs[0], name="fer2013_map")  # (B, 4, 4, 128)
    n_videos, n_frames = train.frames.shape[:2]
    features = stem.predict(preprocess_input(train.frames.reshape(-1, 64, 64, 3)), batch_size=256, verbose=0)
    features = features.reshape(n_videos, n_frames, 4, 4, 128)  # every frame once; the sampler picks per epoch

    keras.utils.set_random_seed(0)
    head = SPECS["ast"].build(len(clips.class_names), input="features", feature_shape=(20, 4, 4, 128))
    head.compile(optimizer=keras.optimizers.Adam(1e-3),
                 loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    rng = np.random.default_rng(0)
    for _ in range(20):
        spans = [sample("ast", n_frames, training=True, seed=int(rng.integers(2**31))) for _ in range(n_videos)]
        head.fit(np.stack([video[span] for video, span in zip(features, spans)]), train.labels,
                 batch_size=8, epochs=1, shuffle=True, verbose=0)

    test_features = stem.predict(preprocess_input(test.frames[:, sample("ast", n_frames)].reshape(-1, 64, 64, 3)),
                                 batch_size=256, verbose=0)
    logits = head.predict(test_features.reshape(len(test.labels), 20, 4, 4, 128), batch_size=8, verbose=0)
    accuracy = float(np.mean(np.argmax(logits, -1) == test.labels))
    elapsed = time.perf_counter() - start
    print(f"AST synthetic macro: test accuracy {accuracy:.3f} on {len(test.labels)} videos, {elapsed:.0f} s")
    assert accuracy >= 2.0 / len(clips.class_names), accuracy
