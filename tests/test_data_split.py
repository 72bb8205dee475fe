"""The train/held-out split and degenerate data: class-sorted ImageFolder trees are split stratified,
CIFAR/digits keep the original's unshuffled split, and one-class, class-less splits and corrupt images
are one-line errors (before any run folder exists)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import load_test_script
from PIL import Image

import multiobjective
import train
import train_search
from data import (
    SPLIT_SEED,
    HostLoader,
    UnreadableImage,
    load_datasets,
    load_train_set,
    split_dataset,
    split_training_set,
    targets_of,
    train_valid_split,
)
from utils import UserError, run_main

testpy = load_test_script()

COLOURS = [(230, 30, 30), (30, 200, 40), (40, 60, 230), (230, 220, 40)]


def write_colour_tree(root: Path, counts: dict[str, int], size: int = 8) -> None:
    """One folder per class, each image the class's colour plus noise: trivially learnable."""
    rng = np.random.default_rng(0)
    for c, (name, count) in enumerate(counts.items()):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            pixels = np.clip(np.array(COLOURS[c % len(COLOURS)]) + rng.normal(0, 20, (size, size, 3)), 0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(root / name / f"{i:03d}.png")


def colour_dataset(root: Path, counts: dict[str, int]) -> Path:
    write_colour_tree(root / "train", counts)
    write_colour_tree(root / "val", {name: 2 for name in counts})
    return root


def one_line_error(capsys: pytest.CaptureFixture, main, args) -> str:
    assert run_main(main, args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    return err[0]


SEARCH = ["--set", "folder", "--image_size", "8", "--layers", "3", "--init_channels", "4", "--batch_size", "16",
          "--begin", "1", "--arch_learning_rate", "0.05", "--no_progress", "--device", "cpu", "--workers", "0"]
TRAIN = ["--set", "folder", "--image_size", "8", "--arch", "DARTS_V2", "--init_channels", "4", "--layers", "3",
         "--batch_size", "16", "--epochs", "1", "--no_progress", "--device", "cpu", "--workers", "0"]


# --------------------------------------------------------------------------- the split


def test_stratified_split_of_class_sorted_labels():
    targets = torch.cat([torch.full((40,), 0), torch.full((20,), 1), torch.full((10,), 2), torch.full((2,), 3)])
    indices = torch.arange(len(targets))
    sequential = train_valid_split(indices, 0.5)
    assert set(targets[sequential[0]].tolist()) == {0}  # the original's split: the weights see class 0 only
    train_idx, valid_idx = train_valid_split(indices, 0.5, targets, seed=SPLIT_SEED)
    assert targets[train_idx].bincount().tolist() == [20, 10, 5, 1]
    assert targets[valid_idx].bincount().tolist() == [20, 10, 5, 1]
    assert sorted(torch.cat([train_idx, valid_idx]).tolist()) == indices.tolist()
    assert torch.equal(train_idx, train_idx.sort().values)
    again = train_valid_split(indices, 0.5, targets, seed=SPLIT_SEED)
    assert torch.equal(again[0], train_idx) and torch.equal(again[1], valid_idx)
    other = train_valid_split(indices, 0.5, targets, seed=SPLIT_SEED + 1)
    assert not torch.equal(other[0], train_idx)  # shuffled within each class
    train_idx, valid_idx = train_valid_split(indices, 0.9, targets)
    assert targets[valid_idx].bincount().tolist() == [4, 2, 1, 1]  # at least one of each held out
    train_idx, valid_idx = train_valid_split(indices[10:], 1.0, targets)
    assert torch.equal(train_idx, indices[10:]) and len(valid_idx) == 0


def test_image_folder_is_split_stratified_with_every_class_in_both_parts(tmp_path):
    colour_dataset(tmp_path, {"a": 12, "b": 6, "c": 8, "d": 4})
    train_ds, _, _ = load_datasets("folder", tmp_path, image_size=8)
    targets = targets_of(train_ds)
    assert targets.tolist() == sorted(targets.tolist())  # ImageFolder lists its files sorted by class
    train_idx, valid_idx, record = split_dataset(train_ds, torch.arange(len(targets)), 0.5)
    assert record == {"kind": "stratified", "seed": SPLIT_SEED, "train_portion": 0.5, "train": 15, "held_out": 15}
    assert targets[train_idx].bincount().tolist() == [6, 3, 4, 2]
    assert targets[valid_idx].bincount().tolist() == [6, 3, 4, 2]


def test_cifar_and_digits_keep_the_original_unshuffled_split(tmp_path):
    from test_data import write_cifar10

    write_cifar10(tmp_path, per_batch=10)
    cifar, _, _ = load_datasets("cifar10", tmp_path)
    indices = torch.arange(len(cifar))
    train_idx, valid_idx, record = split_dataset(cifar, indices, 0.5, check=False)
    assert torch.equal(train_idx, indices[:25]) and torch.equal(valid_idx, indices[25:])
    assert record["kind"] == "sequential" and record["seed"] is None
    digits, _, _ = load_datasets("digits", "unused", image_size=8)
    indices = torch.arange(0, len(digits), 3)
    train_idx, valid_idx, record = split_dataset(digits, indices, 0.5)
    assert torch.equal(train_idx, indices[:len(indices) // 2]) and torch.equal(valid_idx, indices[len(indices) // 2:])
    assert record["kind"] == "sequential"
    synthetic, _, _ = load_datasets("synthetic", "unused", synthetic_train=100, synthetic_test=10)
    assert split_dataset(synthetic, torch.arange(100), 0.5)[2]["kind"] == "sequential"


def test_search_on_a_class_sorted_folder_is_held_out_above_chance(tmp_path):
    data = colour_dataset(tmp_path / "data", {name: 24 for name in "abcd"})
    result = train_search.main(train_search.build_parser().parse_args(
        [*SEARCH, "--data", str(data), "--epochs", "4", "--logdir", str(tmp_path / "logs")]))
    # the original's unshuffled split trained the weights on classes a, b and held out c, d: 0%
    assert result["valid_acc"] > 70.0  # chance is 25%
    saved = json.loads((Path(result["run_dir"]) / "args.json").read_text())
    assert saved["data_split"] == {"kind": "stratified", "seed": SPLIT_SEED, "train_portion": 0.5,
                                   "train": 48, "held_out": 48}


def test_a_search_needs_no_evaluation_folder_and_a_training_does(tmp_path, capsys):
    data = tmp_path / "data"
    write_colour_tree(data / "train", {name: 8 for name in "ab"})  # no val/ or test/: a search never reads one
    args = train_search.build_parser().parse_args([*SEARCH, "--data", str(data), "--batch_size", "4"])
    train_loader, valid_loader, info = train_search.build_data(args, torch.device("cpu"))
    assert info.num_classes == 2 and info.split["train"] == 8 and info.split["held_out"] == 8
    (data / "imagenet").mkdir()
    (data / "train").rename(data / "imagenet" / "train")  # nor does a search on ImageNet's train/
    _, imagenet = load_train_set("imagenet", data, image_size=8)
    assert imagenet.num_classes == 2
    logs = tmp_path / "logs"
    (data / "imagenet" / "train").rename(data / "train")
    line = one_line_error(capsys, train.main, train.build_parser().parse_args(
        [*TRAIN, "--data", str(data), "--logdir", str(logs)]))
    assert "val" in line and "test" in line  # a training tests on val/ (or test/)


def test_train_records_its_split(tmp_path):
    data = colour_dataset(tmp_path / "data", {"a": 10, "b": 10})
    result = train.main(train.build_parser().parse_args(
        [*TRAIN, "--data", str(data), "--train_portion", "0.8", "--logdir", str(tmp_path / "logs")]))
    saved = json.loads((Path(result["run_dir"]) / "args.json").read_text())
    assert saved["data_split"]["kind"] == "stratified" and saved["data_split"]["held_out"] == 4


# --------------------------------------------------------------------------- degenerate data


@pytest.mark.parametrize("script, flags", [(train_search, SEARCH), (train, TRAIN)])
def test_one_class_folder_is_refused_before_a_run_folder(tmp_path, capsys, script, flags):
    data = colour_dataset(tmp_path / "data", {"only": 40})
    logs = tmp_path / "logs"
    args = script.build_parser().parse_args([*flags, "--data", str(data), "--logdir", str(logs)])
    line = one_line_error(capsys, script.main, args)
    assert "1 class folder" in line and "'only'" in line and "at least two" in line
    assert not logs.exists() or not any(logs.iterdir())


@pytest.mark.parametrize("script, flags", [(train_search, SEARCH), (train, [*TRAIN, "--train_portion", "0.5"])])
def test_split_with_a_class_missing_from_a_part_is_refused(tmp_path, capsys, script, flags):
    data = colour_dataset(tmp_path / "data", {"a": 40, "b": 40, "rare": 1})
    logs = tmp_path / "logs"
    args = script.build_parser().parse_args([*flags, "--data", str(data), "--logdir", str(logs)])
    line = one_line_error(capsys, script.main, args)
    assert "'rare'" in line and "held-out" in line and "--train_portion" in line
    assert not logs.exists() or not any(logs.iterdir())


def test_sweep_checks_the_split_before_its_folder(tmp_path, capsys):
    data = colour_dataset(tmp_path / "data", {"a": 40, "b": 40, "rare": 1})
    logs = tmp_path / "logs"
    args = multiobjective.build_parser().parse_args(["-o", "l2", "cifar", *SEARCH, "--data", str(data),
                                                     "--logdir", str(logs)])
    line = one_line_error(capsys, multiobjective.main, args)
    assert "'rare'" in line and "held-out" in line
    assert not logs.exists() or not any(logs.iterdir())


def test_resumed_sweep_checks_its_data_before_it_runs_anything(tmp_path, capsys, monkeypatch):
    """The data moved since the sweep began: a resume says so in one line, rather than record each remaining
    search as failed; a relative --data is kept absolute, so a resume from another directory finds it."""
    colour_dataset(tmp_path / "data", {"a": 40, "b": 40})
    monkeypatch.chdir(tmp_path)
    base = ["-o", "l2", "-d", "10", "--max_searches", "1", "cifar", *SEARCH, "--epochs", "2", "--data", "data",
            "--logdir", str(tmp_path / "logs")]
    multiobjective.main(multiobjective.build_parser().parse_args(base))
    (run_dir,) = (tmp_path / "logs").iterdir()
    before = (run_dir / "sweep.json").read_text()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    (tmp_path / "data").rename(tmp_path / "moved")
    resume = multiobjective.build_parser().parse_args(["--resume", str(run_dir), "--max_searches", "2"])
    line = one_line_error(capsys, multiobjective.main, resume)
    assert "data" in line and "not found" in line
    assert (f"(that --data is the one {run_dir / 'sweep.json'} records: if the data has moved, pass --data DIR where "
            "it is now)") in line, line
    assert (run_dir / "sweep.json").read_text() == before
    (tmp_path / "moved").rename(tmp_path / "data")
    # another dataset given as --data on resume would put two datasets on one front
    colour_dataset(tmp_path / "other", {"a": 30, "b": 30})
    resume = multiobjective.build_parser().parse_args(["--resume", str(run_dir), "--max_searches", "2", "cifar",
                                                       "--data", str(tmp_path / "other")])
    line = one_line_error(capsys, multiobjective.main, resume)
    assert "was made on 40 train / 40 held-out images" in line and "30 train / 30 held-out" in line
    assert (run_dir / "sweep.json").read_text() == before
    resume = multiobjective.build_parser().parse_args(["--resume", str(run_dir), "--max_searches", "2"])
    assert [s["status"] for s in multiobjective.main(resume)["searches"]] == ["done", "done"]  # from elsewhere


def test_a_training_resumed_on_another_dataset_is_refused(tmp_path, capsys):
    data = colour_dataset(tmp_path / "data", {"a": 40, "b": 40})
    stopped = train.main(train.build_parser().parse_args(
        [*TRAIN, "--data", str(data), "--epochs", "2", "--train_portion", "0.5", "--stop_after", "1",
         "--logdir", str(tmp_path / "logs")]))
    run_dir = Path(stopped["run_dir"])
    other = colour_dataset(tmp_path / "other", {"a": 30, "b": 30})
    line = one_line_error(capsys, train.main, train.build_parser().parse_args(
        ["--resume", str(run_dir), "--data", str(other)]))
    assert f"{run_dir} was made on 40 train / 40 held-out images" in line and "30 train / 30 held-out" in line
    assert "hidden files such as macOS's ._x.png, which image folders no longer read" in line  # an older run's
    data.rename(tmp_path / "moved")  # moved: the path not found is the one args.json records, and --data is the fix
    for resume in (run_dir, run_dir / "log.txt"):  # the folder or its log: the file named is the run's args.json
        line = one_line_error(capsys, train.main, train.build_parser().parse_args(["--resume", str(resume)]))
        assert line.endswith(f"(that --data is the one {run_dir / 'args.json'} records: if the data has moved, "
                             "pass --data DIR where it is now)"), line
    line = one_line_error(capsys, train.main, train.build_parser().parse_args(
        ["--resume", str(run_dir), "--data", str(data)]))
    assert "not found" in line and "records" not in line  # the path typed is the one looked for
    train.main(train.build_parser().parse_args(["--resume", str(run_dir), "--data", str(tmp_path / "moved")]))
    assert (run_dir / "result.json").is_file()  # its own dataset, given anew: it goes on
    line = one_line_error(capsys, testpy.main, testpy.build_parser().parse_args([str(run_dir), "--device", "cpu",
                                                                                 "--logdir", str(tmp_path)]))
    assert line.endswith(f"(that --data is the one {run_dir / 'args.json'} records: if the data has moved, pass "
                         "--data DIR where it is now)"), line
    tested = testpy.main(testpy.build_parser().parse_args([str(run_dir), "--device", "cpu", "--data",
                                                           str(tmp_path / "moved"), "--logdir", str(tmp_path)]))
    assert tested["n_samples"] == 4 and tested["test_acc"] == tested["trained_test_acc"]  # the same run, found anew


@pytest.mark.parametrize("script, flags", [(train_search, [*SEARCH, "--batch_size", "1"]),
                                           (train, [*TRAIN, "--train_portion", "0.5"])])
def test_a_held_out_part_left_empty_is_refused_naming_the_split(tmp_path, capsys, script, flags):
    """Classes of one image each are all trained by the stratified split: the held-out part asked for is empty. A
    search blamed --batch_size 1 ("larger than the search split"), a training went on with no validation split."""
    data = colour_dataset(tmp_path / "data", {"a": 1, "b": 1})
    logs = tmp_path / "logs"
    line = one_line_error(capsys, script.main, script.build_parser().parse_args(
        [*flags, "--data", str(data), "--logdir", str(logs)]))
    assert "held-out part" in line and "0 held out" in line and "'a', 'b'" in line and "batch_size" not in line
    assert not logs.exists() or not any(logs.iterdir())


def test_a_small_train_portion_of_a_stratified_split_keeps_one_image_a_class(tmp_path, capsys):
    """floor(0.01 * 27) is 0, but the stratified split trains at least one image of each class: not refused with
    'leaves no training images' (the unshuffled split's count)."""
    data = colour_dataset(tmp_path / "data", {name: 9 for name in "abc"})
    args = train_search.build_parser().parse_args([*SEARCH, "--data", str(data), "--batch_size", "2",
                                                   "--train_portion", "0.01"])
    _, _, info = train_search.build_data(args, torch.device("cpu"))
    assert info.split["train"] == 3 and info.split["held_out"] == 24
    digits, _, _ = load_datasets("digits", "unused", image_size=8)
    with pytest.raises(UserError, match=r"--train_portion 0.0001 leaves no training images of the 1437"):
        split_training_set(digits, 0.0, 0, 0.0001)


def test_sequential_split_missing_a_class_is_refused(tmp_path):
    digits, _, _ = load_datasets("digits", "unused", image_size=8)
    ones = (digits.targets == 1).nonzero().flatten()
    others = (digits.targets != 1).nonzero().flatten()
    indices = torch.cat([others[:50], ones[:3]])  # every 1 is at the end: all held out
    with pytest.raises(UserError, match="training part .* class '1'"):
        split_dataset(digits, indices, 0.5)


def test_corrupt_image_is_one_line_naming_the_file(tmp_path, capsys):
    data = colour_dataset(tmp_path / "data", {name: 20 for name in "ab"})
    bad = data / "train" / "b" / "007.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    train_ds, _, _ = load_datasets("folder", data, image_size=8)
    for workers in (0, 1):  # in the process and from a loader worker
        loader = HostLoader(train_ds, torch.arange(len(train_ds)), 8, shuffle=False, seed=0, device="cpu",
                            workers=workers)
        with pytest.raises(UnreadableImage) as info:
            list(loader)
        message = str(info.value)
        assert message.startswith(f"cannot read image {bad}") and "\n" not in message
        assert message.endswith("(replace it with a readable copy: removing it changes the data split, which a run "
                                "resumes only on its own)")
    args = train_search.build_parser().parse_args(
        [*SEARCH, "--data", str(data), "--epochs", "1", "--begin", "0", "--logdir", str(tmp_path / "logs")])
    line = one_line_error(capsys, train_search.main, args)
    assert str(bad) in line and "Traceback" not in line
    # met mid-run it says how the run goes on once the file is replaced (the line named no --resume)
    run = next((tmp_path / "logs").glob("search-*"))
    assert line.endswith(f"; once that is mended, continue with python train_search.py --resume {run}")


def test_cutout_default_fits_the_image():
    assert load_datasets("digits", "unused", image_size=8, cutout=True)[0].cutout_length == 4
    assert load_datasets("digits", "unused", image_size=32, cutout=True)[0].cutout_length == 16
    assert load_datasets("digits", "unused", image_size=8, cutout=True, cutout_length=6)[0].cutout_length == 6
