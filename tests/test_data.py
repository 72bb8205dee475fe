"""Tests of data.py: every dataset by name, index helpers, and the host and device loaders.

The device loader runs on CPU here; its augmentation is checked exactly (every output is a crop/flip
of the zero-padded image) and statistically against the host transforms (flip rate, padding and
cutout areas, per-pixel mean).
"""

from __future__ import annotations

import os
import pickle
import re
import signal
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import Dataset, Subset
from torchvision.datasets import folder as tv_folder

import data
import image_folders
import utils
from data import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    CIFAR100_MEAN,
    DATASETS,
    DeviceLoader,
    HostLoader,
    TensorImageDataset,
    build_loader,
    load_datasets,
    load_imagenet_search,
    load_test_set,
    stratified_subsample,
    targets_of,
    train_valid_split,
)
from utils import UserError

CPU = torch.device("cpu")


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def digits():
    return load_datasets("digits", "unused-root")


class IndexDataset(Dataset):
    """Sample i is (tensor([i]), label i % 3): lets a test read the order a loader used."""

    def __init__(self, n: int) -> None:
        self.targets = [i % 3 for i in range(n)]

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int):
        return torch.tensor([float(i)]), i


def one_image_dataset(image: torch.Tensor, *, cutout: bool = False, mean=(0.5, 0.5, 0.5),
                      std=(0.25, 0.25, 0.25)) -> TensorImageDataset:
    return TensorImageDataset(image[None].clone(), torch.tensor([0]), mean=mean, std=std, augment=True,
                              cutout=cutout, cutout_length=16)


def collect(loader, epochs=(0,)) -> torch.Tensor:
    out = []
    for epoch in epochs:
        loader.set_epoch(epoch)
        out += [x for x, _ in loader]
    return torch.cat(out)


def write_png_tree(root: Path, classes: dict[str, int], size=(20, 24)) -> None:
    rng = np.random.default_rng(0)
    for cls, count in classes.items():
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / cls / f"img{i}.png")


