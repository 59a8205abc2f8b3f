"""Training: the papers' recipes (:mod:`keras_fer.training.recipes`)."""

from keras_fer.training.recipes import RECIPES, Recipe, build_model, get_recipe

__all__ = ["RECIPES", "Recipe", "build_model", "get_recipe"]
