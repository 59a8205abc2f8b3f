"""The CREMA-D table of docs/predict-and-export.md: the default predictor on the six CREMA-D clips beside the
acted label and the crowd's vote.

Run: ``python scripts/crema_d_table.py`` (about 15 s); prints the Markdown table that docs/predict-and-export.md
shows under ``<!-- crema-d-table -->``. The crowd's vote is CREMA-D's face-only rating (queryType 2 of
``tabulatedVotes_1001_DFA.csv``: the raters saw the video without sound).
"""

import csv
import os

from keras_fer import inference

CREMA_D = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "real_faces", "crema-d")
ACTED = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happiness", "NEU": "neutral", "SAD": "sadness"}
VOTE_COLUMNS = {"A": "anger", "D": "disgust", "F": "fear", "H": "happiness", "N": "neutral", "S": "sadness"}


def face_only_votes():
    """``{clip: {emotion: votes}}`` of the face-only raters (row ids 2000xx)."""
    with open(os.path.join(CREMA_D, "tabulatedVotes_1001_DFA.csv"), encoding="utf-8") as handle:
        rows = list(csv.DictReader(line for line in handle if not line.startswith("#")))
    votes = {}
    for row in rows:
        if row[""].startswith("2"):
            votes[row["fileName"]] = {name: int(row[column]) for column, name in VOTE_COLUMNS.items()}
    return votes


def table_rows(classifier=None):
    """One row per clip: (clip, acted, crowd vote text, predicted label, its probability, runner-up text)."""
    classifier = classifier or inference.default_classifier()
    votes = face_only_votes()
    rows = []
    for code in ACTED:
        clip = f"1001_DFA_{code}_XX"
        result = inference.predict_video(classifier, os.path.join(CREMA_D, f"{clip}.flv")).result
        ranked = sorted(result["probabilities"].items(), key=lambda item: -item[1])
        counts = votes[clip]
        top = max(counts, key=counts.get)
        crowd = f"{top} ({counts[top]} of {sum(counts.values())})"
        rows.append((clip, ACTED[code], crowd, ranked[0][0], ranked[0][1], f"{ranked[1][0]} {ranked[1][1]:.2f}"))
    return rows


def main():
    print("| clip | acted | crowd, face only | default predictor | probability | runner-up |")
    print("|---|---|---|---|---|---|")
    for clip, acted, crowd, label, probability, second in table_rows():
        print(f"| {clip} | {acted} | {crowd} | {label} | {probability:.2f} | {second} |")


if __name__ == "__main__":
    main()
