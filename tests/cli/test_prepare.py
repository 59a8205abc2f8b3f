"""``keras-fer prepare``: the README's commands as written, exit codes, and clear errors."""
import os
import pathlib
import shlex
import shutil

from data_prep.manifest import PREPARED_COLUMNS, read_csv, read_failures
from keras_fer import cli

DATA = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "real_faces")
HAP = os.path.join(DATA, "crema-d", "1001_DFA_HAP_XX.flv")  # 56 frames

# The commands of the README section on preparing videos, character for character.
README_COMMANDS = [
    "keras-fer prepare --input videos/ --out prepared/ --detect-every 5",
    "keras-fer prepare --input videos/ --out prepared/ --detect-every 5 --workers 2",
    "keras-fer prepare --input manifest.csv --out prepared_stcam/ --sampler stcam --size 240 --no-face-policy interpolate --detect-every 5",  # noqa: E501
]


def _run(command):
    arguments = shlex.split(command)
    assert arguments[0] == "keras-fer"
    return cli.main(arguments[1:])


def _videos(folder):
    os.makedirs(folder / "videos" / "actor1")
    shutil.copy(HAP, folder / "videos" / "actor1" / "happy.flv")
    (folder / "videos" / "broken.mp4").write_bytes(b"\x00" * 1000)
    (folder / "manifest.csv").write_text(
        "id,path,label,subject,onset,apex,offset\n"
        "a1_happy,videos/actor1/happy.flv,happiness,actor1,,30,\n"
    )


def test_readme_commands(tmp_path, monkeypatch, capsys):
    _videos(tmp_path)
    monkeypatch.chdir(tmp_path)

    assert _run(README_COMMANDS[0]) == 0
    out = capsys.readouterr()
    assert "prepared 1, already done 0, failed 1" in out.out
    assert "broken.mp4" in out.err
    (row,) = read_csv("prepared/manifest.csv", required=PREPARED_COLUMNS)
    assert (row["id"], row["n_frames"], row["n_crops"]) == ("actor1__happy", "56", "56")
    (failure,) = read_failures("prepared/failures.csv")
    assert failure["file"].endswith("broken.mp4") and "cannot open" in failure["reason"]
    assert len(os.listdir("prepared/crops/actor1__happy")) == 56 + 2

    assert _run(README_COMMANDS[1]) == 0  # resumes: the finished clip is skipped, the broken one retried
    assert "prepared 0, already done 1, failed 1" in capsys.readouterr().out

    assert _run(README_COMMANDS[2]) == 0
    (row,) = read_csv("prepared_stcam/manifest.csv")
    assert (row["id"], row["label"], row["subject"], row["apex"]) == ("a1_happy", "happiness", "actor1", "30")
    assert int(row["n_crops"]) < int(row["n_frames"]) == 56
    assert os.path.exists("prepared_stcam/crops/a1_happy/000000.jpg")


def test_nothing_usable_exits_non_zero(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "empty.mp4").write_bytes(b"")
    code = cli.main(["prepare", "--input", str(tmp_path / "in"), "--out", str(tmp_path / "out")])
    assert code == 1
    assert "prepared 0, already done 0, failed 1" in capsys.readouterr().out
    (failure,) = read_failures(str(tmp_path / "out" / "failures.csv"))
    assert "empty file" in failure["reason"]
    assert read_csv(str(tmp_path / "out" / "manifest.csv")) == []


def test_usage_errors_exit_2_with_a_message(tmp_path, capsys):
    out = str(tmp_path / "out")
    cases = [
        (["prepare", "--out", out], "--input PATH is required"),
        (["prepare", "--input", str(tmp_path), "--out", out, "--dataset", "no_such_set"],
         "; received --dataset 'no_such_set'"),
        (["prepare", "--out", out, "--dataset", "ckplus"], "--root DIR (the dataset's root folder) is required"),
        (["prepare", "--input", HAP, "--out", out, "--sampler", "stcam", "--no-face-policy", "drop"], "drop"),
        (["prepare", "--input", HAP, "--out", out, "--detect-every", "0"],
         "`--detect-every` must be an integer >= 1; received --detect-every 0"),
        (["prepare", "--input", str(tmp_path / "missing"), "--out", out], "no such file or folder"),
    ]
    for arguments, message in cases:
        assert cli.main(arguments) == 2
        err = capsys.readouterr().err
        assert err.startswith("keras-fer prepare: error:") and message in err, err


