"""demo.py's --input: videos, folders of frames, folders of them, lists, image files and globs,
each mistake named; and whole videos shared over processes by frame count."""
import cv2
import numpy as np
import pytest

from trackrcnn_d2.engine.video_inputs import find_videos, share_videos, split_overrides
from trackrcnn_d2.utils.cli import UserError


def _frames(folder, count, start=0):
    folder.mkdir(parents=True)
    for i in range(start, start + count):
        cv2.imwrite(str(folder / f"{i:06d}.png"), np.full((16, 32, 3), 9 * i, np.uint8))
    return folder


def _video(path, count):
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5, (32, 16))
    for i in range(count):
        writer.write(np.full((16, 32, 3), 20 * i, np.uint8))
    writer.release()
    return path


@pytest.fixture
def library(tmp_path):
    """A folder of 2 videos and 2 frame folders (and a file that is neither)."""
    root = tmp_path / "library"
    _video(root / "drive.avi", 7)
    _video(root / "park.avi", 3)
    _frames(root / "0001", 5)
    _frames(root / "0002", 2, start=1)
    (root / "notes.md").write_text("not a video\n")
    return root


def _summary(videos):
    return [(v.name, v.num_frames, v.is_video) for v in videos]


def test_a_folder_of_videos_and_frame_folders(library):
    assert _summary(find_videos([str(library)])) == [
        ("0001", 5, False), ("0002", 2, False), ("drive", 7, True), ("park", 3, True),
    ]  # fmt: skip


def test_a_frame_folder_a_video_and_image_files(library):
    images = [str(library / "0001" / f"{i:06d}.png") for i in (3, 1, 2)]
    videos = find_videos([str(library / "drive.avi"), *images, str(library / "0002")])
    assert _summary(videos) == [("drive", 7, True), ("0001", 3, False), ("0002", 2, False)]
    # The image files are the frames of their folder, in order, with their numbers.
    assert [i for i, _ in videos[1].open().frames] == [1, 2, 3]


def test_a_list_of_videos_and_a_glob(library, tmp_path):
    listing = tmp_path / "videos.txt"
    listing.write_text("# the evening drives\nlibrary/park.avi\n\n  library/0002  \n")
    assert _summary(find_videos([str(listing)])) == [("park", 3, True), ("0002", 2, False)]
    pattern = str(library / "*.avi")  # quoted on the command line: demo.py expands it
    assert [v.name for v in find_videos([pattern])] == ["drive", "park"]
    # The same video named twice is tracked once.
    assert [v.name for v in find_videos([pattern, str(library / "park.avi")])] == ["drive", "park"]


def test_mistakes_name_the_input(library, tmp_path):
    listing = tmp_path / "videos.txt"
    listing.write_text("library/park.avi\nlibrary/missing.mp4\n")
    other = _frames(tmp_path / "elsewhere" / "0001", 2)
    empty = tmp_path / "empty"
    empty.mkdir()
    binary_list = tmp_path / "binary.txt"
    binary_list.write_bytes(b"\xff\xfe\x00binary")
    cases = [
        ([str(listing)], FileNotFoundError, "videos.txt:2: library/missing.mp4: not found"),
        ([str(tmp_path / "nothing.mp4")], FileNotFoundError, "no such video, folder of frames"),
        ([str(tmp_path / "*.mkv")], FileNotFoundError, r"the pattern matches no file"),
        ([str(empty)], FileNotFoundError, "no images .*, videos .* or folders of frames"),
        ([str(library), str(other)], UserError, "two videos are named 0001 .*separate --output"),
        ([str(binary_list)], UserError, "binary.txt: not a text file"),
        ([str(library / "notes.md")], UserError, "notes.md: cannot open this video"),
        ([""], UserError, "an empty path"),
    ]
    for inputs, error, message in cases:
        with pytest.raises(error, match=message):
            find_videos(inputs)


def test_overrides_after_the_inputs_are_overrides(library):
    paths = [str(library / "drive.avi"), str(library / "0001")]
    overrides = ["MODEL.WEIGHTS", "m.pth"]
    assert split_overrides(paths + overrides) == (paths, overrides)
    assert split_overrides(paths) == (paths, [])


def test_whole_videos_are_shared_largest_first():
    """Longest processing time first: each video, the longest first, to the process with the
    fewest frames so far."""
    assert share_videos([10, 9, 8, 3, 2], 2) == [[0, 3, 4], [1, 2]]  # 15 and 17 frames
    assert share_videos([5, 5, 5], 4) == [[0], [1], [2], []]
    assert share_videos([], 3) == [[], [], []]
    frames = [int(f) for f in np.random.default_rng(0).integers(1, 500, size=40)]
    shares = share_videos(frames, 3)
    assert sorted(i for share in shares for i in share) == list(range(40))
    loads = [sum(frames[i] for i in share) for share in shares]
    assert max(loads) - min(loads) <= max(frames)
    for share in shares:
        assert [frames[i] for i in share] == sorted((frames[i] for i in share), reverse=True)
