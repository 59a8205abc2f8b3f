"""Dataset adapters: each on a tiny fake tree in its official layout, problems reported, not skipped."""
import os
import shlex
import shutil
import warnings

import pytest

from data_prep import datasets
from data_prep.datasets import DatasetError, DatasetWarning
from data_prep.manifest import SOURCE_COLUMNS, read_csv

REAL_CREMA_D = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "real_faces", "crema-d")

# The commands and code of the README section on datasets (/tmp/snippets/datasets.md), as written.
README_COMMAND = "keras-fer prepare --dataset crema_d --root CREMA-D/VideoFlash --out prepared/ --detector haar"


def _touch(path, content=b""):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(content if isinstance(content, bytes) else content.encode())


def _frames(folder, names):
    for name in names:
        _touch(os.path.join(folder, name))


def _build(name, root, strict=False):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = datasets.build_manifest(name, str(root), strict=strict)
    messages = [str(warning.message) for warning in caught if issubclass(warning.category, DatasetWarning)]
    assert messages == [str(problem) for problem in rows.problems]  # every problem is also shown
    return rows


def _by_id(rows):
    for row in rows:
        assert set(SOURCE_COLUMNS) <= set(row)
    return {row["id"]: row for row in rows}


def test_registry_lists_every_adapter_module():
    folder = os.path.dirname(datasets.__file__)
    modules = sorted(name[:-3] for name in os.listdir(folder) if name.endswith(".py") and not name.startswith("_"))
    assert datasets.list_datasets() == modules
    assert {"afew", "bu3dfe", "casme1", "casme2", "ckplus", "crema_d", "dfew", "generic_csv", "mmi", "oulu_casia",
            "smic", "ucf101"} <= set(modules)
    with pytest.raises(ValueError, match="'nope'"):
        datasets.build_manifest("nope", "x")


def test_normalise_label():
    classes = ("anger", "happiness", "neutral", "sadness")
    assert [datasets.normalise_label(raw, classes) for raw in ("Angry", " ANG ", "happy", "NE", "Sad", "joyful")] \
        == ["anger", "anger", "happiness", "neutral", "sadness", None]
    assert datasets.normalise_label("Ne", ("negative", "positive")) == "negative"


def test_ckplus(tmp_path):
    images, emotion = tmp_path / "cohn-kanade-images", tmp_path / "Emotion"
    _frames(images / "S005" / "001", [f"S005_001_{i:08d}.png" for i in range(1, 12)])
    _touch(str(emotion / "S005" / "001" / "S005_001_00000011_emotion.txt"), "   3.0000000e+00\n")
    _frames(images / "S010" / "002", [f"S010_002_{i:08d}.png" for i in range(1, 5)])
    _touch(str(emotion / "S010" / "002" / "S010_002_00000004_emotion.txt"), "   2.0000000e+00\n")
    _frames(images / "S010" / "003", [f"S010_003_{i:08d}.png" for i in range(1, 4)])  # unlabelled
    _frames(images / "S011" / "001", [f"S011_001_{i:08d}.png" for i in range(1, 4)])
    _touch(str(emotion / "S011" / "001" / "S011_001_00000003_emotion.txt"), "9.0\n")  # unknown code
    rows = _build("ckplus", tmp_path)
    by_id = _by_id(rows)
    assert sorted(by_id) == ["S005_001", "S010_002"]
    assert by_id["S005_001"] == {"id": "S005_001", "path": str(images / "S005" / "001"), "label": "disgust",
                                 "subject": "S005", "onset": "0", "apex": "10", "offset": ""}
    assert (by_id["S010_002"]["label"], by_id["S010_002"]["apex"]) == ("contempt", "3")
    assert rows.classes == ("anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise")
    messages = [str(problem) for problem in rows.problems]
    assert len(messages) == 2
    assert "S011_001_00000003_emotion.txt" in messages[0] and "9" in messages[0]
    assert "1 sequence(s) have no emotion file" in messages[1] and "S010/003" in messages[1]
    with pytest.raises(DatasetError, match="2 problem"):
        datasets.build_manifest("ckplus", str(tmp_path), strict=True)


def test_ckplus_missing_label_folder_is_an_error(tmp_path):
    _frames(tmp_path / "cohn-kanade-images" / "S005" / "001", ["S005_001_00000001.png"])
    with pytest.raises(DatasetError, match="Emotion"):
        datasets.build_manifest("ckplus", str(tmp_path))