def write_cifar10(root: Path, per_batch: int = 4, protocol: int = 2) -> dict:
    """Tiny files in torchvision's CIFAR-10 python format (written here, so pickle.dump is fine)."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    written = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, per_batch)]
        filenames = [f"{i}.png" for i in range(per_batch)]
        entry = {"batch_label": name, "labels": labels, "data": data, "filenames": filenames}
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f, protocol=protocol)
        written[name] = entry
    meta = {"label_names": [f"class{i}" for i in range(10)], "num_cases_per_batch": per_batch, "num_vis": 3072}
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump(meta, f, protocol=protocol)
    return written


# --------------------------------------------------------------------------- datasets


def test_dataset_names():
    assert set(DATASETS) == {"cifar10", "cifar100", "digits", "synthetic", "folder", "imagenet"}
    with pytest.raises(UserError, match="unknown --set"):
        load_datasets("mnist", "x")


def test_digits_shapes_labels_and_stats(digits):
    train, test, info = digits
    assert (info.name, info.num_classes, info.image_size) == ("digits", 10, 32)
    assert train.images.shape == (1437, 3, 32, 32) and test.images.shape == (360, 3, 32, 32)
    assert train.images.dtype == torch.uint8 and train.targets.dtype == torch.int64
    assert torch.equal(train.images[:, 0], train.images[:, 2])  # grey replicated to RGB
    assert int(train.images.max()) > 200 and int(train.images.min()) == 0
    assert set(train.targets.tolist()) == set(range(10)) == set(test.targets.tolist())
    # stratified 80/20: each class's test share is close to 20%
    share = test.targets.bincount(minlength=10).float() / (
        test.targets.bincount(minlength=10) + train.targets.bincount(minlength=10)).float()
    assert torch.all((share - 0.2).abs() < 0.02)
    x = train.images.double() / 255
    assert info.mean == pytest.approx(tuple(x.mean(dim=(0, 2, 3)).tolist()), abs=1e-5)
    assert info.std == pytest.approx(tuple(x.std(dim=(0, 2, 3)).tolist()), abs=1e-5)
    # the split is fixed, whatever the user's seed
    train2, _, _ = load_datasets("digits", "elsewhere")
    assert torch.equal(train.images, train2.images)
    img, label = test[0]
    assert img.shape == (3, 32, 32) and img.dtype == torch.float32 and label == int(test.targets[0])


def test_digits_test_transform_is_normalise_only(digits):
    _, test, info = digits
    img, _ = test[5]
    mean = torch.tensor(info.mean).view(3, 1, 1)
    std = torch.tensor(info.std).view(3, 1, 1)
    assert torch.allclose(img, (test.images[5].float() / 255 - mean) / std, atol=1e-6)


def test_synthetic_is_deterministic_and_learnable():
    train, test, info = load_datasets("synthetic", "unused", synthetic_train=600, synthetic_test=200)
    assert train.images.shape == (600, 3, 32, 32) and test.images.shape == (200, 3, 32, 32)
    assert info.num_classes == 10 and torch.equal(train.targets.bincount(), torch.full((10,), 60))
    again, _, _ = load_datasets("synthetic", "unused", synthetic_train=600, synthetic_test=200)
    assert torch.equal(train.images, again.images) and torch.equal(train.targets, again.targets)
    # nearest class mean on the raw pixels already separates the classes: the signal is learnable
    xtr, xte = train.images.float().flatten(1), test.images.float().flatten(1)
    centroids = torch.stack([xtr[train.targets == c].mean(0) for c in range(10)])
    predicted = torch.cdist(xte, centroids).argmin(1)
    assert (predicted == test.targets).float().mean() > 0.8
    assert load_datasets("synthetic", "unused", image_size=16)[0].images.shape[-1] == 16


def test_folder_dataset(tmp_path):
    write_png_tree(tmp_path / "train", {"ant": 3, "bee": 2, "cat": 4})
    write_png_tree(tmp_path / "val", {"bee": 2, "cat": 1})  # a class absent from val keeps its index
    train, test, info = load_datasets("folder", tmp_path, image_size=16, cutout=True, cutout_length=4)
    (note,) = info.notes  # ... and the run's log tells the user that val's accuracy leaves it out
    assert "1 of the 3 training classes ('ant')" in note and "\n" not in note
    assert (info.name, info.num_classes, info.image_size) == ("folder", 3, 16)
    assert train.classes == ["ant", "bee", "cat"] and len(train) == 9 and len(test) == 3
    assert targets_of(train).tolist() == [0, 0, 0, 1, 1, 2, 2, 2, 2]
    assert targets_of(test).tolist() == [1, 1, 2]
    x, y = train[0]
    assert x.shape == (3, 16, 16) and y == 0
    assert test[0][0].shape == (3, 16, 16)
    assert not hasattr(train, "images")
    loader = build_loader(train, torch.arange(9), 4, train=True, seed=0, device=CPU, on_device=True)
    assert isinstance(loader, HostLoader)  # no .images: stays on the host path
    assert [x.shape for x, _ in loader] == [(4, 3, 16, 16), (4, 3, 16, 16), (1, 3, 16, 16)]


def test_folder_uses_test_dir_and_rejects_unknown_classes(tmp_path):
    write_png_tree(tmp_path / "train", {"a": 1, "b": 1})
    write_png_tree(tmp_path / "test", {"a": 1, "b": 1})
    _, test, info = load_datasets("folder", tmp_path)
    assert len(test) == 2 and test[0][0].shape == (3, 32, 32)
    assert info.notes == ()  # every class present: nothing to say
    write_png_tree(tmp_path / "val", {"a": 1, "zebra": 1})
    with pytest.raises(UserError, match="zebra"):
        load_datasets("folder", tmp_path)


def test_missing_folders_are_one_line_errors(tmp_path):
    for call in (lambda: load_datasets("folder", tmp_path), lambda: load_datasets("imagenet", tmp_path),
                 lambda: load_imagenet_search(tmp_path)):
        with pytest.raises(UserError) as info:
            call()
        message = str(info.value)
        assert str(tmp_path) in message and "\n" not in message


def test_the_test_set_of_an_image_folder_loads_without_its_training_images(tmp_path, capsys, monkeypatch):
    """test.py evaluates val/ alone, as test_imagenet.py: it used to need train/ beside it and list all its files."""
    write_png_tree(tmp_path / "imagenet" / "val", {"n01": 1, "n02": 2}, size=(40, 30))
    test, info = load_test_set("imagenet", tmp_path, image_size=32)
    assert (info.name, info.num_classes, info.image_size, len(test)) == ("imagenet", 2, 32, 3)
    assert test.classes == ["n01", "n02"] and targets_of(test).tolist() == [0, 1, 1]
    assert test[0][0].shape == (3, 32, 32) and test.class_source == tmp_path / "imagenet" / "val"

    # with train/ beside it, its class folders number the classes (as load_datasets' test set), its images unread
    write_png_tree(tmp_path / "imagenet" / "train", {"n00": 1, "n01": 1, "n02": 1}, size=(40, 30))
    _, full, full_info = load_datasets("imagenet", tmp_path, image_size=32)
    capsys.readouterr()
    read = []
    real = image_folders._image_folder
    monkeypatch.setattr(image_folders, "_image_folder", lambda root, *rest: read.append(root) or real(root, *rest))
    test, info = load_test_set("imagenet", tmp_path, image_size=32)
    assert read == [tmp_path / "imagenet" / "val"] and test.class_source == tmp_path / "imagenet" / "train"
    assert info == full_info and test.class_to_idx == full.class_to_idx and test.samples == full.samples
    assert torch.equal(test[2][0], full[2][0]) and targets_of(test).tolist() == [1, 2, 2]
    assert "1 of the 3 training classes ('n00')" in info.notes[0] and len(info.notes) == 1

    write_png_tree(tmp_path / "tree" / "test", {"a": 1, "b": 1})  # --set folder: its val/ or test/ alone
    test, info = load_test_set("folder", tmp_path / "tree", image_size=16)
    assert (info.num_classes, len(test), test[1][0].shape) == (2, 2, (3, 16, 16))
    with pytest.raises(UserError, match=r"image folder not found: looked for .*val \(or .*test\)"):
        load_test_set("folder", tmp_path / "nothing")


def test_a_hidden_folder_is_no_class_and_both_val_and_test_are_said(tmp_path):
    """A .ipynb_checkpoints beside the class folders was counted as a class (index 0, shifting the others); with
    val/ and test/ both present test/ was silently not read."""
    write_png_tree(tmp_path / "train", {"ant": 2, "bee": 2, ".ipynb_checkpoints": 1})
    write_png_tree(tmp_path / "val", {"ant": 1, "bee": 1, ".ipynb_checkpoints": 1})
    write_png_tree(tmp_path / "test", {"ant": 1, "bee": 1})
    train, test, info = load_datasets("folder", tmp_path, image_size=16)
    assert train.classes == ["ant", "bee"] and info.classes == ("ant", "bee") and len(train) == 4 and len(test) == 2
    assert info.notes == (f"{tmp_path} has both val/ and test/: val/ is the evaluation split, test/ is not read",)
    alone, alone_info = load_test_set("folder", tmp_path, image_size=16)
    assert alone.classes == ["ant", "bee"] and len(alone) == 2 and alone_info.notes == info.notes


def test_class_names_in_either_unicode_form_are_one_class(tmp_path):
    """macOS stores names decomposed (NFD), Linux as written: a val/ spelt in NFC beside an NFD train/ had "a class
    folder not in the training set". The order stays the stored names' (torchvision's, which runs recorded): NFD
    sorts 'éclair' before 'fraise' where NFC sorts it after, and a run on the NFD copy must resume on it."""
    nfc, nfd = "\u00e9clair", "e\u0301clair"
    write_png_tree(tmp_path / "mac" / "train", {nfd: 1, "fraise": 2})
    write_png_tree(tmp_path / "mac" / "val", {nfc: 1, "fraise": 1})
    write_png_tree(tmp_path / "linux" / "train", {nfc: 1, "fraise": 2})
    write_png_tree(tmp_path / "linux" / "val", {nfc: 1, "fraise": 2})
    train, test, info = load_datasets("folder", tmp_path / "mac", image_size=8)
    assert train.classes == [nfd, "fraise"] and info.classes == (nfd, "fraise")  # as stored, as before
    assert sorted(targets_of(train).tolist()) == [0, 1, 1] and sorted(targets_of(test).tolist()) == [0, 1]
    assert test.classes == train.classes and info.notes == ()  # val/'s NFC folder is train/'s class 0
    assert utils.class_mismatch(list(info.classes), [nfc, "fraise"]) is None  # one name in either form
    _, _, linux = load_datasets("folder", tmp_path / "linux", image_size=8)
    assert linux.classes == ("fraise", nfc)  # the NFC copy orders them otherwise: its labels differ, and say so
    assert utils.class_mismatch(list(info.classes), linux.classes).startswith("the same class names in another")
    alone, _ = load_test_set("folder", tmp_path / "linux", image_size=8, classes=list(info.classes))
    assert sorted(targets_of(alone).tolist()) == [0, 1, 1]  # test.py: the weights' NFD names read the NFC folders
    assert [alone.class_to_idx[name] for name in (nfc, "fraise")] == [0, 1]


def test_16_bit_greyscale_images_are_scaled_not_clipped(tmp_path):
    """PIL's convert("RGB") clips 16-bit values at 255: a camera's PNG came out almost white."""
    pixels = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000)  # 0 .. 63000
    Image.fromarray(pixels).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    rgb = np.asarray(data.load_rgb(str(tmp_path / "deep.png")))
    assert rgb.shape == (8, 8, 3) and (rgb[..., 0] == rgb[..., 2]).all()
    assert np.abs(rgb[..., 0].astype(float) - pixels / 257.0).max() <= 0.5
    Image.fromarray(np.full((4, 4, 3), 77, dtype=np.uint8)).save(tmp_path / "plain.png")  # 8-bit: unchanged
    assert (np.asarray(data.load_rgb(str(tmp_path / "plain.png"))) == 77).all()
    Image.fromarray(np.full((4, 4), 77, dtype=np.int32)).save(tmp_path / "int.tif")  # 32-bit, 8-bit values
    assert (np.asarray(data.load_rgb(str(tmp_path / "int.tif"))) == 77).all()
    Image.fromarray(pixels.astype(np.int32)).save(tmp_path / "int16.tif")  # 32-bit, 16-bit values
    assert np.abs(np.asarray(data.load_rgb(str(tmp_path / "int16.tif")))[..., 0] - pixels / 257.0).max() <= 0.5


def test_float_images_are_read_in_0_1_and_refused_outside(tmp_path):
    """PIL's convert("RGB") clipped a float TIFF's [0, 1] intensities to 0 and 1: an all-black image."""
    pixels = np.linspace(0.0, 1.0, 64, dtype=np.float32).reshape(8, 8)
    Image.fromarray(pixels).save(tmp_path / "float.tif")
    assert Image.open(tmp_path / "float.tif").mode == "F"
    rgb = np.asarray(data.load_rgb(str(tmp_path / "float.tif")))
    assert rgb.shape == (8, 8, 3) and np.abs(rgb[..., 1].astype(float) - pixels * 255.0).max() <= 0.5
    Image.fromarray(pixels * 300.0).save(tmp_path / "wide.tif")
    with pytest.raises(ValueError, match=r"run from 0 to 300, not within \[0, 1\]"):
        data.load_rgb(str(tmp_path / "wide.tif"))
    # the range said is the pixels' own: a minimum of 0 was put into it, and NaN hid every other value
    Image.fromarray(pixels * 298.0 + 2.0).save(tmp_path / "above.tif")
    with pytest.raises(ValueError, match=r"run from 2 to 300, not within \[0, 1\]"):
        data.load_rgb(str(tmp_path / "above.tif"))
    Image.fromarray(np.where(pixels > 0.9, np.float32("nan"), pixels)).save(tmp_path / "nan.tif")
    with pytest.raises(ValueError, match=r"run from 0 to 0.888889 and 7 are NaN or infinite, not within \[0, 1\]"):
        data.load_rgb(str(tmp_path / "nan.tif"))


def test_imagenet_layouts(tmp_path):
    write_png_tree(tmp_path / "imagenet" / "train", {"n01": 2, "n02": 2}, size=(40, 30))
    write_png_tree(tmp_path / "imagenet" / "val", {"n01": 1, "n02": 1}, size=(40, 30))
    train, test, info = load_datasets("imagenet", tmp_path, image_size=32, cutout=True, cutout_length=8)
    assert (info.num_classes, info.image_size) == (2, 32)
    assert info.mean == (0.485, 0.456, 0.406)
    assert train[0][0].shape == (3, 32, 32) and test[1][0].shape == (3, 32, 32)
    assert targets_of(test).tolist() == [0, 1]

    write_png_tree(tmp_path / "imagenet_search" / "train", {"n01": 3, "n02": 3}, size=(40, 30))
    write_png_tree(tmp_path / "imagenet_search" / "val", {"n01": 1, "n02": 1}, size=(40, 30))
    strain, svalid, sinfo = load_imagenet_search(tmp_path, image_size=24)
    assert (len(strain), len(svalid), sinfo.num_classes, sinfo.image_size) == (6, 2, 2, 24)
    assert strain[0][0].shape == svalid[0][0].shape == (3, 24, 24)
    assert targets_of(svalid).tolist() == [0, 1]


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_cifar10_python_format(tmp_path, protocol):
    written = write_cifar10(tmp_path, per_batch=4, protocol=protocol)
    train, test, info = load_datasets("cifar10", tmp_path, cutout=True)
    assert (info.name, info.num_classes, info.image_size) == ("cifar10", 10, 32)
    assert info.mean == CIFAR10_MEAN and info.std == CIFAR10_STD
    assert train.images.shape == (20, 3, 32, 32) and test.images.shape == (4, 3, 32, 32)
    assert train.classes[3] == "class3"
    labels = [v for i in range(1, 6) for v in written[f"data_batch_{i}"]["labels"]]
    assert train.targets.tolist() == labels
    assert test.targets.tolist() == written["test_batch"]["labels"]
    row = written["data_batch_2"]["data"][1]  # sample 5 overall: channel planes, row-major
    image = train.images[5]
    assert int(image[0, 0, 1]) == row[1] and int(image[1, 0, 0]) == row[1024]
    assert int(image[2, 31, 31]) == row[3071] and int(image[0, 1, 0]) == row[32]
    assert train.cutout and not test.cutout and train.augment and not test.augment
    assert train.padding == 4 and train.flip and train.cutout_length == 16  # the original's augmentation


def test_cifar100_python_format(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    rng = np.random.default_rng(2)
    for name, n in (("train", 6), ("test", 3)):
        entry = {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 "fine_labels": [int(v) for v in rng.integers(0, 100, n)], "coarse_labels": [0] * n}
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f, protocol=2)
    with open(folder / "meta", "wb") as f:
        pickle.dump({"fine_label_names": [f"c{i}" for i in range(100)], "coarse_label_names": ["x"] * 20}, f)
    train, test, info = load_datasets("cifar100", tmp_path)
    assert (info.num_classes, info.mean) == (100, CIFAR100_MEAN)
    assert train.images.shape == (6, 3, 32, 32) and len(test) == 3 and train.classes[99] == "c99"


def test_cifar_missing_is_one_line_error(tmp_path):
    with pytest.raises(UserError) as info:
        load_datasets("cifar10", tmp_path / "data")
    message = str(info.value)
    assert "\n" not in message and "--download" in message
    assert str(tmp_path / "data" / "cifar-10-batches-py") in message
    write_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(UserError, match="data_batch_3"):
        load_datasets("cifar10", tmp_path)
    with pytest.raises(UserError, match="cifar-100-python"):
        load_datasets("cifar100", tmp_path)


def test_cifar_reader_refuses_foreign_objects(tmp_path):
    write_cifar10(tmp_path)
    with open(tmp_path / "cifar-10-batches-py" / "test_batch", "wb") as f:
        pickle.dump({"data": OrderedDict(), "labels": []}, f)  # a global the reader must not resolve
    with pytest.raises(UserError, match="collections.OrderedDict"):
        load_datasets("cifar10", tmp_path)


@pytest.mark.parametrize("entry, why", [
    ({"labels": None}, "'labels' are no list of integer labels"),  # was a TypeError traceback
    ({"labels": ["cat"] * 4}, "'labels' are no list of integer labels"),
    ({"labels": [0] * 3}, "are not 3 rows of 3 x 32 x 32"),  # 4 images, 3 labels: was an unnamed "4 images but 3"
    ({"data": np.full((4, 3072), 0.5)}, "float64"),  # fractions were cast to 0 without a word
    ({"data": np.full((4, 3072), 300)}, "pixels run from 300 to 300"),  # 300 wrapped silently to 44
])
def test_a_damaged_cifar_batch_is_one_line_naming_the_file(tmp_path, entry, why):
    written = write_cifar10(tmp_path)
    path = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    with open(path, "wb") as f:
        pickle.dump({**written["data_batch_3"], **entry}, f)
    with pytest.raises(UserError, match=f"{re.escape(str(path))} is not a CIFAR batch: .*{re.escape(why)}"):
        load_datasets("cifar10", tmp_path)


# --------------------------------------------------------------------------- indices


def test_targets_of_nested_subsets(digits):
    train, _, _ = digits
    sub = Subset(Subset(train, list(range(100, 200))), [0, 5, 7])
    assert targets_of(sub).tolist() == train.targets[[100, 105, 107]].tolist()
    assert targets_of(IndexDataset(5)).tolist() == [0, 1, 2, 0, 1]


def test_stratified_subsample_keeps_proportions():
    targets = torch.cat([torch.full((600,), 0), torch.full((300,), 1), torch.full((90,), 2), torch.full((3,), 3)])
    targets = targets[torch.randperm(len(targets), generator=torch.Generator().manual_seed(0))]
    idx = stratified_subsample(targets, 0.1, seed=5)
    counts = targets[idx].bincount(minlength=4).tolist()
    assert counts == [60, 30, 9, 1]  # proportional, and at least one of the rare class
    assert torch.equal(idx, idx.sort().values) and len(set(idx.tolist())) == len(idx)
    assert torch.equal(idx, stratified_subsample(targets, 0.1, seed=5))
    assert not torch.equal(idx, stratified_subsample(targets, 0.1, seed=6))
    assert torch.equal(stratified_subsample(targets, 0, seed=1), torch.arange(len(targets)))
    assert torch.equal(stratified_subsample(targets, 1.0, seed=1), torch.arange(len(targets)))
    for bad in (-0.1, 1.5):
        with pytest.raises(UserError, match="subsample"):
            stratified_subsample(targets, bad, seed=0)


def test_train_valid_split():
    idx = torch.arange(10, 20)
    train, valid = train_valid_split(idx, 0.5)
    assert train.tolist() == list(range(10, 15)) and valid.tolist() == list(range(15, 20))
    train, valid = train_valid_split(torch.arange(7), 0.5)
    assert len(train) == 3 and len(valid) == 4  # floor(3.5)
    train, valid = train_valid_split(idx, 1.0)
    assert torch.equal(train, idx) and len(valid) == 0
    for bad in (0.0, -1.0, 1.01):
        with pytest.raises(UserError, match="train_portion"):
            train_valid_split(idx, bad)


# --------------------------------------------------------------------------- host loader


def order_of(loader) -> list[int]:
    return [int(v) for _, y in loader for v in y]


def test_host_loader_order_is_a_function_of_seed_and_epoch():
    ds = IndexDataset(50)
    indices = torch.arange(0, 50, 2)
    a = HostLoader(ds, indices, 8, shuffle=True, seed=3, device=CPU)
    b = HostLoader(ds, indices, 8, shuffle=True, seed=3, device=CPU)
    assert len(a) == 4
    a.set_epoch(1)
    b.set_epoch(1)
    first = order_of(a)
    assert first == order_of(b) == order_of(a)  # same (seed, epoch) -> same order
    assert sorted(first) == indices.tolist()
    a.set_epoch(2)
    assert order_of(a) != first
    c = HostLoader(ds, indices, 8, shuffle=True, seed=4, device=CPU)
    c.set_epoch(1)
    assert order_of(c) != first
    plain = HostLoader(ds, indices, 8, shuffle=False, seed=3, device=CPU, drop_last=True)
    assert len(plain) == 3 and order_of(plain) == indices[:24].tolist()


def test_host_loader_with_workers_is_reproducible():
    ds = IndexDataset(40)
    loaders = [HostLoader(ds, torch.arange(40), 16, shuffle=True, seed=9, device=CPU, workers=2) for _ in range(2)]
    for loader in loaders:
        loader.set_epoch(4)
    assert order_of(loaders[0]) == order_of(loaders[1])


def test_a_host_loader_builds_the_transform_its_workers_fork_with(monkeypatch: pytest.MonkeyPatch) -> None:
    # built lazily at the first image, it was built in each forked worker, which then imported torchvision anew at
    # every pass over the data (about 1.5 s each): the host loader builds it once, in the process that forks them
    built = []
    real = data._tensor_transform
    monkeypatch.setattr(data, "_tensor_transform", lambda *a, **k: built.append(1) or real(*a, **k))
    train = TensorImageDataset(torch.zeros(8, 3, 4, 4, dtype=torch.uint8), torch.arange(8) % 2, mean=(0.5,) * 3,
                               std=(0.25,) * 3, augment=True)
    loader = build_loader(train, torch.arange(8), 4, train=True, seed=0, device=CPU, on_device=False, workers=2)
    assert isinstance(loader, HostLoader) and len(built) == 1
    for epoch in range(2):
        loader.set_epoch(epoch)
        assert sum(len(y) for _, y in loader) == 8
    assert len(built) == 1
    assert build_loader(train, torch.arange(8), 4, train=True, seed=0, device=CPU, on_device=True) is not None
    assert len(built) == 1  # the device loader augments whole batches itself: nothing to build


def test_sample_batch_is_fresh_random_distinct_and_reset_by_epoch():
    ds = IndexDataset(100)
    for cls in (HostLoader, DeviceLoader):
        if cls is DeviceLoader:
            ds = TensorImageDataset(torch.arange(100, dtype=torch.uint8).view(100, 1, 1, 1).expand(100, 3, 2, 2),
                                    torch.arange(100), mean=(0, 0, 0), std=(1, 1, 1), augment=False)
        loader = cls(ds, torch.arange(20, 80), 10, shuffle=False, seed=1, device=CPU)
        draws = [loader.sample_batch()[1].tolist() for _ in range(3)]
        assert all(len(set(d)) == 10 and all(20 <= v < 80 for v in d) for d in draws)
        assert draws[0] != draws[1] != draws[2]
        loader.set_epoch(0)
        assert loader.sample_batch()[1].tolist() == draws[0]
        loader.set_epoch(1)
        assert loader.sample_batch()[1].tolist() != draws[0]
        if cls is HostLoader:
            loader.close()  # stops its workers; the next call starts the same epoch's draws again
            assert loader.sample_batch()[1].tolist() != draws[0]
        big = cls(ds, torch.arange(5), 10, shuffle=False, seed=1, device=CPU)
        assert sorted(big.sample_batch()[1].tolist()) == [0, 1, 2, 3, 4]


# --------------------------------------------------------------------------- device loader


def test_device_loader_eval_is_exact_normalisation(digits):
    _, test, _ = digits
    indices = torch.arange(0, 360, 3)
    device_loader = DeviceLoader(test, indices, 32, shuffle=False, seed=0, device=CPU)
    host_loader = HostLoader(test, indices, 32, shuffle=False, seed=0, device=CPU)
    assert len(device_loader) == len(host_loader) == 4
    for (xd, yd), (xh, yh) in zip(device_loader, host_loader, strict=True):
        assert xd.dtype == torch.float32 and xd.shape == xh.shape
        assert torch.equal(yd, yh) and torch.allclose(xd, xh, atol=1e-6)


def test_device_loader_order_reproducible_and_follows_epoch(digits):
    train, _, _ = digits
    a, b = (DeviceLoader(train, torch.arange(200), 64, shuffle=True, seed=2, device=CPU) for _ in range(2))
    assert torch.equal(collect(a, [3]), collect(b, [3]))
    assert not torch.equal(collect(a, [3]), collect(a, [4]))
    ys = torch.cat([y for _, y in a])
    assert sorted(ys.tolist()) == sorted(train.targets[:200].tolist())
    last = DeviceLoader(train, torch.arange(200), 64, shuffle=True, seed=2, device=CPU, drop_last=True)
    assert len(last) == 3 and sum(len(y) for _, y in last) == 192


def find_crop(out: torch.Tensor, original: torch.Tensor, padding: int = 4):
    """(oy, ox, flipped) such that `out` is that window of the zero-padded original, else None."""
    h, w = original.shape[-2:]
    padded = torch.nn.functional.pad(original, (padding,) * 4)
    for oy in range(2 * padding + 1):
        for ox in range(2 * padding + 1):
            window = padded[:, oy:oy + h, ox:ox + w]
            if torch.equal(window, out):
                return oy, ox, False
            if torch.equal(window.flip(-1), out):
                return oy, ox, True
    return None


def to_uint8(x: torch.Tensor, mean, std) -> torch.Tensor:
    m, s = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)
    return ((x * s + m) * 255).round().clamp(0, 255).to(torch.uint8)


@pytest.mark.parametrize("name, size, padding, flips", [
    ("synthetic", 32, 4, {False, True}),  # CIFAR's RandomCrop(32, padding=4) + flip
    ("digits", 8, 1, {False}),  # padding 1/8 of the side; a mirrored digit is another glyph: no flips
    ("digits", 16, 2, {False}),
])
def test_every_augmented_sample_is_a_padded_crop_or_its_mirror(name, size, padding, flips):
    train, _, info = load_datasets(name, "unused", image_size=size, synthetic_train=64, synthetic_test=10)
    assert train.padding == padding and train.flip == (True in flips)
    indices = torch.arange(64)
    seen = set()
    for cls in (DeviceLoader, HostLoader):
        loader = cls(train, indices, 64, shuffle=False, seed=0, device=CPU)
        for epoch in range(4):
            loader.set_epoch(epoch)
            torch.manual_seed(epoch)  # the host transforms draw from torch's global RNG
            x, y = next(iter(loader))
            assert torch.equal(y, train.targets[:64])
            images = to_uint8(x, info.mean, info.std)
            for i in range(64):
                found = find_crop(images[i], train.images[i], padding)
                assert found is not None, f"{cls.__name__}: sample {i} is not a crop/flip"
                seen.add((cls.__name__, found))
    for loader_name in ("DeviceLoader", "HostLoader"):
        offsets = {o[:2] for n, o in seen if n == loader_name}
        found_flips = {o[2] for n, o in seen if n == loader_name}
        assert {0, 2 * padding} <= {oy for oy, _ in offsets} and {0, 2 * padding} <= {ox for _, ox in offsets}
        assert found_flips == flips


def augmented_stats(loader, repeats: int) -> dict[str, float]:
    xs = collect(loader, range(repeats))
    return {
        "zero": (xs == 0).float().mean().item(),  # cutout area (normalised white is never 0)
        "negative": (xs < 0).float().mean().item(),  # zero padding (black) outside the cutout
    }


@pytest.mark.parametrize("cls", [DeviceLoader, HostLoader])
def test_padding_and_cutout_areas_match_the_expected_distribution(cls):
    white = torch.full((3, 32, 32), 255, dtype=torch.uint8)
    n = 800
    torch.manual_seed(0)
    plain = cls(one_image_dataset(white), torch.zeros(n, dtype=torch.long), 400, shuffle=True, seed=1, device=CPU)
    # rows of padding: |oy - 4| with oy uniform in 0..8 -> mean 20/9, same for columns
    expected_pad = 1 - (1 - 20 / 9 / 32) ** 2
    stats = augmented_stats(plain, 2)
    assert stats["zero"] == 0.0
    assert abs(stats["negative"] - expected_pad) < 0.012
    cut = cls(one_image_dataset(white, cutout=True), torch.zeros(n, dtype=torch.long), 400, shuffle=True,
              seed=1, device=CPU)
    # cutout side along one axis: 16 clipped at the border, mean 14 over the 32 centres -> 14^2/32^2
    stats = augmented_stats(cut, 2)
    assert abs(stats["zero"] - 14 ** 2 / 32 ** 2) < 0.012
    x = collect(cut, [5])
    for sample in x[:100]:
        zero = (sample[0] == 0)
        rows, cols = zero.any(1), zero.any(0)
        assert torch.equal(zero, rows[:, None] & cols[None, :])  # a rectangle
        assert torch.all(sample[1:][:, zero] == 0)  # on every channel
        assert 8 <= int(rows.sum()) <= 16 and 8 <= int(cols.sum()) <= 16


@pytest.mark.parametrize("cls", [DeviceLoader, HostLoader])
def test_flip_rate_is_one_half(cls):
    ramp = (torch.arange(32) * 8).to(torch.uint8).view(1, 1, 32).expand(3, 32, 32).contiguous()
    torch.manual_seed(0)
    loader = cls(one_image_dataset(ramp), torch.zeros(1000, dtype=torch.long), 500, shuffle=True, seed=2,
                 device=CPU)
    x = collect(loader, [0, 1])
    flipped = x[:, 0, :, :8].mean(dim=(1, 2)) > x[:, 0, :, -8:].mean(dim=(1, 2))
    assert abs(flipped.float().mean().item() - 0.5) < 0.04


def test_device_and_host_augmentations_have_the_same_per_pixel_mean():
    g = torch.Generator().manual_seed(0)
    image = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8, generator=g)
    dataset = one_image_dataset(image, cutout=True)
    indices = torch.zeros(1500, dtype=torch.long)

    def mean_image(cls, seed):
        torch.manual_seed(seed)
        loader = cls(dataset, indices, 500, shuffle=True, seed=seed, device=CPU)
        return collect(loader, [0, 1]).mean(0)

    host_a, host_b = mean_image(HostLoader, 1), mean_image(HostLoader, 2)
    device = mean_image(DeviceLoader, 3)
    host_noise = (host_a - host_b).abs().mean().item()
    gap = ((host_a + host_b) / 2 - device).abs().mean().item()
    # |avg of two hosts - device| has sqrt(3/4) of the host-host spread when the laws agree
    assert gap < 1.25 * host_noise
    assert host_noise < 0.1  # enough samples for the comparison to mean something


def test_build_loader_picks_the_path_and_follows_the_dataset(digits):
    train, test, _ = digits
    device_train = build_loader(train, torch.arange(100), 32, train=True, seed=0, device=CPU, on_device=True)
    assert isinstance(device_train, DeviceLoader) and device_train.augment and device_train.shuffle
    device_test = build_loader(test, torch.arange(100), 32, train=False, seed=0, device=CPU, on_device=True)
    assert isinstance(device_test, DeviceLoader) and not device_test.augment and not device_test.shuffle
    # held-out half of the training set: augmented on both paths, as the host transform does
    held_out = build_loader(train, torch.arange(100), 32, train=False, seed=0, device=CPU, on_device=True)
    assert held_out.augment and not held_out.shuffle
    host = build_loader(train, torch.arange(100), 32, train=True, seed=0, device=CPU)
    assert isinstance(host, HostLoader) and host.shuffle
    with pytest.raises(UserError, match="batch_size"):
        build_loader(train, torch.arange(10), 0, train=True, seed=0, device=CPU)
    with pytest.raises(UserError, match="no samples"):
        build_loader(train, torch.arange(0), 8, train=True, seed=0, device=CPU, on_device=True)


def test_host_augmentation_does_not_depend_on_the_workers():
    """--workers may change on resume: the augmented pixels of an epoch, and of sample_batch's draws, must not."""
    from data import HostLoader

    train_ds, _, _ = load_datasets("digits", "unused", image_size=8, cutout=True, cutout_length=4)
    passes = []
    for workers in (0, 1, 2):
        loader = HostLoader(train_ds, torch.arange(200), 64, shuffle=True, seed=3, device="cpu", workers=workers)
        loader.set_epoch(2)
        batches = [x for x, _ in loader]
        draws = [loader.sample_batch()[0] for _ in range(3)]
        loader.close()
        passes.append((torch.cat(batches), torch.cat(draws)))
    for images, draws in passes[1:]:
        assert torch.equal(images, passes[0][0]) and torch.equal(draws, passes[0][1])
    # and they are augmented: two draws of one epoch differ, as do two epochs
    assert not torch.equal(passes[0][1][:64], passes[0][1][64:128])
    loader = HostLoader(train_ds, torch.arange(200), 64, shuffle=True, seed=3, device="cpu")
    loader.set_epoch(3)
    assert not torch.equal(torch.cat([x for x, _ in loader]), passes[0][0])


