"""The recipes' spatial augmentations (STCAM sec. 4.2, STANet sec. 4.1) against NumPy constructions, and the readers
applying them in training only."""
import numpy as np
import pytest
import tensorflow as tf

from keras_fer.data import augment, pipeline
from keras_fer.data.sources import ArraySource, FrameSource
from keras_fer.training.recipes import get_recipe
from tests.data import helpers

FLIP = augment.ClipAugmentation(("horizontal_flip",))
SEEDS = range(200)


def _run(clip, seed, spec):
    return augment.augment_clip(tf.constant(clip), tf.constant(seed, tf.int64), spec).numpy()


def _mirror(clip):
    """NumPy: every frame mirrored left-right; flow (2 channels) negates dx."""
    mirrored = clip[..., ::-1, :].copy()
    if clip.shape[-1] == 2:
        mirrored[..., 0] *= -1
    return mirrored


def _which(out, candidates):
    """The index of the one candidate ``out`` equals (float32 rounding allowed); fails on none or several."""
    hits = [i for i, c in enumerate(candidates) if np.allclose(out, c, atol=1e-4)]
    assert len(hits) == 1, hits
    return hits[0]


@pytest.mark.parametrize("channels", [3, 2])
def test_flip_mirrors_every_frame_of_about_half_the_clips(channels):
    clip = np.random.default_rng(0).normal(size=(3, 5, 6, channels)).astype("float32")
    picks = [_which(_run(clip, seed, FLIP), [clip, _mirror(clip)]) for seed in SEEDS]
    assert 70 <= sum(picks) <= 130  # binomial(200, 1/2): 100 +- 7


def test_flow_flip_negates_dx_only():
    clip = np.random.default_rng(1).normal(size=(2, 4, 4, 2)).astype("float32")
    seed = next(s for s in SEEDS if not np.allclose(_run(clip, s, FLIP), clip))
    out = _run(clip, seed, FLIP)
    np.testing.assert_array_equal(out[..., 0], -clip[:, :, ::-1, 0])
    np.testing.assert_array_equal(out[..., 1], clip[:, :, ::-1, 1])