def test_oulu_casia(tmp_path):
    strong = tmp_path / "OriginalImg" / "VL" / "Strong"
    _frames(strong / "P001" / "Anger", [f"{i:03d}.jpeg" for i in range(6)])
    _frames(strong / "P001" / "Happiness", [f"{i:03d}.jpeg" for i in range(4)])
    _frames(strong / "P002" / "Surprise", [f"{i:03d}.jpeg" for i in range(3)])
    _frames(strong / "P002" / "Boredom", ["000.jpeg"])
    _frames(tmp_path / "OriginalImg" / "VL" / "Dark" / "P001" / "Anger", ["000.jpeg"])  # another subset
    rows = _build("oulu_casia", tmp_path)
    by_id = _by_id(rows)
    assert sorted(by_id) == ["P001_anger", "P001_happiness", "P002_surprise"]
    assert by_id["P001_anger"] == {"id": "P001_anger", "path": str(strong / "P001" / "Anger"), "label": "anger",
                                   "subject": "P001", "onset": "0", "apex": "5", "offset": ""}
    (problem,) = rows.problems
    assert "Boredom" in str(problem)
    dark = datasets.oulu_casia.build_manifest(str(tmp_path), illumination="Dark")
    assert [row["id"] for row in dark] == ["P001_anger"]


def _mmi_session(sessions, number, subject, code, video="S001-001.avi"):
    folder = sessions / str(number)
    _touch(str(folder / video), b"x")
    if subject is not None:
        _touch(str(folder / "session.xml"), f'<session sessionId="{number}"><subject id="{subject}"/></session>')
    if code is not None:
        _touch(str(folder / "S001-001-oao_emotion.xml"),
               f'<Metatags><Metatag Name="Emotion" Value="{code}"/></Metatags>')
    return folder


def test_mmi(tmp_path):
    sessions = tmp_path / "Sessions"
    happy = _mmi_session(sessions, 1766, 5, 4)
    _mmi_session(sessions, 1767, 12, 6)
    _mmi_session(sessions, 1800, 5, None)  # action units only
    _mmi_session(sessions, 1801, None, 1)  # no subject
    _mmi_session(sessions, 1802, 5, 8)  # unknown code
    rows = _build("mmi", tmp_path)
    by_id = _by_id(rows)
    assert sorted(by_id) == ["session_1766", "session_1767"]
    assert by_id["session_1766"] == {"id": "session_1766", "path": str(happy / "S001-001.avi"),
                                     "label": "happiness", "subject": "S005", "onset": "", "apex": "", "offset": ""}
    assert (by_id["session_1767"]["label"], by_id["session_1767"]["subject"]) == ("surprise", "S012")
    messages = sorted(str(problem) for problem in rows.problems)
    assert len(messages) == 3
    assert any("1801" in m and "subject" in m for m in messages)
    assert any("1802" in m and "'8'" in m for m in messages)
    assert any("1 session(s) have no Emotion metatag" in m and "1800" in m for m in messages)


def test_afew_and_its_official_split(tmp_path):
    for part, emotion, name in [("Train", "Angry", "000046280"), ("Train", "Happy", "000149120"),
                                ("Val", "Angry", "000046280"), ("Val", "Sad", "002011400"),
                                ("Val", "Bored", "000000001")]:
        _touch(str(tmp_path / part / emotion / f"{name}.avi"), b"x")
    rows = _build("afew", tmp_path)
    by_id = _by_id(rows)
    assert sorted(by_id) == ["Train_Angry_000046280", "Train_Happy_000149120", "Val_Angry_000046280",
                             "Val_Sad_002011400"]
    assert by_id["Val_Sad_002011400"] == {"id": "Val_Sad_002011400",
                                          "path": str(tmp_path / "Val" / "Sad" / "002011400.avi"),
                                          "label": "sadness", "subject": "", "onset": "", "apex": "", "offset": ""}
    assert by_id["Train_Happy_000149120"]["label"] == "happiness"
    messages = [str(problem) for problem in rows.problems]
    assert len(messages) == 2 and "Bored" in messages[0] and "no subject ids" in messages[1]
    assert datasets.splits("afew", str(tmp_path)) == {"official": {
        "train": ["Train_Angry_000046280", "Train_Happy_000149120"],
        "test": ["Val_Angry_000046280", "Val_Sad_002011400"]}}


