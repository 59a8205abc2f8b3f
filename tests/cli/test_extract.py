"""``keras-fer extract``: the README command as written, resuming, exit codes and clear errors."""
import os

from keras_fer import cli
from keras_fer.data import cache

COMMAND = "extract --prepared {prepared} --stem resnet18 --out {out} --input-size 32 --batch-size 8 --no-progress"


def _run(command, **paths):
    return cli.main(command.format(**paths).split())


def test_extract_resume_and_errors(tmp_path, prepared_stcam, capsys):
    out = tmp_path / "features"
    assert _run(COMMAND + " --num-shards 2", prepared=prepared_stcam, out=out) == 0
    captured = capsys.readouterr()
    assert "extracted 12, already done 0; cache complete" in captured.out
    assert "randomly initialised" in captured.err
    info = cache.open_cache(out)
    assert info.feature_shape == (512,) and len(info.shard_files) == 2 and info.num_samples == 12
    assert info.config["stem"] == "resnet18" and info.config["sampler_options"] == {"jitter": 0.2}

    assert _run(COMMAND + " --num-shards 2", prepared=prepared_stcam, out=out) == 0  # same seed: resumes
    assert "extracted 0, already done 12" in capsys.readouterr().out

    assert _run(COMMAND.replace("32 ", "48 ") + " --num-shards 2", prepared=prepared_stcam, out=out) == 2
    err = capsys.readouterr().err
    assert f"{out}/cache.json: the cache was written with another configuration" in err and "input_size" in err

    assert _run(COMMAND.replace("resnet18", "c3d"), prepared=prepared_stcam, out=tmp_path / "c3d") == 2
    assert "clip stem" in capsys.readouterr().err

    missing = tmp_path / "missing.h5"
    assert _run(COMMAND + f" --weights {missing}", prepared=prepared_stcam, out=tmp_path / "w") == 2
    assert "missing.h5" in capsys.readouterr().err


def test_processes_share_a_cache(tmp_path, prepared_stcam, capsys):
    out = tmp_path / "features"
    split = COMMAND + " --num-shards 3 --num-processes 2 --process-index {index}"
    assert _run(split, prepared=prepared_stcam, out=out, index=1) == 0
    printed = capsys.readouterr().out
    assert "extracted 4, already done 0; cache incomplete: other processes' shards are still missing" in printed
    assert not os.path.exists(out / "manifest.csv")
    assert _run(split, prepared=prepared_stcam, out=out, index=0) == 0
    assert "extracted 8, already done 0; cache complete" in capsys.readouterr().out
    assert cache.open_cache(out).num_samples == 12


# The commands of the README section on the feature cache, character for character.
README_COMMANDS = [
    "keras-fer extract --prepared prepared/ --stem vggface16 --weights rcmalli_vggface_tf_notop_vgg16.h5 --out features/",  # noqa: E501
    "keras-fer extract --prepared prepared/ --stem resnet18 --input-size 64 --out features_resnet18/ --num-shards 4 --process-index 0 --num-processes 2",  # noqa: E501
    "keras-fer extract --prepared prepared/ --stem resnet18 --input-size 64 --out features_resnet18/ --num-shards 4 --process-index 1 --num-processes 2",  # noqa: E501
]


def test_readme_commands(tmp_path, prepared_stcam, monkeypatch, capsys):
    os.symlink(prepared_stcam, tmp_path / "prepared")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KERAS_FER_WEIGHTS_DIR", raising=False)
    arguments = [command.split()[1:] for command in README_COMMANDS]
    # Without the VGGFace file the first command stops with a clear error naming it (nothing is downloaded).
    assert cli.main(arguments[0]) == 2
    assert "'rcmalli_vggface_tf_notop_vgg16.h5' was not found" in capsys.readouterr().err
    assert cli.main(arguments[1]) == 0
    assert "cache incomplete" in capsys.readouterr().out
    assert cli.main(arguments[2]) == 0
    assert "extracted 6, already done 0; cache complete" in capsys.readouterr().out
    assert cache.open_cache("features_resnet18").num_samples == 12


def test_mirrored_runs_one_process_per_gpu(tmp_path, prepared_stcam, capsys, monkeypatch):
    # Two GPUs as this machine would list them; each child process gets its CUDA_VISIBLE_DEVICES entry and half
    # of the samples (here on the CPU), and the last one to finish writes the manifest.
    monkeypatch.setattr(cli, "_local_gpus", lambda: ["3", "5"])
    out = tmp_path / "features"
    assert _run(COMMAND + " --num-shards 2 --strategy mirrored", prepared=prepared_stcam, out=out) == 0
    assert "extracted on 2 GPUs (3, 5)" in capsys.readouterr().out
    assert cache.open_cache(out).num_samples == 12 and os.path.isfile(out / "manifest.csv")
