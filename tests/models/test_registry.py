"""The registry: the public contract's names (docs/models.md), descriptions, table rows, create_model's checks."""

import pytest

from keras_fer.models import create_model, get_spec, list_models

CONTRACT_NAMES = (
    "ast", "ast_lstm", "ast_gap",
    "stcam", "stcam_baseline", "stcam_cam", "stcam_stam", "stcam_stam_cam", "stcam_nl_gaussian",
    "ecnn_fsa", "ecnn_lstm", "ecnn_score_fusion",
    "ceflnet", "ceflnet_sal", "ceflnet_sal_lrl",
    "stanet", "stanet_sab", "stanet_baseline",
)  # fmt: skip
PAPERS = ("ast", "stcam", "ecnn_fsa", "ceflnet", "stanet")


def test_design_names_are_registered():
    names = list_models()
    assert set(CONTRACT_NAMES) <= set(names)
    assert len(names) == len(set(names))


@pytest.mark.parametrize("name", list_models())
def test_every_model_says_what_it_is_and_which_table_row_it_reproduces(name):
    spec = get_spec(name)
    assert spec.name == name and spec.paper in PAPERS and name.split("_")[0] == spec.paper.split("_")[0]
    assert spec.description and "\n" not in spec.description
    assert "table" in spec.reproduces.lower()


def test_list_models_by_paper():
    for paper in PAPERS:
        names = list_models(paper)
        assert paper in names and all(get_spec(name).paper == paper for name in names)
    with pytest.raises(ValueError, match="paper"):
        list_models("resnet")


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(name="astt", num_classes=3), ValueError, r"`name` must be one of \('ast', .*\); received name='astt'"),
        (dict(name="ast", num_classes=1), ValueError, "num_classes"),
        (dict(name="ast", num_classes=3, input="flow"), ValueError, "input"),
        (dict(name="ast", num_classes=3, head="x"), ValueError, "head"),
        (dict(name="ast", num_classes=3, no_such_argument=1), TypeError, "no_such_argument"),
    ],
)
def test_create_model_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        create_model(**kwargs)


def test_readme_lists_every_model_with_its_table_row():
    """docs/models.md's model table is the registry's (regenerate it with ``python scripts/models_table.py``)."""
    import pathlib
    import runpy

    root = pathlib.Path(__file__).resolve().parents[2]
    models_table = runpy.run_path(str(root / "scripts" / "models_table.py"))["models_table"]
    assert models_table() in (root / "docs" / "models.md").read_text(encoding="utf-8")
