"""STCAM's learning check on the synthetic macro benchmark (run by a slow test; any size from the command line).

STCAM (Chen et al.) trains its 3D-Inception-ResNet end to end after pre-training it on Kinetics (section
4.2); neither the Kinetics weights nor a CPU budget for that pre-training exist here. From scratch, with the
defaults and ``--face-crop``, the full model reached 0.68, 0.65 and 0.81 held out at epoch 30 (seeds 0-2, chance
0.17) in about 5 CPU-minutes each (docs/models.md, "Learning checks"); Adam at 1e-3 diverges in the first epoch
and leaves it at chance, hence 3e-4, dropped tenfold for the last 10 epochs. This script renders the macro
benchmark, trains the registry's full ``stcam`` (3D-CAM then STAM) end to end from scratch, and prints the
held-out accuracy after every epoch, one JSON object per line, then a summary line.
``tests/models/test_stcam.py`` runs its defaults.

Data: ``--subjects`` identities x 6 classes x ``--videos-per-class`` videos of 32 frames rendered at
``--render`` px; the last ``--test-subjects`` subjects are the test side, never trained on. With ``--face-crop``
the videos are rendered at twice that size and cut to their subject's face box (the generator's own face centre
and size, standing in for the face detector the paper runs), resized to ``--render`` px, so the face fills the
clip as in the paper's crops.

STCAM's input (section 4.2): 7 frames, the first, the peak and 5 evenly between, jittered in training
(``data_prep.sampling.sample("stcam", ...)``). The peak is each video's annotated apex: a synthetic expression
returns to neutral by its offset, so the last frame (STCAM's peak for CK+) holds none. Training crops: one of the
4 corners or the centre of ``--crop`` px and a random horizontal flip; test: the centre crop.

Run (about 10 s per epoch of the defaults on 2 CPU cores; at 64 px on a GPU machine, in one command)::

    python scripts/stcam_learning_check.py --face-crop
    python scripts/stcam_learning_check.py --render 72 --crop 64 --face-crop --epochs 40 --decay-epoch 31
"""

import argparse
import inspect
import json
import os
import sys
import tempfile
import time

import numpy as np

from data_prep import faces, sampling, synthetic
from data_prep.video import read_frames

N_FRAMES = 32


def face_box(subject_index, size, seed):
    """``(x0, y0, x1, y1)``: the square around subject ``subject_index``'s face (2 face half-heights) in a ``size`` px
    render, from the generator's own identity; it stands in for a face detector's box."""
    identity = synthetic.random_identity(np.random.default_rng([seed, 0, subject_index]),
                                         synthetic.MODES["macro"].resting_face)
    half = identity.scale * size
    centre_x, centre_y = identity.centre[0] * size, identity.centre[1] * size
    return centre_x - half, centre_y - half, centre_x + half, centre_y + half


def render(root, subjects, videos_per_class, size, seed, face_crop):
    """``(frames (N, 32, size, size, 3) uint8, labels, subjects, apexes, class names)`` of the macro benchmark."""
    rendered = 2 * size if face_crop else size
    rows = synthetic.generate_dataset(root, mode="macro", n_subjects=subjects, videos_per_class=videos_per_class,
                                      size=rendered, n_frames=N_FRAMES, seed=seed)
    classes = sorted({row["label"] for row in rows})
    clips = []
    for row in rows:
        frames = read_frames(os.path.join(root, row["path"]), range(N_FRAMES))
        if face_crop:
            box = face_box(int(row["subject"][1:]) - 1, rendered, seed)
            frames = np.stack([faces.crop_face(frame, box, size=size, margin=0.15) for frame in frames])
        clips.append(frames)
    return (np.stack(clips), np.array([classes.index(row["label"]) for row in rows]),
            np.array([row["subject"] for row in rows]), np.array([int(row["apex"]) for row in rows]), classes)


