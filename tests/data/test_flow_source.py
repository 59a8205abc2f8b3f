"""keras_fer.data.flow: STANet's flow of each sample's annotated onset..offset window, cached or in memory."""

import csv
import json
import shutil

import cv2
import numpy as np
import pytest

from data_prep import manifest
from keras_fer.data import cache, flow
from keras_fer.data.sources import FlowSource, open_source


def _edit_manifest(folder, change):
    with open(folder / "manifest.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    change(rows)
    with open(folder / "manifest.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


def test_a_sample_without_onset_or_offset_is_named(prepared_ast, tmp_path):
    folder = tmp_path / "prepared"
    shutil.copytree(prepared_ast, folder)
    rows = _edit_manifest(folder, lambda rows: rows[3].update(onset=""))
    with pytest.raises(ValueError, match=rf"manifest.csv line 5: sample '{rows[3]['id']}' has no onset and offset "
                                         r"frame \(onset='', offset='\d+'\); STANet's flow"):
        flow.flow_source(str(folder))


def test_window_positions_spread_the_window_evenly():
    """STANet sec. 4.1: the window interpolated to T + 1 frames, first and last kept."""
    np.testing.assert_allclose(flow.window_positions(4, 10, 3), [4.0, 6.0, 8.0, 10.0])


def _textured(size, seed=0):
    rng = np.random.default_rng(seed)
    image = cv2.GaussianBlur(rng.uniform(0, 255, (size, size)).astype(np.float32), (0, 0), 2.0)
    image = (image - image.min()) / (image.max() - image.min()) * 255
    return np.repeat(image[..., None], 3, axis=2)


def test_window_flow_measures_motion_in_output_pixels():
    """A texture moving 1 px per source frame at 64 px, window 0..8 interpolated to 5 frames (2 frames apart):
    2 px per field at 64 px, 1 px at 32 px, divided by the bound."""
    base = _textured(96)
    frames = np.stack([base[16:80, 16 - k:80 - k] for k in range(9)]).astype(np.uint8)  # content moves right
    settings = flow.flow_settings(num_flows=4, size=32, bound=2.0)
    fields = flow.window_flow(frames, flow.window_positions(0, 8, 4), settings)
    assert fields.shape == (4, 32, 32, 2) and fields.dtype == np.float32
    inner = fields[:, 8:24, 8:24]
    np.testing.assert_allclose(np.median(inner[..., 0]), 1.0 / 2.0, atol=0.08)  # dx: 1 px / bound 2
    np.testing.assert_allclose(np.median(inner[..., 1]), 0.0, atol=0.08)
    assert np.abs(fields).max() <= 1.0


def test_flow_settings_default_bound_and_errors():
    assert flow.flow_settings() == {"num_flows": 20, "size": 192, "method": "farneback", "bound": 3.0}
    with pytest.raises(ValueError, match="method"):
        flow.flow_settings(method="flownet2")
    with pytest.raises(ValueError, match="bound"):
        flow.flow_settings(bound=0)


def test_flow_cache_matches_the_in_memory_flow_and_resumes(prepared_ast, tmp_path):
    out = tmp_path / "flow"
    first = flow.extract_flow(prepared_ast, out, num_flows=4, size=16, bound=0.5, num_shards=3, progress=False)
    assert first == {"computed": 12, "skipped": 0, "complete": True}
    again = flow.extract_flow(prepared_ast, out, num_flows=4, size=16, bound=0.5, num_shards=3, progress=False)
    assert again["computed"] == 0 and again["skipped"] == 12
    with pytest.raises(cache.CacheMismatchError, match="cache.json"):
        flow.extract_flow(prepared_ast, out, num_flows=4, size=16, bound=1.0, num_shards=3, progress=False)

    source = open_source(out)
    assert isinstance(source, FlowSource) and source.input == "frames"
    assert source.preparation["input"] == "flow" and source.preparation["flow"]["bound"] == 0.5
    memory = flow.flow_source(prepared_ast, num_flows=4, size=16, bound=0.5)
    ids = [row["id"] for row in memory.rows]
    cached, labels = next(iter(source.dataset(ids, training=False, batch_size=12)))
    assert cached.shape == (12, 4, 16, 16, 2)
    np.testing.assert_allclose(cached.numpy(), memory.inputs, atol=1e-3)  # float16 storage
    assert [source.class_names[y] for y in labels.numpy()] == [row["label"] for row in memory.rows]
    info = json.loads((out / "cache.json").read_text())
    assert info["config"]["stem"] == flow.FLOW_STEM and info["config"]["flow"]["num_flows"] == 4


def test_a_window_without_crops_is_named(prepared_stcam, tmp_path):
    """A folder prepared with a sampler lacks frames of the window: the error names the crop folder."""
    with pytest.raises(ValueError, match=r"crops/.*STANet's flow of sample .* needs frames .* no face crop"):
        flow.extract_flow(prepared_stcam, tmp_path / "flow", num_flows=8, size=16, progress=False)


def test_a_flow_cache_takes_no_sampler(prepared_ast, tmp_path):
    flow.extract_flow(prepared_ast, tmp_path / "flow", num_flows=2, size=8, progress=False)
    with pytest.raises(ValueError, match="flow cache"):
        open_source(tmp_path / "flow", sampler="stanet")
    assert manifest.read_csv(tmp_path / "flow" / "manifest.csv")[0]["n_cached"] == "2"