def test_hidden_files_are_not_read_and_non_images_are_counted(tmp_path):
    """macOS leaves ._x.png (AppleDouble metadata, no image) beside x.png on other disks: it was listed as an
    image and failed to decode mid-epoch. Files without an image extension were dropped without a word."""
    write_png_tree(tmp_path / "train", {"ant": 2, "bee": 2})
    write_png_tree(tmp_path / "val", {"ant": 1, "bee": 1})
    (tmp_path / "train" / "ant" / "._0.png").write_bytes(b"\x00\x05\x16\x07 Mac OS X")
    (tmp_path / "train" / "bee" / ".cache").mkdir()
    (tmp_path / "train" / "bee" / ".cache" / "0.png").write_bytes(b"not an image")
    (tmp_path / "train" / "ant" / "labels.txt").write_text("ant")
    (tmp_path / "val" / "bee" / "photo.heic").write_bytes(b"\x00")
    train, test, info = load_datasets("folder", tmp_path, image_size=16)
    assert (len(train), len(test)) == (4, 2) and all(not Path(p).name.startswith(".") for p, _ in train.samples)
    assert [x.shape for x, _ in train] == [(3, 16, 16)] * 4
    assert len(info.notes) == 2
    assert info.notes[0].startswith(f"{tmp_path / 'train'}: 1 file(s) without an image extension not read "
                                    f"({Path('ant') / 'labels.txt'})")
    assert info.notes[1].startswith(f"{tmp_path / 'val'}: 1 file(s)") and "photo.heic" in info.notes[1]
    _, alone = load_test_set("folder", tmp_path, image_size=16)
    assert alone.notes == (info.notes[1],)
    for name in ("img0.png", "img1.png"):  # a class of files none of which is an image: the error lists what is read
        (tmp_path / "train" / "bee" / name).unlink()
    (tmp_path / "train" / "bee" / "x.heic").write_bytes(b"\x00")
    with pytest.raises(UserError, match=r"Found no valid file for the classes bee\. Images are read by their "
                                        r"extension: \.jpg, \.jpeg, \.png"):
        load_datasets("folder", tmp_path, image_size=16)