def stcam_clips(frames, apexes, crop, training, seed):
    """STCAM's 7 frames per video, peak = the annotated apex, with its training crops and flips or the test crop."""
    rng = np.random.default_rng(seed)
    margin = frames.shape[2] - crop
    corners = ((0, 0), (0, margin), (margin, 0), (margin, margin), (margin // 2, margin // 2))
    clips = []
    for video, apex in zip(frames, apexes):
        indices = sampling.sample("stcam", video.shape[0], peak=int(apex), training=training,
                                  seed=int(rng.integers(2**31)) if training else None)
        top, left = corners[rng.integers(5)] if training else corners[-1]
        clip = video[indices, top:top + crop, left:left + crop]
        clips.append(clip[:, :, ::-1] if training and rng.random() < 0.5 else clip)
    return np.stack(clips)


def run(subjects=60, videos_per_class=1, render_size=36, crop=32, test_subjects=12, epochs=30, batch_size=8,
        learning_rate=3e-4, decay_epoch=21, optimizer="adam", face_crop=False, seed=0, out=print):
    """Train the full ``stcam`` on the rendered benchmark; ``out`` gets one JSON line per epoch and a summary.

    The optimizer and its step schedule come from STCAM's recipe (``keras_fer.training.recipes``) with these
    settings and no weight decay: the learning rate drops tenfold from epoch ``decay_epoch`` (1-based).

    Returns the summary dict (``test_accuracy`` of the last epoch, ``best_test_accuracy``, ``chance``, ...).
    """
    import keras

    from keras_fer.models import create_model
    from keras_fer.training.recipes import get_recipe

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="stcam_learning_") as root:
        frames, labels, subject_ids, apexes, classes = render(root, subjects, videos_per_class, render_size, seed,
                                                              face_crop)
    test = np.isin(subject_ids, sorted(set(subject_ids))[-test_subjects:])
    test_clips = stcam_clips(frames[test], apexes[test], crop, training=False, seed=seed)
    keras.utils.set_random_seed(seed)
    model = create_model("stcam", len(classes), input="frames", num_frames=7, frame_size=crop, bn_momentum=0.9)
    sgd = optimizer == "sgd"
    recipe = get_recipe("stcam", optimizer=optimizer, learning_rate=learning_rate, momentum=0.9 if sgd else 0.0,
                        nesterov=sgd, weight_decay=0.0, schedule="step", decay_epochs=(decay_epoch - 1,),
                        epochs=epochs, batch_size=batch_size)
    steps_per_epoch = -(-int((~test).sum()) // batch_size)
    recipe.compile(model, steps_per_epoch)
    history = []
    for epoch in range(1, epochs + 1):
        clips = stcam_clips(frames[~test], apexes[~test], crop, training=True, seed=seed + epoch)
        fit = model.fit(clips, labels[~test], batch_size=batch_size, epochs=1, shuffle=True, verbose=0)
        predicted = np.argmax(model.predict(test_clips, batch_size=batch_size, verbose=0), -1)
        history.append({"epoch": epoch, "loss": round(float(fit.history["loss"][0]), 4),
                        "train_accuracy": round(float(fit.history["sparse_categorical_accuracy"][0]), 4),
                        "learning_rate": recipe.learning_rate_at(epoch - 1, steps_per_epoch),
                        "test_accuracy": round(float(np.mean(predicted == labels[test])), 4),
                        "seconds": round(time.perf_counter() - start, 1)})
        out(json.dumps(history[-1]))
    summary = {"model": "stcam", "train_videos": int((~test).sum()), "test_videos": int(test.sum()),
               "chance": round(1 / len(classes), 4), "test_accuracy": history[-1]["test_accuracy"],
               "best_test_accuracy": max(row["test_accuracy"] for row in history),
               "settings": dict(subjects=subjects, videos_per_class=videos_per_class, render=render_size, crop=crop,
                                test_subjects=test_subjects, epochs=epochs, batch_size=batch_size,
                                learning_rate=learning_rate, decay_epoch=decay_epoch, optimizer=optimizer,
                                face_crop=face_crop, seed=seed),
               "seconds": round(time.perf_counter() - start, 1)}
    out(json.dumps(summary))
    return summary


def main(argv=None):
    defaults = {name: parameter.default for name, parameter in inspect.signature(run).parameters.items()}
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.set_defaults(**{name: value for name, value in defaults.items() if name != "out"})
    parser.add_argument("--subjects", type=int)
    parser.add_argument("--videos-per-class", type=int)
    parser.add_argument("--render", dest="render_size", type=int, help="rendered frame side (px)")
    parser.add_argument("--crop", type=int, help="clip side after STCAM's crop (px, at least 32)")
    parser.add_argument("--test-subjects", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--decay-epoch", type=int, help="first epoch at a tenth of the learning rate")
    parser.add_argument("--optimizer", choices=("adam", "sgd"))
    parser.add_argument("--face-crop", action="store_true", help="cut each video to its subject's face box first")
    parser.add_argument("--seed", type=int)
    run(**vars(parser.parse_args(argv)), out=lambda line: print(line, flush=True))


if __name__ == "__main__":
    sys.exit(main())
