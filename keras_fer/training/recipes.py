"""The five papers' training recipes as data: optimizer, schedule, epochs, batch size, weight decay, loss, augmentation.

A :class:`Recipe` records what a paper states (``source``) and, where the paper
is silent, what we use and why (``gaps``). :func:`get_recipe` returns a
paper's recipe with any field overridden; :meth:`Recipe.compile` and
:func:`build_model` turn it into a compiled Keras model.

Weight decay is Keras's decoupled weight decay (each step subtracts
``learning_rate * weight_decay * w``). That equals PyTorch's ``weight_decay``
for plain SGD; with momentum or Adam, PyTorch instead adds ``weight_decay * w``
to the gradient (L2), so the papers' (PyTorch) settings are matched in size,
not exactly in effect.

Example:

>>> from keras_fer.training.recipes import get_recipe
>>> recipe = get_recipe("stcam", epochs=10)
>>> recipe.optimizer, recipe.learning_rate, recipe.epochs
('sgd', 0.001, 10)
>>> recipe.learning_rate_at(epoch=45, steps_per_epoch=1)  # divided by 10 at epoch 40  # doctest: +SKIP
0.0001
"""

import dataclasses
import types

import keras

from data_prep import checks
from data_prep.checks import check_choice, check_int

__all__ = ["AUGMENTATIONS", "OPTIMIZERS", "RECIPES", "SCHEDULES", "Recipe", "build_model", "fitted_warmup",
           "get_recipe"]

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "step", "cosine")
#: Augmentations a recipe can name; the data readers apply them (training only).
AUGMENTATIONS = (
    "horizontal_flip",  # mirror all frames of a clip together
    "corner_center_crop",  # crop crop_size from the larger prepared frame at a corner or the centre
    "rescale",  # resize by one of `scales`, then crop/pad back
    "temporal_jitter",  # the sampler's training draw (every paper; listed where the paper says so)
)


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A paper's training recipe.

    Args:
        paper: registry paper name (``"ast"``, ``"stcam"``, ``"ecnn_fsa"``, ``"ceflnet"``, ``"stanet"``).
        model: the registry name of the paper's full model.
        optimizer: ``"sgd"`` or ``"adam"``.
        learning_rate: initial (peak, after warm-up) learning rate.
        momentum: SGD momentum.
        nesterov: SGD Nesterov momentum.
        weight_decay: decoupled weight decay (see the module docstring).
        schedule: ``"constant"``; ``"step"`` (multiply by ``decay_factor``
            once each of ``decay_epochs`` epochs have been completed); ``"cosine"`` (linear warm-up over
            ``warmup_epochs``, then cosine annealing to 0 at ``epochs``).
        decay_epochs: epochs at which the step schedule decays.
        decay_factor: the step schedule's factor.
        warmup_epochs: warm-up length of the cosine schedule (shrunk when ``epochs`` is overridden and the
            warm-up does not fit: :func:`fitted_warmup`).
        epochs: training epochs.
        batch_size: clips per batch.
        label_smoothing: of the cross-entropy loss (on logits).
        augmentation: names from :data:`AUGMENTATIONS`.
        crop_size: side of the training crop / test centre crop, or None (no crop).
        scales: resize factors of ``"rescale"``.
        sampler: the :mod:`data_prep.sampling` paper whose sampler draws the frames.
        frame_size: side of the frames the model reads.
        source: where in the paper the recipe is stated.
        gaps: what the paper does not state and what we use instead.
    """

    paper: str
    model: str
    optimizer: str
    learning_rate: float
    epochs: int
    batch_size: int
    sampler: str
    frame_size: int
    source: str
    gaps: tuple = ()
    momentum: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: str = "constant"
    decay_epochs: tuple = ()
    decay_factor: float = 0.1
    warmup_epochs: int = 0
    label_smoothing: float = 0.0
    augmentation: tuple = ()
    crop_size: int | None = None
    scales: tuple = ()

    def __post_init__(self):
        where = f"Recipe({self.paper})"

        def fail(name, requirement):
            checks.fail(name, requirement, getattr(self, name), where)

        check_choice(self.optimizer, OPTIMIZERS, "optimizer", where)
        check_choice(self.schedule, SCHEDULES, "schedule", where)
        for name in ("epochs", "batch_size", "frame_size"):
            check_int(getattr(self, name), name, minimum=1, where=where)
        if not (isinstance(self.learning_rate, (int, float)) and self.learning_rate > 0):
            fail("learning_rate", "a positive number")
        for name in ("momentum", "weight_decay", "label_smoothing"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 <= value < 1):
                fail(name, "a number in [0, 1)")
        if not (0 < self.decay_factor <= 1):
            fail("decay_factor", "in (0, 1]")
        if self.schedule == "step" and (not self.decay_epochs or list(self.decay_epochs) != sorted(self.decay_epochs)):
            fail("decay_epochs", "a non-empty ascending tuple of epochs for schedule='step'")
        if self.schedule == "cosine" and not (0 <= self.warmup_epochs < self.epochs):
            fail("warmup_epochs", "in [0, epochs)")
        unknown = [name for name in self.augmentation if name not in AUGMENTATIONS]
        if unknown:
            fail("augmentation", f"names from {AUGMENTATIONS}")
        if self.crop_size is not None and self.crop_size > self.frame_size:
            fail("crop_size", f"at most frame_size={self.frame_size}")
        if self.optimizer == "adam" and (self.momentum or self.nesterov):
            fail("momentum", "0 for optimizer='adam'")

    def learning_rate_schedule(self, steps_per_epoch):
        """The learning rate as a Keras schedule (or a float for ``"constant"``), stepped per batch."""
        steps_per_epoch = check_int(steps_per_epoch, "steps_per_epoch", minimum=1)
        if self.schedule == "constant":
            return float(self.learning_rate)
        if self.schedule == "step":
            # Keras switches to the next value when step > boundary; step counts finished batches.
            boundaries = [epoch * steps_per_epoch - 1 for epoch in self.decay_epochs]
            values = [self.learning_rate * self.decay_factor**k for k in range(len(boundaries) + 1)]
            return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
        warmup_steps = self.warmup_epochs * steps_per_epoch
        return keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0 if warmup_steps else self.learning_rate,
            decay_steps=(self.epochs - self.warmup_epochs) * steps_per_epoch,
            warmup_target=self.learning_rate if warmup_steps else None,
            warmup_steps=warmup_steps,
        )

    def learning_rate_at(self, epoch, steps_per_epoch):
        """The learning rate at the first step of ``epoch`` (0-based), as a float."""
        schedule = self.learning_rate_schedule(steps_per_epoch)
        if isinstance(schedule, float):
            return schedule
        return float(keras.ops.convert_to_numpy(schedule(epoch * steps_per_epoch)))

    def make_optimizer(self, steps_per_epoch):
        """A new Keras optimizer with this recipe's settings and schedule."""
        learning_rate = self.learning_rate_schedule(steps_per_epoch)
        weight_decay = self.weight_decay or None
        if self.optimizer == "sgd":
            return keras.optimizers.SGD(learning_rate, momentum=self.momentum, nesterov=self.nesterov,
                                        weight_decay=weight_decay)
        return keras.optimizers.Adam(learning_rate, weight_decay=weight_decay)

    def loss(self):
        """Cross-entropy on logits with integer labels (label smoothing needs one-hot labels, so it switches)."""
        if self.label_smoothing:
            return keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=self.label_smoothing)
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def compile(self, model, steps_per_epoch):
        """Compile ``model`` (logits out) with this recipe's optimizer, loss and an accuracy metric; returns it.

        A model's own losses (STANet's L1 mask penalty) are added by Keras to this loss. The accuracy is a
        weighted metric, so that the zero-weight padding of validation batches split over several devices
        (:func:`keras_fer.training.distribute.for_replicas`) does not count; without weights it is the plain one.
        """
        metric = "categorical_accuracy" if self.label_smoothing else "sparse_categorical_accuracy"
        model.compile(optimizer=self.make_optimizer(steps_per_epoch), loss=self.loss(),
                      weighted_metrics=[keras.metrics.get(metric)])
        return model


