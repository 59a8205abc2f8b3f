"""The papers' frame samplers: indices for long, exact and short videos, seeds, supersets, interpolation.

Expected indices are worked out by hand from each paper's rule (the comment
above each one shows the arithmetic), not obtained by running the samplers.
"""
import numpy as np
import pytest

from data_prep.sampling import (
    SAMPLERS,
    interpolate_frames,
    sample,
    sample_ast,
    sample_ceflnet,
    sample_ecnn_fsa,
    sample_stanet,
    sample_stcam,
    superset,
)

PAPERS = ("ast", "stcam", "ecnn_fsa", "ceflnet", "stanet")
SEEDS = range(200)


def _frames_touched(positions):
    """Every frame a draw reads: the floor and ceil of each position."""
    positions = np.asarray(positions, dtype=np.float64).ravel()
    return set(np.floor(positions).astype(int)) | set(np.ceil(positions).astype(int))


# ----------------------------------------------------------------------------- common contract


def test_registry_names():
    assert set(SAMPLERS) == set(PAPERS)
    for paper in PAPERS:
        assert SAMPLERS[paper] is {
            "ast": sample_ast,
            "stcam": sample_stcam,
            "ecnn_fsa": sample_ecnn_fsa,
            "ceflnet": sample_ceflnet,
            "stanet": sample_stanet,
        }[paper]


@pytest.mark.parametrize("paper", PAPERS)
@pytest.mark.parametrize("n_frames", [0, -3, 2.5, True, "10", None])
def test_invalid_frame_count_names_argument(paper, n_frames):
    with pytest.raises(ValueError, match="n_frames"):
        sample(paper, n_frames)
    with pytest.raises(ValueError, match="n_frames"):
        superset(paper, n_frames)


def test_numpy_integer_frame_count_is_accepted():
    np.testing.assert_array_equal(sample_ecnn_fsa(np.int64(10)), [1, 3, 5, 7, 9])


@pytest.mark.parametrize("paper", PAPERS)
@pytest.mark.parametrize("n_frames", [1, 4, 13, 53, 120])
def test_test_mode_is_deterministic_and_in_range(paper, n_frames):
    first = sample(paper, n_frames)
    second = sample(paper, n_frames, seed=123)  # the seed is ignored in test mode
    np.testing.assert_array_equal(first, second)
    assert first.min() >= 0 and first.max() <= n_frames - 1


@pytest.mark.parametrize("paper", PAPERS)
def test_training_same_seed_same_indices(paper):
    first = sample(paper, 120, training=True, seed=7)
    np.testing.assert_array_equal(first, sample(paper, 120, training=True, seed=7))


@pytest.mark.parametrize("paper", ["ast", "stcam", "ecnn_fsa", "ceflnet"])
def test_training_draws_differ_between_seeds(paper):
    draws = {tuple(np.ravel(sample(paper, 120, training=True, seed=seed))) for seed in range(20)}
    assert len(draws) > 1


@pytest.mark.parametrize("paper", ["ast", "stcam", "ecnn_fsa", "stanet"])
def test_order_is_non_decreasing_in_time(paper):
    for seed in range(50):
        assert np.all(np.diff(sample(paper, 60, training=True, seed=seed)) >= 0)


def test_ceflnet_clips_are_ordered_in_time():
    for seed in range(50):
        positions = sample_ceflnet(60, training=True, seed=seed)
        assert np.all(np.diff(positions, axis=1) > 0)  # frames within a clip
        assert np.all(np.diff(positions[:, 0]) >= 0)  # clip starts (windows overlap by 5 frames)


def test_unknown_paper_lists_the_names():
    with pytest.raises(ValueError, match="ast.*ceflnet.*ecnn_fsa.*stanet.*stcam"):
        sample("c3d", 10)
    with pytest.raises(ValueError, match="ast.*ceflnet.*ecnn_fsa.*stanet.*stcam"):
        superset("c3d", 10)