def test_a_folder_link_that_loops_is_a_one_line_error_and_other_links_are_followed(tmp_path):
    """torchvision's listing follows folder links: train/a/up -> .. walked train/ again and again inside class a (b's
    images labelled a, 40 times over), and a second such link made the listing run without end. A link to a folder
    outside the class (a shared store) is still followed, with torchvision's order of samples."""
    write_png_tree(tmp_path / "store", {"x": 2, "x/deep": 1})
    write_png_tree(tmp_path / "tree" / "train", {"a": 2, "a/sub": 1, "b": 2})
    write_png_tree(tmp_path / "tree" / "val", {"a": 1, "b": 1})
    try:
        (tmp_path / "tree" / "train" / "b" / "shared").symlink_to(tmp_path / "store" / "x", target_is_directory=True)
    except OSError:
        pytest.skip("no symbolic links here")
    train, _, _ = load_datasets("folder", tmp_path / "tree", image_size=8)
    listed = tv_folder.make_dataset(str(tmp_path / "tree" / "train"), train.class_to_idx, extensions=(".png",))
    assert train.samples == listed and len(listed) == 8 and train.targets == [0, 0, 0, 1, 1, 1, 1, 1]
    (tmp_path / "tree" / "train" / "a" / "sub" / "up").symlink_to("../..", target_is_directory=True)
    with pytest.raises(UserError, match=r"train[/\\]a[/\\]sub[/\\]up is a link to .*train, a folder that holds it"):
        load_datasets("folder", tmp_path / "tree", image_size=8)
    (tmp_path / "tree" / "val" / "b" / "again").symlink_to("..", target_is_directory=True)
    with pytest.raises(UserError, match=r"val[/\\]b[/\\]again is a link to .*val, a folder that holds it"):
        load_test_set("folder", tmp_path / "tree", image_size=8, classes=["a", "b"])