def _recipes():
    recipes = (
        Recipe(
            paper="ast", model="ast", optimizer="adam", learning_rate=1e-3, epochs=50, batch_size=16, sampler="ast",
            frame_size=224,
            source="Sec. 4: 20 frames at 224x224, VGG-Face pool5 7x7x512, implemented in Keras",
            gaps=("the paper gives no optimizer, learning rate, epochs or batch size: Keras's default Adam "
                  "(lr 1e-3), 50 epochs (its accuracy curves flatten within tens of epochs), batch 16",),
        ),
        Recipe(
            paper="stcam", model="stcam", optimizer="sgd", learning_rate=1e-3, momentum=0.9, nesterov=True,
            weight_decay=0.01, schedule="step", decay_epochs=(40, 90), decay_factor=0.1, epochs=100,
            batch_size=16, augmentation=("horizontal_flip", "corner_center_crop", "temporal_jitter"),
            crop_size=224, sampler="stcam", frame_size=240,
            source="Sec. 4.2 'Data augmentation', 'Frames selection' and 'Parameters settings'",
            gaps=("Kinetics pre-training (SGD Nesterov 0.9, lr 1e-3, wd 5e-4, 8 epochs, batch 32) is not part of "
                  "the recipe: load converted weights into the stem instead",),
        ),
        Recipe(
            paper="ecnn_fsa", model="ecnn_fsa", optimizer="sgd", learning_rate=1e-3, momentum=0.9,
            schedule="step", decay_epochs=(20, 40), decay_factor=0.1, epochs=50, batch_size=48,
            augmentation=("temporal_jitter",), sampler="ecnn_fsa", frame_size=224,
            source="Sec. 2 'Implementation details': SGD momentum 0.9, initial lr 0.001 'which decreases', batch 48",
            gaps=("how the learning rate decreases and for how many epochs are not given: x0.1 at epochs 20 and "
                  "40 of 50",
                  "weight decay is not given: none"),
        ),
        Recipe(
            paper="ceflnet", model="ceflnet", optimizer="adam", learning_rate=1e-4, weight_decay=1e-4,
            schedule="cosine", warmup_epochs=5, epochs=120, batch_size=8, augmentation=("temporal_jitter",),
            sampler="ceflnet", frame_size=224,
            source="Sec. 4.1 and Table 1: Adam, lr 1e-4, cosine annealing with warm-up, weight decay 1e-4, "
                   "batch 8, 120 epochs, 7 clips x 5 frames",
            gaps=("the warm-up length is not given: 5 epochs, linear from 0",),
        ),
        Recipe(
            paper="stanet", model="stanet", optimizer="adam", learning_rate=1e-5, weight_decay=1e-4, epochs=30,
            batch_size=16, augmentation=("corner_center_crop", "rescale"), scales=(0.9, 1.0, 1.1),
            crop_size=192, sampler="stanet", frame_size=192,
            source="Sec. 4 'Settings': Adam, lr 1e-5, weight decay 1e-4, lambda 1e-8; 60 / 30 / 100 epochs on "
                   "CASME I / CASME II / SMIC-HS; corner crop + rescale (0.9, 1.0, 1.1) on CASME, corner crop + "
                   "horizontal flip on SMIC-HS",
            gaps=("the batch size is not given: 16",
                  "epochs default to CASME II's 30; use epochs=60 for CASME I, epochs=100 and augmentation="
                  "('corner_center_crop', 'horizontal_flip') for SMIC-HS",
                  "the crop size is not given: the crop is rescaled back to 192"),
        ),
    )
    return types.MappingProxyType({recipe.paper: recipe for recipe in recipes})