def _crop_candidates(clip, side):
    """NumPy crops of ``side`` at the four corners and the centre, resized back (TF's bilinear resize)."""
    size = clip.shape[-2]
    free = size - side
    crops = [clip[:, top:top + side, left:left + side] for top, left in
             [(0, 0), (0, free), (free, 0), (free, free), (free // 2, free // 2)]]
    return [tf.image.resize(c, (size, size), method="bilinear").numpy() for c in crops]


def test_crops_only_at_the_corners_and_the_centre_the_same_for_every_frame():
    clip = np.random.default_rng(2).uniform(0, 255, size=(4, 8, 8, 3)).astype("float32")
    spec = augment.ClipAugmentation(("corner_center_crop",), crop_fraction=0.75)  # 6 of 8 px
    candidates = _crop_candidates(clip, 6)
    positions = [_which(_run(clip, seed, spec), candidates) for seed in SEEDS]  # the whole clip: one position
    counts = np.bincount(positions, minlength=5)
    assert counts.min() >= 20, counts  # uniform over the five: 40 +- 6 each


def test_a_crop_zooms_the_flow_displacements():
    clip = np.random.default_rng(3).normal(size=(2, 8, 8, 2)).astype("float32")
    spec = augment.ClipAugmentation(("corner_center_crop",), crop_fraction=0.5)  # 4 of 8 px: a 2x zoom
    candidates = [2.0 * c for c in _crop_candidates(clip, 4)]
    assert len({_which(_run(clip, seed, spec), candidates) for seed in range(40)}) == 5


def _rescale_candidates(clip, scales, zoom_values):
    """NumPy: resized by each scale (TF's bilinear resize), then centre-cut or zero-padded back."""
    size, found = clip.shape[-2], []
    for scale in scales:
        new = int(round(size * scale))
        resized = tf.image.resize(clip, (new, new), method="bilinear").numpy() * (new / size if zoom_values else 1)
        if new < size:
            before = (size - new) // 2
            resized = np.pad(resized, [(0, 0), (before, size - new - before), (before, size - new - before), (0, 0)])
        else:
            before = (new - size) // 2
            resized = resized[:, before:before + size, before:before + size]
        found.append(resized)
    return found


@pytest.mark.parametrize("channels", [3, 2])
def test_rescale_resizes_then_cuts_or_pads_back(channels):
    clip = np.random.default_rng(4).uniform(1, 2, size=(3, 8, 8, channels)).astype("float32")
    scales = (0.5, 1.0, 1.5)
    spec = augment.ClipAugmentation(("rescale",), scales=scales)
    candidates = _rescale_candidates(clip, scales, zoom_values=channels == 2)
    picks = [_which(_run(clip, seed, spec), candidates) for seed in range(60)]
    assert set(picks) == {0, 1, 2}


def test_same_seed_same_output_other_seed_other_output_and_shape_kept():
    spec = augment.from_recipe(get_recipe("stanet", augmentation=("corner_center_crop", "rescale", "horizontal_flip"),
                                          crop_size=160))
    clip = np.random.default_rng(5).integers(0, 255, size=(2, 3, 12, 12, 3)).astype("uint8")
    outs = [_run(clip, seed, spec) for seed in (7, 7, 8, 9, 10)]
    assert outs[0].dtype == np.uint8 and outs[0].shape == clip.shape
    np.testing.assert_array_equal(outs[0], outs[1])
    assert any(not np.array_equal(outs[0], other) for other in outs[2:])


def test_from_recipe_keeps_the_spatial_names_and_the_crop_fraction():
    stcam = augment.from_recipe(get_recipe("stcam"))
    assert stcam.names == ("horizontal_flip", "corner_center_crop") and stcam.crop_fraction == 224 / 240
    assert augment.from_recipe(get_recipe("stanet")).scales == (0.9, 1.0, 1.1)
    assert augment.from_recipe(get_recipe("ast")) is None  # no spatial augmentation
    with pytest.raises(ValueError, match="names"):
        augment.ClipAugmentation(("temporal_jitter",))
    with pytest.raises(ValueError, match="crop_fraction"):
        augment.ClipAugmentation(("corner_center_crop",), crop_fraction=1.5)


def _frames(dataset):
    return np.concatenate([inputs.numpy() for inputs, _ in dataset])


def test_frame_reader_flips_in_training_only_seeded_by_seed_and_epoch(prepared_ast):
    source = FrameSource(prepared_ast)

    def read(training, augmentation=None, epoch=0):
        return _frames(source.dataset(None, training=training, batch_size=4, seed=3, epoch=epoch,
                                      augmentation=augmentation))

    plain, flipped = read(True), read(True, FLIP)  # same seed, epoch: same clips, same frame draws
    mirrored = [bool(np.array_equal(f, _mirror(p)) and not np.array_equal(f, p)) for p, f in zip(plain, flipped)]
    assert all(m or np.array_equal(f, p) for m, p, f in zip(mirrored, plain, flipped))
    assert 0 < sum(mirrored) < len(plain)
    np.testing.assert_array_equal(read(True, FLIP), flipped)  # same seed and epoch: the same
    assert not np.array_equal(read(True, FLIP, epoch=1), flipped)  # another epoch: other draws
    np.testing.assert_array_equal(read(False, FLIP), read(False))  # evaluation: unchanged


def test_flow_cache_is_flipped_with_dx_negated_and_stem_features_are_refused(tmp_path):
    samples = helpers.random_samples([3] * 8)
    helpers.write_random_cache(tmp_path / "flow", samples, helpers.random_features(samples, (4, 4, 2)))

    def read(training, augmentation=None):
        return _frames(pipeline.feature_dataset(tmp_path / "flow", training=training, batch_size=4, seed=1,
                                                augmentation=augmentation))

    plain, flipped = read(True), read(True, FLIP)
    mirrored = [bool(np.array_equal(f, _mirror(p))) for p, f in zip(plain, flipped)]
    assert all(m or np.array_equal(f, p) for m, p, f in zip(mirrored, plain, flipped)) and 0 < sum(mirrored) < 8
    np.testing.assert_array_equal(read(False, FLIP), read(False))
    helpers.write_random_cache(tmp_path / "features", samples, helpers.random_features(samples, (6,)))
    with pytest.raises(ValueError, match="no spatial augmentation"):
        pipeline.feature_dataset(tmp_path / "features", training=True, augmentation=FLIP)


def test_array_source_augments_frames_in_training_only_and_never_features():
    clips = np.random.default_rng(6).normal(size=(12, 2, 4, 4, 2)).astype("float32")
    ids = [f"v{i}" for i in range(12)]
    frames = ArraySource(clips, np.zeros(12, int), ids, [""] * 12, ["a"])
    plain = _frames(frames.dataset(ids, training=False, batch_size=4, augmentation=FLIP))
    np.testing.assert_array_equal(plain, clips)  # evaluation: unchanged, in order
    trained = _frames(frames.dataset(ids, training=True, batch_size=4, seed=0, augmentation=FLIP))
    by_value = {clip.tobytes(): n for n, clip in enumerate(clips)}
    flipped = [out.tobytes() not in by_value for out in trained]
    assert 0 < sum(flipped) < 12
    found = sorted(by_value.get(out.tobytes(), by_value.get(_mirror(out).tobytes())) for out in trained)
    assert found == list(range(12))  # each clip once, as it is or mirrored
    features = ArraySource(clips, np.zeros(12, int), ids, [""] * 12, ["a"], input="features")
    trained = _frames(features.dataset(ids, training=True, batch_size=4, seed=0, augmentation=FLIP))
    assert all(out.tobytes() in by_value for out in trained)
