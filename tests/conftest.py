import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pytest  # noqa: E402


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
