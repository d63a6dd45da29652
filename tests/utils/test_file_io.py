"""The atomic writers: permissions, no partial files, folder replacement and its leftovers."""
import os
import subprocess
import sys

import pytest

from trackrcnn_d2.utils.file_io import atomic_open, atomic_write_text, replace_folder_atomically


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_atomic_files_get_the_usual_permissions(tmp_path, umask_022):
    atomic_write_text(str(tmp_path / "a" / "b.txt"), "text\n")
    with atomic_open(str(tmp_path / "c.png"), "wb") as f:
        f.write(b"\x89PNG")
    assert (tmp_path / "a" / "b.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "c.png").stat().st_mode & 0o777 == 0o644
    assert sorted(os.listdir(tmp_path)) == ["a", "c.png"]


def test_a_failed_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_open(str(path)) as f:
            f.write("new, half")
            raise RuntimeError
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["out.txt"]


def test_folder_replacement_refuses_a_file_unless_allowed(tmp_path):
    target = tmp_path / "out"
    target.write_text("precious")
    with pytest.raises(FileExistsError, match="exists and is not a folder"):
        with replace_folder_atomically(str(target)):
            pass
    assert target.read_text() == "precious"
    with replace_folder_atomically(str(target), replace_file=True) as folder:
        open(os.path.join(folder, "x"), "w").close()
    assert os.listdir(target) == ["x"]


def test_folder_replacement_removes_leftovers_of_dead_runs_only(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead_pid = int(dead.stdout)
    leftovers = [f".out.new-{dead_pid}-0123abcd", f".out.old-{dead_pid}-89abcdef"]
    alive = f".out.new-{os.getpid()}-00000000"
    for name in leftovers + [alive, ".other.new-1-00000000"]:
        (tmp_path / name).mkdir()
    with replace_folder_atomically(str(tmp_path / "out")):
        pass
    assert sorted(os.listdir(tmp_path)) == sorted([".other.new-1-00000000", alive, "out"])
