"""The papers' recipes: values from the papers, schedules, overrides, optimizers, compile."""

import math

import keras
import numpy as np
import pytest

from keras_fer.training.recipes import RECIPES, Recipe, fitted_warmup, get_recipe


def test_every_paper_has_a_recipe_for_its_full_model():
    assert sorted(RECIPES) == ["ast", "ceflnet", "ecnn_fsa", "stanet", "stcam"]
    for paper, recipe in RECIPES.items():
        assert recipe.paper == paper and recipe.model == paper and recipe.sampler == paper
        assert recipe.source


def test_values_stated_by_the_papers():
    stcam, ceflnet, stanet, ecnn = RECIPES["stcam"], RECIPES["ceflnet"], RECIPES["stanet"], RECIPES["ecnn_fsa"]
    assert (stcam.optimizer, stcam.momentum, stcam.nesterov, stcam.learning_rate) == ("sgd", 0.9, True, 1e-3)
    assert (stcam.decay_epochs, stcam.epochs, stcam.batch_size, stcam.weight_decay) == ((40, 90), 100, 16, 0.01)
    assert (stcam.frame_size, stcam.crop_size) == (240, 224)
    assert (ceflnet.optimizer, ceflnet.learning_rate, ceflnet.weight_decay) == ("adam", 1e-4, 1e-4)
    assert (ceflnet.schedule, ceflnet.batch_size, ceflnet.epochs) == ("cosine", 8, 120)
    assert (stanet.optimizer, stanet.learning_rate, stanet.weight_decay) == ("adam", 1e-5, 1e-4)
    assert (ecnn.optimizer, ecnn.momentum, ecnn.learning_rate, ecnn.batch_size) == ("sgd", 0.9, 1e-3, 48)


def test_step_schedule_divides_by_ten_at_the_stated_epochs():
    recipe = RECIPES["stcam"]
    rates = [recipe.learning_rate_at(epoch, steps_per_epoch=3) for epoch in (0, 39, 40, 89, 90, 99)]
    np.testing.assert_allclose(rates, [1e-3, 1e-3, 1e-4, 1e-4, 1e-5, 1e-5], rtol=1e-5)


def test_cosine_schedule_warms_up_then_anneals():
    recipe = get_recipe("ceflnet", epochs=25, warmup_epochs=5)
    rates = [recipe.learning_rate_at(epoch, steps_per_epoch=4) for epoch in (0, 5, 15, 25)]
    expected_middle = 1e-4 * 0.5 * (1 + math.cos(math.pi * 0.5))
    np.testing.assert_allclose(rates, [0.0, 1e-4, expected_middle, 0.0], atol=1e-9)
    assert 0 < recipe.learning_rate_at(2, steps_per_epoch=4) < 1e-4


def test_fewer_epochs_than_the_warmup_shrink_it_everywhere():
    """One rule for train, cv and reproduce: CEFLNet's 5 warm-up epochs of 120 shrink in proportion when they do
    not fit in the epochs asked for, and stay when they fit."""
    assert [get_recipe("ceflnet", epochs=n).warmup_epochs for n in (1, 2, 5, 6, 50)] == [0, 0, 0, 5, 5]
    assert fitted_warmup(RECIPES["ceflnet"], 100) == 5 and fitted_warmup(RECIPES["ceflnet"], 5) == 0
    assert get_recipe("ceflnet", epochs=3, warmup_epochs=1).warmup_epochs == 1  # asked for: kept
    with pytest.raises(ValueError, match="warmup_epochs"):
        get_recipe("ceflnet", epochs=3, warmup_epochs=3)
    assert get_recipe("stcam", epochs=2).warmup_epochs == RECIPES["stcam"].warmup_epochs  # no cosine: untouched


def test_overrides_and_their_errors():
    recipe = get_recipe("stcam", epochs=3, decay_epochs=[1, 2], batch_size=2)
    assert (recipe.epochs, recipe.decay_epochs, recipe.batch_size) == (3, (1, 2), 2)
    assert RECIPES["stcam"].epochs == 100  # the stored recipe is unchanged
    with pytest.raises(TypeError, match="lr"):
        get_recipe("stcam", lr=0.1)
    with pytest.raises(ValueError, match="paper"):
        get_recipe("resnet")
    with pytest.raises(ValueError, match="optimizer"):
        get_recipe("ast", optimizer="rmsprop")
    with pytest.raises(ValueError, match="decay_epochs"):
        get_recipe("stcam", decay_epochs=(90, 40))
    with pytest.raises(ValueError, match="augmentation"):
        get_recipe("stanet", augmentation=("mixup",))
    with pytest.raises(ValueError, match="momentum"):
        get_recipe("ceflnet", momentum=0.9)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        RECIPES["ast"].learning_rate_schedule(0)


@pytest.mark.parametrize("paper", sorted(RECIPES))
def test_optimizer_matches_the_recipe(paper):
    recipe = RECIPES[paper]
    optimizer = recipe.make_optimizer(steps_per_epoch=10)
    expected = {"sgd": keras.optimizers.SGD, "adam": keras.optimizers.Adam}[recipe.optimizer]
    assert type(optimizer) is expected
    assert (optimizer.weight_decay or 0.0) == pytest.approx(recipe.weight_decay)
    if recipe.optimizer == "sgd":
        assert optimizer.momentum == recipe.momentum and optimizer.nesterov == recipe.nesterov


def test_compile_trains_a_model_with_the_recipe():
    recipe = get_recipe("stcam", epochs=2, decay_epochs=(1,), batch_size=4)
    inputs = keras.Input((3,))
    model = recipe.compile(keras.Model(inputs, keras.layers.Dense(2)(inputs)), steps_per_epoch=1)
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    history = model.fit(x, np.array([0, 1, 0, 1]), epochs=2, batch_size=4, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    np.testing.assert_allclose(float(model.optimizer.learning_rate), 1e-4, rtol=1e-5)  # decayed after epoch 1


def test_recipe_checks_its_fields():
    with pytest.raises(ValueError, match="epochs"):
        Recipe(paper="x", model="x", optimizer="sgd", learning_rate=0.1, epochs=0, batch_size=1, sampler="ast",
               frame_size=8, source="")


def test_build_model_compiles_a_registry_model_with_the_recipe():
    from keras_fer.training import build_model

    model = build_model("stanet", 3, steps_per_epoch=2, model="stanet_baseline", feature_shape=(4, 8))
    assert type(model.optimizer) is keras.optimizers.Adam
    np.testing.assert_allclose(float(model.optimizer.learning_rate), 1e-5, rtol=1e-5)
    loss = model.train_on_batch(np.random.default_rng(0).normal(size=(2, 4, 8)).astype("float32"), np.array([0, 2]))
    assert np.isfinite(loss).all()
    with pytest.raises(ValueError, match="belongs to paper"):
        build_model("stanet", 3, steps_per_epoch=2, model="ast")