def test_dfew_five_fold_split_files(tmp_path):
    frames = tmp_path / "Clip" / "clip_224x224"
    for clip in (1, 2, 3, 4):
        _frames(frames / f"{clip:05d}", [f"{clip:05d}_{i:05d}.jpg" for i in range(1, 4)])
    labels = tmp_path / "label"
    # clip 5 has no frames; clip 4 has label 0 (no single majority label)
    for fold in range(1, 6):
        train = [(1, 1), (2, 4), (4, 0)] if fold % 2 else [(3, 7), (5, 2)]
        test = [(3, 7), (5, 2)] if fold % 2 else [(1, 1), (2, 4)]
        for part, entries in (("train", train), ("test", test)):
            lines = "video_name,label\n" + "".join(f"{clip},{code}\n" for clip, code in entries)
            _touch(str(labels / f"{part}(single-labeled)" / f"set_{fold}.csv"), lines)
    rows = _build("dfew", tmp_path)
    by_id = _by_id(rows)
    assert sorted(by_id) == ["00001", "00002", "00003"]
    assert by_id["00002"] == {"id": "00002", "path": str(frames / "00002"), "label": "anger", "subject": "",
                              "onset": "", "apex": "", "offset": ""}
    assert (by_id["00001"]["label"], by_id["00003"]["label"]) == ("happiness", "fear")
    messages = [str(problem) for problem in rows.problems]
    assert any("clip 00004" in m and "'0'" in m for m in messages)
    assert any("00005" in m and "no frame folder" in m for m in messages)
    assert "no subject ids" in messages[-1]
    folds = datasets.splits("dfew", str(tmp_path))
    assert sorted(folds) == [f"set_{k}" for k in range(1, 6)]
    assert folds["set_1"] == {"train": ["00001", "00002"], "test": ["00003"]}
    assert folds["set_2"] == {"train": ["00003"], "test": ["00001", "00002"]}


def _write_sheet(path, header, rows):
    _touch(str(path), ",".join(header) + "\n" + "".join(",".join(map(str, row)) + "\n" for row in rows))


CASME_HEADER = ("Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion")


def test_casme2_from_a_csv_export(tmp_path):
    raw = tmp_path / "CASME2_RAW_selected"
    _frames(raw / "sub01" / "EP02_01f", [f"img{i}.jpg" for i in range(46, 60)])
    _frames(raw / "sub17" / "EP05_09", [f"img{i}.jpg" for i in range(1, 30)])
    _frames(raw / "sub02" / "EP09_01", [f"img{i}.jpg" for i in range(10, 20)])
    _write_sheet(tmp_path / "CASME2-coding-20140508.csv", CASME_HEADER, [
        ("01", "EP02_01f", 46, 58, 59, "12", "happiness"),
        (17, "EP05_09", 5, "/", 20, "4", "repression"),
        ("02", "EP09_01", 10, 15, 19, "1+2", "fear"),       # not one of the 5 classes
        ("03", "EP01_01", 1, 2, 3, "4", "disgust"),         # no frame folder
    ])
    rows = _build("casme2", tmp_path)
    by_id = _by_id(rows)
    assert sorted(by_id) == ["sub01_EP02_01f", "sub17_EP05_09"]
    assert by_id["sub01_EP02_01f"] == {"id": "sub01_EP02_01f", "path": str(raw / "sub01" / "EP02_01f"),
                                       "label": "happiness", "subject": "sub01", "onset": "0", "apex": "12",
                                       "offset": "13"}
    assert [by_id["sub17_EP05_09"][key] for key in ("label", "onset", "apex", "offset")] \
        == ["repression", "4", "", "19"]
    messages = [str(problem) for problem in rows.problems]
    assert len(messages) == 3
    assert any("ApexFrame '/'" in m for m in messages)
    assert any("'fear'" in m for m in messages)
    assert any("no frame folder sub03/EP01_01" in m for m in messages)