def test_a_class_folder_link_whose_target_is_gone_is_a_one_line_error(tmp_path):
    """A class folder linked from a disk that is not mounted was skipped as no folder: the class silently left the
    labels and the classes after it were renumbered (b became 0 here). Now one line names the link."""
    write_png_tree(tmp_path / "disk", {"a": 2})
    write_png_tree(tmp_path / "tree" / "train", {"b": 2, "c": 2})
    write_png_tree(tmp_path / "tree" / "val", {"b": 1, "c": 1})
    try:
        (tmp_path / "tree" / "train" / "a").symlink_to(tmp_path / "disk" / "a", target_is_directory=True)
    except OSError:
        pytest.skip("no symbolic links here")
    train, _, info = load_datasets("folder", tmp_path / "tree", image_size=8)
    assert info.classes == ("a", "b", "c") and sorted(set(train.targets)) == [0, 1, 2]
    (tmp_path / "disk" / "a" / "img0.png").unlink()
    (tmp_path / "disk" / "a" / "img1.png").unlink()
    (tmp_path / "disk" / "a").rmdir()
    with pytest.raises(UserError, match=r"train[/\\]a is a link to .*disk[/\\]a, which does not exist"):
        load_datasets("folder", tmp_path / "tree", image_size=8)
    (tmp_path / "tree" / "val" / "a").symlink_to(tmp_path / "disk" / "a", target_is_directory=True)
    with pytest.raises(UserError, match=r"val[/\\]a is a link to .*, which does not exist"):
        load_test_set("folder", tmp_path / "tree", image_size=8, classes=["a", "b", "c"])


