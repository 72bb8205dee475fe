"""Runs carry their own settings: what consumes a run folder reads its dataset, image size and shape from it.

A hand-written sweep folder on digits at 8x8 is batch-trained with no --set/--image_size (tiny
networks, one epoch), then ensembled exactly as the README shows it; contradicting flags and runs
on different data are refused with one line (cli.run_settings, cli.shared_run_settings).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

import batch_train
import cli
import ensemble
import genotypes
import train
from profiling import Profiler
from tools import analyse_train_logs
from utils import UserError, run_main

SWEEP_ARGS = {"set": "digits", "image_size": 8, "data": "nowhere", "init_channels": 16, "layers": 8}


def make_sweep(root: Path, **changes: object) -> Path:
    """A sweep folder as multiobjective.py leaves it, as far as batch_train reads it."""
    sweep = root / "multi-search-digits-EXP-1"
    sweep.mkdir(parents=True)
    args = {**SWEEP_ARGS, **changes}
    (sweep / "args.json").write_text(json.dumps({"kind": "sweep", "args": args}))
    (sweep / "sweep.json").write_text(json.dumps({"objective": "l2", "args": args, "searches": [], "pareto": []}))
    (sweep / "genotypes.json").write_text(json.dumps({
        "l2_loss_2e01": genotypes.genotype_to_dict(genotypes.DARTS_V2),
        "l2_loss_0": genotypes.genotype_to_dict(genotypes.PC_DARTS_cifar)}))
    return sweep


TRAIN = ["--init_channels", "4", "--layers", "3", "--epochs", "1", "--batch_size", "64", "--subsample", "0.2",
         "--train_portion", "0.8", "--no_progress"]


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("settings")
    sweep = make_sweep(root)
    args = batch_train.build_parser().parse_args(["--archs", str(sweep), *TRAIN, "--logdir", str(root / "logs")])
    result = batch_train.main(args)
    assert result["trained"] == 2
    return Path(result["run_dir"])


def test_a_batch_of_a_sweep_trains_on_the_sweeps_data(batch: Path) -> None:
    saved = json.loads((batch / "args.json").read_text())["args"]
    assert (saved["set"], saved["image_size"], saved["data"]) == ("digits", 8, str(Path("nowhere").absolute()))
    assert (saved["init_channels"], saved["layers"]) == (4, 3)  # the search's supernet shape is not the network's
    for run in batch.glob("eval-*"):
        trained = json.loads((run / "args.json").read_text())["args"]
        assert (trained["set"], trained["image_size"]) == ("digits", 8)
        assert json.loads((run / "result.json").read_text())["dataset"] == "digits"
    assert "dataset digits, image size 8 from " in (batch / "log.txt").read_text()


def test_ensemble_as_the_readme_shows_it_reads_each_run_as_trained(batch: Path, capsys) -> None:
    argv = ["--models_folder", str(batch), "--calculate", "--per_class"]
    assert run_main(ensemble.main, ensemble.build_parser().parse_args(argv)) == 0
    assert "dataset digits, image size 8 from " in capsys.readouterr().out
    result = json.loads((batch / "ensemble.json").read_text())
    assert (result["dataset"], result["image_size"]) == ("digits", 8) and len(result["models"]) == 2
    for model in result["models"]:
        trained = json.loads((Path(model["run_dir"]) / "result.json").read_text())
        assert model["test_acc"] == pytest.approx(trained["test_acc"], abs=1e-6)
        assert model["test_loss"] == pytest.approx(trained["test_loss"], rel=1e-4)


@pytest.mark.parametrize("flags", [["--image_size", "32"], ["--set", "synthetic"], ["--init_channels", "8"],
                                   ["--layers", "4"], ["--auxiliary"]])
def test_a_flag_that_contradicts_the_runs_is_refused(batch: Path, tmp_path: Path, capsys, flags: list[str]) -> None:
    out = tmp_path / "e.json"
    args = ensemble.build_parser().parse_args(["--models_folder", str(batch), *flags, "-o", str(out)])
    assert run_main(ensemble.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "contradicts" in err and flags[0] in err, err
    assert not out.exists()


def test_flags_that_agree_with_the_runs_are_accepted(batch: Path, tmp_path: Path) -> None:
    args = ensemble.build_parser().parse_args(["--models_folder", str(batch), "--set", "digits", "--image_size", "8",
                                               "--init_channels", "4", "--data", "elsewhere",
                                               "-o", str(tmp_path / "e.json")])
    assert ensemble.main(args)["image_size"] == 8


@pytest.mark.parametrize("change", [{"set": "synthetic"}, {"image_size": 16}])
def test_runs_on_different_data_are_not_ensembled(batch: Path, tmp_path: Path, capsys, change: dict) -> None:
    models = tmp_path / "models"
    first, second = sorted(batch.glob("eval-*"))
    shutil.copytree(first, models / first.name)
    shutil.copytree(second, models / second.name)
    record = json.loads((models / second.name / "args.json").read_text())
    record["args"].update(change)
    (models / second.name / "args.json").write_text(json.dumps(record))
    assert run_main(ensemble.main, ensemble.build_parser().parse_args(["--models_folder", str(models)])) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot be ensembled" in err and "\n" not in err, err
    assert not (models / "ensemble.json").exists()


def test_a_batch_of_sweeps_on_different_data_is_refused_before_any_folder(tmp_path: Path, capsys) -> None:
    one = make_sweep(tmp_path / "a")
    other = make_sweep(tmp_path / "b", image_size=16)
    logs = tmp_path / "logs"
    args = batch_train.build_parser().parse_args(["--archs", str(one), f"{other}/genotypes.json:l2_loss_0", *TRAIN,
                                                  "--logdir", str(logs)])
    assert run_main(batch_train.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert "different data" in err and "image size 16" in err and "\n" not in err, err
    assert not logs.exists()


def test_the_tools_profile_a_run_as_it_was_trained(batch: Path, tmp_path: Path) -> None:
    args = analyse_train_logs.build_parser().parse_args(["-t", str(batch), "-o", str(tmp_path / "t.csv"),
                                                         "--no_latency"])
    table = analyse_train_logs.main(args)["table"]
    at_8 = Profiler(init_channels=4, layers=3, image_size=8, latency=False).profile(genotypes.DARTS_V2)["flops"]
    at_32 = Profiler(init_channels=4, layers=3, latency=False).profile(genotypes.DARTS_V2)["flops"]
    assert at_8 < at_32
    assert table.loc[table["name"] == "l2_loss_2e01", "flops"].item() == at_8


@pytest.mark.parametrize(("key", "value", "words"), [("layers", 3.5, "an integer"), ("image_size", "8", "an integer"),
                                                    ("auxiliary", "no", "true or false"), ("seed", True, "an integer"),
                                                    ("subsample", "x", "a number"), ("set", 5, "a name")])
def test_run_settings_refuse_a_recorded_setting_of_the_wrong_type(tmp_path: Path, key: str, value: object,
                                                                  words: str) -> None:
    """A hand-edited args.json: 3.5 layers built int(3.5) cells and was ensembled without a word, image_size "8" was
    'image size 8 vs image size 8', subsample "x" a TypeError traceback."""
    run = tmp_path / "eval-x-1"
    run.mkdir()
    keys = {**cli.DATA_SETTINGS, **cli.NETWORK_SETTINGS, **ensemble.SPLIT_SETTINGS}
    (run / "args.json").write_text(json.dumps({"kind": "train", "args": {"set": "digits", "layers": 3, key: value}}))
    with pytest.raises(UserError, match=f"has {key} {value!r}, which is not {words} as --{key} gives"):
        cli.run_settings(run, argparse.Namespace(**dict.fromkeys(keys)), keys)
    (run / "args.json").write_text(json.dumps({"kind": "train", "args": {
        "set": "digits", "image_size": 8, "layers": 3, "auxiliary": True, "train_portion": 1, "subsample": 0.5}}))
    merged, _ = cli.run_settings(run, argparse.Namespace(**dict.fromkeys(keys)), keys)
    assert (merged.layers, merged.train_portion, merged.auxiliary) == (3, 1, True)
    (run / "args.json").write_text(json.dumps({"kind": "train", "args": {"set": "digits", "data_on_device": False}}))
    merged, _ = cli.run_settings(run, argparse.Namespace(data_on_device=None), {"data_on_device": None})
    assert merged.data_on_device is False  # a setting of no known type is taken as it is


def test_run_settings_merges_and_says_where_from(tmp_path: Path) -> None:
    run = tmp_path / "eval-x-1"
    run.mkdir()
    (run / "args.json").write_text(json.dumps({"kind": "train", "args": {
        "set": "folder", "image_size": None, "data": "old/place", "init_channels": 4}}))
    keys = {**cli.DATA_SETTINGS, **cli.NETWORK_SETTINGS}
    none = argparse.Namespace(**dict.fromkeys(keys))
    merged, note = cli.run_settings(run, none, keys)
    assert (merged.set, merged.image_size, merged.data, merged.init_channels, merged.layers) == (
        "folder", None, "old/place", 4, 20)
    assert f"dataset folder, image size 32 (the dataset's own), data old/place, init_channels 4 from {run}" in note
    assert "layers 20, auxiliary False by default" in note
    given = argparse.Namespace(**{**vars(none), "image_size": 32, "data": "new/place"})
    merged, note = cli.run_settings(run, given, keys)  # 32 is the run's own size; the data may move
    assert (merged.image_size, merged.data) == (32, "new/place") and "(the run's was old/place)" in note
    with pytest.raises(UserError, match="--image_size 16 contradicts .* which has image_size 32"):
        cli.run_settings(run, argparse.Namespace(**{**vars(none), "image_size": 16}), keys)
    other_set = argparse.Namespace(**{**vars(none), "set": "digits"})
    merged, _ = cli.run_settings(run, other_set, cli.DATA_SETTINGS, overridable=tuple(cli.DATA_SETTINGS))
    assert (merged.set, merged.data) == ("digits", "data")  # another dataset: not the run's folder
    merged, note = cli.run_settings(None, none, keys)
    assert (merged.set, merged.init_channels) == ("cifar10", 36) and "by default" in note


def _train_on_sweep(sweep: Path, logdir: Path, *flags: str) -> tuple[dict, str]:
    args = train.build_parser().parse_args(["--arch", f"{sweep}/genotypes.json:l2_loss_2e01", *TRAIN, *flags,
                                            "--logdir", str(logdir)])
    run = Path(train.main(args)["run_dir"])
    return json.loads((run / "args.json").read_text())["args"], (run / "log.txt").read_text()


def test_train_takes_the_data_of_the_sweep_its_genotype_came_from(tmp_path: Path) -> None:
    sweep = make_sweep(tmp_path)
    saved, log = _train_on_sweep(sweep, tmp_path / "a")
    assert (saved["set"], saved["image_size"], saved["data"]) == ("digits", 8, str(Path("nowhere").absolute()))
    assert f"dataset digits, image size 8 from {sweep / 'args.json'}" in log
    # a flag given wins; with another dataset the sweep's image size and data path are not taken either
    saved, log = _train_on_sweep(sweep, tmp_path / "b", "--set", "synthetic")
    assert (saved["set"], saved["image_size"], saved["data"]) == ("synthetic", None, str(Path("data").absolute()))
    assert "dataset synthetic from --set (the run's was digits)" in log
    saved, _ = _train_on_sweep(sweep, tmp_path / "c", "--image_size", "16")
    assert (saved["set"], saved["image_size"]) == ("digits", 16)


def test_train_keeps_the_old_defaults_for_a_published_name() -> None:
    args, note = train.arch_settings(train.build_parser().parse_args(["--arch", "DARTS_V2"]), ["DARTS_V2"])
    assert (args.set, args.image_size, args.data) == ("cifar10", None, "data") and "by default" in note


def test_a_setting_taken_from_the_run_that_fails_a_check_says_where_it_came_from(tmp_path: Path) -> None:
    """--auxiliary on a sweep's cell searched at 8x8 was refused as '--image_size 8 does not fit --auxiliary',
    a flag the user never typed: the reason now names the args.json it came from."""
    sweep = make_sweep(tmp_path)
    args = train.build_parser().parse_args(["--arch", f"{sweep}/genotypes.json:l2_loss_2e01", *TRAIN, "--auxiliary",
                                            "--logdir", str(tmp_path / "logs")])
    with pytest.raises(UserError, match=r"--image_size 8 does not fit --auxiliary.*image size 8 from .*args\.json"):
        train.main(args)
    assert not (tmp_path / "logs").exists()
