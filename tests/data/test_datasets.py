"""MOTS dataset dicts, registration, metadata and built-in splits."""
import logging
import os
import shutil

import numpy as np
import pycocotools.mask as mask_utils
import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode

from trackrcnn_d2.data import builtin, mots_io
from trackrcnn_d2.data.builtin import register_kitti_mots, register_mots_challenge
from trackrcnn_d2.data.datasets import load_mots_dataset_dicts, select_mots_classes


def _load(root, classes=("car", "pedestrian"), annotations="instances_txt"):
    return load_mots_dataset_dicts(
        str(root / "training" / "image_02"), str(root / annotations), ["0000", "0003"], classes
    )


def test_dataset_dicts_follow_the_contract(synthetic_root, synthetic_spec):
    dicts = _load(synthetic_root)
    frames = synthetic_spec["frames"]
    assert len(dicts) == 2 * frames
    assert [(d["sequence"], d["frame_idx"]) for d in dicts] == [
        (s, f) for s in ("0000", "0003") for f in range(frames)
    ]
    assert len({d["image_id"] for d in dicts}) == len(dicts)
    ground_truth = mots_io.load_mots_ground_truth(
        str(synthetic_root / "instances_txt"), ["0000", "0003"]
    )
    for record in dicts:
        assert os.path.isfile(record["file_name"])
        assert (record["height"], record["width"]) == (
            synthetic_spec["height"],
            synthetic_spec["width"],
        )
        objects = ground_truth[record["sequence"]].get(record["frame_idx"], [])
        tracked = [o for o in objects if o.obj_id != mots_io.IGNORE_OBJ_ID]
        assert [a["track_id"] for a in record["annotations"]] == [o.obj_id for o in tracked]
        assert record["ignore_regions"] == [
            o.rle for o in objects if o.obj_id == mots_io.IGNORE_OBJ_ID
        ]
        for annotation, obj in zip(record["annotations"], tracked):
            assert annotation["bbox_mode"] == BoxMode.XYXY_ABS and annotation["iscrowd"] == 0
            assert annotation["category_id"] == {1: 0, 2: 1}[obj.class_id]
            mask = mask_utils.decode(annotation["segmentation"])
            ys, xs = np.nonzero(mask)
            assert annotation["bbox"] == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def test_txt_and_png_give_the_same_dicts(synthetic_root):
    assert _load(synthetic_root) == _load(synthetic_root, annotations="instances")


