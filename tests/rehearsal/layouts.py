"""Small datasets in the official layouts of CK+, CASME II, AFEW and DFEW, cut from the real CREMA-D clips.

The frames are real faces (actor 1001 of CREMA-D, ``tests/fixtures/real_faces``); the labels, subjects and
expression phases are made up. CREMA-D has one actor, so the clips are cut into short pieces that play the parts
of several subjects: enough for the protocols to have folds (CK+'s subject-independent 10-fold needs 10 subjects).
Each builder writes the layout its adapter in ``data_prep/datasets/`` documents, the way the dataset ships it
(image sequences, frame folders with a coding sheet, videos in class folders, frame folders with split files),
and returns nothing: ``keras-fer prepare --dataset NAME --root ROOT`` is what reads it.

Frames are halved to 240x180 (DFEW's to its 224x224 square) and pieces are 20 frames long, to keep the rehearsal
fast; the faces stay large enough for every detector.
"""
import functools
import os

import cv2

from data_prep.video import iter_frames

REAL_FACES = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "real_faces")
CREMA_D = os.path.join(REAL_FACES, "crema-d")
EMOTIONS = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")  # the six clips, 56-70 frames each
LENGTH = 20  # frames per piece


def real_clip(emotion="HAP"):
    """The path of one real CREMA-D clip (for ``keras-fer predict``)."""
    return os.path.abspath(os.path.join(CREMA_D, f"1001_DFA_{emotion}_XX.flv"))


@functools.cache
def _frames(emotion):
    """Every frame of a CREMA-D clip as BGR (for cv2.imwrite), halved to 240x180."""
    return tuple(cv2.cvtColor(cv2.resize(frame, (240, 180), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2BGR)
                 for _, frame in iter_frames(real_clip(emotion)))


def pieces(count, length=LENGTH):
    """``count`` pieces of ``length`` real frames: the six clips in turn, then later starts in each (0, 30, ...)."""
    for k in range(count):
        frames = _frames(EMOTIONS[k % len(EMOTIONS)])
        start = (k // len(EMOTIONS)) * 30 % max(1, len(frames) - length)
        yield frames[start:start + length]


def _write_images(folder, frames, name):
    os.makedirs(folder, exist_ok=True)
    for number, frame in frames:
        if not cv2.imwrite(os.path.join(folder, name(number)), frame):
            raise OSError(f"could not write a frame into {folder}")


def _write_text(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def ckplus(root, n_subjects=12):
    """CK+: ``cohn-kanade-images/S0NN/001/S0NN_001_000000KK.png`` and one emotion file at the last (peak) frame.

    One labelled sequence per made-up subject (codes 1-7 in turn), and one more sequence without an emotion
    file, as most of CK+'s 593 are (the adapter reports it and leaves it out).
    """
    for k, frames in enumerate(pieces(n_subjects + 1)):
        subject, sequence = f"S{5 + 5 * k:03d}", "001"
        name = f"{subject}_{sequence}"
        folder = os.path.join(root, "cohn-kanade-images", subject, sequence)
        _write_images(folder, enumerate(frames, start=1), lambda number, name=name: f"{name}_{number:08d}.png")
        if k < n_subjects:
            _write_text(os.path.join(root, "Emotion", subject, sequence, f"{name}_{len(frames):08d}_emotion.txt"),
                        f"   {k % 7 + 1:.7e}\n")


CASME2_HEADER = "Subject,Filename,OnsetFrame,ApexFrame,OffsetFrame,Action Units,Estimated Emotion\n"


def casme2(root, n_subjects=3, clips_per_subject=3):
    """CASME II: ``CASME2_RAW_selected/subNN/EPxx_yy/img<N>.jpg`` and a CSV export of the coding sheet.

    Image numbers start where the clip sits in its long recording (``img46.jpg``); the sheet gives onset, apex
    and offset as those numbers. Classes in turn over the five; one extra row labelled fear (left out by the
    adapter, as CASME II's nine fear and sadness clips are).
    """
    classes = ("happiness", "disgust", "repression", "surprise", "others")
    lines = [CASME2_HEADER]
    for k, frames in enumerate(pieces(n_subjects * clips_per_subject)):
        subject, clip = k % n_subjects + 1, f"EP{k // n_subjects + 1:02d}_{k:02d}"
        first = 40 + 7 * k
        folder = os.path.join(root, "CASME2_RAW_selected", f"sub{subject:02d}", clip)
        _write_images(folder, enumerate(frames, start=first), lambda number: f"img{number}.jpg")
        lines.append(f"{subject:02d},{clip},{first + 2},{first + 9},{first + 17},4+12,{classes[k % 5]}\n")
    lines.append(f"01,{clip},{first + 2},{first + 9},{first + 17},1+2,fear\n")
    _write_text(os.path.join(root, "CASME2-coding-20140508.csv"), "".join(lines))


AFEW_FOLDERS = ("Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise")


def afew(root, n_train=8, n_val=4):
    """AFEW: ``Train/<Emotion>/<9 digits>.avi`` and ``Val/<Emotion>/...``, 25 fps videos, classes in turn."""
    for k, frames in enumerate(pieces(n_train + n_val)):
        part = "Train" if k < n_train else "Val"
        folder = os.path.join(root, part, AFEW_FOLDERS[k % len(AFEW_FOLDERS)])
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{1000460 + 1371 * k:09d}.avi")
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (240, 180))
        if not writer.isOpened():
            raise OSError(f"OpenCV cannot write {path}")
        for frame in frames:
            writer.write(frame)
        writer.release()


def dfew(root, n_clips=10):
    """DFEW: ``Clip/clip_224x224/000NN/000NN_000KK.jpg`` and the five ``set_k.csv`` of train and test.

    Frames are the middle 180x180 square of each frame, resized to 224x224. Fold k tests clips k and k + 5
    (labels 1-7 in turn) and trains on the others, so each clip is tested once, as in DFEW.
    """
    for k, frames in enumerate(pieces(n_clips), start=1):
        square = [cv2.resize(frame[:, 30:210], (224, 224), interpolation=cv2.INTER_LINEAR) for frame in frames]
        _write_images(os.path.join(root, "Clip", "clip_224x224", f"{k:05d}"), enumerate(square, start=1),
                      lambda number, k=k: f"{k:05d}_{number:05d}.jpg")
    label = {k: (k - 1) % 7 + 1 for k in range(1, n_clips + 1)}
    for fold in range(1, 6):
        test = [k for k in label if (k - 1) % 5 == fold - 1]
        for part, clips in (("train", [k for k in label if k not in test]), ("test", test)):
            _write_text(os.path.join(root, "label", f"{part}(single-labeled)", f"set_{fold}.csv"),
                        "video_name,label\n" + "".join(f"{k},{label[k]}\n" for k in clips))
