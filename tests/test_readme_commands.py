"""Every command in the README's ```bash blocks works as written.

Each command is checked without a GPU or the real datasets: ``make`` targets exist, scripts and
modules exist, and each ``--config-file`` loads with the command's ``KEY VALUE`` overrides (a
LazyConfig's ``key=value``; a misspelt key fails). The cheap ones also run here on a tiny
synthetic set. Running the others needs a GPU or the data, as the README says where it shows
them.
"""
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest
from helpers.readme_cases import write_ground_truth_as_results

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHONS = ("python", "python3", ".venv/bin/python")
# A config override on the command line: KEY VALUE, e.g. MODEL.WEIGHTS model.pth.
CONFIG_KEY = re.compile(r"^[A-Z][A-Z0-9_]*(\.[A-Z0-9_]+)+$")


def readme_commands():
    """The README's shell commands: ```bash blocks, continuation lines joined, comments and
    ``[optional arguments]`` dropped."""
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", readme, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\[[^\]]*\]", "", line.split(" #")[0]).strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def makefile_targets():
    with open(os.path.join(REPO, "Makefile"), encoding="utf-8") as f:
        return set(re.findall(r"^([A-Za-z][\w-]*):", f.read(), flags=re.M))


def console_scripts():
    with open(os.path.join(REPO, "setup.py"), encoding="utf-8") as f:
        return set(re.findall(r'"([\w-]+)=[\w.]+:\w+"', f.read()))


def config_overrides(arguments):
    """The trailing ``KEY VALUE`` pairs of a command's arguments."""
    overrides = []
    for i, token in enumerate(arguments):
        if CONFIG_KEY.match(token) and i + 1 < len(arguments):
            overrides += [token, arguments[i + 1]]
    return overrides


def check_config(path, overrides):
    from detectron2.config import get_cfg

    import trackrcnn_d2
    from trackrcnn_d2.engine.lazy_config import is_lazy_config, load_lazy_config

    trackrcnn_d2.register_all()
    if is_lazy_config(path):
        load_lazy_config(os.path.join(REPO, path), overrides)
        return
    cfg = get_cfg()
    trackrcnn_d2.add_trackrcnn_config(cfg)
    cfg.merge_from_file(os.path.join(REPO, path))
    cfg.merge_from_list(overrides)


def check_python_command(arguments):
    if arguments[0] == "-m":
        import importlib.util

        assert importlib.util.find_spec(arguments[1]) is not None, f"no module {arguments[1]}"
        return
    assert os.path.isfile(os.path.join(REPO, arguments[0])), f"no script {arguments[0]}"
    if "--config-file" in arguments:
        path = arguments[arguments.index("--config-file") + 1]
        if path.startswith("output/"):
            return  # written by an earlier command (the threshold search's tuned config)
        lazy = [a for a in arguments if "=" in a and not a.startswith("-")]
        check_config(path, lazy if path.endswith(".py") else config_overrides(arguments))


def check_command(command):
    tokens = shlex.split(command)
    if tokens[0] == "make":
        assert set(tokens[1:]) <= makefile_targets(), f"no make target in {command!r}"
    elif tokens[0] in PYTHONS and tokens[1:3] != ["-m", "venv"]:
        check_python_command(tokens[1:])
    elif tokens[0] in console_scripts():
        pass
    elif tokens[0] in PYTHONS + (".venv/bin/pip", "pip", "git"):
        pass  # installation steps: they need the internet
    elif tokens[0] == "chromium":
        pass  # Debian's headless browser, for the report's screenshot (not a test dependency)
    else:
        raise AssertionError(f"README command of unknown kind, add a check here: {command!r}")


def test_every_readme_command_passes_its_check():
    commands = readme_commands()
    assert any(c.startswith("python train_net.py") for c in commands)
    failures = []
    for command in commands:
        try:
            check_command(command)
        except Exception as e:  # noqa: BLE001 - report every failing command at once
            failures.append(f"{command}\n    {type(e).__name__}: {e}")
    assert not failures, "README commands that do not work as written:\n" + "\n".join(failures)


def test_a_misspelt_override_is_caught():
    with pytest.raises(AssertionError, match="Non-existent key: DATASET.TEST"):
        check_command("python train_net.py --config-file configs/kitti_mots_r101.yaml "
                      "DATASET.TEST \"('kitti_mots_train',)\"")
    with pytest.raises(ValueError, match="train has no key 'max_iters'"):
        check_command("python train_net.py --config-file configs/kitti_mots_R_50_FPN_LSJ.py "
                      "train.max_iters=10")


def tiny_result_folders(tmp_path):
    """A tiny synthetic ground-truth folder and, as results, its car and pedestrian tracks."""
    from trackrcnn_d2.data.synthetic import generate_synthetic_mots

    generate_synthetic_mots(str(tmp_path / "set"), sequences=2, frames=5, height=48, width=96)
    gt, results = tmp_path / "set" / "instances_txt", tmp_path / "results"
    write_ground_truth_as_results(gt, results)
    return gt, results


