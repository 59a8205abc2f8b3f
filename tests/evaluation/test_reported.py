"""The papers' reported numbers: well-formed entries, filters, and spot checks against the papers' tables."""
import collections
import dataclasses
import doctest

import pytest

from data_prep.datasets import ADAPTERS
from keras_fer.evaluation import reported as reported_module
from keras_fer.evaluation.reported import METRICS, PROTOCOLS, REPORTED, Reported, reported
from keras_fer.models import get_spec, list_models

PAPERS = ("ast", "stcam", "ecnn_fsa", "ceflnet", "stanet")


def test_entries_are_well_formed():
    names = set(list_models())
    for entry in REPORTED:
        assert isinstance(entry, Reported)
        assert entry.model in names, entry
        assert entry.dataset in ADAPTERS, entry
        assert entry.metric in METRICS, entry
        assert isinstance(entry.value, float) and 0 < entry.value <= 100, entry
        assert entry.source.strip(), entry


def test_no_duplicate_model_dataset_metric():
    counts = collections.Counter((e.model, e.dataset, e.metric) for e in REPORTED)
    assert [key for key, n in counts.items() if n > 1] == []


def test_every_paper_and_every_registry_model_has_an_entry():
    papers = collections.Counter(get_spec(e.model).paper for e in REPORTED)
    assert set(papers) == set(PAPERS)
    assert [name for name in list_models() if not reported(name)] == []


def test_source_names_the_models_paper():
    prefix = {"ast": "AST ", "stcam": "STCAM ", "ecnn_fsa": "ECNN-FSA ", "ceflnet": "CEFLNet ", "stanet": "STANet "}
    for entry in REPORTED:
        assert entry.source.startswith(prefix[get_spec(entry.model).paper]), entry


def test_entries_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        REPORTED[0].value = 1.0


def test_protocols_cover_every_reported_dataset():
    assert set(PROTOCOLS) == {e.dataset for e in REPORTED}
    assert set(PROTOCOLS) <= set(ADAPTERS)
    for line in PROTOCOLS.values():
        assert "\n" not in line and "sec." in line


def test_filters():
    assert reported() == list(REPORTED)
    by_model = reported("stcam")
    assert {e.dataset for e in by_model} == {"ckplus", "oulu_casia", "mmi"}
    assert all(e.model == "stcam" for e in by_model)
    by_dataset = reported(dataset="casme1")
    assert [e.model for e in by_dataset] == ["stanet", "stanet_sab_l1", "stanet_sab", "stanet_baseline"]
    by_paper = reported(paper="ceflnet")
    assert {e.model for e in by_paper} == set(list_models("ceflnet"))
    assert all(get_spec(e.model).paper == "ceflnet" for e in by_paper)
    # Filters combine; a combination the paper never reports is empty, not an error.
    assert [e.value for e in reported(dataset="mmi", paper="ast", model="ast_gap")] == [50.0]
    assert reported("stanet", "ckplus") == []
    assert reported(paper="stanet", dataset="afew") == []
    # The partition by paper is complete.
    assert sum(len(reported(paper=p)) for p in PAPERS) == len(REPORTED)


@pytest.mark.parametrize("kwargs, name", [
    ({"model": "stanet_nope"}, "`model` must be one of .*; received model='stanet_nope'"),
    ({"dataset": "ck+"}, "`dataset`"),
    ({"paper": "fan"}, "`paper`"),
])
def test_unknown_filter_values_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        reported(**kwargs)


def _one(model, dataset, metric="accuracy"):
    entries = [e for e in reported(model, dataset) if e.metric == metric]
    assert len(entries) == 1, entries
    return entries[0].value


def test_spot_checks_against_the_papers_tables():
    # AST table 1 (VGG-Face features): AST 97.56 / 83.33 / 66.6 on UCF-101 / MMI / CASMEII.
    assert _one("ast", "ucf101") == 97.56
    assert _one("ast", "casme2") == 66.6
    # AST table 2 (ASM features): Attention Model 90.79 on CASMEII.
    assert _one("ast_landmarks", "casme2") == 90.79
    # AST table 3 (CNN features): LSTM 41.94 on CASMEII.
    assert _one("ast_cnn_lstm", "casme2") == 41.94
    # STCAM table 3: Baseline + STAM + 3D-CAM 90.62 % on Oulu-CASIA; table 4: Baseline 77.40 % on MMI.
    assert _one("stcam_stam_cam", "oulu_casia") == 90.62
    assert _one("stcam_baseline", "mmi") == 77.40
    # STCAM table 8: NL-Embedded Gaussian 90.00 % on Oulu-CASIA.
    assert _one("stcam_nl_embedded_gaussian", "oulu_casia") == 90.00
    # ECNN-FSA table 4: Proposed ECNN-FSA 97.95 on CK+; table 6 row 4 (s = 0.1): 49.78 on AFEW.
    assert _one("ecnn_fsa", "ckplus") == 97.95
    assert _one("ecnn_fsa", "afew") == 49.78
    # ECNN-FSA table 3: ECNN with 2 layer LSTMs (Fc1, 7 x 7): F1 0.3816, accuracy 41.25 %.
    assert _one("ecnn_lstm2", "afew", "f1") == 38.16
    assert _one("ecnn_lstm2", "afew") == 41.25
    # CEFLNet table 5: 65.35 on DFEW; table 6: CNN-LSTM 79.17 on BU-3DFE.
    assert _one("ceflnet", "dfew") == 65.35
    assert _one("ceflnet_lstm", "bu3dfe") == 79.17
    # STANet table 1: Ours 69.11 % on CASME II, 68.90 % on SMIC-HS; table 2: baseline+SAB 73.10 % on CASME I.
    assert _one("stanet", "casme2") == 69.11
    assert _one("stanet", "smic") == 68.90
    assert _one("stanet_sab", "casme1") == 73.10


def test_conflicting_tables_are_named_in_the_source():
    # ECNN-FSA tables 6 and 7 print different numbers for (2048, 2 x fc, s = 0.06): 40.91 vs 42.91.
    entry, = reported("ecnn_fsa_2fc_s006")
    assert entry.value == 40.91 and "42.91" in entry.source


def test_docstring_examples():
    failures, _ = doctest.testmod(reported_module)
    assert failures == 0
