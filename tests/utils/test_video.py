"""Frames from videos and folders: an input that cannot be read fully is an error naming the
file and the frame, never a quiet end."""
import cv2
import numpy as np
import pytest

from trackrcnn_d2.utils.video import VideoReadError, open_frames


def _write_avi(path, frames=20):
    # MJPG in AVI: the header states the frame count, so a cut file still opens.
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(frames):
        writer.write(np.full((48, 64, 3), 10 * i, np.uint8))
    writer.release()


def test_a_whole_video_reads_every_frame(tmp_path):
    _write_avi(tmp_path / "whole.avi")
    source = open_frames(str(tmp_path / "whole.avi"))
    assert source.num_frames == 20
    assert [frame_idx for frame_idx, _ in source.frames] == list(range(20))


def test_a_video_that_ends_early_is_an_error_after_its_frames(tmp_path):
    """The issue's scenario: a video ending before its stated frame count was tracked partly
    and reported as success."""
    _write_avi(tmp_path / "whole.avi")
    data = (tmp_path / "whole.avi").read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: int(len(data) * 0.8)])
    source = open_frames(str(cut))
    assert source.num_frames == 20
    read = []
    message = rf"{cut}: the video ends after frame \d+ .* states 20 frames"
    with pytest.raises(VideoReadError, match=message):
        for frame_idx, _ in source.frames:
            read.append(frame_idx)
    assert 0 < len(read) < 20 and read == list(range(len(read)))


def test_unreadable_inputs_name_the_file(tmp_path):
    (tmp_path / "text.mp4").write_text("not a video")
    with pytest.raises(VideoReadError, match="text.mp4: cannot open this video"):
        open_frames(str(tmp_path / "text.mp4"))
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "000000.png"), np.zeros((8, 8, 3), np.uint8))
    (folder / "000001.png").write_bytes(b"\x89PNG broken")
    frames = open_frames(str(folder)).frames
    next(frames)
    with pytest.raises(VideoReadError, match=r"000001.png: cannot read this image \(frame 1"):
        next(frames)


def test_a_folder_of_frames_of_mixed_sizes_names_the_first_odd_frame(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for name, (height, width) in [("a.png", (8, 12)), ("b.png", (8, 12)), ("c.png", (12, 8)),
                                  ("d.png", (6, 6))]:  # fmt: skip
        cv2.imwrite(str(folder / name), np.zeros((height, width, 3), np.uint8))
    frames = open_frames(str(folder)).frames
    assert [index for index, _ in (next(frames), next(frames))] == [0, 1]
    first, odd = folder / "a.png", folder / "c.png"
    message = rf"{odd}: frame 2 is 8 x 12 pixels, but the first frame {first} is 12 x 8"
    with pytest.raises(VideoReadError, match=message):
        next(frames)
