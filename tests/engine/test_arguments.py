"""train_net.py's command line (trackrcnn_d2.engine.arguments): detectron2's flags, accepted
after the KEY VALUE overrides too, parsed before torch and detectron2 are loaded."""
import os
import subprocess
import sys

import pytest

from trackrcnn_d2.engine.arguments import default_argument_parser

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(REPO, "configs", "demo_synthetic.yaml")


def test_the_flags_and_defaults_are_detectrons():
    """detectron2's flags and defaults, but --dist-url's (auto: a free port, where detectron2's
    fixed port makes two runs on one machine collide), and --dist-timeout added."""
    from detectron2.engine import default_argument_parser as detectron2_parser

    def flags(parser):
        return {
            tuple(a.option_strings): (a.dest, a.default)
            for a in parser._actions
            if a.dest not in ("help", "config_file", "opts")
        }

    ours, detectron2s = flags(default_argument_parser()), flags(detectron2_parser())
    assert ours.pop(("--dist-url",)) == ("dist_url", "auto")
    assert ours.pop(("--dist-timeout",)) == ("dist_timeout", 60.0)
    detectron2s.pop(("--dist-url",))
    assert ours == detectron2s


@pytest.mark.parametrize(
    "argv",
    [
        ["--resume", "--num-gpus", "2", "MODEL.WEIGHTS", "m.pth", "SOLVER.BASE_LR", "-1"],
        ["MODEL.WEIGHTS", "m.pth", "--resume", "SOLVER.BASE_LR", "-1", "--num-gpus", "2"],
        ["MODEL.WEIGHTS", "m.pth", "SOLVER.BASE_LR", "-1", "--num-gpus=2", "--resume"],
    ],
)
def test_flags_may_come_before_between_or_after_the_overrides(argv):
    args = default_argument_parser().parse_args(["--config-file", CONFIG, *argv])
    assert args.resume and args.num_gpus == 2 and not args.eval_only
    assert args.opts == ["MODEL.WEIGHTS", "m.pth", "SOLVER.BASE_LR", "-1"]


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "--config-file is required, e.g. --config-file configs/kitti_mots_r101.yaml"),
        (["--config-file", "missing.yaml"], "config file missing.yaml not found"),
        (["--config-file", CONFIG, "--reusme"], "unrecognized arguments: --reusme"),
        (["--config-file", CONFIG, "--num-gpus", "two"],
         "--num-gpus: expected a whole number >= 1, got 'two'"),
        (["--config-file", CONFIG, "--num-gpus", "0"], "expected a whole number >= 1, got '0'"),
        (["--config-file", CONFIG, "--machine-rank", "-1"], "expected a whole number >= 0"),
        (["--config-file", CONFIG, "--dist-timeout", "0"], "expected a number > 0, got '0'"),
    ],
)
def test_argument_mistakes_are_told_in_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        default_argument_parser(prog="train_net.py").parse_args(argv)
    assert stopped.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith("train_net.py: error: ")
    assert message in errors[0]


@pytest.mark.parametrize(
    "argv",
    [["--help"], [], ["--config-file", "missing.yaml"], ["--config-file", CONFIG, "--reusme"]],
)
def test_help_and_argument_errors_load_neither_torch_nor_detectron2(argv):
    """The issue's 7-20 s before `--help` answered: the parser is torch-free."""
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['train_net.py', *{argv!r}]\n"
        "try:\n"
        f"    runpy.run_path({os.path.join(REPO, 'train_net.py')!r}, run_name='__main__')\n"
        "except SystemExit as e:\n"
        "    code = e.code\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'detectron2'))\n"
        "print(code, loaded, file=sys.stderr)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    expected_code = 0 if argv == ["--help"] else 2
    assert run.stderr.splitlines()[-1] == f"{expected_code} []", run.stderr
