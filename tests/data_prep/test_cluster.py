"""Splitting ``prepare`` across processes: data_prep.cluster.process_share and prepare's shares."""

import json
import os

import pytest

from data_prep import cluster, manifest
from data_prep.cluster import process_share
from data_prep.manifest import read_failures
from data_prep.prepare import prepare
from tests.data_prep.test_prepare import FAST, _corrupted_inputs


def _tf_config(kind, index, chiefs=0, workers=2):
    cluster = {"worker": [f"127.0.0.1:{2000 + i}" for i in range(workers)]}
    if chiefs:
        cluster["chief"] = ["127.0.0.1:1999"]
    return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}})}


def test_process_share_from_options_or_tf_config():
    assert process_share(1, 3, environ=_tf_config("worker", 0)) == (1, 3)  # options win
    assert process_share(None, None, environ={}) == (0, 1)
    assert process_share(None, 2, environ=_tf_config("worker", 1)) == (0, 2)  # one option: TF_CONFIG not read
    assert process_share(None, None, environ=_tf_config("worker", 1)) == (1, 2)
    assert process_share(None, None, environ=_tf_config("chief", 0, chiefs=1)) == (0, 3)  # the chief first
    assert process_share(None, None, environ=_tf_config("worker", 1, chiefs=1)) == (2, 3)


@pytest.mark.parametrize("args, environ, message", [
    ((1, None), {}, "process_index"),  # num_processes 1
    ((2, 2), {}, "process_index"),
    ((0, 0), {}, "num_processes"),
    ((None, None), {"TF_CONFIG": "{not json"}, "TF_CONFIG is not a TensorFlow cluster configuration"),
    ((None, None), {"TF_CONFIG": '{"cluster": {}}'}, "TF_CONFIG is not"),
    ((None, None), _tf_config("ps", 0), "task type 'ps' takes no share"),
])
def test_process_share_errors(args, environ, message):
    with pytest.raises(ValueError, match=message):
        process_share(*args, environ=environ)


def test_two_shares_give_the_manifest_of_one_run(tmp_path):
    inputs = str(tmp_path / "in")
    expected = _corrupted_inputs(inputs)  # 8 inputs: one good clip, 7 failures
    out = str(tmp_path / "out")
    os.makedirs(os.path.join(out, "crops"))
    os.makedirs(os.path.join(out, "crops", ".good.partial-999"))  # another process's sample in progress
    first = prepare(inputs, out, FAST, progress=False, process_index=1, num_processes=2)
    assert not first.complete and first.manifest_rows == []
    assert not os.path.exists(os.path.join(out, "manifest.csv"))
    assert os.path.isdir(os.path.join(out, "crops", ".good.partial-999"))  # not this share's: left alone
    second = prepare(inputs, out, FAST, progress=False, process_index=0, num_processes=2)
    assert second.complete and [row["id"] for row in second.manifest_rows] == ["good"]
    assert not os.path.exists(os.path.join(out, "crops", ".good.partial-999"))  # this share's leftover: removed
    shares = [sorted(os.path.basename(file) for file, _ in result.failures) + result.prepared
              for result in (first, second)]
    assert not set(shares[0]) & set(shares[1]) and len(shares[0]) + len(shares[1]) == 8
    failures = {os.path.basename(row["file"]): row["reason"]
                for row in read_failures(os.path.join(out, "failures.csv"))}
    assert set(failures) == set(expected)
    for name, reason in expected.items():
        assert failures[name].startswith(reason), (name, failures[name])
    (row,) = manifest.read_csv(os.path.join(out, "manifest.csv"), required=manifest.PREPARED_COLUMNS)
    assert row["id"] == "good" and row["n_crops"] == "56"
    again = prepare(inputs, out, FAST, progress=False, process_index=1, num_processes=2)  # a rerun resumes
    assert again.complete and again.prepared == [] and [row["id"] for row in again.manifest_rows] == ["good"]


def test_loopback_configs_name_one_cluster_and_each_worker_in_turn():
    configs = cluster.loopback_tf_configs(3)
    assert [cluster.process_share(environ={"TF_CONFIG": config}) for config in configs] == [(0, 3), (1, 3), (2, 3)]
    workers = {tuple(json.loads(config)["cluster"]["worker"]) for config in configs}
    assert len(workers) == 1 and all(address.startswith("127.0.0.1:") for address in next(iter(workers)))
