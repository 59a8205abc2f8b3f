"""keras_fer.data.flow: STANet's flow source needs each sample's annotated onset..offset window."""

import csv
import shutil

import pytest

from keras_fer.data.flow import flow_source


def test_a_sample_without_onset_or_offset_is_named(prepared_ast, tmp_path):
    folder = tmp_path / "prepared"
    shutil.copytree(prepared_ast, folder)
    with open(folder / "manifest.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rows[3]["onset"] = ""
    with open(folder / "manifest.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(ValueError, match=rf"manifest.csv: sample '{rows[3]['id']}' has no onset and offset frame "
                                         r"\(onset='', offset='\d+'\); STANet's flow"):
        flow_source(str(folder))
