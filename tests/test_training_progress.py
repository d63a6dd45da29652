"""tools/training_progress.sh (make demo's progress): a line every 40 iterations with the time
left at the mean speed since the first logged iteration, from the log's own time stamps."""
import os
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def progress(log_lines, max_iter=200):
    run = subprocess.run(
        ["bash", "-c", f"source tools/training_progress.sh; training_progress {max_iter}"],
        input="".join(line + "\n" for line in log_lines), capture_output=True, text=True,
        cwd=REPO, check=True,
    )  # fmt: skip
    return run.stdout.splitlines()


def _event(seconds, iteration, loss, eta="0:10:00"):
    """A detectron2 metrics line, ``seconds`` after 23:59:00."""
    total = 23 * 3600 + 59 * 60 + seconds
    clock = f"{total // 3600 % 24:02d}:{total // 60 % 60:02d}:{total % 60:02d}"
    return (f"[12/06 {clock} d2.utils.events]:  eta: {eta}  iter: {iteration}  "
            f"total_loss: {loss}  loss_cls: 0.5  time: 0.9  lr: 0.001")  # fmt: skip


def test_a_line_every_40_iterations_with_the_time_left_at_the_mean_speed():
    lines = ["[12/06 23:58:50 detectron2]: Rank of current process: 0. World size: 1"]
    # Logged every 20 iterations; 1 s per iteration, except a slow stretch (another program
    # on the cores) between iterations 60 and 80, 3 s each. detectron2's eta would jump.
    clock = {19: 0, 39: 20, 59: 40, 79: 100, 99: 120, 119: 140, 199: 220}
    for iteration, seconds in clock.items():
        lines.append(_event(seconds, iteration, round(3.0 - iteration / 100, 3)))
    assert progress(lines) == [
        "  iteration 40/200  total_loss 2.61  0:30 elapsed, about 2:40 left",  # 160 x 20 s / 20
        "  iteration 80/200  total_loss 2.21  1:50 elapsed, about 3:20 left",  # 120 x 100 s / 60
        "  iteration 120/200  total_loss 1.81  2:30 elapsed, about 1:52 left",  # 80 x 140 s / 100
        "  iteration 200/200  total_loss 1.01  3:50 elapsed, about 0:00 left",
    ]  # past midnight (23:59:00 + 230 s) the clock restarts; the elapsed time does not


def test_other_lines_are_ignored():
    lines = [
        "[12/06 10:00:00 detectron2]: Full config saved to output/config.yaml",
        "some line without a time stamp",
        _event(0, 19, 3.0),
        "[12/06 10:00:30 d2.engine.hooks]: Overall training speed: 38 iterations in 0:00:40",
    ]
    assert progress(lines) == []