#: The recipes by paper name (read-only).
RECIPES = _recipes()


def get_recipe(paper, **overrides):
    """The recipe of ``paper`` with ``overrides`` (field=value) applied.

    Raises:
        ValueError: unknown paper, or a bad value.
        TypeError: an override that is not a :class:`Recipe` field.
    """
    if paper not in RECIPES:
        raise ValueError(f"`paper` must be one of {sorted(RECIPES)}; received paper={paper!r}")
    fields = {field.name for field in dataclasses.fields(Recipe)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise TypeError(f"get_recipe: unknown recipe fields {unknown}; fields are {sorted(fields)}")
    for name in ("decay_epochs", "augmentation", "scales", "gaps"):
        if name in overrides:
            overrides[name] = tuple(overrides[name])
    if "epochs" in overrides and "warmup_epochs" not in overrides:
        overrides["warmup_epochs"] = fitted_warmup(RECIPES[paper], overrides["epochs"])
    return dataclasses.replace(RECIPES[paper], **overrides)


def fitted_warmup(recipe, epochs):
    """The warm-up of ``recipe`` for a run of ``epochs``: the recipe's own when it is shorter than the run, else
    shrunk in proportion (CEFLNet's 5 of 120 epochs: 0 of 20, 2 of 50), at most ``epochs - 1``.

    :func:`get_recipe` applies it when ``epochs`` is overridden without ``warmup_epochs`` (``keras-fer train``,
    ``cv`` and ``reproduce`` with ``--epochs``, the synthetic plans of ``reproduce``).
    """
    if recipe.schedule != "cosine" or not isinstance(epochs, int) or epochs < 1 or recipe.warmup_epochs < epochs:
        return recipe.warmup_epochs
    return min(epochs - 1, recipe.warmup_epochs * epochs // recipe.epochs)


def build_model(recipe, num_classes, steps_per_epoch, model=None, input="features", **model_kwargs):
    """A registry model compiled with ``recipe``.

    Args:
        recipe: a :class:`Recipe` or a paper name.
        num_classes: int >= 2.
        steps_per_epoch: batches per epoch (the schedules step per batch).
        model: registry name; default the recipe's full model (an ablation such as ``"stcam_cam"`` also works).
        input: ``"features"`` or ``"frames"`` (see :func:`keras_fer.models.create_model`).
        **model_kwargs: the model's own arguments.

    Returns:
        The compiled ``keras.Model``.
    """
    from keras_fer.models import create_model, get_spec

    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    name = recipe.model if model is None else model
    if get_spec(name).paper != recipe.paper:
        raise ValueError(f"model {name!r} belongs to paper {get_spec(name).paper!r}, "
                         f"not to the {recipe.paper!r} recipe")
    return recipe.compile(create_model(name, num_classes, input=input, **model_kwargs), steps_per_epoch)