def test_sample_forwards_options_and_rejects_unknown_ones():
    np.testing.assert_array_equal(sample("stcam", 25, peak="middle"), sample_stcam(25, peak="middle"))
    np.testing.assert_array_equal(
        sample("ecnn_fsa", 40, training=True, seed=3, num_segments=8),
        sample_ecnn_fsa(40, num_segments=8, training=True, seed=3),
    )
    with pytest.raises(TypeError):
        sample("stcam", 25, peek="middle")


def test_training_flag_must_be_bool():
    with pytest.raises(ValueError, match="training"):
        sample_ast(30, training="yes")


# ----------------------------------------------------------------------------- AST


def test_ast_long_video_fixed_stride_centred():
    # stride = (100 - 1) // (20 - 1) = 5, span = 19 * 5 + 1 = 96, start = (100 - 96) // 2 = 2.
    np.testing.assert_array_equal(sample_ast(100), 2 + 5 * np.arange(20))


def test_ast_exact_length_takes_every_frame():
    np.testing.assert_array_equal(sample_ast(20), np.arange(20))
    np.testing.assert_array_equal(sample_ast(20, training=True, seed=4), np.arange(20))


def test_ast_short_video_repeats_last_frame():
    expected = [0, 1, 2, 3, 4, 5, 6] + [6] * 13
    np.testing.assert_array_equal(sample_ast(7), expected)
    np.testing.assert_array_equal(sample_ast(7, training=True, seed=1), expected)
    np.testing.assert_array_equal(sample_ast(1), np.zeros(20))


def test_ast_explicit_stride():
    # span = 19 * 3 + 1 = 58 > 30 frames: every 3rd frame from 0 while the video lasts, then the last one.
    np.testing.assert_array_equal(sample_ast(30, stride=3), [0, 3, 6, 9, 12, 15, 18, 21, 24, 27] + [27] * 10)
    # 100 frames: slack = 100 - 58 = 42, start 21.
    np.testing.assert_array_equal(sample_ast(100, stride=3), 21 + 3 * np.arange(20))
    # 4 frames of 12: stride 11 // 3 = 3, span 10, slack 2, start 1.
    np.testing.assert_array_equal(sample_ast(12, num_frames=4), [1, 4, 7, 10])


def test_ast_training_draws_a_start_that_fits():
    # 100 frames: stride 5, span 96, so the start is one of 0..4 and the stride stays 5.
    starts = set()
    for seed in SEEDS:
        drawn = sample_ast(100, training=True, seed=seed)
        np.testing.assert_array_equal(np.diff(drawn), np.full(19, 5))
        starts.add(int(drawn[0]))
    assert starts == {0, 1, 2, 3, 4}


def test_ast_rejects_bad_options():
    with pytest.raises(ValueError, match="num_frames"):
        sample_ast(30, num_frames=0)
    with pytest.raises(ValueError, match="stride"):
        sample_ast(30, stride=0)


# ----------------------------------------------------------------------------- STCAM


def test_stcam_last_frame_peak():
    # CK+ / Oulu-CASIA: peak = frame 12, nominal positions k * 12 / 6 = 2k.
    np.testing.assert_array_equal(sample_stcam(13), [0, 2, 4, 6, 8, 10, 12])
    # 7 frames: every frame once.
    np.testing.assert_array_equal(sample_stcam(7), np.arange(7))


def test_stcam_middle_frame_peak():
    # MMI: 25 frames, peak = (25 - 1) // 2 = 12.
    np.testing.assert_array_equal(sample_stcam(25, peak="middle"), [0, 2, 4, 6, 8, 10, 12])
    # 10 frames: peak 4, positions 0, 0.67, 1.33, 2, 2.67, 3.33, 4 -> rounded 0, 1, 1, 2, 3, 3, 4.
    np.testing.assert_array_equal(sample_stcam(10, peak="middle"), [0, 1, 1, 2, 3, 3, 4])


def test_stcam_annotated_apex_rounds_half_up():
    # Apex at frame 9: positions 1.5 k = 0, 1.5, 3, 4.5, 6, 7.5, 9 -> 0, 2, 3, 5, 6, 8, 9.
    np.testing.assert_array_equal(sample_stcam(30, peak=9), [0, 2, 3, 5, 6, 8, 9])


