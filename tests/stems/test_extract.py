import hashlib
import threading
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

from keras_fer.stems.extract import extract_features, mixed_precision_copy

RNG = np.random.default_rng(0)
KERNEL = RNG.standard_normal((3, 4)).astype("float32")
BIAS = RNG.standard_normal(4).astype("float32")


def frame_stem():
    """1x1 conv (3 -> 4), ReLU, global average pooling: (B, 6, 6, 3) -> (B, 4)."""
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(4, 1, activation="relu", name="mix")(inputs)
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x), name="frame_stem")
    model.get_layer("mix").set_weights([KERNEL[None, None], BIAS])
    return model


def scale(x):
    return ops.cast(x, "float32") / 255.0


def frame_features_numpy(frames):
    """Independent NumPy version of frame_stem on scale(frames): mean over pixels of relu(x W + b)."""
    x = np.asarray(frames, "float64") / 255.0
    return np.maximum(x @ KERNEL + BIAS, 0).mean(axis=(-3, -2))


def random_frames(count, seed=1):
    return np.random.default_rng(seed).integers(0, 256, (count, 6, 6, 3)).astype("uint8")


def test_frames_stream_yields_one_feature_per_frame_in_order():
    frames = random_frames(37)
    outputs = list(extract_features(frame_stem(), iter(frames), batch_size=8, preprocess=scale))
    assert len(outputs) == 37
    assert all(output.shape == (4,) and output.dtype == np.float32 for output in outputs)
    np.testing.assert_allclose(np.stack(outputs), frame_features_numpy(frames), rtol=1e-5, atol=1e-6)


def test_clips_of_any_length_yield_stacked_features():
    lengths = [3, 0, 1, 20, 8, 5]
    clips = [random_frames(n, seed=i) for i, n in enumerate(lengths)]
    outputs = list(extract_features(frame_stem(), (clip for clip in clips), batch_size=8, preprocess=scale))
    assert [output.shape for output in outputs] == [(n, 4) for n in lengths]
    for clip, output in zip(clips, outputs):
        np.testing.assert_allclose(output, frame_features_numpy(clip).reshape(-1, 4), rtol=1e-5, atol=1e-6)


def test_memory_is_constant_in_the_number_of_frames():
    batch_size, prefetch_batches, total = 4, 2, 2000
    pulled = 0
    frame = random_frames(1)[0]

    def frames():
        nonlocal pulled
        for _ in range(total):
            pulled += 1
            yield frame

    stream = extract_features(frame_stem(), frames(), batch_size=batch_size, prefetch_batches=prefetch_batches)
    assert pulled == 0  # lazy: nothing is read before iteration starts
    largest_lag, received = 0, 0
    for _ in stream:
        received += 1
        largest_lag = max(largest_lag, pulled - received)
    assert received == total
    # the batch being filled + queued batches + the batch in flight + the batch being collected
    assert largest_lag <= (prefetch_batches + 3) * batch_size


def test_compiled_once_with_preprocessing_inside():
    traces = []

    def counting_scale(x):
        traces.append(tuple(x.shape))  # Python side effect: runs only when tracing
        return scale(x)

    outputs = list(extract_features(frame_stem(), iter(random_frames(21)), batch_size=8, preprocess=counting_scale))
    assert len(outputs) == 21
    assert traces == [(8, 6, 6, 3)]  # one trace, fixed batch shape, last partial batch padded


def test_producer_thread_stops_when_the_consumer_stops_early():
    def endless():
        while True:
            yield random_frames(1)[0]

    stream = extract_features(frame_stem(), endless(), batch_size=4)
    first = [next(stream) for _ in range(5)]
    assert len(first) == 5
    stream.close()
    assert not [t for t in threading.enumerate() if t.name == "keras_fer-extract-producer" and t.is_alive()]


