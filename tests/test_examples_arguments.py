"""Every examples/*.py answers wrong arguments with its usage line and one error line (exit
status 2), before any work: an unknown flag, and for those taking KEY VALUE overrides an odd
pair and a value outside its key's rule."""
import glob
import os
import runpy
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = sorted(glob.glob(os.path.join(REPO, "examples", "*.py")))


def _takes_overrides(path: str) -> bool:
    with open(path) as f:
        return "merge_overrides(" in f.read()


def _cases():
    for path in EXAMPLES:
        name = os.path.basename(path)
        yield pytest.param(path, ["--no-such-flag"], None, id=f"{name}-flag")
        if _takes_overrides(path):
            # A frame folder first for the example that tracks one (a positional argument).
            with open(path) as f:
                prefix = ["{frames}"] if "FRAME_FOLDER" in f.read() else []
            yield pytest.param(path, [*prefix, "SOLVER.BASE_LR"], "odd length", id=f"{name}-odd")
            yield pytest.param(
                path, [*prefix, "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "nan"],
                "command line: MODEL.ROI_HEADS.SCORE_THRESH_TEST must be a finite number from 0 "
                "to 1, got nan", id=f"{name}-value",
            )  # fmt: skip


def _lazy_cases():
    for path in EXAMPLES:
        with open(path) as f:
            if "load_lazy_config(" not in f.read():
                continue
        name = os.path.basename(path)
        yield pytest.param(path, ["train.max_iter"], "overrides of a LazyConfig are key=value",
                           id=f"{name}-pair")  # fmt: skip
        yield pytest.param(
            path, ["optimizer.lr=nan"],
            "command line: optimizer.lr must be a finite number > 0, got nan", id=f"{name}-value",
        )  # fmt: skip


def test_every_example_is_covered():
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("path, argv, message", list(_cases()) + list(_lazy_cases()))
def test_wrong_arguments_give_the_usage_line(path, argv, message, monkeypatch, capsys, tmp_path):
    name = os.path.basename(path)
    (tmp_path / "000000.png").write_bytes(b"")  # a frame folder's file (not read before parsing)
    argv = [a.format(frames=tmp_path) for a in argv]
    monkeypatch.setattr(sys, "argv", [path, *argv])
    with pytest.raises(SystemExit) as stopped:
        runpy.run_path(path, run_name="__main__")
    assert stopped.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith(f"usage: {name} ")
    assert lines[-1].startswith(f"{name}: error: ")
    assert "Traceback" not in "\n".join(lines)
    if message:
        assert message in lines[-1]
