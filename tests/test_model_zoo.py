"""trackrcnn_d2.model_zoo: the shipped configs by name, from any directory and any install."""
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from trackrcnn_d2 import model_zoo

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_config_of_the_checkout_is_listed_and_found():
    names = model_zoo.list_config_files()
    shipped = sorted(
        os.path.relpath(os.path.join(folder, f), os.path.join(REPO, "configs")).replace(os.sep, "/")
        for folder, _, files in os.walk(os.path.join(REPO, "configs"))
        for f in files
        if f.endswith((".yaml", ".py"))
    )
    assert names == shipped and "ablations/temporal_none.yaml" in names
    assert "kitti_mots_R_50_FPN_LSJ.py" in names  # LazyConfigs too
    for name in names:
        path = model_zoo.get_config_file(name)
        assert os.path.samefile(path, os.path.join(REPO, "configs", name))


def test_an_unknown_name_lists_the_shipped_configs():
    with pytest.raises(FileNotFoundError, match="kitti_mots_r101.yaml"):
        model_zoo.get_config_file("kitti_mots_r50.yaml")


def test_configs_load_with_their_bases_from_another_directory(tmp_path, monkeypatch):
    """What the README's snippet does, from a directory that has no configs/."""
    from detectron2.config import get_cfg

    from trackrcnn_d2.config import add_trackrcnn_config

    monkeypatch.chdir(tmp_path)
    cfg = get_cfg()
    add_trackrcnn_config(cfg)
    cfg.merge_from_file(model_zoo.get_config_file("ablations/temporal_none.yaml"))
    assert cfg.MODEL.META_ARCHITECTURE == "TrackRCNN"  # from Base-TrackRCNN.yaml
    assert cfg.MODEL.TEMPORAL.TYPE == "none"


def test_a_normal_install_ships_the_configs_as_package_data(tmp_path):
    """A wheel built from a clean copy of the sources holds configs/ as trackrcnn_d2/configs,
    and its get_config_file finds them there."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("setup.py", "README.md", "MANIFEST.in"):
        shutil.copy(os.path.join(REPO, name), source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("trackrcnn_d2", "configs"):
        shutil.copytree(os.path.join(REPO, name), source / name, ignore=ignore)
    run = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "wheel"), str(source)],
        capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stderr
    (wheel,) = (tmp_path / "wheel").iterdir()
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp_path / "installed")
        packaged = {n for n in archive.namelist() if n.startswith("trackrcnn_d2/configs/")}
    assert {f"trackrcnn_d2/configs/{n}" for n in model_zoo.list_config_files()} == packaged
    # The installed copy comes first on the path, before this checkout's editable install.
    code = (
        f"import sys; sys.path.insert(0, {str(tmp_path / 'installed')!r}); "
        "import trackrcnn_d2.model_zoo as z; print(z.get_config_file('kitti_mots_r101.yaml'))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str(
        tmp_path / "installed" / "trackrcnn_d2" / "configs" / "kitti_mots_r101.yaml"
    )
