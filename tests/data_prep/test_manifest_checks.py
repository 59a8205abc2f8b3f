"""Issue 20, finding 6: impossible manifest rows are reported problems; a mixed-size folder names its odd frame."""
import os

import cv2
import numpy as np
import pytest

from data_prep.video import VideoError, VideoReader


def test_mixed_size_folder_names_its_first_odd_frame(tmp_path):
    for number in range(20):  # 0000.png is 16x12, every later frame 16x10
        shape = (12, 16, 3) if number == 0 else (10, 16, 3)
        cv2.imwrite(os.path.join(tmp_path, f"{number:04d}.png"), np.zeros(shape, np.uint8))
    reader = VideoReader(str(tmp_path))
    with pytest.raises(VideoError, match=r"0001\.png: frame size 16x10 differs from the folder's first frame "
                                         r"0000\.png \(16x12\)"):
        list(reader.iter_frames([0, 10]))  # a sampler's frames: 0001.png is not among them
