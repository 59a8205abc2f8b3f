import keras_fer
from keras_fer import cli


def test_list_layers_prints_every_contract_layer(capsys):
    assert cli.main(["list-layers"]) == 0
    out = capsys.readouterr().out
    for name in [
        "ContextAttention",
        "Channel3DAttention",
        "SpatialTemporalAttention",
        "FrameSelfAttention",
        "SoftMaskBranch",
        "TemporalAffinityAttention",
        "LocalGlobalRelation",
        "EmotionalIntensityActivation",
        "NonLocalBlock",
    ]:
        assert name in out
        assert name in keras_fer.layers.__all__


def test_list_models_prints_every_registry_name_with_its_table_row(capsys):
    from keras_fer.models import get_spec, list_models

    assert cli.main(["list-models"]) == 0
    out = capsys.readouterr().out
    for name in list_models():
        assert f"{name} " in out and get_spec(name).reproduces in out
    assert cli.main(["list-models", "--paper", "stanet"]) == 0
    out = capsys.readouterr().out
    assert "stanet_sab" in out and "ceflnet" not in out
    assert cli.main(["list-models", "--paper", "vgg"]) == 2
    assert "paper" in capsys.readouterr().err
