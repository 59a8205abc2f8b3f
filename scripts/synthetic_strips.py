"""Write ``docs/synthetic_<mode>.png``: one row per class of a synthetic benchmark mode, 8 frames per row.

Each row is one video of subject S01 (seed 0, the defaults of
:func:`data_prep.synthetic.generate_dataset`), rendered at 64 x 64, its frames
picked evenly across the video, with the class name on the left and a red bar
under the frames between the expression's onset and offset. The strips leave
out the per-frame pixel noise (``noise_std``), which would make the PNG files
ten times larger; everything else (identity, lighting, blinks, head motion)
is as in the videos.

Usage::

    python scripts/synthetic_strips.py [--out docs] [--frames 8] [--size 64]
"""

import argparse
import os
import sys

import cv2
import numpy as np

from data_prep import synthetic

LABEL_WIDTH = 136
BAR_HEIGHT = 4


def strip(mode, n_frames_shown=8, size=64, video_frames=32, seed=0):
    """The RGB uint8 strip image of ``mode``."""
    settings = synthetic.MODES[mode]
    identity = synthetic.random_identity(np.random.default_rng([seed, 0, 0]), settings.resting_face)
    rows = []
    for class_index, label in enumerate(settings.classes):
        rng = np.random.default_rng([seed, 1, synthetic._MODE_CODES[mode], 0, class_index, 0])
        units, onset, _, offset = synthetic.expression_program(mode, class_index, video_frames, rng, settings)
        blink, pose, flicker = synthetic._distractors(rng, video_frames, settings)
        frames = synthetic.render_video(identity, units, size, blink, pose, flicker, noise_std=0.0)
        shown = np.linspace(0, video_frames - 1, n_frames_shown).round().astype(int)
        row = np.full((size + BAR_HEIGHT, LABEL_WIDTH + size * n_frames_shown, 3), 255, np.uint8)
        cv2.putText(row, label, (4, size // 2 + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        for position, index in enumerate(shown):
            x = LABEL_WIDTH + position * size
            row[:size, x:x + size] = frames[index]
            if onset <= index <= offset:
                row[size:, x:x + size] = (220, 30, 30)
        rows.append(row)
    return np.concatenate(rows, axis=0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs", help="output folder (default docs)")
    parser.add_argument("--frames", type=int, default=8, help="frames shown per row (default 8)")
    parser.add_argument("--size", type=int, default=64, help="frame side in pixels (default 64)")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    for mode in synthetic.MODES:
        path = os.path.join(args.out, f"synthetic_{mode}.png")
        image = strip(mode, args.frames, args.size)
        if not cv2.imwrite(path, cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9]):
            raise OSError(f"{path}: cannot write the PNG file")
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
