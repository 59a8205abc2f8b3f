"""The training job feeds its training side the recipe's augmentations (STANet sec. 4.1) and its other sides none."""
import json

import numpy as np

from keras_fer.data import augment
from keras_fer.data.sources import ArraySource
from keras_fer.evaluation import splits
from keras_fer.jobs import training
from keras_fer.training.recipes import get_recipe


class _Recorded(ArraySource):
    """An ArraySource that keeps the options of every dataset it makes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = []

    def dataset(self, ids, **options):
        self.calls.append(options)
        return super().dataset(ids, **options)


def test_run_fold_augments_the_training_side_only_and_records_it(tmp_path):
    rng = np.random.default_rng(0)
    n = 12
    flows = rng.normal(size=(n, 20, 32, 32, 2)).astype("float32")  # (N, T, H, W, dx/dy): STANet's 20 frames
    ids = [f"v{i}" for i in range(n)]
    source = _Recorded(flows, np.arange(n) % 2, ids, [f"s{i % 6}" for i in range(n)], ["a", "b"])
    recipe = get_recipe("stanet", epochs=1, batch_size=4,
                        augmentation=("corner_center_crop", "rescale", "horizontal_flip"), crop_size=144)
    fold = splits.Fold("f", tuple(ids[:10]), tuple(ids[10:]))
    tiny = {"filters": (2, 2, 2), "frame_size": (32, 32)}
    training.run_fold(source, "stanet", fold, out_dir=tmp_path, recipe=recipe, validation_size=1, seed=0,
                      model_kwargs=tiny, verbose=0, tensorboard=False, figures=False)
    expected = augment.from_recipe(recipe)
    assert expected.crop_fraction == 144 / 192
    trained = [call for call in source.calls if call["training"]]
    assert [call.get("augmentation") for call in trained] == [expected]
    assert all(call.get("augmentation") is None for call in source.calls if not call["training"])
    with open(tmp_path / "augmentation.json", encoding="utf-8") as handle:
        assert json.load(handle) == {"input": "frames", "applied": expected.record()}
    # What that training side reads: the clips of the plain training pass, augmented.
    plain = np.concatenate([x for x, _ in source.dataset(ids, training=True, batch_size=4, seed=0)])
    augmented = np.concatenate([x for x, _ in source.dataset(ids, training=True, batch_size=4, seed=0,
                                                             augmentation=expected)])
    assert plain.shape == augmented.shape and not np.allclose(plain, augmented)
