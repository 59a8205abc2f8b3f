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