def test_images_beside_the_class_folders_are_said_in_the_notes(tmp_path):
    """Images left in train/ or val/ itself, outside every class folder, have no label and are not read: that went
    without a word (a sorting step the user believed done); the run's log now says how many."""
    write_png_tree(tmp_path / "train", {"a": 2, "b": 2})
    write_png_tree(tmp_path / "val", {"a": 1, "b": 1})
    for name in ("x.png", "y.JPG", "z.jpeg", "w.png"):
        (tmp_path / "train" / name).write_bytes(b"unsorted")
    (tmp_path / "train" / ".DS_Store").write_bytes(b"\x00")
    (tmp_path / "val" / "notes.txt").write_text("not an image")
    train, _, info = load_datasets("folder", tmp_path, image_size=8)
    assert len(train) == 4
    assert info.notes == (f"{tmp_path / 'train'}: 4 image(s) outside the class folders not read (w.png, x.png, "
                          f"y.JPG, ...): each class's images go in its own sub-folder",)
    (tmp_path / "val" / "v.png").write_bytes(b"unsorted")
    _, alone = load_test_set("folder", tmp_path, image_size=8)
    assert alone.notes == (f"{tmp_path / 'val'}: 1 image(s) outside the class folders not read (v.png): each "
                           f"class's images go in its own sub-folder",)


