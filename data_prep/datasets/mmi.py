"""MMI Facial Expression Database: sessions with an emotion annotation, 6 classes.

Layout of the MMI web export (``root`` = the folder holding ``Sessions``, or
``Sessions`` itself)::

    Sessions/1766/session.xml               <session ...><subject id="5" .../></session>
    Sessions/1766/S005-001.avi              the recording (onset-apex-offset)
    Sessions/1766/S005-001-oao_emotion.xml  <Metatag Name="Emotion" Value="3"/>  (any *.xml but session.xml)

Emotion codes: 1 anger, 2 disgust, 3 fear, 4 happiness, 5 sadness, 6 surprise.
Many MMI sessions are coded for action units only: sessions without an
emotion metatag are not samples and are reported as one problem with their
count. Subject = ``S`` + the subject id of ``session.xml`` zero-padded
(``S005``); a session without one is reported and left out. Id =
``session_<number>``; path = the video (or the session folder when it holds
frames instead). The paper does not give MMI's apex frames: onset, apex and
offset are empty, and the STCAM sampler takes the middle frame as the peak,
as the STCAM paper does for MMI.

The export's file names vary between download batches; the adapter therefore
reads the annotation from any XML file of the session folder that carries an
``Emotion`` metatag, and the video from the one video file of the folder.
"""

import os
import xml.etree.ElementTree as ElementTree

from data_prep.datasets import DatasetError, Problem, finish, require_folder, sorted_subfolders, source_row
from data_prep.video import VIDEO_EXTENSIONS, is_frame_folder

__all__ = ["CLASSES", "build_manifest"]

CLASSES = ("anger", "disgust", "fear", "happiness", "sadness", "surprise")
_CODES = {1: "anger", 2: "disgust", 3: "fear", 4: "happiness", 5: "sadness", 6: "surprise"}


def _parse(path):
    try:
        return ElementTree.parse(path).getroot()
    except ElementTree.ParseError as error:
        raise DatasetError(path, f"not a readable XML file ({error})") from None


def _emotion_codes(folder):
    codes = []
    for name in sorted(os.listdir(folder)):
        if name.lower().endswith(".xml") and name.lower() != "session.xml":
            path = os.path.join(folder, name)
            for tag in _parse(path).iter():
                if tag.tag.lower() == "metatag" and tag.get("Name", "").lower() == "emotion":
                    codes.append((path, tag.get("Value", "")))
    return codes


def build_manifest(root, strict=False):
    """The MMI manifest (see the module docstring); ``strict`` turns problems into a DatasetError."""
    sessions = os.path.join(root, "Sessions") if os.path.isdir(os.path.join(root, "Sessions")) else root
    require_folder(sessions, "MMI Sessions/ folder")
    rows, problems, unlabelled = [], [], []
    for session in sorted_subfolders(sessions):
        folder = os.path.join(sessions, session)
        codes = _emotion_codes(folder)
        if not codes:
            unlabelled.append(session)
            continue
        path, code = codes[0]
        if len({value for _, value in codes}) > 1 or not code.isdigit() or int(code) not in _CODES:
            problems.append(Problem(path, f"emotion code(s) {[value for _, value in codes]} are not one code of 1-6 "
                                          f"{CLASSES}; session left out"))
            continue
        session_xml = os.path.join(folder, "session.xml")
        subject_tags = [tag for tag in _parse(session_xml).iter() if tag.tag.lower() == "subject"] \
            if os.path.isfile(session_xml) else []
        subject_id = subject_tags[0].get("id", "") if subject_tags else ""
        if not subject_id.isdigit():
            problems.append(Problem(session_xml, "no <subject id=...> (subject-independent splits need it); "
                                                 "session left out"))
            continue
        videos = sorted(name for name in os.listdir(folder) if name.lower().endswith(VIDEO_EXTENSIONS))
        if len(videos) == 1:
            source = os.path.join(folder, videos[0])
        elif not videos and is_frame_folder(folder):
            source = folder
        else:
            problems.append(Problem(folder, f"expected one video file, found {videos}; session left out"))
            continue
        rows.append(source_row(f"session_{session}", source, _CODES[int(code)], f"S{int(subject_id):03d}"))
    if unlabelled:
        problems.append(Problem(sessions, f"{len(unlabelled)} session(s) have no Emotion metatag (action units "
                                          f"only) and are not samples, e.g. {unlabelled[:3]}"))
    return finish(rows, problems, CLASSES, root, strict)