def test_casme2_xlsx_needs_openpyxl_or_reads_it(tmp_path):
    raw = tmp_path / "CASME2-RAW"
    _frames(raw / "sub01" / "EP02_01f", [f"img{i}.jpg" for i in range(1, 5)])
    try:
        import openpyxl
    except ImportError:
        _touch(str(tmp_path / "CASME2-coding-20140508.xlsx"), b"PK")
        with pytest.raises(DatasetError, match="openpyxl"):
            datasets.build_manifest("casme2", str(tmp_path))
        return
    book = openpyxl.Workbook()
    book.active.append(list(CASME_HEADER))
    book.active.append([1, "EP02_01f", 1, 3, 4, "12", "surprise"])
    book.save(tmp_path / "CASME2-coding-20140508.xlsx")
    (row,) = _build("casme2", tmp_path)
    assert [row[key] for key in ("id", "label", "onset", "apex", "offset")] == [
        "sub01_EP02_01f", "surprise", "0", "2", "3"]


def test_casme1_two_sections(tmp_path):
    _frames(tmp_path / "CASME_A" / "Section A" / "sub01" / "EP01_5", [f"EP01_5-{i}.jpg" for i in range(1, 9)])
    _frames(tmp_path / "CASME_B" / "Section B" / "sub08" / "EP03_2", [f"EP03_2-{i}.jpg" for i in range(3, 9)])
    header = ("Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Emotion")
    _write_sheet(tmp_path / "CASME-A-coding.csv", header, [(1, "EP01_5", 1, 4, 8, "amusement")])
    _write_sheet(tmp_path / "CASME-B-coding.csv", header, [(8, "EP03_2", 3, 5, 8, "tense"),
                                                           (8, "EP04_1", 1, 2, 3, "bored")])
    rows = _build("casme1", tmp_path)
    by_id = _by_id(rows)
    assert sorted(by_id) == ["sub01_EP01_5", "sub08_EP03_2"]
    assert [by_id["sub01_EP01_5"][key] for key in ("label", "subject", "onset", "apex", "offset")] \
        == ["happiness", "sub01", "0", "3", "7"]
    assert [by_id["sub08_EP03_2"][key] for key in ("label", "onset", "apex", "offset")] == ["tense", "0", "2", "5"]
    (problem,) = rows.problems
    assert "'bored'" in str(problem) and "CASME-B-coding.csv" in str(problem)


def test_smic_hs(tmp_path):
    hs = tmp_path / "HS"
    _frames(hs / "s1" / "micro" / "positive" / "s1_po_01", [f"image{i:06d}.bmp" for i in range(1, 4)])
    _frames(hs / "s1" / "micro" / "negative" / "s1_ne_02", ["image000001.bmp"])
    _frames(hs / "s2" / "micro" / "surprise" / "s2_sur_01", ["image000001.bmp"])
    _frames(hs / "s2" / "micro" / "other" / "s2_ot_01", ["image000001.bmp"])
    _frames(hs / "s2" / "non_micro" / "positive" / "s2_po_09", ["image000001.bmp"])
    _frames(hs / "s3" / "non_micro" / "positive" / "s3_po_01", ["image000001.bmp"])  # no micro/ at all
    rows = _build("smic", tmp_path)
    by_id = _by_id(rows)
    assert sorted(by_id) == ["s1_ne_02", "s1_po_01", "s2_sur_01"]
    assert by_id["s1_po_01"] == {"id": "s1_po_01", "path": str(hs / "s1" / "micro" / "positive" / "s1_po_01"),
                                 "label": "positive", "subject": "s1", "onset": "", "apex": "", "offset": ""}
    assert [by_id[i]["label"] for i in ("s1_ne_02", "s2_sur_01")] == ["negative", "surprise"]
    messages = sorted(str(problem) for problem in rows.problems)
    assert len(messages) == 2 and "'other'" in messages[0] and "s3" in messages[1]


def test_bu3dfe(tmp_path):
    for name in ("F0001_AN01WH_F2D.bmp", "F0001_AN04WH_F2D.bmp", "F0001_NE00WH_F2D.bmp", "F0001_AN01WH_F3D.wrl",
                 "F0001_XX01WH_F2D.bmp"):
        _touch(str(tmp_path / "F0001" / name), b"x")
    _touch(str(tmp_path / "M0002" / "M0002_SU03BL_F2D.bmp"), b"x")
    rows = _build("bu3dfe", tmp_path)
    by_id = _by_id(rows)
    assert sorted(by_id) == ["F0001_AN01WH", "F0001_AN04WH", "F0001_NE00WH", "M0002_SU03BL"]
    assert by_id["M0002_SU03BL"] == {"id": "M0002_SU03BL", "path": str(tmp_path / "M0002" / "M0002_SU03BL_F2D.bmp"),
                                     "label": "surprise", "subject": "M0002", "onset": "", "apex": "", "offset": ""}
    assert by_id["F0001_NE00WH"]["label"] == "neutral"
    (problem,) = rows.problems
    assert "F0001_XX01WH_F2D.bmp" in str(problem) and "'XX'" in str(problem)


