"""The scripts' shared handling of a user's mistake: one line and exit status 2 for expected
errors, the traceback for bugs; and the one refusal rule for output folders."""
import pytest

from trackrcnn_d2.data.mots_io import MOTSFormatError
from trackrcnn_d2.utils.cli import (
    ConfigError,
    OutputDirError,
    check_output_folder,
    exit_on_user_error,
)


@pytest.mark.parametrize(
    "error, line",
    [
        (ConfigError("a.yaml: SOLVER.MAX_ITER bad"), "a.yaml: SOLVER.MAX_ITER bad"),
        (MOTSFormatError("0002.txt:7: bad RLE"), "0002.txt:7: bad RLE"),
        (FileNotFoundError(2, "No such file", "x.png"), "x.png: No such file"),
    ],
)
def test_user_errors_end_in_one_line_and_status_2(capsys, error, line):
    with pytest.raises(SystemExit) as exit_info, exit_on_user_error("tool.py"):
        raise error
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == f"tool.py: error: {line}\n"


def test_bugs_keep_their_traceback():
    with pytest.raises(ZeroDivisionError), exit_on_user_error("tool.py"):
        1 / 0  # noqa: B018
    with pytest.raises(KeyError), exit_on_user_error("tool.py"):
        {}["key"]  # noqa: B018


def test_output_folder_rule(tmp_path):
    source = tmp_path / "source"
    (source / "sub").mkdir(parents=True)
    (tmp_path / "file").write_text("")
    check_output_folder(str(tmp_path / "new"), overwrite=False)
    check_output_folder(str(source / "sub"), overwrite=False)  # empty
    cases = [
        (tmp_path / "file", False, "is an existing file, not a folder; pass --overwrite"),
        (tmp_path / "file" / "out", True, "cannot create a folder in .*file, which is a file"),
        (source, False, "would replace .*sub or a folder that holds it"),
        (source, True, "would replace .*sub or a folder that holds it"),
        (tmp_path, True, "would replace .*sub or a folder that holds it"),
    ]
    for output, overwrite, message in cases:
        with pytest.raises(OutputDirError, match=message):
            check_output_folder(str(output), overwrite, inputs=[str(source / "sub")])
    check_output_folder(str(tmp_path / "file"), overwrite=True)
