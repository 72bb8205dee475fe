"""The imagenet subcommand: the ImageNet-variant sweep on a tiny generated imagenet_search ImageFolder tree."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import multiobjective
import train_search
from data import Cutout
from genotypes import resolve_genotype


def make_tree(root: Path, classes: int = 3, per_class: int = 12) -> None:
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c in range(classes):
            folder = root / "imagenet_search" / split / f"n{c:08d}"
            folder.mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 60, size=(40, 40, 3), dtype=np.uint8)
                pixels[..., c] += 150  # a learnable colour per class
                Image.fromarray(pixels).save(folder / f"img_{i}.png")


def test_imagenet_subcommand_runs_the_imagenet_supernet(tmp_path: Path) -> None:
    make_tree(tmp_path / "data")
    argv = ["-o", "l1", "-d", "10", "imagenet", "--data", str(tmp_path / "data"), "--image_size", "32",
            "--layers", "3", "--init_channels", "8", "--batch_size", "12", "--epochs", "1", "--begin", "0",
            "--workers", "0", "--device", "cpu", "--no_progress", "--threads", "1", "--logdir", str(tmp_path)]
    args = multiobjective.build_parser().parse_args(argv)
    assert (args.learning_rate, args.arch_learning_rate, args.learning_rate_min) == (0.5, 6e-3, 0.0)
    state = multiobjective.main(args)
    (run_dir,) = tmp_path.glob("multi-search-imagenet-EXP-*")
    assert state["space"] == "imagenet"
    assert [s["status"] for s in state["searches"]] == ["done", "done"]
    first = json.loads((Path(state["searches"][0]["run_dir"]) / "result.json").read_text())
    assert first["dataset"] == "imagenet" and first["num_classes"] == 3
    saved = json.loads((Path(state["searches"][0]["run_dir"]) / "args.json").read_text())["args"]
    assert saved["imagenet"] is True and saved["l1_weight"] == 0.2
    names = [p["name"] for p in state["pareto"]]
    assert names and all(n.startswith("l1_loss_") and n.endswith("_l2_3e04") for n in names)
    assert resolve_genotype(f"{run_dir}/genotypes.json:{names[0]}")
    log = (run_dir / "log.txt").read_text()  # the trainings it offers are of the networks its sizes count
    assert f"train.py --arch {run_dir}/genotypes.json:{names[0]} --init_channels 48 --layers 14\n" in log
    assert f"batch_train.py --archs {run_dir} --init_channels 48 --layers 14 (then" in log


def test_missing_imagenet_search_tree_is_one_line(tmp_path: Path, capsys) -> None:
    from utils import run_main

    args = multiobjective.build_parser().parse_args(
        ["-o", "l1", "imagenet", "--data", str(tmp_path), "--device", "cpu", "--logdir", str(tmp_path)])
    assert run_main(multiobjective.main, args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "imagenet_search" in err[0]
    assert not list(tmp_path.glob("multi-search-*"))


def test_imagenet_search_cutout_is_applied(tmp_path: Path) -> None:
    """--cutout on the ImageNet search was recorded in args.json and never applied."""
    make_tree(tmp_path / "data", classes=2, per_class=4)
    for cutout, expected in ((True, 1), (False, 0)):
        args = train_search.build_parser().parse_args(
            ["--imagenet", "--data", str(tmp_path / "data"), "--image_size", "32", "--batch_size", "4",
             "--workers", "0", "--device", "cpu", *(["--cutout", "--cutout_length", "8"] if cutout else [])])
        train_ds = train_search.build_data(args, torch.device("cpu"))[0].dataset
        steps = [t for t in getattr(train_ds.transform, "transforms", []) if isinstance(t, Cutout)]
        assert len(steps) == expected and all(t.length == 8 for t in steps)


def test_imagenet_search_cutout_without_a_length_takes_the_default(tmp_path: Path) -> None:
    """--cutout without --cutout_length (the flag's default is None, "16 or half the side") crashed the ImageNet
    search on its first image: Cutout(None) took None // 2."""
    make_tree(tmp_path / "data", classes=2, per_class=4)
    args = train_search.build_parser().parse_args(
        ["--imagenet", "--data", str(tmp_path / "data"), "--image_size", "32", "--batch_size", "4",
         "--workers", "0", "--device", "cpu", "--cutout"])
    train_ds = train_search.build_data(args, torch.device("cpu"))[0].dataset
    (step,) = [t for t in train_ds.transform.transforms if isinstance(t, Cutout)]
    assert step.length == 16
    assert train_ds[0][0].shape == (3, 32, 32)


def test_imagenet_subcommand_says_train_portion_has_no_effect(capsys) -> None:
    """The imagenet subcommand's --train_portion 0.5 read "the rest is held out (a search's architecture step)", but
    its halves are imagenet_search's train/ and val/ and the flag is never read."""
    import pytest

    with pytest.raises(SystemExit):
        multiobjective.build_parser().parse_args(["-o", "l1", "imagenet", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--train_portion TRAIN_PORTION kept for the original's command lines; no effect" in text
    assert "--download kept for the original's command lines; no effect" in text


def test_imagenet_warm_up_ramps_the_initial_learning_rate() -> None:
    """PC-DARTS's ImageNet search warms up over 5 epochs above batch 256 with lr * (epoch + 1) / 5, the initial lr,
    not the cosine schedule's value of that epoch; the cosine schedule takes over from epoch 5."""
    args = multiobjective.build_parser().parse_args(["-o", "l1", "imagenet", "--batch_size", "512"])
    lr = args.learning_rate
    assert [train_search.cosine_lr(args, e) for e in range(5)] == [lr * (e + 1) / 5.0 for e in range(5)]
    assert train_search.cosine_lr(args, 5) == (1 + math.cos(math.pi * 5 / args.epochs)) / 2 * lr
    args.batch_size = 256  # no warm-up at 256 and below
    assert train_search.cosine_lr(args, 0) == lr


def test_only_the_imagenet_search_clips_its_architecture_gradients() -> None:
    """PC-DARTS's ImageNet search clips the architecture gradients' norm at --grad_clip; its CIFAR search does not."""
    imagenet = multiobjective.build_parser().parse_args(["-o", "l1", "imagenet", "--init_channels", "8",
                                                         "--layers", "5"])
    search = train_search.build_search(multiobjective.search_args(imagenet, (0.2, 0.8), Path("unused")), 3,
                                       torch.device("cpu"))
    assert search.architect.grad_clip == imagenet.grad_clip == 5
    cifar = multiobjective.build_parser().parse_args(["-o", "l1", "cifar", "--init_channels", "8", "--layers", "5"])
    search = train_search.build_search(multiobjective.search_args(cifar, (0.2, 0.8), Path("unused")), 10,
                                       torch.device("cpu"))
    assert search.architect.grad_clip is None


def test_an_imagenet_search_records_its_set_and_its_cells_train_on_imagenet(tmp_path: Path, capsys) -> None:
    """train_search --imagenet wrote --set cifar10 (the flag's default) into args.json, so train.py --arch <the
    search> took CIFAR-10 as the cells' data; a typed --set beside --imagenet was dropped without a word."""
    import train
    from utils import run_main

    make_tree(tmp_path / "data", classes=2, per_class=4)
    common = ["--imagenet", "--data", str(tmp_path / "data"), "--image_size", "32", "--init_channels", "4",
              "--layers", "3", "--batch_size", "4", "--epochs", "1", "--begin", "0", "--workers", "0",
              "--device", "cpu", "--no_progress", "--logdir", str(tmp_path / "logs")]
    assert run_main(train_search.main, train_search.build_parser().parse_args([*common, "--set", "digits"])) == 2
    assert "--set digits contradicts --imagenet" in capsys.readouterr().err
    assert not (tmp_path / "logs").exists()
    result = train_search.main(train_search.build_parser().parse_args(common))
    run = Path(result["run_dir"])
    assert json.loads((run / "args.json").read_text())["args"]["set"] == "imagenet"
    # the command the log gives trains the network model_size counts, NetworkImageNet(48, classes, 14), not
    # train.py's default 36 channels and 20 cells
    (hint,) = [line for line in (run / "log.txt").read_text().splitlines() if "train it: " in line]
    assert f"train.py --arch {run} --init_channels 48 --layers 14 (the paper's ImageNet network" in hint, hint
    parse = train.build_parser().parse_args
    assert train.arch_settings(parse(["--arch", str(run)]), [str(run)])[0].set == "imagenet"
    record = json.loads((run / "args.json").read_text())  # a search written before this fix
    record["args"]["set"] = "cifar10"
    (run / "args.json").write_text(json.dumps(record))
    assert train.arch_settings(parse(["--arch", str(run)]), [str(run)])[0].set == "imagenet"


def test_an_imagenet_search_val_without_a_class_names_the_folder_not_train_portion(tmp_path: Path, capsys) -> None:
    """imagenet_search's val/ lacking a class was refused with 'change --train_portion', a flag of no effect there."""
    import shutil

    from utils import run_main

    make_tree(tmp_path, per_class=2)
    shutil.rmtree(tmp_path / "imagenet_search" / "val" / "n00000002")
    args = train_search.build_parser().parse_args(
        ["--imagenet", "--data", str(tmp_path), "--image_size", "32", "--batch_size", "2", "--epochs", "1",
         "--begin", "0", "--init_channels", "4", "--layers", "3", "--device", "cpu", "--workers", "0",
         "--logdir", str(tmp_path / "logs")])
    assert run_main(train_search.main, args) == 2
    err = capsys.readouterr().err
    assert "the val/ part of" in err and "'n00000002': add images of it there" in err, err
    assert "--train_portion" not in err
    assert not list(tmp_path.glob("logs/search-*"))