def test_clip_stem_takes_clips_or_sequences_of_clips():
    inputs = keras.Input((3, 4, 4, 2))
    clip_stem = keras.Model(inputs, keras.layers.GlobalAveragePooling3D()(keras.layers.Conv3D(5, 1)(inputs)))
    kernel, bias = (w for w in clip_stem.get_weights())
    clips = np.random.default_rng(2).standard_normal((7, 3, 4, 4, 2)).astype("float32")
    expected = (clips @ kernel[0, 0, 0] + bias).mean(axis=(1, 2, 3))
    singles = list(extract_features(clip_stem, iter(clips), batch_size=3))
    np.testing.assert_allclose(np.stack(singles), expected, rtol=1e-5, atol=1e-6)
    grouped = list(extract_features(clip_stem, [clips[:2], clips[2:]], batch_size=3))
    assert [g.shape for g in grouped] == [(2, 5), (5, 5)]
    np.testing.assert_allclose(np.concatenate(grouped), expected, rtol=1e-5, atol=1e-6)


def test_stem_with_two_outputs_yields_tuples():
    inputs = keras.Input((6, 6, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    two_outputs = keras.Model(inputs, [pooled, keras.layers.Softmax()(pooled)])
    frames = random_frames(5).astype("float32")
    outputs = list(extract_features(two_outputs, iter(frames), batch_size=2))
    assert all(isinstance(o, tuple) and o[0].shape == (3,) and o[1].shape == (3,) for o in outputs)
    means = frames.mean(axis=(1, 2))
    np.testing.assert_allclose(np.stack([o[0] for o in outputs]), means, rtol=1e-5)
    softmax = np.exp(means - means.max(-1, keepdims=True))
    np.testing.assert_allclose(
        np.stack([o[1] for o in outputs]), softmax / softmax.sum(-1, keepdims=True), rtol=1e-5, atol=1e-7
    )


@pytest.mark.parametrize("jit_compile, mixed_precision, tolerance", [(True, False, 1e-5), (False, True, 2e-2)])
def test_xla_and_mixed_precision_give_the_same_features(jit_compile, mixed_precision, tolerance):
    frames = random_frames(10)
    stem = frame_stem()
    outputs = list(
        extract_features(
            stem, iter(frames), batch_size=4, preprocess=scale, jit_compile=jit_compile, mixed_precision=mixed_precision
        )
    )
    np.testing.assert_allclose(np.stack(outputs), frame_features_numpy(frames), rtol=tolerance, atol=tolerance)
    assert stem.dtype_policy.name == "float32"  # the user's stem is unchanged


def test_mixed_precision_copy_computes_in_float16():
    copy = mixed_precision_copy(frame_stem())
    assert copy.get_layer("mix").dtype_policy.name == "mixed_float16"
    assert copy.get_layer("mix").kernel.dtype == "float32"
    assert keras.backend.standardize_dtype(copy(np.zeros((1, 6, 6, 3), "float32")).dtype) == "float16"
    np.testing.assert_array_equal(copy.get_layer("mix").get_weights()[0], KERNEL[None, None])


def test_bad_items_are_reported_by_index_after_the_good_ones():
    items = [random_frames(1)[0], random_frames(1)[0], np.zeros((6, 3)), random_frames(1)[0]]
    stream = extract_features(frame_stem(), iter(items), batch_size=2)
    with pytest.raises(ValueError, match=r"item 2 has shape \(6, 3\)"):
        list(stream)
    mismatched = [np.zeros((6, 6, 3), "uint8"), np.zeros((5, 5, 3), "uint8")]
    with pytest.raises(ValueError, match="item 1"):
        list(extract_features(frame_stem(), mismatched, batch_size=2))


def test_frame_size_must_fit_the_stem_unless_preprocess_resizes():
    with pytest.raises(ValueError, match=r"item 0 has samples of shape \(5, 5, 3\)"):
        list(extract_features(frame_stem(), [np.zeros((5, 5, 3), "uint8")]))

    def resize_then_scale(x):
        return scale(ops.image.resize(ops.cast(x, "float32"), (6, 6), interpolation="nearest"))

    big = np.repeat(np.repeat(random_frames(3), 2, axis=1), 2, axis=2)  # (3, 12, 12, 3), each pixel 2x2
    outputs = list(extract_features(frame_stem(), iter(big), batch_size=2, preprocess=resize_then_scale))
    np.testing.assert_allclose(np.stack(outputs), frame_features_numpy(random_frames(3)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"batch_size": 0}, "batch_size=0"),
        ({"prefetch_batches": 1.5}, "prefetch_batches=1.5"),
        ({"jit_compile": "yes"}, "jit_compile='yes'"),
        ({"mixed_precision": None}, "mixed_precision=None"),
        ({"preprocess": "vggface"}, "preprocess='vggface'"),
    ],
)
def test_bad_arguments_are_rejected_at_call_time(kwargs, match):
    with pytest.raises(ValueError, match=match):
        extract_features(frame_stem(), [], **kwargs)