def test_class_selection(synthetic_root):
    pedestrians = _load(synthetic_root, classes=["pedestrian"])
    everything = _load(synthetic_root)
    assert all(a["category_id"] == 0 for d in pedestrians for a in d["annotations"])
    expected = [
        [a["track_id"] for a in d["annotations"] if a["track_id"] // 1000 == 2] for d in everything
    ]
    assert [[a["track_id"] for a in d["annotations"]] for d in pedestrians] == expected
    # Same result when narrowing dicts loaded with both classes (what the loaders do); the
    # order of cfg.DATASETS.MOTS.CLASSES decides the contiguous ids.
    assert select_mots_classes(everything, ["car", "pedestrian"], ["pedestrian"]) == pedestrians
    swapped = select_mots_classes(everything, ["car", "pedestrian"], ["pedestrian", "car"])
    assert [a["category_id"] for d in swapped for a in d["annotations"]] == [
        1 - a["category_id"] for d in everything for a in d["annotations"]
    ]
    assert everything == _load(synthetic_root)  # the input is unchanged


def test_registered_synthetic_splits_and_metadata(synthetic_prefix, synthetic_spec):
    train = DatasetCatalog.get(f"{synthetic_prefix}_train")
    val = DatasetCatalog.get(f"{synthetic_prefix}_val")
    assert sorted({d["sequence"] for d in train}) == ["0000", "0001", "0002"]
    assert {d["sequence"] for d in val} == {"0003"}
    meta = MetadataCatalog.get(f"{synthetic_prefix}_val")
    assert meta.evaluator_type == "mots"
    assert meta.thing_classes == ["car", "pedestrian"]
    assert meta.thing_dataset_id_to_contiguous_id == {1: 0, 2: 1}
    assert meta.sequences == ["0003"]
    assert meta.image_sizes == {"0003": (synthetic_spec["height"], synthetic_spec["width"])}
    assert meta.annotation_format == "txt" and meta.gt_format == "kitti_mots"
    assert os.path.isdir(meta.annotation_root) and os.path.isdir(meta.image_root)


def test_registration_is_lazy_and_missing_data_is_explained(tmp_path, unique_name):
    register_kitti_mots(
        unique_name, str(tmp_path / "images"), str(tmp_path / "ann"), ["0000"], hint="HINT"
    )  # nothing exists: registering must not read anything
    with pytest.raises(FileNotFoundError, match=r"looked for .*images/0000.*HINT"):
        DatasetCatalog.get(unique_name)


def test_builtin_splits():
    assert builtin.KITTI_MOTS_VAL_SEQUENCES == [
        "0002", "0006", "0007", "0008", "0010", "0013", "0014", "0016", "0018"
    ]
    assert len(builtin.KITTI_MOTS_TRAIN_SEQUENCES) == 12
    assert set(builtin.KITTI_MOTS_TRAIN_SEQUENCES) | set(builtin.KITTI_MOTS_VAL_SEQUENCES) == {
        f"{i:04d}" for i in range(21)
    }
    assert MetadataCatalog.get("kitti_mots_val").sequences == builtin.KITTI_MOTS_VAL_SEQUENCES
    assert MetadataCatalog.get("mots_challenge").thing_classes == ["pedestrian"]
    for number in ("0002", "0005", "0009", "0011"):
        held_out = f"MOTS20-{number[2:]}"
        train = MetadataCatalog.get(f"mots_challenge_train_wo_{number}").sequences
        assert held_out not in train and len(train) == 3
        assert MetadataCatalog.get(f"mots_challenge_val_{number}").sequences == [held_out]
        assert MetadataCatalog.get(f"mots_challenge_val_{number}").gt_format == "mots_challenge"


def test_builtin_error_says_how_to_set_detectron2_datasets(tmp_path):
    name = "kitti_mots_val"
    if os.path.isdir(MetadataCatalog.get(name).image_root):
        pytest.skip("KITTI MOTS is installed")
    with pytest.raises(FileNotFoundError, match="DETECTRON2_DATASETS"):
        DatasetCatalog.get(name)


def _copy_sequence(synthetic_root, tmp_path, sequence="0000"):
    images = tmp_path / "images"
    annotations = tmp_path / "ann"
    shutil.copytree(synthetic_root / "training" / "image_02" / sequence, images / sequence)
    annotations.mkdir()
    shutil.copy(synthetic_root / "instances_txt" / f"{sequence}.txt", annotations)
    return images, annotations


def test_missing_image_of_an_annotated_frame(synthetic_root, tmp_path):
    images, annotations = _copy_sequence(synthetic_root, tmp_path)
    (images / "0000" / "000004.png").unlink()
    with pytest.raises(mots_io.MOTSFormatError, match=r"0000.txt: frame 4 .* image .*000004"):
        load_mots_dataset_dicts(str(images), str(annotations), ["0000"], ["car", "pedestrian"])


def test_empty_sequence(synthetic_root, tmp_path, caplog):
    images, annotations = _copy_sequence(synthetic_root, tmp_path)
    for image in (images / "0000").iterdir():
        image.unlink()
    with pytest.raises(mots_io.MOTSFormatError, match=r"images/0000: empty sequence"):
        load_mots_dataset_dicts(str(images), str(annotations), ["0000"], ["car"])
    # Images without any annotation: loaded, with a warning.
    images, annotations = _copy_sequence(synthetic_root, tmp_path / "b")
    (annotations / "0000.txt").write_text("")
    with caplog.at_level(logging.WARNING):
        dicts = load_mots_dataset_dicts(str(images), str(annotations), ["0000"], ["car"])
    assert len(dicts) == 12 and not any(d["annotations"] for d in dicts)
    assert "no annotations" in caplog.text


def test_annotation_size_disagreeing_with_the_image(synthetic_root, tmp_path):
    images, annotations = _copy_sequence(synthetic_root, tmp_path)
    from PIL import Image

    for path in (images / "0000").iterdir():
        Image.open(path).resize((100, 50)).save(path)
    with pytest.raises(mots_io.MOTSFormatError, match=r"0000.txt:1: mask size .* \(50, 100\)"):
        load_mots_dataset_dicts(str(images), str(annotations), ["0000"], ["car"])


def test_mots_challenge_layout(synthetic_root, tmp_path, unique_name):
    """MOTS20 layout: <root>/<seq>/img1/<frame>.jpg with <root>/<seq>/gt/gt.txt, frames from 1."""
    from PIL import Image

    sequence = tmp_path / "MOTS20-02"
    (sequence / "img1").mkdir(parents=True)
    (sequence / "gt").mkdir()
    source = mots_io.read_mots_txt(str(synthetic_root / "instances_txt" / "0000.txt"))
    shifted = [o._replace(frame=o.frame + 1) for frame in source.values() for o in frame]
    shifted = [o for o in shifted if o.class_id != mots_io.CAR]
    mots_io.write_mots_txt(str(sequence / "gt" / "gt.txt"), shifted)
    for frame in range(12):
        image = Image.open(synthetic_root / "training" / "image_02" / "0000" / f"{frame:06d}.png")
        image.save(sequence / "img1" / f"{frame + 1:06d}.jpg")
    register_mots_challenge(unique_name, str(tmp_path), sequences=["MOTS20-02"])
    dicts = DatasetCatalog.get(unique_name)
    assert [d["frame_idx"] for d in dicts] == list(range(1, 13))
    assert dicts[0]["file_name"].endswith("MOTS20-02/img1/000001.jpg")
    expected = [[o.obj_id for o in source.get(f - 1, []) if o.class_id == 2] for f in range(1, 13)]
    assert [[a["track_id"] for a in d["annotations"]] for d in dicts] == expected
    meta = MetadataCatalog.get(unique_name)
    assert meta.thing_classes == ["pedestrian"] and meta.gt_format == "mots_challenge"