def test_an_evaluation_folder_of_unsorted_images_is_said_to_be_unsorted(tmp_path):
    """ImageNet's val/ as distributed holds its images loose, in no class folder: the error said 'no images in
    .../val' of a folder full of them; it now says they lie outside the class folders (train/ alike)."""
    write_png_tree(tmp_path / "train", {"a": 2, "b": 2})
    (tmp_path / "val").mkdir()
    for name in ("ILSVRC2012_val_00000001.JPEG", "ILSVRC2012_val_00000002.JPEG"):
        (tmp_path / "val" / name).write_bytes(b"unsorted")
    for load in (lambda: load_datasets("folder", tmp_path, image_size=8),
                 lambda: load_test_set("folder", tmp_path, image_size=8, classes=["a", "b"])):
        with pytest.raises(UserError) as info:
            load()
        assert str(info.value) == (f"no images in a class folder of {tmp_path / 'val'}; 2 image(s) outside the class "
                                   "folders not read (ILSVRC2012_val_00000001.JPEG, ILSVRC2012_val_00000002.JPEG): "
                                   "each class's images go in its own sub-folder")
    (tmp_path / "val").rename(tmp_path / "flat")
    (tmp_path / "train").rename(tmp_path / "val")
    (tmp_path / "flat").rename(tmp_path / "train")
    with pytest.raises(UserError, match="Couldn't find any class folder .*; 2 image.s. outside the class folders"):
        load_datasets("folder", tmp_path, image_size=8)


class SigtermOnFirstItem(Dataset):
    """Its worker sends itself SIGTERM at the first item, as a SIGTERM to the whole process group reaches every
    worker (a scheduler's preemption, systemd's stop)."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if i == 0:
            os.kill(os.getpid(), signal.SIGTERM)
        return torch.zeros(1), torch.tensor(i)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_host_loader_workers_leave_sigterm_to_the_main_process() -> None:
    # a group SIGTERM killed the workers first: the run stopped with torch's "DataLoader worker (pid N) is killed by
    # signal: Terminated" traceback before its one --resume line. Under the main process's SIGTERM handler the
    # workers ignore it, and the main process stops them as it winds up.
    loader = HostLoader(SigtermOnFirstItem(), torch.arange(8), 4, shuffle=False, seed=0, device=CPU, workers=1)
    with utils.sigterm_interrupts() as received:
        assert callable(signal.getsignal(signal.SIGTERM))  # the handler the workers inherit is installed
        assert order_of(loader) == list(range(8))
        assert received == []  # the main process got none