def test_vggface_stem_streams_raw_frames():
    import keras_fer

    stem = keras_fer.stems.vggface16(input_shape=(64, 64, 3))
    frames = (np.full((64, 64, 3), i, "uint8") for i in range(40))
    features = keras_fer.stems.extract_features(
        stem, frames, batch_size=16, preprocess=keras_fer.stems.vggface.preprocess_input
    )
    features = np.stack(list(features))
    assert features.shape == (40, 2, 2, 512)
    expected = keras.ops.convert_to_numpy(
        stem(keras_fer.stems.vggface.preprocess_input(np.full((3, 64, 64, 3), [[[[0]]], [[[17]]], [[[39]]]], "uint8")))
    )
    np.testing.assert_allclose(features[[0, 17, 39]], expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


@pytest.mark.slow
def test_readme_example_on_a_real_video(tmp_path, monkeypatch, capsys):
    from tests.stems.test_vggface import random_vgg16_arrays, write_vggface_file

    monkeypatch.setenv("KERAS_FER_WEIGHTS_DIR", str(tmp_path))
    write_vggface_file(tmp_path / "rcmalli_vggface_tf_notop_vgg16.h5", random_vgg16_arrays())  # stand-in weights
    video_path = str(Path(__file__).resolve().parents[1] / "fixtures" / "real_faces" / "pyfeat" / "single_face.mp4")

    # --- README "Fast feature extraction", verbatim except for the video path ---
    import cv2

    import keras_fer
    from keras_fer.stems.vggface import preprocess_input

    def face_frames(path):  # one RGB uint8 224x224 frame at a time; use your own face detector/cropper
        video = cv2.VideoCapture(path)
        ok, frame = video.read()
        while ok:
            yield cv2.resize(frame, (224, 224))[..., ::-1]
            ok, frame = video.read()

    stem = keras_fer.stems.vggface16(weights="rcmalli_vggface_tf_notop_vgg16.h5")
    print(stem.weights_info.sha256)
    for features in keras_fer.stems.extract_features(
        stem, face_frames(video_path), batch_size=32, preprocess=preprocess_input
    ):
        print(features.shape)  # (7, 7, 512) per frame
    # --- end of README example ---

    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == hashlib.sha256((tmp_path / "rcmalli_vggface_tf_notop_vgg16.h5").read_bytes()).hexdigest()
    assert printed[1:] == ["(7, 7, 512)"] * 72  # single_face.mp4 has 72 frames


def test_compiled_function_is_reused_across_calls_and_freed_with_the_stem():
    import gc
    import weakref

    from keras_fer.stems import extract

    traces = []

    def counting_scale(x):
        traces.append(1)
        return scale(x)

    stem = frame_stem()
    for _ in range(3):  # e.g. one call per video
        assert len(list(extract_features(stem, iter(random_frames(5)), batch_size=4, preprocess=counting_scale))) == 5
    assert len(traces) == 1
    assert stem in extract._COMPILED
    stem_ref = weakref.ref(stem)
    del stem
    gc.collect()
    assert stem_ref() is None  # the cache does not keep the stem alive


def test_mixed_precision_copy_follows_the_stems_current_weights():
    stem = frame_stem()
    frames = random_frames(4)
    first = np.stack(list(extract_features(stem, iter(frames), batch_size=4, preprocess=scale, mixed_precision=True)))
    stem.get_layer("mix").set_weights([np.zeros((1, 1, 3, 4), "float32"), np.ones(4, "float32")])
    second = np.stack(list(extract_features(stem, iter(frames), batch_size=4, preprocess=scale, mixed_precision=True)))
    assert np.abs(first - 1.0).max() > 0.1
    np.testing.assert_allclose(second, np.ones((4, 4)), rtol=1e-3)
