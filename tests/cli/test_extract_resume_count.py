"""``keras-fer extract``'s resume message counts the samples an interrupted shard had already cached (issue 20)."""
import pytest

from keras_fer import cli
from keras_fer.data.cache import extraction

COMMAND = "extract --prepared {prepared} --stem resnet18 --out {out} --input-size 32 --batch-size 8 --no-progress " \
          "--num-shards 1"


def test_resume_inside_a_shard_counts_the_reused_samples(tmp_path, prepared_stcam, capsys, monkeypatch):
    command = COMMAND.format(prepared=prepared_stcam, out=tmp_path / "features").split()
    extract_features = extraction.extract_features

    def killed_after_five(*args, **kwargs):  # the run dies after five of the shard's twelve samples
        for count, features in enumerate(extract_features(*args, **kwargs)):
            if count == 5:
                raise KeyboardInterrupt
            yield features

    monkeypatch.setattr(extraction, "extract_features", killed_after_five)
    with pytest.raises(KeyboardInterrupt):
        cli.main(command)
    monkeypatch.setattr(extraction, "extract_features", extract_features)
    capsys.readouterr()
    assert cli.main(command) == 0
    assert "extracted 7, already done 5; cache complete" in capsys.readouterr().out
