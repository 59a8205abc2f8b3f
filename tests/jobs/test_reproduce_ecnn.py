"""keras-fer reproduce runs every ECNN-FSA row: each on (the stand-in of) the ECNN variant its spec names."""
import json

import numpy as np

from keras_fer.jobs import reproduce
from keras_fer.models import get_spec, list_models
from keras_fer.stems.ecnn import ECNN_STAND_INS

# Rows on three of the ECNN variants (3072-d, Tables 6-7; Fc2 5x5 branch, Table 3; no branch, Table 2).
VARIANT_ROWS = ("ecnn_fsa_3072_2fc_s006", "ecnn_lstm2_fc2_k5", "ecnn_nobranch_lstm2_2048_1024")


def test_no_row_is_skipped_for_its_stem():
    for paper, plan in reproduce.SYNTHETIC_PLANS.items():
        assert not any("stem" in reason for reason in plan.skip.values()), paper
    assert not reproduce.SYNTHETIC_PLANS["ecnn_fsa"].skip
    for model in list_models("ecnn_fsa"):
        assert reproduce.end_to_end_reason(model) is None
        assert ECNN_STAND_INS[reproduce.stand_in_stem(model)] == get_spec(model).stem  # its variant's stand-in
    assert reproduce.stand_in_stem("ast") == reproduce.STAND_IN_STEM


def test_on_a_real_cache_a_row_of_another_variant_names_the_extract_to_run(tmp_path):
    from keras_fer.data import cache

    samples = [cache.CacheSample(id=f"c{i}", label="ab"[i % 2], subject=f"S{i}", frame_indices=(0,),
                                 sampler_frames=1, source_frames=(0,)) for i in range(4)]
    cache.write_cache(tmp_path, samples, lambda todo: (np.ones((1, 4), np.float16) for _ in todo),
                      {"stem": "ecnn_vgg16", "sampler": None, "sampler_options": {}}, (4,), progress=False)
    job = dict(dataset="afew", features=str(tmp_path))
    assert reproduce._skip_reason({**job, "paper": "ecnn_fsa", "model": "ecnn_fsa_s02"}) is None
    reason = reproduce._skip_reason({**job, "paper": "ecnn_fsa", "model": "ecnn_nobranch_lstm"})
    assert "keras-fer extract --prepared PREPARED/ --stem ecnn_vgg16_nobranch" in reason


def test_the_variant_rows_run_on_their_stand_in_caches(tmp_path, monkeypatch):
    """A smaller synthetic benchmark, one fold, one epoch: each row trains on its own stand-in cache."""
    monkeypatch.setitem(reproduce.SYNTHETIC_DATA, "macro", dict(mode="macro", n_subjects=4, videos_per_class=1,
                                                                 size=64, n_frames=16))
    monkeypatch.setattr(reproduce, "_rows", lambda paper, quick: list(VARIANT_ROWS))
    results = reproduce.reproduce(tmp_path, paper="ecnn_fsa", quick=True, epochs=1, workers=1)
    rows = results["papers"]["ecnn_fsa"]["rows"]
    assert [row["model"] for row in rows] == list(VARIANT_ROWS)
    assert all("skipped" not in row and row["n_folds"] == 1 for row in rows)
    widths = {"ecnn_fsa_3072_2fc_s006": 384, "ecnn_nobranch_lstm2_2048_1024": 128}
    for model in VARIANT_ROWS:
        stand_in = reproduce.stand_in_stem(model)
        info = json.loads((tmp_path / "data" / "macro" / f"features_{stand_in}" / "cache.json").read_text())
        assert info["config"]["stem"] == stand_in and info["feature_shape"] == [widths.get(model, 256)]
    assert "the stand-in of its ECNN variant" in (tmp_path / "reproduce.md").read_text()
