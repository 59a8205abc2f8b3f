import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pytest

from tests.data import helpers as data_helpers


def pytest_runtest_setup(item):
    """``@pytest.mark.backend("tensorflow")``: the test skips itself under another Keras backend."""
    for marker in item.iter_markers("backend"):
        import keras

        if keras.backend.backend() not in marker.args:
            pytest.skip(f"needs the {' or '.join(marker.args)} Keras backend; this run is on "
                        f"{keras.backend.backend()}")


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Every test starts from the float32 policy and a fixed seed."""
    import keras

    keras.mixed_precision.set_dtype_policy("float32")
    keras.utils.set_random_seed(0)
    yield
    keras.mixed_precision.set_dtype_policy("float32")


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """``{"dir", "videos", "features"}``: an AST head trained (1 epoch) by `keras-fer train` on FER2013 features
    of a small synthetic benchmark (for predict and export)."""
    from data_prep import synthetic
    from data_prep.prepare import PrepareOptions, dataset_samples, prepare
    from keras_fer import cli
    from keras_fer.data import cache

    root = tmp_path_factory.mktemp("trained")
    videos, prepared, features = root / "videos", root / "prepared", root / "features"
    synthetic.generate_dataset(videos, mode="macro", n_subjects=3, videos_per_class=1, size=64, n_frames=16)
    prepare(videos, prepared, PrepareOptions(detector="full_frame", size=64), progress=False,
            samples=dataset_samples("synthetic", videos))
    cache.extract(prepared, features, stem="fer2013_mini_xception", sampler=None, progress=False)
    out = root / "ast"
    assert cli.main(["train", "--data", str(features), "--model", "ast", "--sampler", "ast", "--sampler-option",
                     "num_frames=8", "--epochs", "1", "--batch-size", "4", "--validation-size", "1", "--quiet",
                     "--no-tensorboard", "--out", str(out)]) == 0
    return {"dir": out, "videos": videos, "features": features}


# Prepared folders of 12 synthetic clips, shared by the feature-cache, reader and `keras-fer extract` tests.
@pytest.fixture(scope="session")
def prepared_ast(tmp_path_factory):
    """12 synthetic clips prepared with the AST sampler (5 frames): every one of the 16 frames is kept."""
    return data_helpers.make_prepared(tmp_path_factory.mktemp("prepared_ast"), "ast", data_helpers.SAMPLER_OPTIONS)


@pytest.fixture(scope="session")
def prepared_stcam(tmp_path_factory):
    """The same clips prepared with STCAM's sampler (jitter 0.2): 10 of the 16 frames are kept."""
    return data_helpers.make_prepared(tmp_path_factory.mktemp("prepared_stcam"), "stcam", {"jitter": 0.2})


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory):
    """24 clips of 8 stored frames x 6 features, 6 subjects, classes a/b/c; the class lifts one feature."""
    import numpy as np

    from keras_fer.data import cache

    rng = np.random.default_rng(0)
    samples, features = [], {}
    for i in range(24):
        label = "abc"[(i // 6) % 3]
        sample = cache.CacheSample(id=f"clip{i:02d}", label=label, subject=f"S{i % 6}",
                                   frame_indices=tuple(range(8)), sampler_frames=8, source_frames=tuple(range(8)))
        values = rng.normal(size=(8, 6))
        values[:, "abc".index(label)] += 2.0
        samples.append(sample)
        features[sample.id] = values.astype(np.float16)
    folder = tmp_path_factory.mktemp("cache")
    cache.write_cache(folder, samples, lambda todo: (features[s.id] for s in todo),
                      {"stem": "random", "sampler": None, "sampler_options": {}}, (6,), num_shards=2,
                      progress=False)
    return folder
