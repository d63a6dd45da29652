"""The output policy (utils/file_io.py): what is refused, what is written in place, what is
replaced, and what a failure, a kill or a second writer leave behind."""
import errno
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from trackrcnn_d2.utils.file_io import (
    OutputChangedError,
    OutputError,
    OutputFile,
    OutputFolder,
    atomic_open,
    atomic_write_text,
    check_output_folder,
)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _write_folder(path, text="new", **kwargs):
    with OutputFolder(str(path), **kwargs) as folder:
        with open(os.path.join(folder, "result.txt"), "w") as f:
            f.write(text)


def test_atomic_files_get_the_usual_permissions(tmp_path, umask_022):
    atomic_write_text(str(tmp_path / "a" / "b.txt"), "text\n")
    with atomic_open(str(tmp_path / "c.png"), "wb") as f:
        f.write(b"\x89PNG")
    assert (tmp_path / "a" / "b.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "c.png").stat().st_mode & 0o777 == 0o644
    assert sorted(os.listdir(tmp_path)) == ["a", "c.png"]


def test_a_replaced_file_keeps_its_permissions(tmp_path):
    path = tmp_path / "shared.json"
    path.write_text("old")
    path.chmod(0o640)
    atomic_write_text(str(path), "new")
    assert (path.read_text(), path.stat().st_mode & 0o777) == ("new", 0o640)


def test_a_failed_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_open(str(path)) as f:
            f.write("new, half")
            raise RuntimeError
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["out.txt"]


@pytest.mark.parametrize("path", ["", "   "])
def test_an_empty_path_is_refused_by_every_writer(tmp_path, monkeypatch, path):
    """An unset $OUT: the current folder (here holding a file) must not be replaced."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "precious.txt").write_text("keep")
    for write in (
        lambda: atomic_write_text(path, "x"),
        lambda: OutputFile(path, what="--json"),
        lambda: _write_folder(path, overwrite=True),
        lambda: check_output_folder(path, overwrite=True),
    ):
        with pytest.raises(OutputError, match="is empty: give a path"):
            write()
    assert os.listdir(tmp_path) == ["precious.txt"]


def test_devices_are_written_in_place():
    before = os.stat("/dev/null")
    atomic_write_text("/dev/null", "{}\n")
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino
    with pytest.raises(OutputError, match="/dev/full: cannot write there"):
        atomic_write_text("/dev/full", "{}\n")
    with pytest.raises(OutputError, match="device, FIFO or socket, not a folder"):
        OutputFolder("/dev/null", overwrite=True)


def test_a_fifo_is_written_in_place(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, text=True)
    atomic_write_text(str(fifo), "through the pipe\n")
    assert reader.communicate(timeout=30)[0] == "through the pipe\n"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_dev_stdout_prints_in_order_into_a_redirected_file(tmp_path):
    """``--json /dev/stdout > out.txt``: the file is written through, not replaced, and what was
    printed before and after stays in order."""
    code = textwrap.dedent(
        """
        from trackrcnn_d2.utils.file_io import atomic_write_text
        print("table")
        atomic_write_text("/dev/stdout", "{json}\\n")
        print("wrote /dev/stdout")
        """
    )
    out = tmp_path / "out.txt"
    with open(out, "w") as f:
        inode = os.fstat(f.fileno()).st_ino
        subprocess.run([sys.executable, "-c", code], stdout=f, check=True, env=_env())
    assert out.read_text() == "table\n{json}\nwrote /dev/stdout\n"
    assert out.stat().st_ino == inode


def test_a_link_to_a_file_is_followed(tmp_path):
    (tmp_path / "real.json").write_text("old")
    os.symlink("real.json", tmp_path / "link.json")
    atomic_write_text(str(tmp_path / "link.json"), "new")
    assert os.readlink(tmp_path / "link.json") == "real.json"
    assert (tmp_path / "real.json").read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == ["link.json", "real.json"]


def test_a_link_to_an_empty_folder_is_filled(tmp_path):
    (tmp_path / "scratch").mkdir()
    os.symlink(tmp_path / "scratch", tmp_path / "out")
    _write_folder(tmp_path / "out")
    assert os.path.islink(tmp_path / "out")
    assert os.listdir(tmp_path / "scratch") == ["result.txt"]


def test_a_folder_changed_by_another_writer_is_not_replaced(tmp_path):
    """Two runs into one new output: the first one's result stays, the second one's is kept
    beside (nothing either run did not ask to replace is deleted)."""
    first = OutputFolder(str(tmp_path / "out"))
    second = OutputFolder(str(tmp_path / "out"))
    with first as folder:
        (tmp_path / "unrelated").write_text("keep")
        open(os.path.join(folder, "result.txt"), "w").write("first")
    with pytest.raises(OutputChangedError, match=r"left as it is.*result is in .*out-2"):
        with second as folder:
            open(os.path.join(folder, "result.txt"), "w").write("second")
    assert (tmp_path / "out" / "result.txt").read_text() == "first"
    assert (tmp_path / "out-2" / "result.txt").read_text() == "second"
    assert sorted(os.listdir(tmp_path)) == ["out", "out-2", "unrelated"]


def test_an_existing_folder_is_replaced_only_if_unchanged_since_the_start(tmp_path):
    _write_folder(tmp_path / "out", "old")
    replacing = OutputFolder(str(tmp_path / "out"), overwrite=True)
    with replacing as folder:
        open(os.path.join(folder, "result.txt"), "w").write("new")
    assert (tmp_path / "out" / "result.txt").read_text() == "new"
    late = OutputFolder(str(tmp_path / "out"), overwrite=True)
    (tmp_path / "out" / "added by someone").write_text("")
    with pytest.raises(OutputChangedError):
        with late as folder:
            open(os.path.join(folder, "result.txt"), "w").write("late")
    assert sorted(os.listdir(tmp_path / "out")) == ["added by someone", "result.txt"]


def test_a_file_changed_by_another_writer_is_not_replaced(tmp_path):
    path = str(tmp_path / "metrics.json")
    first, second = OutputFile(path), OutputFile(path)
    first.write("first")
    with pytest.raises(OutputChangedError, match="metrics-2.json"):
        second.write("second")
    assert (tmp_path / "metrics.json").read_text() == "first"
    assert (tmp_path / "metrics-2.json").read_text() == "second"


def test_a_failure_leaves_nothing_and_names_the_output_not_a_temporary(tmp_path):
    target = tmp_path / "made" / "for" / "out"
    with pytest.raises(FileNotFoundError) as error:
        with OutputFolder(str(target)) as folder:
            open(os.path.join(folder, "missing", "x.txt"), "w")
    assert error.value.filename == str(target / "missing" / "x.txt")
    with pytest.raises(OSError) as error:
        with OutputFolder(str(target)):
            raise OSError(errno.ENOSPC, "No space left on device")
    assert (error.value.errno, error.value.filename) == (errno.ENOSPC, str(target))
    with pytest.raises(OSError) as error:
        with atomic_open(str(target / "f.json")) as f:
            f.write("x")
            raise OSError(errno.EDQUOT, "Disk quota exceeded")
    assert error.value.filename == str(target / "f.json")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_a_failing_final_commit_leaves_the_old_output(tmp_path, monkeypatch, kind):
    monkeypatch.setenv("TRACKRCNN_D2_TEST_COMMIT_HOOK", f"errno:{errno.ENOSPC}")
    path = tmp_path / "out"
    with pytest.raises(OSError) as error:
        if kind == "file":
            atomic_write_text(str(path), "new")
        else:
            _write_folder(path)
    assert (error.value.errno, error.value.filename) == (errno.ENOSPC, str(path))
    assert os.listdir(tmp_path) == []


def test_refusals(tmp_path, tmp_path_factory, monkeypatch):
    source = tmp_path / "source"
    (source / "sub").mkdir(parents=True)
    (tmp_path / "file").write_text("")
    (tmp_path / "checkout" / ".git").mkdir(parents=True)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    check_output_folder(str(tmp_path / "new"), overwrite=False)
    check_output_folder(str(source / "sub"), overwrite=False)  # empty
    check_output_folder(str(tmp_path / "file"), overwrite=True)
    cases = [
        (tmp_path / "file", False, "is an existing file, not a folder; pass --overwrite"),
        (tmp_path / "file" / "out", True, "cannot create a folder in .*file, which is a file"),
        (source, False, "would replace .*sub or a folder that holds it"),
        (tmp_path, True, "would replace .*sub or a folder that holds it"),
        (tmp_path / "checkout", True, "is a git checkout"),
        (home, True, "would replace your home folder"),
        (home.parent, True, "would replace your home folder"),
    ]
    for output, overwrite, message in cases:
        with pytest.raises(OutputError, match=message):
            check_output_folder(str(output), overwrite, inputs=[str(source / "sub")])
    monkeypatch.chdir(source / "sub")
    for output in (os.curdir, source):
        with pytest.raises(OutputError, match="would replace the current folder"):
            check_output_folder(str(output), overwrite=True)
    with pytest.raises(OutputError, match="is a folder; give a file name"):
        OutputFile(str(tmp_path), what="--json")
    with pytest.raises(OutputError, match="exists; pass --overwrite"):
        OutputFile(str(tmp_path / "file"), overwrite=False)


def test_leftovers_of_dead_writers_are_removed_not_those_of_live_ones(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead_pid = int(dead.stdout)
    leftovers = [f".out.new-{dead_pid}-0123abcd", f".out.tmp-{dead_pid}-89abcdef"]
    alive = f".out.tmp-{os.getpid()}-00000000"
    for name in leftovers + [alive, ".other.tmp-1-00000000"]:
        (tmp_path / name).mkdir()
    (tmp_path / f".x.json.tmp-{dead_pid}-0123abcd").write_text("half")
    _write_folder(tmp_path / "out")
    atomic_write_text(str(tmp_path / "x.json"), "{}")
    assert sorted(os.listdir(tmp_path)) == sorted([".other.tmp-1-00000000", alive, "out", "x.json"])


def _env(**extra):
    return {**os.environ, "PYTHONPATH": REPO, **extra}


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_a_writer_killed_at_its_commit_leaves_the_old_output(tmp_path, kind):
    """SIGKILL at the last moment (everything written, not yet in place): the old output stays
    whole, and the next writer removes the hidden leftover."""
    target = tmp_path / "out"
    if kind == "file":
        target.write_text("old")
        write = f"atomic_write_text({str(target)!r}, 'new')"
    else:
        _write_folder(target, "old")
        write = (
            f"with OutputFolder({str(target)!r}, overwrite=True) as f:\n"
            "    open(f + '/result.txt', 'w').write('new')"
        )
    code = "from trackrcnn_d2.utils.file_io import OutputFolder, atomic_write_text\n" + write
    signal_file = tmp_path / "committing"
    env = _env(TRACKRCNN_D2_TEST_COMMIT_HOOK=f"pause:{signal_file}")
    process = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=REPO)
    deadline = time.monotonic() + 60
    while not signal_file.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert signal_file.exists(), "the writer never reached its commit"
    process.send_signal(signal.SIGKILL)
    process.wait()
    signal_file.unlink()
    read = (lambda: target.read_text()) if kind == "file" else lambda: (
        target / "result.txt"
    ).read_text()
    assert read() == "old"
    assert len(os.listdir(tmp_path)) == 2  # the output and the killed writer's leftover
    if kind == "file":
        atomic_write_text(str(target), "next")
    else:
        _write_folder(target, "next", overwrite=True)
    assert read() == "next" and os.listdir(tmp_path) == ["out"]