@pytest.mark.parametrize("program", ["python -m trackrcnn_d2.evaluation", "trackrcnn-eval"])
def test_the_evaluation_commands_run_as_written(tmp_path, program):
    matching = [c for c in readme_commands() if c.startswith(program + " GT_FOLDER")]
    if not matching:
        pytest.fail(f"the README shows no `{program} GT_FOLDER RESULTS_FOLDER`")
    gt, results = tiny_result_folders(tmp_path)
    tokens = shlex.split(matching[0])
    tokens = [{"GT_FOLDER": str(gt), "RESULTS_FOLDER": str(results)}.get(t, t) for t in tokens]
    if tokens[0] == "python":
        tokens[0] = sys.executable
    else:
        tokens[0] = shutil.which(tokens[0], path=os.path.dirname(sys.executable))
        assert tokens[0], f"{program} is not installed beside {sys.executable}"
    run = subprocess.run(tokens, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "100.0" in run.stdout  # the results are the ground truth


def test_the_report_command_runs_as_written(tmp_path):
    matching = [c for c in readme_commands()
                if c.startswith("python -m trackrcnn_d2.evaluation GT_FOLDER") and "--report" in c]
    if not matching:
        pytest.fail("the README shows no `python -m trackrcnn_d2.evaluation ... --report`")
    gt, results = tiny_result_folders(tmp_path)
    tokens = shlex.split(matching[0])
    tokens = [{"GT_FOLDER": str(gt), "RESULTS_FOLDER": str(results)}.get(t, t) for t in tokens]
    run = subprocess.run([sys.executable] + tokens[1:], capture_output=True, text=True,
                         cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr
    report = tmp_path / tokens[tokens.index("--report") + 1]
    assert "100.0" in (report / "index.html").read_text()  # the results are the ground truth


def test_the_threshold_search_steps_chain_as_written(tmp_path):
    """The README's three tuning steps: step 1 (an evaluation of kitti_mots_train, which needs
    a model and the data) writes its detections where step 2 reads them by default; step 2 runs
    as written (fewer trials) on a tiny stand-in for KITTI MOTS with perfect cached detections;
    step 3's config is the one step 2 writes, it loads, and its evaluation writes elsewhere than
    step 1's evaluations."""
    import cv2
    from helpers.tuning_cases import synthetic_sequence

    from trackrcnn_d2.data import mots_io
    from trackrcnn_d2.tracking import write_detection_cache

    commands = readme_commands()
    (evaluate_train,) = [c for c in commands if "DATASETS.TEST \"('kitti_mots_train',)\"" in c]
    (tune,) = [c for c in commands if c.startswith("python tools/tune_tracker.py")
               and "kitti_mots_r101" in c]  # fmt: skip
    (evaluate_tuned,) = [c for c in commands if "--config-file output/tracker_search/" in c]

    from detectron2.config import get_cfg

    import trackrcnn_d2

    tokens = shlex.split(evaluate_train)
    step1 = get_cfg()
    trackrcnn_d2.add_trackrcnn_config(step1)
    step1.merge_from_file(os.path.join(REPO, tokens[tokens.index("--config-file") + 1]))
    step1.merge_from_list(config_overrides(tokens))
    # MOTSEvaluator's folder (OUTPUT_DIR/inference/<dataset>) and its detection cache.
    written = os.path.join(step1.OUTPUT_DIR, "inference", step1.DATASETS.TEST[0], "detections")

    kitti = tmp_path / "datasets" / "kitti_mots"
    for index, name in enumerate(("0000", "0001")):  # two sequences of kitti_mots_train
        gt, images, detections = synthetic_sequence(name, index, frames=6, height=48, width=96)
        mots_io.write_mots_txt(
            str(kitti / "instances_txt" / f"{name}.txt"), [o for f in gt.values() for o in f]
        )
        (kitti / "training" / "image_02" / name).mkdir(parents=True)
        for frame, image in enumerate(images):
            path = kitti / "training" / "image_02" / name / f"{frame:06d}.png"
            cv2.imwrite(str(path), image[:, :, ::-1])
        write_detection_cache(str(tmp_path / written / f"{name}.npz"), detections)
    for folder in ("configs", "tools"):  # the command's relative paths, from tmp_path
        (tmp_path / folder).symlink_to(os.path.join(REPO, folder))
    tokens = shlex.split(tune)
    tokens[0] = sys.executable
    environment = dict(os.environ, DETECTRON2_DATASETS=str(tmp_path / "datasets"))
    run = subprocess.run(
        [*tokens, "--iterations", "4", "--workers", "2", "--no-progress"],
        capture_output=True, text=True, cwd=tmp_path, env=environment,
    )
    assert run.returncode == 0, run.stderr
    assert f"on 2 sequences of {written} " in run.stdout
    assert "all classes together (as evaluated)" in run.stdout

    tokens = shlex.split(evaluate_tuned)
    tuned = tokens[tokens.index("--config-file") + 1]
    cfg = get_cfg()
    trackrcnn_d2.add_trackrcnn_config(cfg)
    cfg.merge_from_file(str(tmp_path / tuned))
    cfg.merge_from_list(config_overrides(tokens))
    assert cfg.DATASETS.TEST == ("kitti_mots_val",)  # from its _BASE_, the given config
    assert "# car: sMOTSA" in (tmp_path / tuned).read_text()
    # Step 3 writes OUTPUT_DIR/inference/kitti_mots_val/ beside the thresholds, not over the
    # untuned evaluation of kitti_mots_val in the model's OUTPUT_DIR.
    assert os.path.normpath(cfg.OUTPUT_DIR) == os.path.dirname(tuned)
    assert os.path.normpath(cfg.OUTPUT_DIR) != os.path.normpath(step1.OUTPUT_DIR)