def test_stcam_short_video_repeats_frames():
    # 4 frames: positions 0, 0.5, 1, 1.5, 2, 2.5, 3.
    np.testing.assert_array_equal(sample_stcam(4), [0, 1, 1, 2, 2, 3, 3])
    np.testing.assert_array_equal(sample_stcam(1), np.zeros(7))
    np.testing.assert_array_equal(sample_stcam(1, training=True, seed=0), np.zeros(7))


@pytest.mark.parametrize("n_frames, peak", [(13, "last"), (53, "last"), (120, "middle"), (200, 150)])
def test_stcam_training_jitter_stays_within_half_spacing(n_frames, peak):
    peak_index = {"last": n_frames - 1, "middle": (n_frames - 1) // 2}.get(peak, peak)
    spacing = peak_index / 6
    nominal = spacing * np.arange(7)
    draws = np.array([sample_stcam(n_frames, peak=peak, training=True, seed=seed) for seed in SEEDS])
    assert np.all(draws[:, 0] == 0) and np.all(draws[:, -1] == peak_index)
    # A move below half the spacing, then rounding to the nearest frame.
    assert np.all(np.abs(draws - nominal) <= 0.5 * spacing + 0.5)
    assert np.all(np.diff(draws, axis=1) >= 0)
    # Symmetric moves: the mean position stays at the paper's even spacing.
    np.testing.assert_allclose(draws.mean(axis=0), nominal, atol=0.1 * spacing + 0.5)
    assert len({tuple(row) for row in draws}) > 10


def test_stcam_zero_jitter_training_equals_test():
    np.testing.assert_array_equal(sample_stcam(53, jitter=0.0, training=True, seed=5), sample_stcam(53))


def test_stcam_rejects_bad_options():
    with pytest.raises(ValueError, match="peak"):
        sample_stcam(10, peak="first")
    with pytest.raises(ValueError, match="peak"):
        sample_stcam(10, peak=10)
    with pytest.raises(ValueError, match="jitter"):
        sample_stcam(10, jitter=0.8)


# ----------------------------------------------------------------------------- ECNN-FSA


def test_ecnn_fsa_test_mode_takes_segment_centres():
    # 10 frames, 5 segments of 2: centres at times 1, 3, 5, 7, 9.
    np.testing.assert_array_equal(sample_ecnn_fsa(10), [1, 3, 5, 7, 9])
    # 23 frames: segment length 4.6, centres 2.3, 6.9, 11.5, 16.1, 20.7.
    np.testing.assert_array_equal(sample_ecnn_fsa(23), [2, 6, 11, 16, 20])
    # Exactly 5 frames: one frame per segment.
    np.testing.assert_array_equal(sample_ecnn_fsa(5), [0, 1, 2, 3, 4])


def test_ecnn_fsa_short_video_shares_frames():
    # 3 frames: centres at times 0.3, 0.9, 1.5, 2.1, 2.7.
    np.testing.assert_array_equal(sample_ecnn_fsa(3), [0, 0, 1, 2, 2])
    np.testing.assert_array_equal(sample_ecnn_fsa(1), np.zeros(5))


def test_ecnn_fsa_training_one_random_frame_per_segment():
    # 10 frames: segment k holds frames 2k and 2k + 1, each drawn about half the time.
    draws = np.array([sample_ecnn_fsa(10, training=True, seed=seed) for seed in SEEDS])
    offsets = draws - 2 * np.arange(5)
    assert set(np.unique(offsets)) == {0, 1}
    assert np.all(np.abs(offsets.mean(axis=0) - 0.5) < 0.15)
    # 23 frames: segment k covers times [4.6 k, 4.6 (k + 1)).
    low = np.array([0, 4, 9, 13, 18])
    high = np.array([4, 9, 13, 18, 22])
    for seed in SEEDS:
        drawn = sample_ecnn_fsa(23, training=True, seed=seed)
        assert np.all(drawn >= low) and np.all(drawn <= high)


def test_ecnn_fsa_segment_count_option():
    # 12 frames in 3 segments of 4: centres at times 2, 6, 10.
    np.testing.assert_array_equal(sample_ecnn_fsa(12, num_segments=3), [2, 6, 10])
    with pytest.raises(ValueError, match="num_segments"):
        sample_ecnn_fsa(12, num_segments=0)


# ----------------------------------------------------------------------------- CEFLNet

_CEFLNET_TEST_CLIPS = 14 + 10 * np.arange(7)[:, None] + np.array([1, 4, 7, 10, 13])[None, :]


@pytest.mark.parametrize("n_frames", [105, 200])
def test_ceflnet_long_and_exact_videos_use_frames_directly(n_frames):
    # Start 14 (centre of the first 30), clip k covers 14 + 10 k .. 14 + 10 k + 14; centres of 5 parts.
    positions = sample_ceflnet(n_frames)
    assert positions.shape == (7, 5)
    np.testing.assert_array_equal(positions, _CEFLNET_TEST_CLIPS)
    assert positions[0].tolist() == [15, 18, 21, 24, 27]
    assert positions[-1].tolist() == [75, 78, 81, 84, 87]


def test_ceflnet_short_video_is_stretched_to_105_frames():
    # 53 frames: virtual frame v of 105 is position v * 52 / 104 = v / 2.
    np.testing.assert_allclose(sample_ceflnet(53), _CEFLNET_TEST_CLIPS / 2)
    assert sample_ceflnet(53)[0].tolist() == [7.5, 9.0, 10.5, 12.0, 13.5]
    np.testing.assert_array_equal(sample_ceflnet(1), np.zeros((7, 5)))


def test_ceflnet_resample_option_squeezes_long_videos():
    # 209 frames: position = v * 208 / 104 = 2 v.
    np.testing.assert_allclose(sample_ceflnet(209, long_videos="resample"), 2 * _CEFLNET_TEST_CLIPS)
    np.testing.assert_array_equal(sample_ceflnet(209), _CEFLNET_TEST_CLIPS)


@pytest.mark.parametrize("n_frames, frames_per_virtual", [(200, 1.0), (53, 0.5)])
def test_ceflnet_training_windows(n_frames, frames_per_virtual):
    starts = set()
    for seed in SEEDS:
        virtual = sample_ceflnet(n_frames, training=True, seed=seed) / frames_per_virtual
        np.testing.assert_allclose(virtual, np.round(virtual), atol=1e-9)
        # Remove each window's offset of 10 k: every clip then lies in one 15-frame window [s, s + 14].
        relative = np.round(virtual).astype(int) - 10 * np.arange(7)[:, None]
        start, end = relative.min(), relative.max()
        assert start >= 0 and end - start <= 14 and end <= 29 + 14
        assert all(len(set(clip)) == 5 for clip in relative)
        starts.add(start)
    assert len(starts) > 10  # the start is drawn, not fixed


def test_ceflnet_rejects_inconsistent_geometry():
    with pytest.raises(ValueError, match="kept_frames"):
        sample_ceflnet(200, kept_frames=90)
    with pytest.raises(ValueError, match="clip_overlap"):
        sample_ceflnet(200, clip_overlap=15)
    with pytest.raises(ValueError, match="frames_per_clip"):
        sample_ceflnet(200, frames_per_clip=16)
    with pytest.raises(ValueError, match="long_videos"):
        sample_ceflnet(200, long_videos="drop")
    with pytest.raises(ValueError, match="test_frames"):
        sample_ceflnet(200, test_frames="random")


def test_ceflnet_code_test_frames_start_at_15_with_offsets_0_to_12():
    """The authors' code (data/NewDataset.py): start 15, frames 0, 3, 6, 9, 12 of each 15-frame window."""
    code = sample_ceflnet(200, test_frames="code")
    expected = 15 + 10 * np.arange(7)[:, None] + np.array([0, 3, 6, 9, 12])
    np.testing.assert_array_equal(code, expected)
    # At the paper's geometry this is the centred reading's frames (14 + 1, 4, ..., 13); elsewhere they differ.
    np.testing.assert_array_equal(sample_ceflnet(200), code)
    np.testing.assert_array_equal(sample_ceflnet(200, frames_per_clip=3, test_frames="code")[0], [15, 20, 25])
    np.testing.assert_array_equal(sample_ceflnet(200, frames_per_clip=3)[0], [16, 21, 26])
    np.testing.assert_array_equal(sample_ceflnet(200, start_range=29, test_frames="code")[0], [14, 17, 20, 23, 26])
    # Training ignores the option.
    np.testing.assert_array_equal(sample_ceflnet(200, training=True, seed=3, test_frames="code"),
                                  sample_ceflnet(200, training=True, seed=3))


# ----------------------------------------------------------------------------- STANet


def test_stanet_linear_interpolation_positions():
    # 39 frames to 20: position j * 38 / 19 = 2 j.
    np.testing.assert_allclose(sample_stanet(39), 2.0 * np.arange(20))
    np.testing.assert_allclose(sample_stanet(20), np.arange(20))
    # Shorter than 20: 5 frames, position j * 4 / 19.
    np.testing.assert_allclose(sample_stanet(5), np.arange(20) * 4 / 19)
    np.testing.assert_array_equal(sample_stanet(1), np.zeros(20))
    np.testing.assert_allclose(sample_stanet(5, training=True, seed=1), sample_stanet(5))


# ----------------------------------------------------------------------------- superset


@pytest.mark.parametrize("paper", PAPERS)
@pytest.mark.parametrize("n_frames", [1, 4, 13, 53, 120])
def test_superset_covers_every_draw(paper, n_frames):
    kept = superset(paper, n_frames)
    assert kept.dtype.kind == "i"
    np.testing.assert_array_equal(kept, np.unique(kept))
    touched = _frames_touched(sample(paper, n_frames))
    for seed in SEEDS:
        touched |= _frames_touched(sample(paper, n_frames, training=True, seed=seed))
    assert touched <= set(kept.tolist())
    if paper != "ceflnet":  # few draws cannot reach CEFLNet's every combination
        assert touched == set(kept.tolist())


def test_superset_hand_worked_values():
    # STANet, 39 frames: positions 2 j are integral, so only the even frames.
    np.testing.assert_array_equal(superset("stanet", 39), np.arange(0, 39, 2))
    # CEFLNet, long video: virtual frames 0 .. 29 + 74 = 103; frame 104 onwards never.
    np.testing.assert_array_equal(superset("ceflnet", 200), np.arange(104))
    # STCAM without jitter: the test frames only.
    np.testing.assert_array_equal(superset("stcam", 13, jitter=0.0), [0, 2, 4, 6, 8, 10, 12])
    # AST with a fixed stride longer than the video allows: frames 0, 10, 20.
    np.testing.assert_array_equal(superset("ast", 30, stride=10), [0, 10, 20])
    # STCAM, MMI peak in the middle: nothing after the peak.
    assert superset("stcam", 53, peak="middle").max() == 26


def test_superset_rejects_training_and_seed():
    with pytest.raises(ValueError, match="training"):
        superset("ast", 30, training=True)
    with pytest.raises(ValueError, match="seed"):
        superset("ast", 30, seed=1)


# ----------------------------------------------------------------------------- interpolate_frames


def _reference_blend(frames, positions):
    """(1 - w) * frames[floor(p)] + w * frames[ceil(p)], one position at a time, in float64."""
    frames = np.asarray(frames, dtype=np.float64)
    flat = np.asarray(positions, dtype=np.float64).ravel()
    out = []
    for position in flat:
        lower = int(np.floor(position))
        upper = min(lower + 1, len(frames) - 1)
        weight = position - lower
        out.append((1.0 - weight) * frames[lower] + weight * frames[upper])
    return np.stack(out).reshape(np.shape(positions) + frames.shape[1:])


def test_interpolate_frames_matches_linear_blend():
    rng = np.random.default_rng(0)
    frames = rng.normal(size=(5, 3, 3, 4)).astype(np.float32)  # feature maps
    positions = np.array([[0.0, 0.25, 1.5], [3.75, 4.0, 2.0]])
    result = interpolate_frames(frames, positions)
    assert result.shape == (2, 3, 3, 3, 4) and result.dtype == np.float32
    np.testing.assert_allclose(result, _reference_blend(frames, positions), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(result[0, 0], frames[0])  # integral position: the frame itself


def test_interpolate_frames_stanet_positions_on_images():
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, size=(5, 4, 4, 3), dtype=np.uint8)
    positions = sample_stanet(5)
    result = interpolate_frames(frames, positions)
    assert result.shape == (20, 4, 4, 3) and result.dtype == np.uint8
    expected = np.rint(_reference_blend(frames, positions))
    assert np.abs(result.astype(np.float64) - expected).max() <= 1  # rounding of exact halves may differ
    np.testing.assert_array_equal(result[0], frames[0])
    np.testing.assert_array_equal(result[-1], frames[-1])


def test_interpolate_frames_keeps_float16_and_int_positions():
    frames = np.arange(12, dtype=np.float16).reshape(4, 3)
    halfway = interpolate_frames(frames, np.array([0.5]))
    assert halfway.dtype == np.float16
    np.testing.assert_array_equal(halfway, [[1.5, 2.5, 3.5]])
    taken = interpolate_frames(frames, np.array([3, 1]))
    np.testing.assert_array_equal(taken, frames[[3, 1]])


def test_interpolate_frames_on_kept_superset():
    rng = np.random.default_rng(2)
    video = rng.normal(size=(53, 2)).astype(np.float32)
    kept = superset("stanet", 53)
    positions = sample_stanet(53)
    np.testing.assert_allclose(
        interpolate_frames(video[kept], positions, frame_indices=kept), interpolate_frames(video, positions)
    )
    assert kept.size < 53  # only the neighbours of the 20 positions are kept


def test_interpolate_frames_errors():
    frames = np.zeros((4, 2), np.float32)
    with pytest.raises(ValueError, match="positions"):
        interpolate_frames(frames, np.array([3.5]))
    with pytest.raises(ValueError, match="positions"):
        interpolate_frames(frames, np.array([-0.1]))
    with pytest.raises(ValueError, match="positions"):
        interpolate_frames(frames, np.array([np.nan]))
    with pytest.raises(ValueError, match=r"need frames \[5\]"):
        interpolate_frames(frames, np.array([4.5]), frame_indices=np.array([0, 2, 4, 6]))
    with pytest.raises(ValueError, match="frame_indices"):
        interpolate_frames(frames, np.array([1.0]), frame_indices=np.array([0, 2, 1, 6]))
    with pytest.raises(ValueError, match="frame_indices"):
        interpolate_frames(frames, np.array([1.0]), frame_indices=np.array([0, 1]))


# ----------------------------------------------------------------------------- README example


def test_readme_sampling_example():
    import numpy as np

    from data_prep.sampling import interpolate_frames, sample, superset

    frames = np.random.default_rng(0).integers(0, 256, size=(53, 8, 8, 3), dtype=np.uint8)
    n_frames = len(frames)

    indices = sample("stcam", n_frames, peak="middle", training=True, seed=0)  # 7 ints
    clip = frames[indices]

    positions = sample("stanet", n_frames)  # 20 floats in [0, 52]
    stanet_frames = interpolate_frames(frames, positions)

    kept = superset("ceflnet", n_frames)  # every frame CEFLNet can ever read
    clips = interpolate_frames(frames[kept], sample("ceflnet", n_frames), frame_indices=kept)

    assert clip.shape == (7, 8, 8, 3)
    assert stanet_frames.shape == (20, 8, 8, 3)
    assert clips.shape == (7, 5, 8, 8, 3)