def test_sampler_options_mmi_like_peak_in_the_middle(tmp_path, capsys):
    import json

    from data_prep.sampling import superset

    out = tmp_path / "out"
    code = cli.main(["prepare", "--input", HAP, "--out", str(out), "--detector", "full_frame", "--no-progress",
                     "--sampler", "stcam", "--sampler-option", "peak=middle", "--sampler-option", "jitter=0.25"])
    assert code == 0, capsys.readouterr().err
    frames = read_csv(str(out / "crops" / "1001_DFA_HAP_XX" / "frames.csv"))
    kept = [int(f["frame_index"]) for f in frames]
    assert kept == superset("stcam", 56, peak="middle", jitter=0.25).tolist()
    assert max(kept) == (56 - 1) // 2  # the peak, not the last frame
    recorded = json.loads((out / "prepare.json").read_text())
    assert recorded["sampler_options"] == {"jitter": 0.25, "peak": "middle"}

    # A rerun with other sampler options is refused like any other option change.
    code = cli.main(["prepare", "--input", HAP, "--out", str(out), "--detector", "full_frame", "--no-progress",
                     "--sampler", "stcam", "--sampler-option", "peak=middle"])
    assert code == 2 and "prepared with other options" in capsys.readouterr().err


def test_sampler_option_values_are_typed():
    assert cli._sampler_options(["num_frames=16", "jitter=0.5", "peak=middle", "long_videos=clip"]) == {
        "num_frames": 16, "jitter": 0.5, "peak": "middle", "long_videos": "clip"}
    assert type(cli._sampler_options(["num_segments=8"])["num_segments"]) is int
    assert cli._sampler_options(None) == {}


def test_sampler_option_errors_exit_2(tmp_path, capsys):
    out = str(tmp_path / "out")
    base = ["prepare", "--input", HAP, "--out", out, "--detector", "full_frame"]
    cases = [
        (["--sampler", "stcam", "--sampler-option", "num_segments=8"], "'stcam' sampler has no option 'num_segments'"),
        (["--sampler", "ecnn_fsa", "--sampler-option", "num_segments"],
         "`--sampler-option` must be KEY=VALUE; received --sampler-option 'num_segments'"),
        (["--sampler", "ast", "--sampler-option", "num_frames=8", "--sampler-option", "num_frames=9"], "twice"),
        (["--sampler-option", "peak=middle"],
         "`sampler_options` must be empty without a `sampler`; received sampler_options={'peak': 'middle'}"),
    ]
    for arguments, message in cases:
        assert cli.main(base + arguments) == 2
        err = capsys.readouterr().err
        assert err.startswith("keras-fer prepare: error:") and message in err, err
    assert not os.path.exists(os.path.join(out, "prepare.json"))  # refused before anything is written


def test_list_layers_still_works(capsys):
    assert cli.main(["list-layers"]) == 0
    assert capsys.readouterr().out.strip()


def test_readme_commands_are_in_the_docs():
    page = pathlib.Path(__file__).resolve().parents[2] / "docs" / "preparing-videos.md"
    readme = page.read_text(encoding="utf-8")
    for command in README_COMMANDS:
        assert f"\n{command}\n" in readme, command


# The commands of docs/preparing-videos.md's section on several processes, character for character.
SPLIT_COMMANDS = [
    "keras-fer prepare --input videos/ --out prepared/ --detector full_frame --process-index 0 --num-processes 2",
    "keras-fer prepare --input videos/ --out prepared/ --detector full_frame --process-index 1 --num-processes 2",
]


def test_two_processes_at_once_prepare_one_folder(tmp_path):
    """Two `keras-fer prepare` processes share one folder, at the same time, by options and by TF_CONFIG: each
    prepares half of the videos, and the last to finish writes the one manifest."""
    import json
    import subprocess
    import sys

    from data_prep import synthetic

    root = pathlib.Path(__file__).resolve().parents[2]
    synthetic.generate_dataset(tmp_path / "videos", mode="macro", n_subjects=2, videos_per_class=1, size=64,
                               n_frames=16)
    videos = sorted(str(path.relative_to(tmp_path)) for path in (tmp_path / "videos").rglob("*.avi"))
    code = "import sys, keras_fer_cli; sys.exit(keras_fer_cli.main())"
    for index, command in enumerate(SPLIT_COMMANDS):  # the second pair of runs, by TF_CONFIG, finds all done
        assert command.split()[-4:] == ["--process-index", str(index), "--num-processes", "2"]
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    runs = [(SPLIT_COMMANDS[index].split()[1:], {}) for index in (0, 1)]
    runs += [(SPLIT_COMMANDS[0].split()[1:-4] + ["--out", "by_tf_config/"],
              {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})})
             for index in (0, 1)]
    for pair in (runs[:2], runs[2:]):
        processes = [subprocess.Popen([sys.executable, "-c", code, *args, "--no-progress"], cwd=tmp_path,
                                      env={**os.environ, "PYTHONPATH": str(root), **environ},
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for args, environ in pair]
        outputs = [process.communicate(timeout=300) for process in processes]
        assert [process.returncode for process in processes] == [0, 0], outputs
        printed = "".join(out for out, _ in outputs)
        assert printed.count("prepared 6,") == 2 and printed.count("manifest ") >= 1, printed
    for folder in ("prepared", "by_tf_config"):
        rows = read_csv(tmp_path / folder / "manifest.csv", required=PREPARED_COLUMNS)
        assert sorted(row["path"] for row in rows) == [str(tmp_path / video) for video in videos]
        assert read_failures(tmp_path / folder / "failures.csv") == []