def _ucf101(root):
    lists = root / "ucfTrainTestlist"
    _touch(str(lists / "classInd.txt"), "1 ApplyEyeMakeup\n2 Archery\n")
    videos = {"ApplyEyeMakeup": ["v_ApplyEyeMakeup_g08_c01", "v_ApplyEyeMakeup_g01_c01"],
              "Archery": ["v_Archery_g08_c02", "v_Archery_g01_c03"]}
    for class_name, stems in videos.items():
        for stem in stems:
            _touch(str(root / "UCF-101" / class_name / f"{stem}.avi"), b"x")
    for number in (1, 2, 3):
        test_group = {1: "g01", 2: "g08", 3: "g01"}[number]
        train_lines, test_lines = [], []
        for class_name, stems in videos.items():
            for stem in stems:
                relative = f"{class_name}/{stem}.avi"
                if f"_{test_group}_" in stem:
                    test_lines.append(relative + "\n")
                else:
                    train_lines.append(f"{relative} {1 + list(videos).index(class_name)}\n")
        _touch(str(lists / f"trainlist0{number}.txt"), "".join(train_lines))
        _touch(str(lists / f"testlist0{number}.txt"), "".join(test_lines))
    return videos


def test_ucf101_classes_groups_and_three_splits(tmp_path):
    _ucf101(tmp_path)
    _touch(str(tmp_path / "UCF-101" / "Bowling" / "v_Bowling_g01_c01.avi"), b"x")  # not in classInd.txt
    rows = _build("ucf101", tmp_path)
    by_id = _by_id(rows)
    assert sorted(by_id) == ["v_ApplyEyeMakeup_g01_c01", "v_ApplyEyeMakeup_g08_c01", "v_Archery_g01_c03",
                             "v_Archery_g08_c02"]
    assert by_id["v_Archery_g08_c02"] == {
        "id": "v_Archery_g08_c02", "path": str(tmp_path / "UCF-101" / "Archery" / "v_Archery_g08_c02.avi"),
        "label": "Archery", "subject": "g08", "onset": "", "apex": "", "offset": ""}
    assert rows.classes == ("ApplyEyeMakeup", "Archery")
    (problem,) = rows.problems
    assert "Bowling" in str(problem)
    splits = datasets.splits("ucf101", str(tmp_path))
    assert splits["split_1"] == {"train": ["v_ApplyEyeMakeup_g08_c01", "v_Archery_g08_c02"],
                                 "test": ["v_ApplyEyeMakeup_g01_c01", "v_Archery_g01_c03"]}
    assert splits["split_2"] == {"train": splits["split_1"]["test"], "test": splits["split_1"]["train"]}
    assert sorted(splits) == ["split_1", "split_2", "split_3"]


def test_ucf101_listed_video_missing_is_reported(tmp_path):
    _ucf101(tmp_path)
    os.remove(tmp_path / "UCF-101" / "Archery" / "v_Archery_g01_c03.avi")
    rows = _build("ucf101", tmp_path)
    assert len(rows) == 3
    assert len(rows.problems) == 3 and all("v_Archery_g01_c03" in str(p) for p in rows.problems)


def test_crema_d_fake_names(tmp_path):
    for name in ("1001_DFA_ANG_XX.flv", "1091_IEO_SAD_HI.flv", "1001_DFA_ANG_XX.mp4", "1002_DFA_XYZ_XX.flv",
                 "notes_clip.flv", "VideoDemographics.csv"):
        _touch(str(tmp_path / "VideoFlash" / name), b"x")
    rows = _build("crema_d", tmp_path)
    by_id = _by_id(rows)
    assert sorted(by_id) == ["1001_DFA_ANG_XX", "1091_IEO_SAD_HI"]
    assert by_id["1091_IEO_SAD_HI"] == {"id": "1091_IEO_SAD_HI",
                                        "path": str(tmp_path / "VideoFlash" / "1091_IEO_SAD_HI.flv"),
                                        "label": "sadness", "subject": "1091", "onset": "", "apex": "", "offset": ""}
    messages = sorted(str(problem) for problem in rows.problems)
    assert len(messages) == 3
    assert any("1001_DFA_ANG_XX.mp4" in m and "another format" in m for m in messages)
    assert any("'XYZ'" in m for m in messages)
    assert any("notes_clip.flv" in m for m in messages)


def test_crema_d_real_clips():
    rows = _build("crema_d", REAL_CREMA_D, strict=True)
    assert [(row["id"], row["label"], row["subject"]) for row in rows] == [
        ("1001_DFA_ANG_XX", "anger", "1001"), ("1001_DFA_DIS_XX", "disgust", "1001"),
        ("1001_DFA_FEA_XX", "fear", "1001"), ("1001_DFA_HAP_XX", "happiness", "1001"),
        ("1001_DFA_NEU_XX", "neutral", "1001"), ("1001_DFA_SAD_XX", "sadness", "1001")]
    assert all(os.path.isfile(row["path"]) for row in rows)


def test_generic_csv(tmp_path):
    _touch(str(tmp_path / "clips" / "a.mp4"), b"x")
    _touch(str(tmp_path / "clips" / "b.mp4"), b"x")
    _touch(str(tmp_path / "manifest.csv"), "id,path,label,subject,onset,apex,offset\n"
                                           "a,clips/a.mp4,happy,s1,0,5,9\n"
                                           "b,clips/b.mp4,,,,,\n"
                                           "c,clips/c.mp4,sad,s2,,,\n")
    rows = _build("generic_csv", tmp_path)
    by_id = _by_id(rows)
    assert sorted(by_id) == ["a", "b"]
    assert by_id["a"] == {"id": "a", "path": str(tmp_path / "clips" / "a.mp4"), "label": "happy", "subject": "s1",
                          "onset": "0", "apex": "5", "offset": "9"}
    messages = [str(problem) for problem in rows.problems]
    assert len(messages) == 3
    assert "'c'" in messages[0] and "does not exist" in messages[0]
    assert "without a label" in messages[1] and "without a subject" in messages[2]
    assert rows.classes == ("happy",)
    with pytest.raises(DatasetError, match="manifest CSV not found"):
        datasets.build_manifest("generic_csv", str(tmp_path / "missing.csv"))


def test_readme_python_example(monkeypatch):
    monkeypatch.chdir(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
    rows = datasets.build_manifest("crema_d", "tests/fixtures/real_faces/crema-d")
    assert (len(rows), rows[0]["label"], rows[0]["subject"], rows.problems) == (6, "anger", "1001", [])
    assert datasets.list_datasets()[:3] == ["afew", "bu3dfe", "casme1"]


def test_splits_of_a_dataset_without_official_splits():
    with pytest.raises(ValueError, match=r"`name` must be a dataset with official splits, one of \(.*\); "
                                         r"received name='ckplus'"):
        datasets.splits("ckplus", "x")


def test_prepare_cli_reports_a_bad_root(tmp_path, capsys):
    from keras_fer import cli

    assert cli.main(["prepare", "--dataset", "ckplus", "--root", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "cohn-kanade-images" in capsys.readouterr().err


@pytest.mark.slow
def test_prepare_cli_with_the_crema_d_adapter(tmp_path, monkeypatch, capsys):
    from keras_fer import cli

    os.makedirs(tmp_path / "CREMA-D" / "VideoFlash")
    shutil.copy(os.path.join(REAL_CREMA_D, "1001_DFA_HAP_XX.flv"), tmp_path / "CREMA-D" / "VideoFlash")
    monkeypatch.chdir(tmp_path)
    arguments = shlex.split(README_COMMAND)
    assert arguments[0] == "keras-fer"
    assert cli.main(arguments[1:]) == 0
    assert "prepared 1, already done 0, failed 0" in capsys.readouterr().out
    (row,) = read_csv("prepared/manifest.csv")
    assert (row["id"], row["label"], row["subject"]) == ("1001_DFA_HAP_XX", "happiness", "1001")
    assert int(row["n_crops"]) > 0
