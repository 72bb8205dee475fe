"""Tests of profiling.py and the analysis tools on tiny run folders (CPU, well under a minute).

A sweep folder is written by hand (searches are too slow to run here) with the files and keys that
multiobjective.py writes; the evaluation runs are one real train.py run on digits plus hand-written
eval folders (one still "running": only metrics.csv), in a batch-train folder with trained.csv and
an ensemble.json. Networks are profiled at C=4, 3 layers so that FLOPs take milliseconds.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import errno
import io
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from torch import nn

import cost
import genotypes
import plots
import plots_train
import train
from model import NetworkCIFAR
from operations import OPS, FactorizedReduce, Identity, Zero
from pareto import default_reference, hypervolume_2d
from profiling import Profiler, build_eval_network, count_flops, count_parameters, measure_latency
from tools import (
    analyse_search_logs,
    analyse_train_logs,
    compare_fronts,
    plot_frontier,
    profile_genotypes,
    search_stability,
    tables,
)
from train import METRICS as EVAL_METRICS  # the columns of the metrics.csv files written here by hand
from train_search import METRICS as SEARCH_METRICS
from utils import UserError, cpu_name, lock_run_dir, run_main

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--init_channels", "4", "--layers", "3", "--no_latency"]

# (name, nu, R, CE, train acc, valid acc, genotype): three Pareto-optimal searches and a dominated one.
SEARCHES = [
    ("l2_loss_2e01", 0.2, 0.8, 1.54, 47.0, 43.5, "l2_loss_2e01"),
    ("l2_loss_3e02", 0.03, 6.3, 0.92, 70.1, 66.8, "l2_loss_3e02"),
    ("l2_loss_0", 0.0, 80.0, 0.34, 90.2, 86.1, "DARTS_V2"),
    (None, 0.01, 20.0, 1.10, 60.0, 58.0, "l2_loss_1e02"),
]


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def make_sweep(root: Path) -> Path:
    """A finished L2 sweep folder as multiobjective.py leaves it (sweep.json, genotypes.json, search folders)."""
    sweep = root / "multi-search-digits-EXP-20260101-000000"
    sweep.mkdir(parents=True)
    searches, pareto = [], []
    for index, (name, nu, reg, ce, train_acc, valid_acc, code) in enumerate(SEARCHES):
        run = sweep / f"search-{index:02d}-nu{nu:.3g}"
        run.mkdir()
        genotype = genotypes.genotype_to_dict(genotypes.PUBLISHED[code])
        size = count_parameters(build_eval_network(genotype)) / 1e6
        result = {"weight": [nu, 1 - nu], "objective": "l2", "reg_loss": reg, "criterion_loss": ce, "l1_loss": 3 * reg,
                  "l2_loss": reg, "train_loss": ce + nu * reg, "train_acc": train_acc, "valid_acc": valid_acc,
                  "valid_loss": ce + 0.1, "model_size": size, "genotype": genotype, "dataset": "digits",
                  "num_classes": 10, "epochs": 2, "run_dir": str(run)}
        (run / "result.json").write_text(json.dumps(result))
        write_csv(run / "metrics.csv", SEARCH_METRICS, [
            {"epoch": e, "lr": 0.1, "train_loss": ce + 1 - e, "train_acc": train_acc - 5 + 5 * e,
             "criterion_loss": ce + 0.5 - 0.5 * e, "l1_loss": 3 * reg, "l2_loss": reg + 1 - e, "arch_valid_loss": "",
             "valid_loss": ce + 0.1, "valid_acc": valid_acc, "epoch_time": 1.0, "genotype": json.dumps(genotype)}
            for e in (0, 1)])
        record = {"index": index, "weight": [nu, 1 - nu], "status": "done", "reg_loss": reg, "criterion_loss": ce,
                  "valid_loss": ce + 0.1, "train_acc": train_acc, "valid_acc": valid_acc, "model_size": size,
                  "genotype": genotype, "run_dir": str(run), "started": 0.0, "finished": 1.0, "host": "test",
                  "device": "cpu"}
        searches.append(record)
        if name:
            pareto.append({"name": name, "weight": [nu, 1 - nu], "reg_loss": reg, "criterion_loss": ce,
                           "model_size": size, "genotype": genotype, "run_dir": str(run)})
    reference = [88.0, 1.694]
    hv = hypervolume_2d([(p["reg_loss"], p["criterion_loss"]) for p in pareto], reference)
    state = {"objective": "l2", "delta": 0.3, "space": "cifar",
             "args": {"set": "digits", "weight_decay": 0.0, "objective": "l2"},
             "searches": searches, "pareto": pareto, "hypervolume": {"value": hv, "reference": reference},
             "complete": True}
    (sweep / "sweep.json").write_text(json.dumps(state))
    (sweep / "genotypes.json").write_text(json.dumps({p["name"]: p["genotype"] for p in pareto}))
    (sweep / "log.txt").write_text("sweep log\n")
    return sweep


def write_eval(folder: Path, arch: str, code: str, test_acc: float, valid_acc: float) -> dict:
    """A finished eval run folder with result.json and metrics.csv as train.py writes them."""
    folder.mkdir(parents=True)
    genotype = genotypes.genotype_to_dict(genotypes.PUBLISHED[code])
    result = {"test_loss": (100 - test_acc) / 40, "test_acc": test_acc, "test_top5": 99.0,
              "valid_loss": (100 - valid_acc) / 40, "valid_acc": valid_acc, "valid_top5": 98.0,
              "train_loss": 0.5, "train_acc": test_acc + 2, "genotype": genotype, "arch": arch, "arch_spec": arch,
              "model_size": count_parameters(build_eval_network(genotype, 4, 3)) / 1e6, "batch_size": 64,
              "epochs": 2, "init_channels": 4, "layers": 3, "auxiliary": False, "dataset": "digits",
              "num_classes": 10, "run_dir": str(folder)}
    (folder / "result.json").write_text(json.dumps(result))
    (folder / "log.txt").write_text("train log\n")
    return result


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("runs")
    sweep = make_sweep(root)
    batch = root / "batch-train-EXP-20260101-000000"
    batch.mkdir()
    real = train.main(train.build_parser().parse_args([
        "--set", "digits", "--arch", f"{sweep / 'genotypes.json'}:l2_loss_2e01", "--init_channels", "4",
        "--layers", "3", "--epochs", "1", "--batch_size", "128", "--subsample", "0.3", "--train_portion", "0.8",
        "--no_progress", "--logdir", str(batch)]))
    results = {"l2_loss_2e01": real,
               "l2_loss_3e02": write_eval(batch / "eval-l2_loss_3e02-1", "l2_loss_3e02", "l2_loss_3e02", 91.0, 92.0),
               # trained from a name the sweep does not use: joined with its search by identical cells
               "DARTS_V2": write_eval(batch / "eval-DARTS_V2-1", "DARTS_V2", "DARTS_V2", 95.5, 95.0),
               "DARTS_V1": write_eval(batch / "eval-DARTS_V1-1", "DARTS_V1", "DARTS_V1", 94.0, 94.5)}
    running = batch / "eval-PC_DARTS_cifar-1"
    running.mkdir()
    (running / "args.json").write_text(json.dumps({"args": {"arch": "PC_DARTS_cifar", "init_channels": 4,
                                                            "layers": 3, "set": "digits", "epochs": 10}}))
    write_csv(running / "metrics.csv", EVAL_METRICS, [
        {"epoch": e, "lr": 0.02, "drop_path_prob": 0.0, "train_loss": 1.0, "train_acc": 60 + e, "train_top5": 90,
         "valid_loss": 0.9, "valid_acc": 61 + e, "valid_top5": 91, "test_loss": 0.8 - e / 10, "test_acc": 62 + e,
         "test_top5": 92, "epoch_time": 1.0} for e in range(3)])
    write_csv(batch / "trained.csv", ["arch", "batch_size", "model_size", "test_acc", "test_top5", "run_dir"],
              [{"arch": k, "batch_size": 64, "model_size": r["model_size"], "test_acc": r["test_acc"],
                "test_top5": r["test_top5"], "run_dir": r["run_dir"]} for k, r in results.items()])
    members = [results[k] for k in ("l2_loss_3e02", "DARTS_V2")]
    (batch / "ensemble.json").write_text(json.dumps({
        "weighting": "per_model", "weights": [1.0, 0.8], "test_acc": 96.5, "test_top5": 99.5, "test_loss": 0.2,
        "models": [{"name": m["arch"], "run_dir": m["run_dir"], "test_acc": m["test_acc"]} for m in members]}))
    with lock_run_dir(running):  # still training: a training at work holds its folder's lock
        yield {"root": root, "sweep": sweep, "batch": batch, "results": results, "running": running}


def assert_png(path: Path) -> None:
    assert path.is_file(), path
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size[0] > 300 and image.size[1] > 200
        assert round(image.info["dpi"][0]) >= 100


# --------------------------------------------------------------------------- profiling


def conv_macs(conv: nn.Conv2d, out_h: int, out_w: int) -> int:
    """Multiply-adds of a convolution by hand: outputs x (inputs per group x kernel area)."""
    kernel = conv.kernel_size[0] * conv.kernel_size[1]
    return conv.out_channels * out_h * out_w * (conv.in_channels // conv.groups) * kernel


def test_flops_of_a_hand_built_network_equal_a_hand_count() -> None:
    sep = OPS["sep_conv_3x3"](8, 1, True)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),  # 8x8x8 out
        sep,  # dw 3x3 + pw 1x1, twice
        Identity(), Zero(1),
        nn.MaxPool2d(3, stride=1, padding=1), nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
        FactorizedReduce(8, 8),  # two 1x1 stride-2 convs, 4 channels each, 4x4 out
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10),
    )
    expected = (8 * 64 * 3 * 9  # stem conv: 8 channels x 64 pixels x (3 inputs x 9)
                + 2 * (8 * 64 * 1 * 9 + 8 * 64 * 8)  # sep conv: depthwise 3x3 then pointwise 8 -> 8, twice
                + 2 * (4 * 16 * 8)  # factorized reduce
                + 8 * 10)  # linear
    assert expected == 13824 + 17408 + 1024 + 80 == 32336
    before = list(net.state_dict())
    assert count_flops(net, (1, 3, 8, 8)) == expected
    assert list(net.state_dict()) == before  # no total_ops/total_params buffers left behind
    assert not any(hasattr(m, "total_ops") for m in net.modules())
    # thop's own rules also count BatchNorm and pooling: more, never less
    assert count_flops(net, (1, 3, 8, 8), rules="thop") > expected
    with pytest.raises(ValueError, match="unknown FLOPs rules"):
        count_flops(net, (1, 3, 8, 8), rules="ofa")


def test_flops_of_an_evaluation_network_count_every_convolution_once() -> None:
    net = build_eval_network(genotypes.PC_DARTS_cifar, init_channels=4, layers=3, auxiliary=True)
    total = 0

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            total += conv_macs(module, output.shape[2], output.shape[3])
        elif isinstance(module, nn.Linear):
            total += module.in_features * module.out_features

    handles = [m.register_forward_hook(hook) for m in net.modules()]
    with torch.no_grad():
        net(torch.zeros(1, 3, 32, 32))
    for h in handles:
        h.remove()
    assert count_flops(net, (1, 3, 32, 32)) == total > 0
    aux = sum(p.numel() for n, p in net.named_parameters() if n.startswith("auxiliary_head"))
    assert aux > 0
    assert count_parameters(net) == sum(p.numel() for p in net.parameters()) - aux
    assert count_parameters(net, with_auxiliary=True) == sum(p.numel() for p in net.parameters())


def test_profiler_measures_latency_and_caches() -> None:
    net = build_eval_network(genotypes.DARTS_V2, 4, 3)
    ms = measure_latency(net, "cpu", batch=2, min_run_time=0.01, warmup=1)
    assert math.isfinite(ms) and ms > 0
    profiler = Profiler(init_channels=4, layers=3, min_run_time=0.01, gpu=None)
    row = profiler.profile(genotypes.DARTS_V2)
    assert row["latency_cpu_ms"] > 0 and row["latency_gpu_ms"] is None and row["latency_gpu_b1_ms"] is None
    assert row["parameters"] == count_parameters(net) and row["flops"] == count_flops(net)
    row["flops"] = -1
    assert profiler.profile(genotypes.genotype_to_dict(genotypes.DARTS_V2))["flops"] == count_flops(net)
    assert Profiler(init_channels=4, layers=3, latency=False).profile(genotypes.DARTS_V2)["latency_cpu_ms"] is None


def test_a_printed_table_shows_a_missing_value_one_way() -> None:
    # a column of None alone (analyse_train_logs.py's objective without -s) printed "None" beside "NaN"
    df = pd.DataFrame({"name": ["a", "b"], "nu": [float("nan"), 0.2], "objective": [None, None],
                       "status": ["done", None]})
    text = tables.format_table(df)
    assert "None" not in text and text.count("NaN") == 4
    assert tables.format_table(df, na_rep="").count("NaN") == 0 and df["objective"].isna().all()  # df untouched


def test_the_printed_profiler_settings_leave_out_what_was_not_measured() -> None:
    # --no_latency printed "gpu None, cpu_threads None" as if they were settings of the table
    unmeasured = Profiler(init_channels=4, layers=3, latency=False, threads=1)
    text = tables.profile_settings_text(unmeasured)
    assert "None" not in text and "cpu_threads" not in text and "gpu" not in text
    assert text.startswith("init_channels 4, layers 3, num_classes 10") and "flops_rules thesis" in text
    timed = Profiler(init_channels=4, layers=3, min_run_time=0.01, gpu=None, threads=1)
    text = tables.profile_settings_text(timed, skip=("flops_rules",))
    assert "cpu_threads 1" in text and f"torch {torch.__version__}" in text and "flops_rules" not in text


def test_profile_genotypes_writes_the_table(runs: dict, tmp_path: Path) -> None:
    out = tmp_path / "profile.csv"
    args = profile_genotypes.build_parser().parse_args(["--archs", "DARTS_V2", str(runs["sweep"]), "-o", str(out),
                                                        *TINY])
    profile_genotypes.main(args)
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["Model name", "Parameters", "FLOPs", "Latency CPU", "Latency GPU", "Latency GPU b1"]
    assert [r["Model name"] for r in rows] == ["DARTS_V2", "l2_loss_2e01", "l2_loss_3e02", "l2_loss_0"]
    net = build_eval_network(genotypes.DARTS_V2, 4, 3)
    assert int(rows[0]["Parameters"]) == count_parameters(net) and int(rows[0]["FLOPs"]) == count_flops(net)
    assert rows[0]["Latency CPU"] == "" and rows[0]["Latency GPU"] == ""  # --no_latency


def test_profile_genotypes_profiles_at_the_image_size_given(tmp_path: Path, capsys) -> None:
    """A network trained on 8x8 digits could only be profiled at 32x32 (16 times its FLOPs), unless a cost sweep."""
    out = tmp_path / "profile.csv"
    args = profile_genotypes.build_parser().parse_args(["--archs", "DARTS_V2", "--image_size", "8", "-o", str(out),
                                                        *TINY])
    profile_genotypes.main(args)
    with open(out, newline="") as f:
        (row,) = list(csv.DictReader(f))
    net = build_eval_network(genotypes.DARTS_V2, 4, 3)
    assert int(row["FLOPs"]) == count_flops(net, (1, 3, 8, 8)) < count_flops(net)
    assert "input [1, 3, 8, 8]" in capsys.readouterr().out  # the settings line says the size profiled
    args = profile_genotypes.build_parser().parse_args(["--archs", "DARTS_V2", "--image_size", "6", "-o",
                                                        str(tmp_path / "bad.csv"), *TINY])
    assert run_main(profile_genotypes.main, args) == 2
    assert capsys.readouterr().err.startswith("error: --image_size 6 must be a multiple of 4")
    assert not (tmp_path / "bad.csv").exists()


def test_profile_genotypes_profiles_a_training_on_the_network_it_trained(runs: dict, tmp_path: Path, capsys) -> None:
    """A train.py run folder was profiled as NetworkCIFAR(36, 10, 20) at 32x32, whatever network it trained (a
    digits run of 0.0022M parameters showed 1.5M): the tool now takes the training's own channels, cells, classes
    and image side, for every entry, and says so."""
    run = Path(runs["results"]["l2_loss_2e01"]["run_dir"])
    out = tmp_path / "profile.csv"
    args = profile_genotypes.build_parser().parse_args(["--archs", str(run), "PC_DARTS_cifar", "--no_latency",
                                                        "-o", str(out)])
    assert run_main(profile_genotypes.main, args) == 0
    printed = capsys.readouterr().out
    assert f"profiled: every entry on the network the training {run} trained" in printed
    with open(out, newline="") as f:
        trained, published = list(csv.DictReader(f))
    assert int(trained["Parameters"]) == round(runs["results"]["l2_loss_2e01"]["model_size"] * 1e6)
    assert int(published["Parameters"]) == count_parameters(build_eval_network(genotypes.PC_DARTS_cifar, 4, 3))
    other = tmp_path / "eval-wider"
    shutil.copytree(run, other)
    record = json.loads((other / "args.json").read_text())
    record["args"]["init_channels"] = 8
    (other / "args.json").write_text(json.dumps(record))
    note, settings = profile_genotypes.trained_network([str(run), str(other)])
    assert settings is None and note.startswith("trainings of different networks")
    assert profile_genotypes.trained_network(["PC_DARTS_cifar", str(runs["sweep"])]) == ("", None)


def test_profile_genotypes_names_a_damaged_args_json_not_the_paper_network(tmp_path: Path, capsys) -> None:
    """A training whose args.json had no "args" object was profiled on the paper's network without a word (an
    unreadable one, with a note): the run's own network is what it records there. One without args.json (older
    runs) is still profiled on the defaults."""
    run = tmp_path / "eval-DARTS_V2-1"
    run.mkdir()
    (run / "genotype.json").write_text(json.dumps(genotypes.genotype_to_dict(genotypes.DARTS_V2)))
    out = tmp_path / "profile.csv"

    def profile(spec: Path) -> int:
        args = profile_genotypes.build_parser().parse_args(["--archs", str(spec), "-o", str(out), *TINY])
        return run_main(profile_genotypes.main, args)

    assert profile(run) == 0 and out.is_file()  # no args.json: the flags' network, as before
    out.unlink()
    capsys.readouterr()
    for damaged, said in (({"kind": "train", "env": {}}, 'is not a run\'s args.json (no "args" object)'),
                          ("{cut", "is not valid JSON")):
        (run / "args.json").write_text(damaged if isinstance(damaged, str) else json.dumps(damaged))
        for spec in (run, run / "genotype.json"):
            assert profile(spec) == 2
            err = capsys.readouterr().err
            assert err.startswith(f"error: {run / 'args.json'} {said}") and err.count("\n") == 1, err
    assert not out.exists()


def read_record(path: Path) -> dict:
    """A tool's <stem>_profile.json, its "made" checked to be a time with its zone."""
    record = json.loads(path.read_text())
    assert datetime.fromisoformat(record["made"]).tzinfo is not None
    return record


def test_profile_genotypes_records_what_measured_the_table(tmp_path: Path, capsys) -> None:
    """The CPU, threads, torch and input behind the Latency CPU column were only printed: a CSV kept and compared
    with another machine's could not say what timed it. <stem>_profile.json, beside the table, says so."""
    out = tmp_path / "profile.csv"
    args = profile_genotypes.build_parser().parse_args(["--archs", "DARTS_V2", "PC_DARTS_cifar", "--init_channels", "4",
                                                        "--layers", "3", "--image_size", "8", "--threads", "1",
                                                        "--min_run_time", "0.01", "--device", "cpu", "-o", str(out)])
    result = profile_genotypes.main(args)
    assert result["profile"] == tmp_path / "profile_profile.json"
    (profiler,) = read_record(result["profile"])["profilers"]
    assert read_record(result["profile"])["table"] == "profile.csv"
    assert profiler["rows"] == ["DARTS_V2", "PC_DARTS_cifar"]
    assert profiler["cpu_threads"] == 1 and profiler["cpu"] == cpu_name() and profiler["torch"] == torch.__version__
    assert profiler["input"] == [1, 3, 8, 8] and (profiler["init_channels"], profiler["layers"]) == (4, 3)
    assert profiler["latency"] is True and profiler["min_run_time"] == 0.01 and profiler["gpu"] is None
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(profile_genotypes.COLUMNS.values())  # no column added to the thesis's format
    assert all(float(r["Latency CPU"]) > 0 for r in rows)
    assert f"profile record: {result['profile']}" in capsys.readouterr().out
    # without latency: still the network, the input and the FLOPs rules, and no machine
    args = profile_genotypes.build_parser().parse_args(["--archs", "DARTS_V2", "--flops_rules", "thop", "-o",
                                                        str(out), *TINY])
    (profiler,) = read_record(profile_genotypes.main(args)["profile"])["profilers"]
    assert profiler["flops_rules"] == "thop" and profiler["input"] == [1, 3, 32, 32] and profiler["layers"] == 3
    assert profiler["latency"] is False and profiler["cpu_threads"] is None and "cpu" not in profiler


def test_profile_genotypes_does_not_write_its_record_over_an_input(tmp_path: Path, capsys) -> None:
    """A genotype JSON given to --archs that the record's name would take is refused before any work, kept whole."""
    given = tmp_path / "mine_profile.json"
    given.write_text(json.dumps(genotypes.genotype_to_dict(genotypes.DARTS_V2)))
    before = given.read_text()
    args = profile_genotypes.build_parser().parse_args(["--archs", str(given), "-o", str(tmp_path / "mine.csv"),
                                                        *TINY])
    assert run_main(profile_genotypes.main, args) == 2
    assert capsys.readouterr().err.startswith(f"error: -o (its profile record) {given} is also an input")
    assert given.read_text() == before and not (tmp_path / "mine.csv").exists()


def test_profile_genotypes_takes_a_pasted_genotype_string() -> None:
    g = genotypes.PC_DARTS_cifar
    text = repr(genotypes.Genotype([tuple(p) for p in g.normal], range(2, 6), [tuple(p) for p in g.reduce],
                                   range(2, 6)))
    assert profile_genotypes.expand_archs([text]) == [("PC_DARTS_cifar", g)]


def test_profile_genotypes_names_a_mis_keyed_entry_of_a_genotypes_file(tmp_path: Path) -> None:
    """A renamed key in one entry is that entry's one-line error, not 'pick one with FILE:NAME'; FILE:NAME of a
    good entry still works, and a "genotypes" wrapper is read as a sweep's genotypes.json is."""
    bad = genotypes.genotype_to_dict(genotypes.NASNet)
    bad["normal_cells"] = bad.pop("normal")
    path = tmp_path / "genotypes.json"
    path.write_text(json.dumps({"good": genotypes.genotype_to_dict(genotypes.DARTS_V2), "bad": bad}))
    with pytest.raises(ValueError, match=f"^{path}:bad: a genotype needs the keys .* \\(missing normal\\)$"):
        profile_genotypes.expand_archs([str(path)])
    assert profile_genotypes.expand_archs([f"{path}:good"]) == [("good", genotypes.DARTS_V2)]
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"genotypes": {"a": genotypes.genotype_to_dict(genotypes.DARTS_V2),
                                                 "b": genotypes.genotype_to_dict(genotypes.NASNet)}}))
    assert profile_genotypes.expand_archs([str(wrapped)]) == [("a", genotypes.DARTS_V2), ("b", genotypes.NASNet)]


def test_profile_genotypes_names_the_source_of_a_name_two_genotypes_share(tmp_path: Path) -> None:
    """A sweep's l2_loss_2e01 beside the thesis's (in genotypes.py) gave two rows named alike, 1.4M and 3.5M."""
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "genotypes.json").write_text(json.dumps({"l2_loss_2e01": genotypes.genotype_to_dict(genotypes.DARTS_V2),
                                                      "l2_loss_0": genotypes.genotype_to_dict(genotypes.NASNet)}))
    assert profile_genotypes.expand_archs(["l2_loss_2e01", str(sweep), "NASNet", "NASNet"]) == [
        ("l2_loss_2e01 (genotypes.py)", genotypes.PUBLISHED["l2_loss_2e01"]),
        (f"l2_loss_2e01 ({sweep})", genotypes.DARTS_V2), ("l2_loss_0", genotypes.NASNet),
        ("NASNet", genotypes.NASNet)]  # the same genotype given twice is one row


# --------------------------------------------------------------------------- tables


def test_column_names_of_every_origin_map_to_ours() -> None:
    spellings = {
        "nu": ["Weight", "weight"], "size_m": ["Params", "Size"], "name": ["Model name"],
        "search_criterion_loss": ["Search crit loss", "search_criterion_loss", "Search criterion loss"],
        "search_reg_loss": ["Search reg loss", "search_reg_loss", "Search regularization loss"],
        "search_valid_acc": ["Search valid acc", "Search accuracy", "search_acc", "Search acc"],
        "search_train_acc": ["Search train acc"], "parameters": ["Parameters"], "flops": ["FLOPs"],
        "latency_gpu_ms": ["Latency GPU"], "latency_cpu_ms": ["Latency CPU"], "test_acc": ["test_acc"],
    }
    for ours, names in spellings.items():
        for name in names:
            assert tables.canonical_name(name) == ours, name
    assert tables.canonical_name("something else") == "something else"
    assert tables.nu_from_name("l2_loss_429e05") == 0.00429  # exactly the decimal named (3e01: 0.3, not 0.30...04)
    assert tables.nu_from_name("l2_loss_3e01") == 0.3
    assert tables.nu_from_name("L1_loss_2e01") == pytest.approx(0.2)
    assert tables.nu_from_name("l1_loss_59e06_l2_3e04_cifar100") == pytest.approx(5.9e-5)
    assert tables.nu_from_name("DARTS_V2") is None
    assert tables.nu_from_name("l2_loss_0") == 0.0 and tables.nu_from_name("l1_loss_0_l2_3e04") == 0.0  # nu = 0's
    assert tables.nu_from_name("l2_loss_01") is None


# --------------------------------------------------------------------------- analyse_search_logs


def test_analyse_search_logs_tables_the_pareto_searches(runs: dict, tmp_path: Path, capsys) -> None:
    out = tmp_path / "search_table.csv"
    args = analyse_search_logs.build_parser().parse_args(
        ["-l", str(runs["sweep"] / "log.txt"), "-o", str(out), "-t", "2", "-i", "6", "4", *TINY])
    result = analyse_search_logs.main(args)
    df = tables.read_csv_exact(out)
    state = json.loads((runs["sweep"] / "sweep.json").read_text())
    assert list(df["name"]) == ["l2_loss_2e01", "l2_loss_3e02", "l2_loss_0"]  # nu descending, dominated left out
    for p, (_, row) in zip(state["pareto"], df.iterrows()):
        search = next(s for s in state["searches"] if s["run_dir"] == p["run_dir"])
        assert row["nu"] == p["weight"][0]
        assert row["search_criterion_loss"] == p["criterion_loss"] and row["search_reg_loss"] == p["reg_loss"]
        assert row["search_train_acc"] == search["train_acc"] and row["search_valid_acc"] == search["valid_acc"]
        assert row["search_valid_loss"] == search["valid_loss"]  # the pareto entry takes it from its search
        assert row["size_m"] == p["model_size"]
        net = build_eval_network(p["genotype"], 4, 3)
        assert row["parameters"] == count_parameters(net) and row["flops"] == count_flops(net)
        assert math.isnan(row["latency_cpu_ms"])
    hv = hypervolume_2d([(p["reg_loss"], p["criterion_loss"]) for p in state["pareto"]], [88.0, 1.694])
    assert result["hypervolume"] == {"value": pytest.approx(hv), "reference": [88.0, 1.694]}
    printed = capsys.readouterr().out
    assert f"{hv:.4g}" in printed and "reference point R = 88, CE = 1.694)" in printed  # as --reference takes it
    names = ["crit_vs_reg_loss", "weight_vs_valid_acc", "weight_vs_params", "correlation_matrix"]
    assert [p.name for p in result["plots"]] == [f"search_table_{n}.png" for n in names]
    for p in result["plots"]:
        assert_png(p)
    # what measured the profiled columns, beside the table: the sweep's network (C=4, 3 cells) at its 32x32
    record = read_record(tmp_path / "search_table_profile.json")
    assert result["profile"] == tmp_path / "search_table_profile.json" and record["table"] == "search_table.csv"
    (profiler,) = record["profilers"]
    assert profiler["rows"] == list(df["name"]) and (profiler["init_channels"], profiler["layers"]) == (4, 3)
    assert profiler["input"] == [1, 3, 32, 32] and profiler["flops_rules"] == "thesis"
    assert profiler["latency"] is False and profiler["cpu_threads"] is None  # --no_latency
    # its table re-plotted: the reference point is then the Pareto rows' own unless the sweep's is given
    replot = analyse_search_logs.build_parser().parse_args(["-d", str(out), "-o", str(tmp_path / "again.csv")])
    points = [(p["reg_loss"], p["criterion_loss"]) for p in state["pareto"]]
    (tmp_path / "again_profile.json").write_text("{}")  # an earlier record of that name
    alone = analyse_search_logs.main(replot)["hypervolume"]
    assert (tmp_path / "again_profile.json").read_text() == "{}"  # a re-plot profiles nothing: neither written nor lost
    assert alone["reference"] == pytest.approx(list(default_reference(points)))
    assert "pass it as --reference R CE to compare" in capsys.readouterr().out
    replot.reference = [100.0, 2.0]
    assert analyse_search_logs.main(replot)["hypervolume"] == {"value": pytest.approx(hypervolume_2d(points, [100, 2])),
                                                               "reference": [100.0, 2.0]}
    assert "--reference R CE" not in capsys.readouterr().out
    # -d and -o one file: plots beside it, the table read and not rewritten, and the tool says so
    in_place = analyse_search_logs.build_parser().parse_args(["-d", str(out), "-o", str(out)])
    before = out.read_bytes()
    analyse_search_logs.main(in_place)
    assert f"table: {out} (re-plotted in place, not rewritten)\n" in capsys.readouterr().out
    assert out.read_bytes() == before
    replot.reference = [float("nan"), 1.0]
    assert run_main(analyse_search_logs.main, replot) == 2
    assert capsys.readouterr().err == "error: --reference nan 1.0: give two finite numbers (R and CE)\n"


def test_analyse_search_logs_size_plot_of_a_cost_sweep_is_its_own_networks(tmp_path: Path) -> None:
    """A cost sweep's table is profiled on its evaluation network (NetworkCIFAR(4, 10, 8) here), but the size plot
    drew size_m, the paper's NetworkCIFAR(36, 20) (3 M here), under the title 'Size of the evaluation network'."""
    sweep = make_flops_sweep(tmp_path, {1.0: "l2_loss_2e01", 0.0: "DARTS_V2"})
    profiler = Profiler(init_channels=4, layers=8, latency=False, image_size=8)
    df = analyse_search_logs.search_table(tables.load_sweep(sweep), profiler)
    fig = analyse_search_logs.size_figure(df, (7.0, 5.0))
    ax = fig.axes[0]
    heights = sorted(float(y) for c in ax.collections for _, y in c.get_offsets())
    assert heights == sorted(count_parameters(build_eval_network(genotypes.PUBLISHED[code], 4, 8)) / 1e6
                             for code in ("l2_loss_2e01", "DARTS_V2"))
    assert ax.get_ylabel() == "parameters (M)" and set(df["size_m"]) == {3.0}
    plots.plt.close(fig)
    thesis = df.assign(parameters=float("nan"))  # a table without the profiled column: its size_m
    fig = analyse_search_logs.size_figure(thesis, (7.0, 5.0))
    assert [float(y) for c in fig.axes[0].collections for _, y in c.get_offsets()] == [3.0, 3.0]
    plots.plt.close(fig)
    # the correlation matrix likewise: the profiled parameters, size_m only in a table without them
    assert "parameters" in analyse_search_logs.correlated_columns(df)
    assert "size_m" not in analyse_search_logs.correlated_columns(df)
    assert "size_m" in analyse_search_logs.correlated_columns(thesis)


def test_analyse_search_logs_replots_an_original_table(tmp_path: Path) -> None:
    original = tmp_path / "search_l1_cifar10.csv"
    original.write_text(
        "Model name,Weight,Params,Search train acc,Search valid acc,Search crit loss,Search reg loss,"
        "Parameters,FLOPs,Latency GPU,Latency CPU\n"
        "L1_loss_2e01,0.2,1.72999,10.2,10.08,2.30,3.34,1729990,282015360,11.9,68.0\n"
        "L1_loss_8e03,0.0081,2.325718,34.6,32.45,1.71,37.16,2325718,373668480,20.0,147.7\n"
        "L1_loss_2e04,0.00024,3.970342,85.4,81.69,0.54,1119.18,3970342,636048000,35.1,316.4\n"
        "L1_loss_3e06,3.26e-06,3.100726,92.7,85.08,0.25,16296.59,3100726,482214528,25.9,209.5\n")
    out = tmp_path / "replot.csv"
    result = analyse_search_logs.main(analyse_search_logs.build_parser().parse_args(["-d", str(original),
                                                                                     "-o", str(out)]))
    df = pd.read_csv(out)
    assert list(df["name"]) == ["L1_loss_2e01", "L1_loss_8e03", "L1_loss_2e04", "L1_loss_3e06"]
    assert list(df["nu"]) == [0.2, 0.0081, 0.00024, 3.26e-06]
    assert list(df["search_reg_loss"]) == [3.34, 37.16, 1119.18, 16296.59]
    assert list(df["flops"]) == [282015360, 373668480, 636048000, 482214528]
    assert list(df["latency_gpu_ms"]) == [11.9, 20.0, 35.1, 25.9]
    assert len(result["plots"]) == 4
    for p in result["plots"]:
        assert_png(p)
    # the same table in the other spelling of the original tools
    other = tmp_path / "other.csv"
    other.write_text("Model name,weight,Size,search_criterion_loss,search_reg_loss,search_acc\n"
                     "l2_loss_2e01,0.2,1.37,1.54,0.81,43.5\nl2_loss_7e04,0.0007,3.99,0.19,287.2,86.9\n")
    result = analyse_search_logs.main(analyse_search_logs.build_parser().parse_args(
        ["-d", str(other), "-o", str(tmp_path / "other_out.csv")]))
    assert list(result["table"]["search_valid_acc"]) == [43.5, 86.9]
    assert list(result["table"]["size_m"]) == [1.37, 3.99]
    for p in result["plots"]:
        assert_png(p)


def test_plots_against_nu_are_not_drawn_empty_and_say_how_many_searches_have_no_nu(tmp_path: Path, capsys) -> None:
    """A table whose names encode no nu (the thesis's l1_0_l2_1e4) and with no weight column drew two empty plots
    against nu, and one with some nus left the others out unsaid."""
    table = tmp_path / "nonu.csv"
    table.write_text("Model name,Search crit loss,Search reg loss,Search valid acc,Params\n"
                     "l1_0_l2_1e4,0.5,100,80,3.1\nl1_1e4_l2_0,0.9,10,60,2.0\n")
    result = analyse_search_logs.main(analyse_search_logs.build_parser().parse_args(
        ["-d", str(table), "-o", str(tmp_path / "out.csv")]))
    assert sorted(p.name for p in result["plots"]) == ["out_correlation_matrix.png", "out_crit_vs_reg_loss.png"]
    assert not list(tmp_path.glob("out_weight_vs_*.png"))
    assert "note: no plot against ν" in capsys.readouterr().out
    some = result["table"].assign(nu=[0.01, float("nan")])
    fig = analyse_search_logs.nu_vs_figure(some, [("search_valid_acc", "", False)], "acc", "Search accuracy", (7, 5))
    assert fig.axes[0].get_title() == "Search accuracy\n1 of 2 searches: ν unknown for the others"


def test_a_folder_without_a_sweep_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    args = analyse_search_logs.build_parser().parse_args(["-l", str(tmp_path / "empty"), "-o", str(tmp_path / "t.csv")])
    assert run_main(analyse_search_logs.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "no sweep.json" in err and "\n" not in err


def tool_flags(tool: str, runs: dict) -> list[str]:
    """A valid input for each of the tools that take -o and -i."""
    return {"analyse_search_logs": ["-l", str(runs["sweep"]), "--no_latency"],
            "analyse_train_logs": ["-t", str(runs["batch"]), "--no_latency"],
            "search_stability": [str(runs["sweep"])]}.get(tool, ["-l", str(runs["sweep"])])


TOOLS_WITH_PLOTS = ["plot_frontier", "analyse_search_logs", "analyse_train_logs", "compare_fronts",
                    "search_stability"]


@pytest.mark.parametrize("tool", TOOLS_WITH_PLOTS)
def test_an_output_folder_or_a_figure_in_pixels_is_refused_before_any_work(runs: dict, tmp_path: Path, capsys,
                                                                           tool: str) -> None:
    """-o res/ became res.csv (res.png) beside the folder, overwriting it; -i 1920 1080 (pixels, not inches) had
    matplotlib allocate until the machine ran out of memory."""
    module = globals()[tool]
    (tmp_path / "res").mkdir()
    for suffix in (".csv", ".png"):
        (tmp_path / f"res{suffix}").write_text("precious")
    for output in (f"{tmp_path / 'res'}/", str(tmp_path / "res")):
        args = module.build_parser().parse_args([*tool_flags(tool, runs), "-o", output])
        assert run_main(module.main, args) == 2
        assert capsys.readouterr().err.strip() == f"error: -o {output} is a folder: give a file name (the tables " \
                                                   "and plots are named after it)"
    for inches in (["1920", "1080"], ["0.1"], ["7", "5", "3"]):
        args = module.build_parser().parse_args([*tool_flags(tool, runs), "-o", str(tmp_path / "t"), "-i", *inches])
        assert run_main(module.main, args) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: -i/--inches takes a width and a height in inches, each from 1 to 50") and \
            "\n" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res", "res.csv", "res.png"]
    assert [(tmp_path / f"res{suffix}").read_text() for suffix in (".csv", ".png")] == ["precious", "precious"]
    assert not any((tmp_path / "res").iterdir())


def test_topk_ties_go_to_the_fronts_cross_entropy() -> None:
    """Equal valid accuracies are ranked by the CE the front is drawn in: the held-out CE of a cost sweep, the
    training CE of an l1/l2 sweep (or of a table of the original tools, which records no objective)."""
    table = {"search_valid_acc": [90.0, 90.0, 80.0], "search_criterion_loss": [0.2, 0.4, 0.1],
             "search_valid_loss": [0.5, 0.3, 0.6]}
    assert analyse_search_logs._topk(pd.DataFrame({**table, "objective": ["flops"] * 3}), 2) == [1, 0]
    assert analyse_search_logs._topk(pd.DataFrame({**table, "objective": ["l2"] * 3}), 2) == [0, 1]
    assert analyse_search_logs._topk(pd.DataFrame(table), 3) == [0, 1, 2]


def test_a_negative_topk_is_refused(runs: dict, tmp_path: Path, capsys) -> None:
    """-t -1 was read as "ring none" without a word."""
    args = analyse_search_logs.build_parser().parse_args(["-l", str(runs["sweep"]), "-t", "-1", "--no_latency",
                                                          "-o", str(tmp_path / "t")])
    assert run_main(analyse_search_logs.main, args) == 2
    assert capsys.readouterr().err.strip() == "error: -t -1 must be >= 0 (0: ring none)"
    assert not list(tmp_path.iterdir())


SEARCH = {"index": 0, "weight": [0.2, 0.8], "run_dir": "search-00", "status": "done", "reg_loss": 1.0,
          "criterion_loss": 2.0}


@pytest.mark.parametrize("state, why", [
    ({"searches": "x", "args": {}}, "searches is not a list"),
    ({"searches": None, "args": {}}, "searches is not a list"),
    ({"searches": [1], "args": {}}, "searches[0] is not a search record"),
    ({"searches": [{**SEARCH, "weight": 0.2}], "args": {}}, "searches[0] is not a search record"),
    ({"searches": [{**SEARCH, "reg_loss": "1.0"}], "args": {}}, "searches[0] has a loss that is not a number"),
    ({"searches": [], "args": []}, "args is not a mapping"),
    ({"searches": [], "args": {}, "pareto": ["a"]}, "pareto is not a list of named points"),
    ({"searches": [SEARCH], "args": {}, "pareto": [{**SEARCH, "name": None}]}, "pareto is not a list of named points"),
    ({"searches": [SEARCH], "args": {}, "pareto": [{**SEARCH, "name": "a", "reg_loss": "1"}]},
     "pareto has a loss that is not a number"),
    ({"searches": [SEARCH], "args": {"image_size": "8"}}, "args.image_size is '8', not a whole number"),
    # the plot was written, then "reference must be a pair of numbers" (no file named); a front's point with no R and
    # no search to take it from was a KeyError traceback
    ({"searches": [SEARCH], "args": {}, "hypervolume": {"value": 1.0, "reference": [1.0]}},
     "hypervolume's reference is not a pair of numbers R, CE: [1.0]"),
    ({"searches": [SEARCH], "args": {}, "hypervolume": {"value": 1.0, "reference": [1.0, float("nan")]}},
     "hypervolume's reference is not a pair of numbers R, CE: [1.0, nan]"),
    ({"searches": [SEARCH], "args": {}, "pareto": [{"name": "a", "weight": [0.5, 0.5], "run_dir": "x",
                                                     "criterion_loss": 2.0}]},
     "its front's a has no reg_loss or criterion_loss, nor a finished search to take it from"),
])
@pytest.mark.parametrize("tool", ["plot_frontier", "analyse_search_logs", "compare_fronts", "search_stability"])
def test_a_malformed_sweep_json_is_a_one_line_error(tmp_path: Path, capsys, state: dict, why: str,
                                                    tool: str) -> None:
    """A hand-edited sweep.json (null searches, a bare number for a weight, an unnamed Pareto point) gave each tool
    a TypeError traceback where the sweep's own --resume gave one line: both now check it alike."""
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "sweep.json").write_text(json.dumps(state))
    module = {"plot_frontier": plot_frontier, "analyse_search_logs": analyse_search_logs,
              "compare_fronts": compare_fronts, "search_stability": search_stability}[tool]
    flags = {"analyse_search_logs": ["-l", str(tmp_path / "sweep"), "--no_latency"],
             "search_stability": [str(tmp_path / "sweep")]}.get(tool, ["-l", str(tmp_path / "sweep")])
    args = module.build_parser().parse_args([*flags, "-o", str(tmp_path / "out" / "f")])
    assert run_main(module.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {tmp_path / 'sweep' / 'sweep.json'} is not a sweep state ({why})" or why in err, err
    assert "\n" not in err and not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- plot_frontier


@pytest.mark.parametrize("tool", [plot_frontier, analyse_search_logs, compare_fronts])
def test_a_sweep_whose_every_search_failed_is_not_said_to_be_unfinished(tmp_path: Path, capsys, tool: object) -> None:
    """A sweep that ended with every search failed was "has no finished search yet" (compare_fronts: "a sweep
    still at its first search?"): its user waited for a sweep that was over."""
    sweep = tmp_path / "multi-search-digits-EXP-20260101-000000"
    sweep.mkdir()
    searches = [{"index": i, "weight": w, "status": "failed", "run_dir": str(sweep / f"search-{i:02d}"),
                 "error": "the loss became nan"} for i, w in enumerate([[0.2, 0.8], [0.0, 1.0]])]
    (sweep / "sweep.json").write_text(json.dumps({"objective": "l2", "args": {"set": "digits"}, "searches": searches,
                                                  "pareto": []}))
    flag = ["-l", str(sweep)]
    args = tool.build_parser().parse_args([*flag, "-o", str(tmp_path / "out.png"), *(
        ["--no_latency"] if tool is analyse_search_logs else [])])
    assert run_main(tool.main, args) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "its 2 searches failed" in err and "yet" not in err, err
    searches[1]["status"] = "running"  # one still running: that one may yet finish
    (sweep / "sweep.json").write_text(json.dumps({"objective": "l2", "args": {"set": "digits"}, "searches": searches,
                                                  "pareto": []}))
    assert run_main(tool.main, args) == 2
    err = capsys.readouterr().err
    assert "has no finished search yet (1 failed)" in err, err


@pytest.mark.parametrize("text", ["[1]", "{"])
def test_a_damaged_search_result_json_does_not_stop_the_tools_that_read_the_sweep(tmp_path: Path, text: str) -> None:
    """sweep.json holds the front; a search's result.json that is no JSON object stopped plot_frontier.py (and every
    tool that reads the sweep) with an AttributeError while it looked for the class count."""
    sweep = make_sweep(tmp_path)
    first = json.loads((sweep / "sweep.json").read_text())["searches"][0]["run_dir"]
    (Path(first) / "result.json").write_text(text)
    assert tables.load_sweep(sweep)["num_classes"] == 10
    result = plot_frontier.main(plot_frontier.build_parser().parse_args(["-l", str(sweep), "-o",
                                                                          str(tmp_path / "f.png")]))
    assert [p["name"] for p in result["pareto"]] == ["l2_loss_2e01", "l2_loss_3e02", "l2_loss_0"]


def test_a_sweep_without_a_recorded_hypervolume_takes_its_own_reference_point(tmp_path: Path) -> None:
    """A sweep.json with no hypervolume (an earlier version's, or a cost front derived anew): plot_frontier.py and
    analyse_search_logs.py -l took the front's maxima + 10 %, not the sweep's point over all its searches, as
    --help says and multiobjective.py records it; a dominated search with a larger R or CE gave another number."""
    sweep = tmp_path / "multi-search-digits-OLD-20260101-000000"
    sweep.mkdir()
    searches = [{"index": i, "weight": [nu, 1 - nu], "status": "done", "reg_loss": reg, "criterion_loss": ce,
                 "run_dir": str(sweep / f"search-{i:02d}")}
                for i, (nu, reg, ce) in enumerate([(0.2, 1.0, 2.0), (0.0, 5.0, 1.0), (0.01, 10.0, 3.0)])]
    (sweep / "sweep.json").write_text(json.dumps({"objective": "l2", "args": {"set": "digits"}, "searches": searches}))
    loaded = tables.load_sweep(sweep)
    reference = default_reference([(1.0, 2.0), (5.0, 1.0), (10.0, 3.0)])  # (11, 3.3), not the front's (5.5, 2.2)
    assert loaded["hypervolume"]["reference"] == pytest.approx(list(reference))
    assert loaded["hypervolume"]["value"] == pytest.approx(hypervolume_2d([(1.0, 2.0), (5.0, 1.0)], reference))


def test_plot_frontier_runs_as_a_script(runs: dict, tmp_path: Path) -> None:
    assert plot_frontier.build_parser().parse_args(["-l", "x"]).output == "plot.png"  # the original's default
    out = tmp_path / "front.png"
    done = subprocess.run([sys.executable, "tools/plot_frontier.py", "-l", str(runs["sweep"] / "log.txt"),
                           "-o", str(out), "-d", "-i", "6", "4"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert_png(out)
    assert "l2_loss_3e02" in done.stdout and "hypervolume" in done.stdout and "reference point R = 88" in done.stdout


def test_a_figure_output_keeps_a_pdf_or_svg_suffix(runs: dict, tmp_path: Path) -> None:
    """The original plot_frontier.py saved -o front.pdf as a PDF; this one wrote a PNG named front.pdf.png."""
    for name, head in (("front.pdf", b"%PDF"), ("front.SVG", b"<?xml")):
        result = plot_frontier.main(plot_frontier.build_parser().parse_args(
            ["-l", str(runs["sweep"]), "-o", str(tmp_path / name)]))
        assert result["plot"] == tmp_path / name and (tmp_path / name).read_bytes().startswith(head)
    compared = compare_fronts.main(compare_fronts.build_parser().parse_args(
        ["-l", str(runs["sweep"]), "-o", str(tmp_path / "fronts.pdf")]))
    assert compared["plot"] == tmp_path / "fronts.pdf" and (tmp_path / "fronts.pdf").read_bytes().startswith(b"%PDF")
    other = plot_frontier.main(plot_frontier.build_parser().parse_args(
        ["-l", str(runs["sweep"]), "-o", str(tmp_path / "front.v2")]))
    assert other["plot"] == tmp_path / "front.v2.png"  # any other suffix is part of the name, as before
    assert tables.output_file("t.pdf", ".csv") == Path("t.pdf.csv")  # a table's -o keeps no figure suffix


def test_plot_frontier_in_process(runs: dict, tmp_path: Path, monkeypatch) -> None:
    drawn = []
    real = plots.save_figure
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: drawn.append(fig) or real(fig, path))
    result = plot_frontier.main(plot_frontier.build_parser().parse_args(["-l", str(runs["sweep"]),
                                                                         "-o", str(tmp_path / "f")]))
    assert result["plot"].name == "f.png"
    assert_png(result["plot"])
    assert [p["name"] for p in result["pareto"]] == ["l2_loss_2e01", "l2_loss_3e02", "l2_loss_0"]
    # what it drew: the sweep's three Pareto-optimal searches, named, coloured by nu; -d adds the dominated one
    plot_frontier.main(plot_frontier.build_parser().parse_args(["-l", str(runs["sweep"]), "-o", str(tmp_path / "d"),
                                                                "-d"]))
    front = [(reg, ce) for name, _, reg, ce, *_ in SEARCHES if name]
    for fig, crosses in zip(drawn, ([], [(20.0, 1.10)])):
        ax = fig.axes[0]
        assert sorted(scatter_points(ax)) == sorted(front + crosses)
        assert sorted(t.get_text() for t in ax.texts) == ["l2_loss_0", "l2_loss_2e01", "l2_loss_3e02"]
        assert point_colour(fig, 80.0, 0.34) == (0.0, 0.0, 0.0, 1.0)  # nu = 0
        assert point_colour(fig, 0.8, 1.54) == tuple(round(c, 6) for c in plots.nu_color(0.2))
        assert ax.get_title() == "L2 sweep: 4 searches, 3 Pareto-optimal"
        assert ax.get_xlabel() == "search penalty Σw² (L2), log scale"
        assert ax.get_ylabel() == "search cross-entropy (last epoch)"
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert legend == ["dominated search"] * bool(crosses) + ["Pareto front", "Pareto-optimal search (colour: ν)"]
        (step,) = ax.lines
        assert list(step.get_xdata()) == [0.8, 6.3, 80.0] and list(step.get_ydata()) == [1.54, 0.92, 0.34]


# --------------------------------------------------------------------------- compare_fronts


def make_flops_sweep(root: Path, codes_by_nu: dict[float, str], space: str = "cifar", dataset: str = "digits") -> Path:
    """A finished -o flops sweep costed on NetworkCIFAR(4, 10, 8) at 8x8: R of each search its genotype's FLOPs."""
    settings = {"set": dataset, "objective": "flops", "eval_channels": 4, "eval_layers": 8, "image_size": 8}
    model = cost.CostModel.build("flops", cost.EvalSpec(4, 10, 8, False, 8))
    sweep = root / "multi-search-digits-F-20260101-000000"
    sweep.mkdir(parents=True)
    searches = []
    for index, (nu, code) in enumerate(codes_by_nu.items()):
        flops = model.genotype_cost(genotypes.PUBLISHED[code]) / 1e6
        searches.append({"index": index, "weight": [nu, 1 - nu], "status": "done", "reg_loss": flops,
                         "criterion_loss": 0.5, "valid_loss": 1.0 - flops, "train_acc": 80.0, "valid_acc": 75.0,
                         "model_size": 3.0, "genotype": genotypes.genotype_to_dict(genotypes.PUBLISHED[code]),
                         "run_dir": str(sweep / f"search-{index:02d}"),
                         "cost": {"kind": "flops", "value": flops, "reference": 0.38, "unit": cost.UNITS["flops"]}})
    pareto = [{**s, "name": f"flops_loss_{s['index']}"} for s in searches]
    (sweep / "sweep.json").write_text(json.dumps({"objective": "flops", "space": space, "args": settings,
                                                  "front_ce": "valid_loss", "searches": searches, "pareto": pareto}))
    (sweep / "args.json").write_text(json.dumps({"args": settings}))
    return sweep


def test_compare_fronts_costs_every_search_on_one_network(runs: dict, tmp_path: Path, capsys) -> None:
    """An l2 sweep and a flops sweep on one FLOPs axis: the cost sweep's own network and image size, every search
    costed as cost.CostModel counts it (a cost sweep's FLOPs are its R), and each front's order by nu told."""
    from tools import compare_fronts

    flops_sweep = make_flops_sweep(tmp_path, {1.0: "l2_loss_2e01", 0.5: "DARTS_V2", 0.0: "PC_DARTS_cifar"})
    result = compare_fronts.main(compare_fronts.build_parser().parse_args(
        ["-l", str(flops_sweep), str(runs["sweep"]), "--cost", "flops", "-o", str(tmp_path / "c")]))
    assert str(result["network"]) == "NetworkCIFAR(4, 10, 8) at 8x8"
    assert_png(tmp_path / "c.png")
    own, l2 = result["series"]
    assert [p["cost"] for p in own["front"]] == [p["reg_loss"] for p in own["front"]]
    model = cost.CostModel.build("flops", cost.EvalSpec(4, 10, 8, False, 8))
    expected = {nu: model.genotype_cost(genotypes.PUBLISHED[code]) / 1e6 for _, nu, _, _, _, _, code in SEARCHES}
    assert {p["nu"]: p["cost"] for p in l2["points"]} == pytest.approx(expected)
    assert [p["nu"] for p in l2["front"]] == [0.2, 0.03, 0.0]  # its own front (3 of 4 searches), larger nu first
    costs = [expected[nu] for nu in (0.2, 0.03, 0.0)]
    assert l2["ordered"] == (costs == sorted(costs))
    assert l2["span"] == pytest.approx(max(costs) / min(costs))
    assert own["ordered"] is ([p["cost"] for p in own["front"]] == sorted(p["cost"] for p in own["front"]))
    out, err = capsys.readouterr()
    assert "every search's genotype costed on NetworkCIFAR(4, 10, 8) at 8x8" in out and "datasets" not in err
    assert f"(-o l2): 3 Pareto points, {min(costs):.4g} to {max(costs):.4g} M FLOPs (multiply-adds)" in out
    flops_line = next(line for line in out.splitlines() if line.startswith("    nu = 0.5 "))
    assert flops_line.split("R = ")[1].startswith(f"{own['front'][1]['reg_loss']:.6g} M FLOPs (multiply-adds): ")
    l2_line = next(line for line in out.splitlines() if line.startswith("    nu = 0.03 "))
    assert re.search(r"R = [\d.e+-]+: [\d.e+-]+ M FLOPs", l2_line), l2_line  # a norm has no unit
    # the l2 sweep first: the network and image size are still the cost sweep's; a search's result.json gives
    # the held-out CE where sweep.json has none (earlier l1/l2 sweeps)
    swapped = compare_fronts.main(compare_fronts.build_parser().parse_args(
        ["-l", str(runs["sweep"]), str(flops_sweep), "-o", str(tmp_path / "s.png")]))
    assert str(swapped["network"]) == "NetworkCIFAR(4, 10, 8) at 8x8"
    first = json.loads((runs["sweep"] / "sweep.json").read_text())["searches"][0]
    assert compare_fronts.held_out_ce({**first, "valid_loss": None}) == first["valid_loss"]
    # the flags choose another network; the l2 sweep alone: no cost network of its own, the paper's at 32x32
    other = compare_fronts.main(compare_fronts.build_parser().parse_args(
        ["-l", str(runs["sweep"]), "--cost", "params", "--eval_channels", "8", "-o", str(tmp_path / "p.png")]))
    assert str(other["network"]) == "NetworkCIFAR(8, 10, 20) at 32x32"
    params = cost.CostModel.build("params", cost.EvalSpec(8, 10, 20, False, None))
    assert other["series"][0]["front"][-1]["cost"] == pytest.approx(
        params.genotype_cost(genotypes.PUBLISHED["DARTS_V2"]) / 1e6)
    empty = make_flops_sweep(tmp_path / "e", {})  # no search finished yet: an empty front is no result
    with pytest.raises(cost.UserError, match="no finished search to compare"):
        compare_fronts.main(compare_fronts.build_parser().parse_args(
            ["-l", str(empty), str(runs["sweep"]), "-o", str(tmp_path / "e.png")]))
    assert not (tmp_path / "e.png").exists()
    cifar = make_flops_sweep(tmp_path / "c10", {1.0: "DARTS_V2"}, dataset="cifar10")  # 10 classes too: one network
    compare_fronts.main(compare_fronts.build_parser().parse_args(
        ["-l", str(cifar), str(flops_sweep), "-o", str(tmp_path / "m.png")]))
    assert ("note: the sweeps searched 2 datasets (cifar10 1 sweep, digits 1 sweep): their held-out CEs are not "
            "comparable") in capsys.readouterr().err
    imagenet = make_flops_sweep(tmp_path / "i", {1.0: "DARTS_V2"}, space="imagenet")
    with pytest.raises(ValueError, match="different spaces or class counts"):
        compare_fronts.main(compare_fronts.build_parser().parse_args(
            ["-l", str(imagenet), str(runs["sweep"]), "-o", str(tmp_path / "x.png")]))
    assert not (tmp_path / "x.png").exists()
    bad = compare_fronts.build_parser().parse_args(["-l", str(flops_sweep), "--eval_layers", "0", "-o",
                                                    str(tmp_path / "x.png")])
    assert run_main(compare_fronts.main, bad) == 2
    assert capsys.readouterr().err.strip() == "error: --eval_layers 0 is too small (channels >= 2, layers >= 3)"
    for flag, value, message in (("--eval_channels", "1", "too small"), ("--eval_layers", "2", "too small"),
                                 ("--image_size", "6", "must be a multiple of 4")):
        bad = compare_fronts.build_parser().parse_args(["-l", str(flops_sweep), flag, value, "-o",
                                                        str(tmp_path / "x.png")])
        assert run_main(compare_fronts.main, bad) == 2  # the searches' rule for these flags
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"error: {flag} {value} ") and message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x.png").exists()


# --------------------------------------------------------------------------- analyse_train_logs


def test_analyse_train_logs_joins_runs_with_their_searches(runs: dict, tmp_path: Path, monkeypatch) -> None:
    costs = {code: {"parameters": 3_000_000, "flops": 5e8 + i, "latency_cpu_ms": None, "latency_gpu_ms": None,
                    "latency_gpu_b1_ms": None} for i, (_, code, _, _) in enumerate(analyse_train_logs.BASELINES)}

    def baseline_costs(args, with_latency: bool) -> tuple[dict, object]:  # profiling the 36x20 networks is slow
        return costs, tables.make_profiler(args, init_channels=36, layers=20, num_classes=10)

    monkeypatch.setattr(analyse_train_logs, "baseline_costs", baseline_costs)
    out = tmp_path / "loss_table.csv"
    args = analyse_train_logs.build_parser().parse_args(
        ["-t", str(runs["batch"]), "-s", str(runs["sweep"] / "log.txt"), "-e", str(runs["batch"] / "ensemble.json"),
         "-o", str(out), "--baselines", "yes", "--no_latency"])
    result = analyse_train_logs.main(args)
    df = tables.read_csv_exact(out)
    assert sorted(df["name"]) == sorted(["l2_loss_2e01", "l2_loss_3e02", "DARTS_V2", "DARTS_V1", "PC_DARTS_cifar"])
    rows = {r["name"]: r for _, r in df.iterrows()}
    for name, res in runs["results"].items():
        row = rows[name]
        for key in ("test_acc", "test_loss", "test_top5", "valid_acc", "valid_loss", "train_acc", "train_loss",
                    "epochs"):
            assert row[key] == res[key], (name, key)
        assert row["size_m"] == res["model_size"] and row["status"] == "done"
        assert Path(row["eval_dir"]) == Path(res["run_dir"]).resolve()
        net = build_eval_network(res["genotype"], 4, 3)
        assert row["parameters"] == count_parameters(net) and row["flops"] == count_flops(net)
    searches = json.loads((runs["sweep"] / "sweep.json").read_text())["searches"]
    # joined by name (the real run was trained from genotypes.json:l2_loss_2e01) and by identical cells (DARTS_V2)
    for name, index in (("l2_loss_2e01", 0), ("l2_loss_3e02", 1), ("DARTS_V2", 2)):
        s = searches[index]
        assert rows[name]["nu"] == s["weight"][0]
        assert rows[name]["search_criterion_loss"] == s["criterion_loss"]
        assert rows[name]["search_valid_loss"] == s["valid_loss"]
        assert rows[name]["search_reg_loss"] == s["reg_loss"]
        assert rows[name]["search_valid_acc"] == s["valid_acc"]
        assert Path(rows[name]["search_dir"]) == Path(s["run_dir"])
    assert math.isnan(rows["DARTS_V1"]["nu"]) and math.isnan(rows["DARTS_V1"]["search_criterion_loss"])
    running = rows["PC_DARTS_cifar"]  # still training: its last evaluated epoch
    assert running["status"] == "running" and running["test_acc"] == 64 and running["epochs"] == 3
    assert running["flops"] == count_flops(build_eval_network(genotypes.PC_DARTS_cifar, 4, 3))
    names = ["error_vs_params", "error_vs_flops", "search_vs_valid_loss", "search_vs_valid_error", "weight_vs_acc",
             "correlation_matrix"]
    assert [p.name for p in result["plots"]] == [f"loss_table_{n}.png" for n in names]
    for p in result["plots"]:
        assert_png(p)
    done = (df["status"] == "done").to_numpy()  # the run still training is left out
    sizes = df["size_m"].to_numpy(float)[done]
    errors = 100 - df["test_acc"].to_numpy(float)[done]
    expected = tables.front_hypervolume(sizes, errors)
    assert result["hypervolume"]["value"] == pytest.approx(expected[0]) and expected[0] > 0
    # the published networks on the plots are profiled too (their latency would be this machine's): recorded
    record = read_record(result["profile"])
    assert [p["init_channels"] for p in record["profilers"]] == [4, 36]
    assert record["profilers"][-1]["rows"] == [f"{code} (published, on the plots)"
                                               for _, code, _, _ in analyse_train_logs.BASELINES]
    assert record["profilers"][-1]["layers"] == 20 and record["profilers"][-1]["num_classes"] == 10


def write_unfinished(folder: Path, arch: str, test_acc: float) -> Path:
    """An eval run folder as train.py leaves it mid-training: args.json and the metrics of its first epochs."""
    folder.mkdir(parents=True)
    (folder / "args.json").write_text(json.dumps({"args": {"arch": arch, "init_channels": 4, "layers": 3,
                                                           "set": "digits", "epochs": 10}}))
    write_csv(folder / "metrics.csv", EVAL_METRICS, [
        {"epoch": e, "lr": 0.02, "drop_path_prob": 0.0, "train_loss": 1.0, "train_acc": 60, "train_top5": 90,
         "valid_loss": 0.9, "valid_acc": 61, "valid_top5": 91, "test_loss": 0.1, "test_acc": test_acc - 1 + e,
         "test_top5": 92, "epoch_time": 1.0} for e in range(2)])
    return folder


def unfinished_runs(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Two finished runs, one still training (its lock held) and one killed holding its lock (its pid left in
    the lock file, no holder): the unfinished two with test errors that would lead the front."""
    root = tmp_path / "runs"
    write_eval(root / "eval-DARTS_V2-1", "DARTS_V2", "DARTS_V2", 95.5, 95.0)
    write_eval(root / "eval-DARTS_V1-1", "DARTS_V1", "DARTS_V1", 94.0, 94.5)
    live = write_unfinished(root / "eval-PC_DARTS_cifar-1", "PC_DARTS_cifar", 98.0)
    killed = write_unfinished(root / "eval-l2_loss_2e01-1", "l2_loss_2e01", 99.0)
    (killed / ".lock").write_text("4000000\n")  # a pid that no process has
    return root, live, killed


@pytest.fixture(scope="module")
def unfinished_analysis(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """analyse_train_logs -t of unfinished_runs while the live one trains (holds its lock): its result, what it
    printed, its folders and the table it wrote (-o t.csv). One analysis, read by the tests of unfinished runs."""
    folder = tmp_path_factory.mktemp("unfinished")
    root, live, killed = unfinished_runs(folder)
    printed = io.StringIO()
    with lock_run_dir(live), contextlib.redirect_stdout(printed):
        result = analyse_train_logs.main(analyse_train_logs.build_parser().parse_args(
            ["-t", str(root), "-o", str(folder / "t.csv"), "--baselines", "no", "--no_latency"]))
    return {"result": result, "out": printed.getvalue(), "live": live, "killed": killed, "csv": folder / "t.csv"}


def test_analyse_train_logs_tells_a_killed_training_from_one_still_training(unfinished_analysis: dict) -> None:
    """A training killed with kill -9 showed as "running" (still training) for ever: no process holds its lock."""
    result, live, killed = (unfinished_analysis[k] for k in ("result", "live", "killed"))
    status = dict(zip(result["table"]["name"], result["table"]["status"]))
    assert status == {"DARTS_V2": "done", "DARTS_V1": "done", "PC_DARTS_cifar": "running", "l2_loss_2e01": "stopped"}
    written = pd.read_csv(unfinished_analysis["csv"])
    assert dict(zip(written["name"], written["status"])) == status
    out = unfinished_analysis["out"]
    assert (f"note: {killed.resolve()} stopped before it finished (no process holds its lock: killed, crashed or "
            "interrupted); the table has its last evaluated epoch; "
            f"{shlex.join(['python', 'train.py', '--resume', str(killed.resolve())])} continues it") in out
    assert f"{live.name} stopped" not in out  # the run still training has no note
    assert dict(zip(result["summary"]["name"], result["summary"]["status"])) == status  # stopped is not done


def test_analyse_train_logs_hypervolume_is_over_finished_runs(unfinished_analysis: dict) -> None:
    """A run's last evaluated epoch is no result: runs still training, or stopped, entered the hypervolume."""
    result = unfinished_analysis["result"]
    df = result["table"]
    done = (df["status"] == "done").to_numpy()
    expected = tables.front_hypervolume(df["size_m"].to_numpy(float)[done], 100 - df["test_acc"].to_numpy(float)[done])
    assert result["hypervolume"] == {"value": pytest.approx(expected[0]), "reference": list(expected[1])}
    assert expected[1][1] == pytest.approx(6.0 * 1.1)  # the worse finished run's error, + 10 %
    assert ("note: the evaluation hypervolume is over the finished runs only: left out 1 run still training and "
            "1 run stopped") in unfinished_analysis["out"]


def test_the_evaluation_front_is_that_of_the_finished_networks() -> None:
    """A run still training, at its last evaluated epoch, is no result: the hypervolume leaves it out, yet the
    summary's pareto_params and the drawn front took it in, and marked the finished A off the front it is on."""
    df = analyse_train_logs._typed(pd.DataFrame({"name": ["A", "B", "C"], "test_acc": [95.0, 94.0, 99.0],
                                                 "size_m": [2.0, 1.0, 1.5], "status": ["done", "done", "running"]}))
    summary = analyse_train_logs.summary_table(df)
    assert dict(zip(summary["name"], summary["pareto_params"])) == {"A": True, "B": True, "C": False}
    fig = analyse_train_logs.error_vs_figure(df, "parameters_m", (4, 3), False, [], [])
    (step,) = [line for line in fig.axes[0].lines if line.get_label() == "Pareto front of these networks"]
    assert list(step.get_xdata()) == [1.0, 2.0] and list(step.get_ydata()) == [6.0, 5.0]
    plots.plt.close(fig)


def test_analyse_train_logs_records_each_network_it_profiled(tmp_path: Path) -> None:
    """Runs trained at C=4 and C=8 are profiled by one profiler each ("profiled as trained: ..." on the terminal
    only): <stem>_profile.json lists both, each with the rows it measured."""
    root = tmp_path / "runs"
    write_eval(root / "eval-DARTS_V2-1", "DARTS_V2", "DARTS_V2", 95.5, 95.0)
    write_eval(root / "eval-DARTS_V1-1", "DARTS_V1", "DARTS_V1", 94.0, 94.5)
    wide = root / "eval-PC_DARTS_cifar-1"
    result = write_eval(wide, "PC_DARTS_cifar", "PC_DARTS_cifar", 96.0, 96.5)
    (wide / "result.json").write_text(json.dumps({**result, "init_channels": 8}))
    out = tmp_path / "t.csv"
    analysis = analyse_train_logs.main(analyse_train_logs.build_parser().parse_args(
        ["-t", str(root), "-o", str(out), "--baselines", "no", "--no_latency"]))
    record = read_record(tmp_path / "t_profile.json")
    assert analysis["profile"] == tmp_path / "t_profile.json" and record["table"] == "t.csv"
    by_channels = {p["init_channels"]: p for p in record["profilers"]}
    assert sorted(by_channels) == [4, 8] and len(record["profilers"]) == 2
    assert sorted(by_channels[4]["rows"]) == ["DARTS_V1", "DARTS_V2"] and by_channels[8]["rows"] == ["PC_DARTS_cifar"]
    for profiler in record["profilers"]:
        assert profiler["layers"] == 3 and profiler["input"] == [1, 3, 32, 32] and profiler["latency"] is False
    df = analysis["table"].set_index("name")
    assert df.loc["PC_DARTS_cifar", "parameters"] == count_parameters(
        build_eval_network(genotypes.PC_DARTS_cifar, 8, 3))
    assert set(pd.read_csv(out).columns) == set(analyse_train_logs.TABLE_COLUMNS)  # no column added


def test_analyse_train_logs_replots_an_original_table(tmp_path: Path) -> None:
    original = tmp_path / "l1_loss_table.csv"
    original.write_text(
        "Model name,weight,Size,train_loss,train_acc,valid_loss,valid_acc,test_loss,test_acc,"
        "Search criterion loss,Search regularization loss,Search accuracy,Parameters,FLOPs,Latency GPU,Latency CPU\n"
        "l1_loss_1e02,0.01,1.72,0.84,79.5,0.19,93.4,0.20,93.16,1.96,18.7,14.8,2196264,272062080,13.2,65.7\n"
        "l1_loss_3e03,0.003,2.56,0.78,78.8,0.14,95.1,0.15,94.54,1.27,105.4,50.7,3037152,392441472,22.7,111.1\n"
        "l1_loss_2e04,0.0002,3.73,0.18,96.0,0.13,97.0,0.12,96.89,0.46,1536.4,83.6,4209600,595156608,31.1,221.8\n"
        "l1_loss_6e05,6e-05,3.08,0.05,98.8,0.12,97.0,0.12,96.79,0.35,9315.9,84.8,3553608,483735168,21.9,163.0\n")
    out = tmp_path / "replot.csv"
    args = analyse_train_logs.build_parser().parse_args(["-d", str(original), "-o", str(out), "--baselines", "no",
                                                         "-c"])
    (tmp_path / "replot_profile.json").write_text("{}")  # an earlier record of that name
    result = analyse_train_logs.main(args)
    assert (tmp_path / "replot_profile.json").read_text() == "{}"  # a re-plot profiles nothing: none written or lost
    assert result["profile"] is None
    df = pd.read_csv(out)
    assert list(df["test_acc"]) == [93.16, 94.54, 96.89, 96.79]
    assert list(df["search_criterion_loss"]) == [1.96, 1.27, 0.46, 0.35]
    assert list(df["search_valid_acc"]) == [14.8, 50.7, 83.6, 84.8]
    assert list(df["latency_cpu_ms"]) == [65.7, 111.1, 221.8, 163.0]
    names = {p.name for p in result["plots"]}
    assert {"replot_error_vs_latency_cpu.png", "replot_error_vs_latency_gpu.png", "replot_error_vs_flops.png",
            "replot_error_vs_params.png", "replot_correlation_matrix.png"} <= names
    for p in result["plots"]:
        assert_png(p)
    # the evaluation front: (1.72, 6.84), (2.56, 5.46), (3.08, 3.21) are non-dominated, (3.73, 3.11) too
    ref = (3.73 * 1.1, 6.84 * 1.1)
    points = [(1.72, 100 - 93.16), (2.56, 100 - 94.54), (3.73, 100 - 96.89), (3.08, 100 - 96.79)]
    assert result["hypervolume"]["value"] == pytest.approx(hypervolume_2d(points, ref))


def test_a_replot_without_o_draws_beside_its_table_and_writes_over_no_other(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """-d T without -o copied T to the default loss_table.csv / search_table.csv, replacing another analysis's table
    in the working folder without a word; the plots now go beside T, which is not rewritten."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tables").mkdir()
    for tool, default, rows in (
            (analyse_train_logs, "loss_table.csv", "name,nu,size_m,test_acc\na,0.1,1.5,90.0\nb,0.01,2.5,93.0\n"),
            (analyse_search_logs, "search_table.csv",
             "name,nu,search_reg_loss,search_criterion_loss\na,0.1,1.0,2.0\nb,0.01,3.0,1.0\n")):
        (tmp_path / default).write_text("another analysis\n")
        table = tmp_path / "tables" / f"thesis_{default}"
        table.write_text(rows)
        flags = ["--baselines", "no"] if tool is analyse_train_logs else []
        result = tool.main(tool.build_parser().parse_args(["-d", str(table), *flags]))
        assert (tmp_path / default).read_text() == "another analysis\n" and table.read_text() == rows
        assert result["plots"] and all(p.parent == table.parent and p.name.startswith(table.stem)
                                       for p in result["plots"])
        # a re-plot profiles nothing: a profiling flag typed with -d was ignored without a word
        extra = ["--layers", "8", "--no_latency"] if tool is analyse_search_logs else ["--threads", "1"]
        with pytest.raises(UserError, match=r"^(--layers and --no_latency act|--threads acts) only where networks "
                                            r"are profiled; -d .* re-plots a table as it was measured"):
            tool.main(tool.build_parser().parse_args(["-d", str(table), *flags, *extra]))


def test_the_evaluation_hypervolume_of_a_table_with_only_a_parameter_count_is_its_plotted_front(tmp_path: Path,
                                                                                              capsys) -> None:
    """A table with a parameters column and no size_m drew its front against parameters (M) and printed the
    hypervolume as n/a: it read size_m alone."""
    table = tmp_path / "table.csv"
    table.write_text("name,test_acc,parameters\nl2_loss_2e01,93.0,1700000\nl2_loss_3e02,95.0,2600000\n")
    result = analyse_train_logs.main(analyse_train_logs.build_parser().parse_args(
        ["-d", str(table), "-o", str(tmp_path / "out.csv"), "--baselines", "no"]))
    expected = hypervolume_2d([(1.7, 7.0), (2.6, 5.0)], (2.6 * 1.1, 7.0 * 1.1))
    assert result["hypervolume"]["value"] == pytest.approx(expected)
    assert "n/a" not in capsys.readouterr().out


def test_minus_s_beside_minus_d_is_said_to_be_unread(tmp_path: Path, capsys) -> None:
    """-d TABLE -s SWEEP re-plotted the table and dropped -s without a word, as if the join had been made."""
    table = tmp_path / "table.csv"
    table.write_text("name,test_acc,size_m\nl2_loss_2e01,93.1,1.7\n")
    analyse_train_logs.main(analyse_train_logs.build_parser().parse_args(
        ["-d", str(table), "-s", str(make_sweep(tmp_path / "s")), "-o", str(tmp_path / "out.csv"), "--baselines",
         "no"]))
    assert "note: -s is not read with -d" in capsys.readouterr().out


def test_a_bad_ensemble_file_fails_before_the_table_is_rewritten(tmp_path: Path, capsys) -> None:
    """A misspelt -e replaced loss_table.csv and its summary, then failed."""
    original = tmp_path / "table.csv"
    original.write_text("name,test_acc,size_m\nl2_loss_2e01,93.1,1.7\nl2_loss_3e02,94.5,2.6\n")
    out = tmp_path / "loss_table.csv"
    parse = analyse_train_logs.build_parser().parse_args
    analyse_train_logs.main(parse(["-d", str(original), "-o", str(out), "--baselines", "no"]))
    written = {p.name: p.read_bytes() for p in tmp_path.glob("loss_table*.csv")}
    assert set(written) == {"loss_table.csv", "loss_table_summary.csv"}
    capsys.readouterr()
    analyse_train_logs.main(parse(["-d", str(out), "-o", str(out), "--baselines", "no"]))  # re-plotted in place
    assert f"table: {out} (re-plotted in place, not rewritten)\n" in capsys.readouterr().out
    assert (out.read_bytes()) == written["loss_table.csv"]
    original.write_text("name,test_acc,size_m\nl2_loss_2e01,50.0,1.7\n")
    bad = parse(["-d", str(original), "-o", str(out), "--baselines", "no", "-e", str(tmp_path / "ensmble.json")])
    assert run_main(analyse_train_logs.main, bad) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert {p.name: p.read_bytes() for p in tmp_path.glob("loss_table*.csv")} == written


def test_a_bad_ensemble_file_fails_before_the_runs_are_profiled(runs: dict, tmp_path: Path, capsys,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A misspelt -e was read after every network had been profiled (minutes with latency at the paper's size)."""
    def profiled(*_: object) -> None:
        raise AssertionError("profiled before -e was read")

    monkeypatch.setattr(analyse_train_logs, "train_table", profiled)
    a_training = Path(next(iter(runs["results"].values()))["run_dir"]) / "result.json"  # its test_acc: "ensemble of 0"
    for bad in (tmp_path / "ensmble.json", runs["batch"] / "trained.csv", a_training):
        args = analyse_train_logs.build_parser().parse_args(["-t", str(runs["batch"]), "-o", str(tmp_path / "t"),
                                                             "-e", str(bad)])
        assert run_main(analyse_train_logs.main, args) == 2
        assert str(bad) in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("text", ["[[1, 2]]", "[1, 2]", "null"])
def test_a_result_json_that_is_no_object_is_one_line_naming_it(tmp_path: Path, capsys, text: str) -> None:
    """dict() of [[1, 2]] made a run with no results, left out of the table without a word; [1, 2] a traceback."""
    run = tmp_path / "batch" / "eval-x-1"
    run.mkdir(parents=True)
    (run / "args.json").write_text(json.dumps({"kind": "train", "args": {"arch": "DARTS_V2", "set": "digits"}}))
    (run / "result.json").write_text(text)
    args = analyse_train_logs.build_parser().parse_args(["-t", str(tmp_path / "batch"), "-o", str(tmp_path / "t"),
                                                         "--no_latency"])
    assert run_main(analyse_train_logs.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: {run / 'result.json'} is not a train.py result (no JSON object): restore it, or move its "
                   "run folder out of -t"), err
    assert not list(tmp_path.glob("t*"))


@pytest.mark.parametrize("tool", [analyse_search_logs, analyse_train_logs])
def test_a_run_folder_given_as_a_table_says_which_flag_reads_it(runs: dict, tmp_path: Path, capsys,
                                                                tool: object) -> None:
    """-d SWEEP_DIR said "no such table" of a folder that is there."""
    args = tool.build_parser().parse_args(["-d", str(runs["sweep"]), "-o", str(tmp_path / "t.csv")])
    assert run_main(tool.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {runs['sweep']} is a folder, not a ") and "read with -l" in err and "\n" not in err


@pytest.mark.parametrize("tool", [analyse_search_logs, analyse_train_logs])
@pytest.mark.parametrize("name, said", [("sweep.json", "read with -l"), ("ensemble.json", "with -e"),
                                        ("log.txt", "read with -l"), ("genotypes.json", "CSV table")])
def test_a_runs_json_or_log_given_as_a_table_says_what_it_is(runs: dict, tmp_path: Path, capsys, tool: object,
                                                             name: str, said: str) -> None:
    """-d sweep.json said "has none of the known columns ({)", -d log.txt "Error tokenizing data. C error"."""
    given = runs["sweep"] / name
    if not given.is_file():
        given = tmp_path / name
        given.write_text('{"a": 1, "b": [1, 2]}\n' if name.endswith(".json") else "12/06 06:44:02 PM a, b, c\n")
    args = tool.build_parser().parse_args(["-d", str(given), "-o", str(tmp_path / "t.csv")])
    assert run_main(tool.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {given} is ") and ", not a " in err and said in err and "\n" not in err
    assert not (tmp_path / "t.csv").exists()


@pytest.mark.parametrize("tool, needs", [(analyse_train_logs, "test_acc"), (analyse_search_logs, "search_reg_loss")])
@pytest.mark.parametrize("content", ["model size,batch size,GPU mb\n1.37,32,2911\n", "name,test_acc,size_m,"
                                     "search_reg_loss,search_criterion_loss\n"])
def test_a_table_of_something_else_is_refused(tmp_path: Path, capsys, tool: object, needs: str,
                                              content: str) -> None:
    """The memory model's batch_data.csv (its "model size" reads as a size column) or a header alone gave a
    table of NaN, plots of nothing and exit 0."""
    data = tmp_path / "data.csv"
    data.write_text(content)
    args = tool.build_parser().parse_args(["-d", str(data), "-o", str(tmp_path / "out.csv")])
    assert run_main(tool.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and (f"has no {needs} " in err if "model size" in content
                                           else err.endswith("has no rows")), err
    assert not (tmp_path / "out.csv").exists()


def test_a_budget_names_the_best_network_within_every_limit(tmp_path: Path, capsys, monkeypatch) -> None:
    """The thesis's l1 table (parameters, FLOPs, latency): the lowest test error within the limits given. The
    first pick runs the whole tool; the others draw no plots (5 figures, some 7 s here, drawn after the pick and
    its line are made: nothing of theirs is checked)."""
    original = tmp_path / "l1_loss_table.csv"
    original.write_text(
        "Model name,weight,Size,test_acc,Search criterion loss,Search regularization loss,Parameters,FLOPs,"
        "Latency CPU\n"
        "l1_loss_1e02,0.01,1.72,93.16,1.96,18.7,2196264,272062080,65.7\n"
        "l1_loss_3e03,0.003,2.56,94.54,1.27,105.4,3037152,392441472,111.1\n"
        "l1_loss_2e04,0.0002,3.73,96.89,0.46,1536.4,4209600,595156608,221.8\n"
        "l1_loss_6e05,6e-05,3.08,96.79,0.35,9315.9,3553608,483735168,163.0\n")

    def pick(*budget: str) -> tuple[str | None, str]:
        result = analyse_train_logs.main(analyse_train_logs.build_parser().parse_args(
            ["-d", str(original), "-o", str(tmp_path / "t.csv"), "--baselines", "no", *budget]))
        line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("budget"))
        return result["pick"], line

    assert pick("--max_params", "10")[0] == "l1_loss_2e04"  # everything fits: the best of all
    monkeypatch.setattr(analyse_train_logs, "make_plots", lambda *args, **kwargs: [])
    name, line = pick("--max_params", "3.6")
    assert name == "l1_loss_6e05"
    assert line == ("budget <= 3.6 M parameters: 3 of 4 networks fit; the best is l1_loss_6e05 (test error 3.21 %; "
                    "3.554 M parameters, 483.7 M FLOPs, 163 ms CPU latency)")
    assert pick("--max_params", "3.6", "--max_latency_cpu", "150")[0] == "l1_loss_3e03"
    assert pick("--max_flops", "392.441472")[0] == "l1_loss_3e03"  # the limit itself fits
    name, line = pick("--max_flops", "200", "--max_params", "3")
    assert name is None and line.endswith("none of the 4 networks fits; the nearest is l1_loss_1e02 (2.196 M "
                                           "parameters, 272.1 M FLOPs, 65.7 ms CPU latency)")
    (tmp_path / "runs").mkdir()
    for source, bad, why in (
            (["-d", str(original)], ["--max_latency_gpu", "5"], "--max_latency_gpu: the table has no latency_gpu_ms"),
            (["-d", str(original)], ["--max_flops", "0"], "--max_flops must be a number > 0, got 0.0"),
            (["-t", str(tmp_path / "runs")], ["--max_latency_cpu", "5", "--no_latency"],
             "--max_latency_cpu needs the latency measured: drop --no_latency"),
            (["-t", str(tmp_path / "runs")], ["--max_latency_gpu", "5", "--device", "cpu"],
             "--max_latency_gpu needs a GPU")):
        args = analyse_train_logs.build_parser().parse_args([*source, "-o", str(tmp_path / "u.csv"),
                                                             "--baselines", "no", *bad])
        assert run_main(analyse_train_logs.main, args) == 2
        assert why in capsys.readouterr().err
    assert not list(tmp_path.glob("u*"))  # bad limits are refused before anything is written


def test_the_train_command_of_a_budget_pick_builds_the_profiled_network(runs: dict, tmp_path: Path, capsys,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The budget is checked on the profiled network (--init_channels 4 --layers 3 here): the printed command
    trained train.py's default 36 channels and 20 cells instead, a network hundreds of times over the limit."""
    # the plots of this sweep's table are drawn and checked by test_analyse_search_logs_tables_the_pareto_searches;
    # drawn after the train command is printed, nothing of them is checked here
    monkeypatch.setattr(analyse_search_logs, "make_plots", lambda *args, **kwargs: [])
    args = analyse_search_logs.build_parser().parse_args(
        ["-l", str(runs["sweep"]), "-o", str(tmp_path / "t.csv"), "--max_params", "1", *TINY])
    result = analyse_search_logs.main(args)
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("train it: "))
    words = shlex.split(line.removeprefix("train it: "))
    assert words[:2] == ["python", "train.py"]
    pasted, _ = train.network_settings(train.build_parser().parse_args(words[2:]), [words[3]])
    assert (pasted.init_channels, pasted.layers) == (4, 3)
    assert words[3].endswith(f"genotypes.json:{result['pick']}")


def test_analyse_train_logs_takes_each_search_ce_from_its_own_front(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    """A cost sweep's front has the held-out CE, l1/l2's the training CE (pareto.front_ce_key): so do the tools."""
    header = "name,nu,size_m,valid_loss,valid_acc,test_acc,search_criterion_loss,search_valid_loss,search_reg_loss,"
    flops = tmp_path / "flops.csv"
    flops.write_text(header + "objective\n"
                     "flops_loss_8e01,0.8,0.02,0.30,91.0,90.0,0.50,0.90,4.0,flops\n"
                     "flops_loss_0e00,0.0,0.06,0.20,95.0,94.0,0.60,0.40,10.0,flops\n")
    result = analyse_train_logs.main(analyse_train_logs.build_parser().parse_args(
        ["-d", str(flops), "-o", str(tmp_path / "f.csv"), "--baselines", "no"]))
    assert result["search_hypervolume"]["value"] == pytest.approx(
        hypervolume_2d([(4.0, 0.9), (10.0, 0.4)], (11.0, 0.99)))
    assert "penalty R, held-out CE" in capsys.readouterr().out
    fig = analyse_train_logs.pair_figure(result["table"], tables.search_front_ce(result["table"]),
                                         result["table"]["valid_loss"].to_numpy(float), "x", "y", "t", (5, 4),
                                         False)
    assert sorted(float(x) for c in fig.axes[0].collections for x, _ in c.get_offsets()) == [0.4, 0.9]
    assert analyse_train_logs.search_ce_label(result["table"]).startswith("search held-out cross-entropy")
    mixed = tmp_path / "mixed.csv"
    mixed.write_text(flops.read_text() + "l2_loss_2e01,0.2,0.03,0.25,93.0,92.0,1.10,1.30,1.5,l2\n")
    result = analyse_train_logs.main(analyse_train_logs.build_parser().parse_args(
        ["-d", str(mixed), "-o", str(tmp_path / "m.csv"), "--baselines", "no"]))
    assert tables.search_front_ce(result["table"]).tolist() == [0.9, 1.1, 0.4]  # nu 0.8, 0.2 (l2), 0
    assert result["search_hypervolume"] is None
    assert "come from sweeps of flops, l2: their R are in different units" in capsys.readouterr().out


def test_runs_that_join_no_search_of_minus_s_are_named(runs: dict, tmp_path: Path, capsys, monkeypatch) -> None:
    """A -t batch with the -s of another sweep gave a table whose search columns were all empty, silently."""
    other = make_flops_sweep(tmp_path / "other", {1.0: "PC_DARTS_image"})
    parse = analyse_train_logs.build_parser().parse_args
    analyse_train_logs.main(parse(["-t", str(runs["batch"]), "-s", str(other), "-o", str(tmp_path / "a.csv"),
                                   "--no_latency"]))
    notes = [line for line in capsys.readouterr().out.splitlines() if "joined a search of -s" in line]
    assert len(notes) == 1 and notes[0].startswith("note: none of the runs joined a search of -s")
    assert all(name in notes[0] for name in ("l2_loss_2e01", "l2_loss_3e02", "DARTS_V2", "DARTS_V1", "PC_DARTS_cifar"))
    # the plots of this batch joined with its sweep are test_analyse_train_logs_joins_runs_with_their_searches's (and
    # checked there); drawn after the note, nothing of them is checked here (6 figures: most of a run's time)
    monkeypatch.setattr(analyse_train_logs, "make_plots", lambda *args, **kwargs: [])
    analyse_train_logs.main(parse(["-t", str(runs["batch"]), "-s", str(runs["sweep"]), "-o", str(tmp_path / "b.csv"),
                                   "--no_latency"]))
    notes = [line for line in capsys.readouterr().out.splitlines() if "joined a search of -s" in line]
    assert notes == ["note: 2 of the 5 runs joined a search of -s (no search there found the same cells): DARTS_V1, "
                     "PC_DARTS_cifar; their search columns are empty, and their nu is read from the name where it "
                     "encodes one"]


def test_a_name_joins_a_search_only_with_the_same_cells() -> None:
    """The published l2_loss_2e01 is not a sweep's own l2_loss_2e01, and two sweeps may each hold one."""
    def entry(sweep: str, genotype: genotypes.Genotype, nu: float) -> dict:
        return {"name": "l2_loss_2e01", "genotype": genotypes.genotype_to_dict(genotype), "weight": [nu, 1 - nu],
                "run_dir": f"{sweep}/search-00", "pareto": True}

    index = [entry("a", genotypes.DARTS_V1, 0.2), entry("b", genotypes.DARTS_V2, 0.2),
             {**entry("b", genotypes.NASNet, 0.03), "name": "l2_loss_3e02", "run_dir": "b/search-01"}]

    def match(genotype: genotypes.Genotype, name: str = "l2_loss_2e01") -> str | None:
        found = analyse_train_logs.match_search({"arch": name, "genotype": genotypes.genotype_to_dict(genotype)},
                                                index)
        return found["run_dir"] if found else None

    assert match(genotypes.PUBLISHED["l2_loss_2e01"]) is None  # same name, other cells than both sweeps'
    assert match(genotypes.DARTS_V2) == "b/search-00" and match(genotypes.DARTS_V1) == "a/search-00"
    assert match(genotypes.NASNet) == "b/search-01"  # the name's cells are another search's: joined by cells
    assert analyse_train_logs.match_search({"arch": "l2_loss_2e01", "genotype": None}, index) is None


@pytest.mark.parametrize("text", ["[1]", '{"args": [1]}', "null"])
def test_a_running_trainings_damaged_args_json_is_one_line_naming_it(tmp_path: Path, capsys, text: str) -> None:
    """A running training is read from its args.json; one that held no "args" object stopped the tool with an
    AttributeError traceback."""
    run = tmp_path / "eval-DARTS_V2-1"
    run.mkdir()
    (run / "args.json").write_text(text)
    write_csv(run / "metrics.csv", EVAL_METRICS, [
        {"epoch": 0, "lr": 0.02, "drop_path_prob": 0.0, "train_loss": 1.0, "train_acc": 60, "train_top5": 90,
         "valid_loss": 0.9, "valid_acc": 61, "valid_top5": 91, "test_loss": 0.8, "test_acc": 62, "test_top5": 92,
         "epoch_time": 1.0}])
    args = analyse_train_logs.build_parser().parse_args(["-t", str(run), "-o", str(tmp_path / "t.csv"), "--no_latency"])
    assert run_main(analyse_train_logs.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {run / 'args.json'} is not a train.py args.json") and "\n" not in err


@pytest.mark.parametrize("text", ["[1]", '{"args": [1]}', "{not json"])
def test_a_finished_trainings_damaged_args_json_is_one_line_naming_it(tmp_path: Path, capsys, text: str) -> None:
    """A finished training's image size is only in its args.json: a damaged one was read as "the dataset's own
    side", and a run trained at 8x8 was profiled at 32x32 (16 times its FLOPs) without a word."""
    run = tmp_path / "eval-DARTS_V2-1"
    run.mkdir()
    (run / "args.json").write_text(text)
    (run / "result.json").write_text(json.dumps({"test_acc": 62.0, "test_loss": 0.8, "arch": "DARTS_V2",
                                                 "init_channels": 4, "layers": 3}))
    args = analyse_train_logs.build_parser().parse_args(["-t", str(run), "-o", str(tmp_path / "t.csv"), "--no_latency"])
    assert run_main(analyse_train_logs.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {run / 'args.json'} is ") and "\n" not in err
    assert err.endswith("restore it, or move its run folder out of -t") and not (tmp_path / "t.csv").exists()


def test_a_running_training_takes_its_own_genotype_json(tmp_path: Path, monkeypatch) -> None:
    """Its --arch is relative to where train.py ran (here nowhere): the folder's genotype.json has the cells."""
    running = tmp_path / "batch" / "eval-l2_loss_2e01-1"
    running.mkdir(parents=True)
    (running / "args.json").write_text(json.dumps({"kind": "train", "args": {
        "arch": "logs/multi-search-digits-EXP-1/genotypes.json:l2_loss_2e01", "init_channels": 4, "layers": 3,
        "set": "digits", "epochs": 10}}))
    genotypes.save_genotype(genotypes.DARTS_V1, running / "genotype.json")
    write_csv(running / "metrics.csv", EVAL_METRICS, [
        {"epoch": 0, "lr": 0.02, "drop_path_prob": 0.0, "train_loss": 1.0, "train_acc": 60, "train_top5": 90,
         "valid_loss": 0.9, "valid_acc": 61, "valid_top5": 91, "test_loss": 0.8, "test_acc": 62, "test_top5": 92,
         "epoch_time": 1.0}])
    monkeypatch.chdir(tmp_path)  # the relative --arch does not resolve from here
    with lock_run_dir(running):  # at work: a training holds its folder's lock
        run = analyse_train_logs.read_eval_run(running)
    assert run["status"] == "running" and run["arch"] == "l2_loss_2e01"
    assert run["genotype"] == genotypes.genotype_to_dict(genotypes.DARTS_V1)


def test_a_cifar_subcommand_sweep_of_set_imagenet_is_read_as_the_imagenet_space(tmp_path: Path) -> None:
    """`multiobjective.py -o l2 cifar --set imagenet` searches the ImageNet variant but its sweep.json says space
    "cifar": read so, its genotypes were profiled as NetworkCIFAR, not as the NetworkImageNet its searches built."""
    sweep = make_sweep(tmp_path)
    state = json.loads((sweep / "sweep.json").read_text())
    state["args"]["set"] = "imagenet"
    (sweep / "sweep.json").write_text(json.dumps(state))
    assert tables.load_sweep(sweep)["space"] == "imagenet"
    assert tables.load_sweep(make_sweep(tmp_path / "digits"))["space"] == "cifar"


def test_a_running_training_on_an_image_folder_is_profiled_with_its_classes(tmp_path: Path) -> None:
    """A running run has no result.json's num_classes: its args.json's classes give them, not the dataset's default
    of 10 (a 3-class tree's network was profiled with a 10-way classifier, other numbers than once finished)."""
    running = tmp_path / "batch" / "eval-DARTS_V1-1"
    running.mkdir(parents=True)
    (running / "args.json").write_text(json.dumps({"kind": "train", "args": {
        "arch": "DARTS_V1", "init_channels": 4, "layers": 3, "set": "folder", "image_size": 8, "epochs": 10},
        "classes": ["cat", "dog", "emu"]}))
    genotypes.save_genotype(genotypes.DARTS_V1, running / "genotype.json")
    write_csv(running / "metrics.csv", EVAL_METRICS, [
        {"epoch": 0, "lr": 0.02, "drop_path_prob": 0.0, "train_loss": 1.0, "train_acc": 60, "train_top5": 90,
         "valid_loss": 0.9, "valid_acc": 61, "valid_top5": 91, "test_loss": 0.8, "test_acc": 62, "test_top5": 92,
         "epoch_time": 1.0}])
    with lock_run_dir(running):  # at work: a training holds its folder's lock
        run = analyse_train_logs.read_eval_run(running)
    assert run["status"] == "running" and run["num_classes"] == 3
    df = analyse_train_logs.train_table([run], [], analyse_train_logs.build_parser().parse_args(
        ["-t", str(tmp_path / "batch"), "--no_latency"]))
    assert df.loc[0, "parameters"] == count_parameters(build_eval_network(genotypes.DARTS_V1, 4, 3, 3))


def test_a_copied_batch_is_read_as_it_is_not_through_the_paths_it_recorded(runs: dict, tmp_path: Path,
                                                                            capsys: pytest.CaptureFixture) -> None:
    """trained.csv's run_dir names the folders where the batch was made: a copy with one training deleted counted
    the original of that training again, and every run's eval_dir named the original (two seeds where one ran).
    The training left out is said (a partial copy had been tabled as the whole batch)."""
    copy = tmp_path / "results" / "batch-train-EXP-20260101-000000"
    shutil.copytree(runs["batch"], copy)
    shutil.rmtree(copy / "eval-DARTS_V1-1")
    found = analyse_train_logs.eval_folders([str(copy)])
    assert capsys.readouterr().out == (f"note: {copy / 'trained.csv'} lists 1 training(s) that are not in {copy} "
                                       "(eval-DARTS_V1-1): left out (a partial copy, or deleted since)\n")
    assert sorted(p.name for p in found) == sorted(p.name for p in copy.iterdir() if p.name.startswith("eval-"))
    assert all(p.parent == copy.resolve() for p in found) and len(found) == 4
    read = analyse_train_logs.read_eval_run(copy.resolve() / "eval-DARTS_V2-1")
    assert read["run_dir"] == str(copy.resolve() / "eval-DARTS_V2-1")  # result.json recorded the original


def test_the_trainings_a_batch_has_not_started_are_named(runs: dict, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    """A batch at work, or stopped half-way, was tabled as if its finished trainings were all it had: the ones it
    has queued and not begun (no folder yet) are named, with what the batch is doing."""
    from utils import lock_run_dir

    batch = tmp_path / "batch-train-EXP-20260101-000000"
    shutil.copytree(runs["batch"], batch)
    begun = [{"label": p.name, "status": "done", "run_dir": str(p)} for p in sorted(batch.glob("eval-*"))]
    queued = {"label": "cellQ", "status": "pending", "run_dir": None, "seed": 3}
    (batch / "batch.json").write_text(json.dumps({"entries": [*begun, queued]}))
    (batch / "args.json").write_text(json.dumps({"kind": "batch", "args": {}}))  # as batch_train writes it
    note = f"note: {batch} has 1 training(s) not started yet (cellQ (seed 3)): "
    analyse_train_logs.eval_folders([str(batch)])
    assert capsys.readouterr().out == f"{note}it was stopped; python batch_train.py --resume {batch} continues it\n"
    with lock_run_dir(batch):
        analyse_train_logs.eval_folders([str(batch)])
    assert capsys.readouterr().out == f"{note}it is still running\n"
    queued.update(run_dir=begun[0]["run_dir"])  # begun: its folder is there, and its row tells the rest
    (batch / "batch.json").write_text(json.dumps({"entries": [*begun, queued]}))
    analyse_train_logs.eval_folders([str(batch)])
    assert capsys.readouterr().out == ""


def test_a_training_its_batch_recorded_failed_is_no_network_still_training(runs: dict, tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A training that stopped for good (a NaN loss) kept its metrics.csv, and the table and plots showed it as
    "still training" at its last evaluated epoch: a network on the front that batch.json says failed."""
    copy = tmp_path / "batch-train-EXP-20260101-000000"
    shutil.copytree(runs["batch"], copy)
    failed = copy / "eval-PC_DARTS_cifar-1"
    entries = [{"spec": "PC_DARTS_cifar", "label": "PC_DARTS_cifar", "status": "failed", "run_dir": "/elsewhere/"
                f"{failed.name}", "error": "the loss became nan at epoch 3 step 4: lower --learning_rate"},
               {"spec": "DARTS_V2", "label": "DARTS_V2", "status": "failed", "run_dir": str(copy / "eval-DARTS_V2-1")}]
    (copy / "batch.json").write_text(json.dumps({"args": {}, "entries": entries}))
    parse = analyse_train_logs.build_parser().parse_args
    # nothing of the plots is checked here (they are drawn after the table and its notes; a table of finished runs
    # and one with a run still training are drawn by test_analyse_train_logs_joins_runs_with_their_searches and
    # unfinished_analysis): 6 figures, most of a run's time
    monkeypatch.setattr(analyse_train_logs, "make_plots", lambda *args, **kwargs: [])
    result = analyse_train_logs.main(parse(["-t", str(copy), "-o", str(tmp_path / "t.csv"), "--no_latency"]))
    assert "PC_DARTS_cifar" not in set(result["table"]["name"]) and "running" not in set(result["table"]["status"])
    assert "DARTS_V2" in set(result["table"]["name"])  # its result.json says it finished (a later train.py --resume)
    out = capsys.readouterr().out
    assert f"note: {failed.resolve()} left out" in out and "loss became nan" in out
    entries[0]["status"] = "pending"  # a batch --resume retrying it: running again
    (copy / "batch.json").write_text(json.dumps({"args": {}, "entries": entries}))
    with lock_run_dir(failed):  # at work: a training holds its folder's lock
        result = analyse_train_logs.main(parse(["-t", str(copy), "-o", str(tmp_path / "t.csv"), "--no_latency"]))
    assert result["table"].set_index("name").loc["PC_DARTS_cifar", "status"] == "running"


def test_flags_given_twice_add_up() -> None:
    """batch_train prints -s per sweep; with argparse's default action the last -s won, and the runs of the other
    sweeps were left unjoined without a word."""
    args = analyse_train_logs.build_parser().parse_args(["-t", "B1", "-t", "B2", "-s", "A", "-s", "C", "D",
                                                         "-e", "x.json", "-e", "y.json"])
    assert (args.train, args.search, args.ensemble) == (["B1", "B2"], ["A", "C", "D"], ["x.json", "y.json"])
    assert analyse_train_logs.build_parser().parse_args(["-t", "B"]).search == []
    assert profile_genotypes.build_parser().parse_args(["--archs", "a", "--archs", "b"]).archs == ["a", "b"]


def test_train_tool_rejects_a_folder_without_runs(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    args = analyse_train_logs.build_parser().parse_args(["-t", str(tmp_path / "empty"), "-o", str(tmp_path / "t.csv")])
    with pytest.raises(ValueError, match="neither an eval run folder nor a batch-train folder"):
        analyse_train_logs.main(args)


def test_train_tool_names_the_resume_of_a_training_stopped_before_its_first_epoch(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A training killed while it loaded its data (args.json, log.txt, no metrics.csv) was 'neither an eval run
    folder nor a batch-train folder', which sent the user looking for a wrong path."""
    run = tmp_path / "eval-DARTS_V2-20261207-120000"
    run.mkdir()
    (run / "args.json").write_text(json.dumps({"kind": "train", "args": {"arch": "DARTS_V2"}}))
    with pytest.raises(ValueError, match=r"stopped before its first epoch ended \(no metrics.csv\): python train.py "
                                         r"--resume .*eval-DARTS_V2-20261207-120000 continues it"):
        analyse_train_logs.eval_folders([str(run)])
    # beside a finished run (a glob of eval-*), it is left out with a note: it stopped the whole analysis
    done = tmp_path / "eval-DARTS_V1-20261207-110000"
    done.mkdir()
    (done / "result.json").write_text(json.dumps({"test_acc": 90.0}))
    assert analyse_train_logs.eval_folders([str(done), str(run)]) == [done.resolve()]
    assert capsys.readouterr().out.startswith(f"note: left out: {run} is a training stopped before its first epoch")


def test_train_tool_tells_a_training_in_its_first_epoch_from_a_stopped_one(tmp_path: Path) -> None:
    """A training at work in its first epoch (its lock held, no metrics.csv yet) was called stopped, with a --resume
    that its lock refused; a batch in that state was 'neither an eval run folder nor a batch-train folder'."""
    run = tmp_path / "eval-DARTS_V2-20261207-120000"
    run.mkdir()
    with lock_run_dir(run):
        (run / "args.json").write_text(json.dumps({"kind": "train", "args": {"arch": "DARTS_V2"}}))
        with pytest.raises(ValueError, match=r"is a training in its first epoch \(no metrics.csv yet\): run this "
                                             r"again once that epoch has ended$"):
            analyse_train_logs.eval_folders([str(run)])
    batch = tmp_path / "batch-train-x-20261207-120000"
    (batch / run.name).mkdir(parents=True)
    (batch / run.name / "args.json").write_text((run / "args.json").read_text())
    (batch / "batch.json").write_text("{}")
    with lock_run_dir(batch):
        with pytest.raises(ValueError, match=r"is a batch-train folder with no training past its first epoch yet "
                                             r"\(it is still running\)$"):
            analyse_train_logs.eval_folders([str(batch)])
    with pytest.raises(ValueError, match=r"\(it was stopped; python batch_train.py --resume .*batch-train-x-\S+ "
                                         r"continues it\)$"):
        analyse_train_logs.eval_folders([str(batch)])


def test_tiny_networks_are_what_the_tools_profile() -> None:
    """The tests profile C=4, 3-layer networks: make sure that is a real, different network."""
    small = build_eval_network(genotypes.DARTS_V2, 4, 3)
    assert isinstance(small, NetworkCIFAR) and len(small.cells) == 3
    assert count_parameters(small) < count_parameters(build_eval_network(genotypes.DARTS_V2)) / 100


# --------------------------------------------------------------------------- what the plots show


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at its top or inside a function."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_plotting_home_imports_no_tool() -> None:
    """plots.py is where every plot's helpers live; the tables import from it, never the other way round."""
    for home in ("plots.py", "plots_train.py"):
        assert not {m for m in imported_modules(ROOT / home) if m == "tools" or m.startswith("tools.")}, home
    assert "plots" in imported_modules(ROOT / "tools" / "tables.py")  # the one direction


@pytest.fixture(autouse=True)
def close_figures():
    """The figure-drawing functions hand their figures to the tests: close them after each test."""
    yield
    plots.plt.close("all")


def search_record(nu: float, reg: float, ce: float, run_dir: str = "") -> dict:
    return {"weight": [nu, 1 - nu], "status": "done", "reg_loss": reg, "criterion_loss": ce,
            "run_dir": run_dir or f"search-nu{nu:.3g}"}


def front_of(searches: list[dict]) -> list[dict]:
    from pareto import non_dominated

    idx = non_dominated([(s["reg_loss"], s["criterion_loss"]) for s in searches])
    return [dict(searches[i], name=f"l2_loss_{searches[i]['weight'][0]:.1e}") for i in idx]


def point_colour(fig, x: float, y: float) -> tuple:
    """Face colour of the scatter point drawn at (x, y) in the figure's first axes."""
    from matplotlib import colors as mcolors

    for collection in fig.axes[0].collections:
        offsets = collection.get_offsets()
        for k, (px, py) in enumerate(offsets):
            if px == pytest.approx(x) and py == pytest.approx(y):
                faces = collection.get_facecolors()
                return tuple(round(float(c), 6) for c in mcolors.to_rgba(faces[k % len(faces)]))
    raise AssertionError(f"no point at {(x, y)}")


def leader_segments(ax) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """(label centre, its point) in display space for every label joined to its point by a line."""
    renderer = ax.figure.canvas.get_renderer()
    out = []
    for text in ax.texts:
        if getattr(text, "arrow_patch", None) is not None:
            box = text.get_window_extent(renderer)
            out.append((((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2), tuple(ax.transData.transform(text.xy))))
    return out


def test_the_colour_of_a_nu_is_the_same_in_every_frame_and_plot(tmp_path: Path) -> None:
    first = [search_record(0.2, 1.2, 2.30)]
    later = first + [search_record(0.01, 40.0, 1.5), search_record(3e-4, 859.1, 0.9), search_record(0.0, 900.0, 0.8)]
    frame_00 = plots.frontier_figure(first, front_of(first), "l2")
    frame_03 = plots.frontier_figure(later, front_of(later), "l2")
    colour = point_colour(frame_00, 1.2, 2.30)
    assert point_colour(frame_03, 1.2, 2.30) == colour  # nu = 0.2 looks the same after more searches
    assert point_colour(frame_03, 900.0, 0.8) == (0.0, 0.0, 0.0, 1.0)  # nu = 0 in black
    # the loss curves and the tools use the same colour for nu = 0.2
    for s in later:
        run = tmp_path / s["run_dir"]
        run.mkdir()
        write_csv(run / "metrics.csv", ["epoch", "criterion_loss", "l2_loss"],
                  [{"epoch": e, "criterion_loss": s["criterion_loss"] + 1 - e, "l2_loss": s["reg_loss"]}
                   for e in (0, 1)])
        s["run_dir"] = str(run)
    losses = plots.losses_figure(later, "l2")
    line = next(ln for ln in losses.axes[0].lines if ln.get_label() == "ν = 0.2")
    assert tuple(round(float(c), 6) for c in line.get_color()) == colour
    assert tuple(round(float(c), 6) for c in plots.point_colors([0.2, 0.01])[0]) == colour
    tool = plots.search_front_figure(["a", "b"], [0.01, 0.2], [40.0, 1.2], [1.5, 2.3])
    assert point_colour(tool, 1.2, 2.3) == colour


def test_a_flat_fronts_cross_entropies_are_written_out_not_as_an_offset() -> None:
    """A tiny cost sweep's held-out CEs can agree to 1e-4: matplotlib's offset ("1e-5+2.301") was easy to misread."""
    fig = plots.search_front_figure(["a", "b", "c"], [1.0, 0.5, 0.0], [0.1, 0.2, 0.3], [2.30108, 2.30103, 2.30101],
                                    objective="flops")
    fig.canvas.draw()
    ax = fig.axes[0]
    assert ax.yaxis.get_offset_text().get_text() == ""
    assert any(label.get_text().startswith("2.301") for label in ax.get_yticklabels())


def test_a_cost_sweeps_nus_spread_over_its_own_colour_range() -> None:
    """A cost sweep's nus (0.05..1 in the demo) take three decades of colour, not six: told apart at a glance."""
    cost = [search_record(1.0, 0.096, 0.87), search_record(0.24, 0.16, 0.48), search_record(0.05, 0.22, 0.45)]
    for record in cost:
        record["valid_loss"] = record["criterion_loss"]  # a cost front's CE
    fig = plots.frontier_figure(cost, front_of(cost), "flops")
    assert point_colour(fig, 0.22, 0.45) == tuple(round(c, 6) for c in plots.nu_color(0.05, "flops"))
    assert fig.axes[0].get_title() == "FLOPs sweep: 3 searches, 3 Pareto-optimal"
    assert fig.axes[-1].get_ylim() == pytest.approx(plots.COST_NU_RANGE)  # the colour bar
    assert plots.frontier_figure(cost, front_of(cost), "l2").axes[-1].get_ylim() == pytest.approx(plots.NU_RANGE)
    share = {kind: 1 - float(plots.nu_colormap(kind)[1](0.05)) for kind in ("flops", "l2")}  # of the colour bar
    assert share["flops"] == pytest.approx(0.434, abs=1e-3) and share["l2"] == pytest.approx(0.217, abs=1e-3)
    assert plots.nu_color(0.05) == plots.nu_color(0.05, "l2") == plots.nu_color(0.05, "l1")
    assert plots.nu_color(1e-4, "params") == plots.nu_color(1e-3, "latency")  # below the range: the end colour


def test_fronts_in_one_unit_list_other_searches_only_where_a_sweep_has_them() -> None:
    full = [{"cost": 1.0, "valid_loss": 0.9, "pareto": True}, {"cost": 2.0, "valid_loss": 0.5, "pareto": True}]
    mixed = [{"cost": 1.5, "valid_loss": 0.8, "pareto": True}, {"cost": 3.0, "valid_loss": 0.9, "pareto": False}]
    fig = plots.fronts_in_unit_figure([("flops", full, full), ("l2", mixed, mixed[:1])], "FLOPs (M)")
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["flops: its front, larger nu first", "l2: its other searches", "l2: its front, larger nu first"]
    plots.plt.close(fig)


def test_a_front_of_one_search_says_so_and_draws_no_front_entry() -> None:
    one = [search_record(0.2, 1.2, 2.30)]
    fig = plots.frontier_figure(one, front_of(one), "l2")
    ax = fig.axes[0]
    assert ax.get_title() == "L2 sweep: 1 search, 1 Pareto-optimal"
    assert "Pareto front" not in [t.get_text() for t in ax.get_legend().get_texts()]
    two = one + [search_record(0.01, 40.0, 1.5)]
    fig = plots.frontier_figure(two, front_of(two), "l2")
    assert fig.axes[0].get_title() == "L2 sweep: 2 searches, 2 Pareto-optimal"
    assert "Pareto front" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert plots.plural(1, "network") == "1 network" and plots.plural(3, "search") == "3 searches"
    failed = [{**search_record(0.5, 0.0, 0.0), "status": "failed", "reg_loss": None}]
    title = plots.frontier_figure(failed, [], "l2").axes[0].get_title()
    assert title == "L2 sweep: 0 searches, 0 Pareto-optimal, 1 failed"
    assert plots.frontier_figure(two + failed, front_of(two), "l2").axes[0].get_title().endswith(", 1 failed")


def test_labels_of_a_crowded_front_are_all_written_and_their_leader_lines_do_not_cross() -> None:
    cluster = [search_record(10 ** (-1 - 0.3 * k), 800 + 15 * k, 2.2540 - 0.0004 * k) for k in range(7)]
    cluster.append(search_record(0.2, 265.0, 2.2835))
    front = front_of(cluster)
    fig = plots.frontier_figure(cluster, front, "l2")
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.texts) == sorted(p["name"] for p in front)
    segments = leader_segments(ax)
    assert len(segments) >= 3  # the cluster needs leader lines
    for i, a in enumerate(segments):
        for b in segments[i + 1:]:
            assert not plots.segments_cross(a, b), (a, b)
    # a front on which the labels once sat on crossing leader lines (a label above joined to a point below)
    points = [(0.009, 0.884), (0.052, 0.807), (0.123, 0.887), (0.33, 0.805), (0.343, 0.775), (0.369, 0.638),
              (0.374, 0.585), (0.538, 0.49), (0.633, 0.487), (0.674, 0.181), (0.68, 0.175), (0.85, 0.088),
              (0.979, 0.137), (0.987, 0.05)]
    fig, ax = plots.plt.subplots(figsize=(7, 5))
    ax.scatter([p[0] for p in points], [p[1] for p in points])
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(0.0, 0.937)
    names = [f"l2_loss_{i}e0{i % 9}" for i in range(len(points))]
    assert plots.place_labels(ax, [(x, y, n, "0.2") for (x, y), n in zip(points, names)], required=len(points)) == 0
    assert sorted(t.get_text() for t in ax.texts) == sorted(names)
    segments = leader_segments(ax)
    for i, a in enumerate(segments):
        for b in segments[i + 1:]:
            assert not plots.segments_cross(a, b), (a, b)
    assert plots.segments_cross(((0, 0), (2, 2)), ((0, 2), (2, 0)))
    assert not plots.segments_cross(((0, 0), (1, 1)), ((0, 1), (1, 2)))


def test_a_segment_apart_from_a_box_is_ruled_out_before_the_crossing_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sweep redraws its front after every search, and the labels tested every drawn segment (the step line, the
    log grid) against every candidate spot edge by edge: 17 s a plot at 40 front points, 3 s now, the same figure."""
    rng = np.random.default_rng(0)
    cases = []
    for ends, corners in zip(rng.integers(0, 9, (3000, 2, 2)).tolist(), rng.integers(0, 9, (3000, 2, 2)).tolist()):
        (a, b), (c, d) = corners  # small integers: ends on edges and corners, segments along edges, boxes of no width
        cases.append((tuple(map(tuple, ends)), (min(a, c), min(b, d), max(a, c), max(b, d))))

    def by_its_edges(seg: plots.Segment, box: plots.Box) -> bool:
        (x0, y0, x1, y1) = box
        corners = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
        return any(x0 <= x <= x1 and y0 <= y <= y1 for x, y in seg) or any(
            plots.segments_cross(seg, (corners[k], corners[(k + 1) % 4])) for k in range(4))

    assert [plots._segment_hits_box(seg, box) for seg, box in cases] == [by_its_edges(seg, box) for seg, box in cases]
    assert sum(by_its_edges(seg, box) for seg, box in cases) > 500  # both answers well represented

    def no_crossing_test(*_: object) -> bool:
        raise AssertionError("a segment apart from the box was tested edge by edge")

    monkeypatch.setattr(plots, "segments_cross", no_crossing_test)
    for seg in (((0, 0), (1, 1)), ((10, 0), (12, 9)), ((0, 5), (9, 5.5)), ((3, -2), (4, -1))):
        assert not plots._segment_hits_box(seg, (2.0, 2.0, 8.0, 4.0))


def test_a_label_at_the_top_edge_goes_beside_its_point() -> None:
    """The demo's flops front: its cheapest point sits at the top edge with the front's line below and to its right,
    so no corner was free, and its name was left out though there was room level with it (plot_frontier.py)."""
    names = ["flops_loss_1e00", "flops_loss_9e01", "flops_loss_7e01", "flops_loss_4e01", "flops_loss_2e01",
             "flops_loss_5e02"]
    xs = [0.09613, 0.09818, 0.1075, 0.1377, 0.1595, 0.2226]
    ys = [0.873, 0.705, 0.588, 0.494, 0.477, 0.446]
    fig = plots.search_front_figure(names, [1.0, 0.91, 0.72, 0.42, 0.24, 0.05], xs, ys, objective="flops")
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.texts) == sorted(names)
    (top,) = [t for t in ax.texts if t.get_text() == "flops_loss_1e00"]
    assert top.xyann[0] > 0 and abs(top.xyann[1] + 7 * 1.25 / 2) < 1e-6  # to its right, level with it
    plots.plt.close(fig)


def cost_table() -> pd.DataFrame:
    """Three networks whose fronts differ: all three against parameters, only C against FLOPs and latency."""
    rows = [{"name": n, "nu": nu, "size_m": size, "flops": flops, "latency_cpu_ms": ms, "test_acc": acc,
             "status": "done", "search_criterion_loss": ce, "valid_loss": vl}
            for n, nu, size, flops, ms, acc, ce, vl in (("A", 0.2, 1.0, 3e8, 50.0, 90.0, 1.5, 0.5),
                                                        ("B", 0.01, 2.0, 2e8, 40.0, 92.0, 1.0, 0.4),
                                                        ("C", 0.0, 3.0, 1e8, 30.0, 94.0, 0.5, 0.3))]
    return analyse_train_logs._typed(pd.DataFrame(rows))


def test_error_plots_name_the_same_networks_in_every_plot() -> None:
    df = cost_table()
    named = []
    for column in ("parameters_m", "flops", "latency_cpu_ms"):
        fig = analyse_train_logs.error_vs_figure(df, column, (7, 5), False, [], [])
        named.append(sorted(t.get_text() for t in fig.axes[0].texts))
        legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        assert ("Pareto front of these networks" in legend) == (column == "parameters_m")  # one-point fronts: none
    assert named == [["A", "B", "C"]] * 3
    pair = analyse_train_logs.pair_figure(df, df["search_criterion_loss"].to_numpy(float),
                                          df["valid_loss"].to_numpy(float), "x", "y", "t", (7, 5), False)
    assert sorted(t.get_text() for t in pair.axes[0].texts) == ["A", "B", "C"]  # nothing else drawn over points
    rho = df["search_criterion_loss"].corr(df["valid_loss"], method="spearman")
    assert pair.axes[0].get_title() == f"t\nSpearman ρ = {rho:+.2f} (n = 3)"
    assert len(analyse_train_logs.error_vs_figure(df, "flops", (7, 5), True, [], []).axes[0].texts) == 0  # -c


def test_top_k_rings_only_when_k_picks_some_of_the_searches() -> None:
    df = pd.DataFrame({"name": ["a", "b", "c"], "nu": [0.2, 0.01, 0.0], "search_reg_loss": [1.0, 10.0, 100.0],
                       "search_criterion_loss": [2.0, 1.0, 0.5], "search_valid_acc": [40.0, 70.0, 90.0],
                       "search_dir": ["x", "y", "z"]})

    def ranked(topk: int) -> tuple[list[str], list[str]]:
        ax = analyse_search_logs.crit_vs_reg_figure(df, None, topk, (7, 5)).axes[0]
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        return sorted(t.get_text() for t in ax.texts), [t for t in legend if t.startswith("top")]

    assert ranked(3) == (["a", "b", "c"], [])  # a top 3 of 3 would ring every point
    assert ranked(5) == (["a", "b", "c"], [])
    assert ranked(2) == (["1. c", "2. b"], ["top 2 by search valid accuracy"])


def test_the_correlation_matrix_is_signed_and_says_n() -> None:
    df = pd.DataFrame({"nu": [0.2, 0.02, 0.002, 0.0], "size_m": [1.0, 2.0, 3.0, 4.0],
                       "search_valid_acc": [10.0, 50.0, 40.0, 90.0]})
    fig = plots.correlation_figure(df, ["nu", "size_m", "search_valid_acc"], label=tables.label)
    ax = fig.axes[0]
    names = [tables.label(c) for c in ("nu", "size_m", "search_valid_acc")]
    assert [t.get_text() for t in ax.get_xticklabels()] == names == [t.get_text() for t in ax.get_yticklabels()]
    values = np.asarray(ax.images[0].get_array())
    assert values[0, 1] == pytest.approx(-1.0) and values[1, 2] == pytest.approx(0.8)
    assert ax.images[0].get_clim() == (-1, 1)
    assert "-1.00" in [t.get_text() for t in ax.texts]
    assert "n = 4" in ax.get_title()


def test_the_correlation_values_do_not_run_together() -> None:
    # analyse_train_logs.py's matrix has up to 12 columns at 7 x 5.5 inches: "+1.00+1.00" ran together
    columns = list(analyse_train_logs.CORRELATED)
    df = pd.DataFrame({c: [1.0 + i, 2.0, 3.0 + i, 4.0] for i, c in enumerate(columns)})
    fig = plots.correlation_figure(df, columns, size=(7.0, 5.5), label=tables.label)
    fig.tight_layout()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    boxes = {}
    for t in ax.texts:
        boxes.setdefault(round(t.get_position()[1]), []).append(t.get_window_extent(renderer))
    for row in boxes.values():
        row.sort(key=lambda b: b.x0)
        cell = row[1].x0 - row[0].x0
        assert all(right.x0 - left.x1 > 0.15 * cell for left, right in zip(row, row[1:]))  # a visible space
    assert min(t.get_fontsize() for t in ax.texts) >= 7  # not shrunk into illegibility


def test_epoch_axes_have_whole_number_ticks(tmp_path: Path) -> None:
    run = tmp_path / "search"
    run.mkdir()
    write_csv(run / "metrics.csv", ["epoch", "criterion_loss", "l2_loss"],
              [{"epoch": e, "criterion_loss": 2 - e, "l2_loss": 10 + e} for e in (0, 1)])
    figs = [plots.losses_figure([dict(search_record(0.1, 1.0, 1.0), run_dir=str(run))], "l2"),
            plots_train.training_figure([{"epoch": "0", "train_loss": "2.0"}, {"epoch": "1", "train_loss": "1.0"}],
                                        "loss", "cross-entropy"),
            plots_train.training_figure([{"epoch": "0", "train_loss": "2.0"}], "loss", "cross-entropy")]  # one epoch
    for fig in figs:
        fig.canvas.draw()
        ax = fig.axes[0]
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(t == round(t) for t in ticks), ticks


def scatter_points(ax) -> list[tuple[float, float]]:
    """(x, y) of every scatter point drawn on the axes (legend proxies have none)."""
    return [(float(x), float(y)) for c in ax.collections for x, y in np.asarray(c.get_offsets(), dtype=float)]


def test_the_loss_curves_are_each_finished_searchs_metrics(tmp_path: Path) -> None:
    searches = []
    for nu, ce in ((0.2, 2.0), (0.01, 1.5)):
        run = tmp_path / f"search-{nu}"
        run.mkdir()
        write_csv(run / "metrics.csv", ["epoch", "criterion_loss", "l2_loss"],
                  [{"epoch": e, "criterion_loss": ce - 0.5 * e, "l2_loss": 100 * nu + e} for e in (0, 1, 2)])
        searches.append(dict(search_record(nu, 1.0, ce), run_dir=str(run)))
    searches.append(dict(search_record(0.05, 1.0, 1.0), status="running", run_dir=str(tmp_path)))  # not finished
    fig = plots.losses_figure(searches, "l2")
    ce_ax, reg_ax = fig.axes
    for ax, key in ((ce_ax, "ce"), (reg_ax, "reg")):
        drawn = {ln.get_label(): (list(ln.get_xdata()), list(ln.get_ydata())) for ln in ax.lines}
        assert drawn == ({"ν = 0.01": ([0, 1, 2], [1.5, 1.0, 0.5]), "ν = 0.2": ([0, 1, 2], [2.0, 1.5, 1.0])}
                         if key == "ce" else
                         {"ν = 0.01": ([0, 1, 2], [1.0, 2.0, 3.0]), "ν = 0.2": ([0, 1, 2], [20.0, 21.0, 22.0])})
        assert ax.lines[0].get_color() == plots.nu_color(0.01) and ax.get_xlabel() == "epoch"
    assert (ce_ax.get_ylabel(), reg_ax.get_ylabel()) == ("cross-entropy (train)", plots.penalty_label("l2"))
    legend = reg_ax.get_legend()
    assert legend.get_title().get_text() == "ordered by ν"  # the symbol its entries use
    assert [t.get_text() for t in legend.get_texts()] == ["ν = 0.01", "ν = 0.2"]
    assert fig._suptitle.get_text() == "L2 sweep: search losses per epoch"
    # a cost search logs its supernet's expected cost per epoch, not a derived network's
    for s in searches[:2]:
        write_csv(Path(s["run_dir"]) / "metrics.csv", ["epoch", "criterion_loss", "flops_loss"],
                  [{"epoch": e, "criterion_loss": 1.0, "flops_loss": 0.3 - 0.01 * e} for e in (0, 1, 2)])
    cost = plots.losses_figure(searches, "flops")
    assert cost.axes[1].get_ylabel() == "R(α, β): expected FLOPs (M multiply-adds)"
    assert cost._suptitle.get_text() == "FLOPs sweep: search losses per epoch"
    # ... which moves by a few per cent: a linear axis whose ticks are named (on a log axis none was)
    cost.canvas.draw()
    assert cost.axes[1].get_yscale() == "linear" and any(t.get_text() for t in cost.axes[1].get_yticklabels())
    assert reg_ax.get_yscale() == "log"  # the norms over the sweep span a decade

    write_csv(Path(searches[0]["run_dir"]) / "metrics.csv", ["epoch", "criterion_loss", "l2_loss"],
              [{"epoch": 0, "criterion_loss": 2.0, "l2_loss": 5.0}])  # a search of one epoch: a point, drawn
    one = plots.losses_figure(searches[:1], "l2")
    assert [line.get_marker() for ax in one.axes for line in ax.lines] == ["o", "o"]


def test_a_training_loss_over_a_decade_gets_a_log_axis() -> None:
    """An early spike (held-out CE 29 at epoch 1, as a digits training gave) pressed every later epoch onto the
    floor of a linear axis; a loss within a decade, and accuracies, keep it linear."""
    spike = [{"epoch": str(e), "train_loss": str(t), "valid_loss": str(v)}
             for e, (t, v) in enumerate([(2.2, 2.0), (1.5, 29.0), (0.9, 0.8), (0.5, 0.45)])]
    ax = plots_train.training_figure(spike, "loss", "cross-entropy").axes[0]
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "cross-entropy, log scale"
    calm = [{"epoch": str(e), "train_loss": str(v)} for e, v in enumerate([2.2, 1.1, 0.6])]
    assert plots_train.training_figure(calm, "loss", "cross-entropy").axes[0].get_yscale() == "linear"
    acc = [{"epoch": str(e), "train_acc": str(v)} for e, v in enumerate([1.0, 50.0, 90.0])]
    assert plots_train.training_figure(acc, "acc", "top-1 accuracy (%)").axes[0].get_yscale() == "linear"


def test_the_training_curves_draw_each_split_where_it_was_evaluated(tmp_path: Path) -> None:
    rows = [{"epoch": "0", "train_acc": "40.0", "valid_acc": "", "test_acc": ""},
            {"epoch": "1", "train_acc": "55.0", "valid_acc": "50.0", "test_acc": "48.0"},
            {"epoch": "2", "train_acc": "60.0", "valid_acc": "nan", "test_acc": ""}]
    fig = plots_train.training_figure(rows, "acc", "top-1 accuracy (%)", "DARTS_V2 on digits")
    ax = fig.axes[0]
    drawn = {ln.get_label(): (list(ln.get_xdata()), list(ln.get_ydata())) for ln in ax.lines}
    assert drawn == {"train": ([0, 1, 2], [40, 55, 60]), "valid": ([1], [50]), "test": ([1], [48])}
    assert [ln.get_linestyle() for ln in ax.lines] == ["-", "--", "-."]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "valid", "test"]
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("epoch", "top-1 accuracy (%)", "DARTS_V2 on digits")
    # train.py's three files, one metric each, from its metrics.csv
    columns = ["epoch"] + [f"{split}_{key}" for split in ("train", "valid", "test") for key in ("loss", "acc", "top5")]
    write_csv(tmp_path / "metrics.csv", columns, [dict.fromkeys(columns, 1.0) | {"epoch": e} for e in (0, 1)])
    drawn_panels = []
    real = plots_train.training_figure

    def keep(rows, key, ylabel, title="", train_label="train"):
        drawn_panels.append((key, ylabel, title, len(rows)))
        return real(rows, key, ylabel, title, train_label)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plots_train, "training_figure", keep)
        written = plots_train.plot_training_curves(tmp_path / "metrics.csv", tmp_path, "run")
    assert [p.name for p in written] == ["loss.png", "acc.png", "top5.png"]
    assert drawn_panels == [("loss", "cross-entropy", "run", 2), ("acc", "top-1 accuracy (%)", "run", 2),
                            ("top5", "top-5 accuracy (%)", "run", 2)]
    for path in written:
        assert_png(path)


def test_accuracies_against_nu_put_nu_0_left_of_the_break() -> None:
    df = pd.DataFrame({"nu": [0.2, 0.01, 0.0], "search_valid_acc": [40.0, 70.0, 90.0],
                       "search_train_acc": [45.0, 75.0, 95.0], "valid_acc": [41.0, 71.0, 91.0],
                       "test_acc": [42.0, 72.0, 92.0]})
    search = analyse_search_logs.nu_vs_figure(df, [("search_valid_acc", "search valid", False),
                                                   ("search_train_acc", "search train", True)],
                                              "search accuracy (%)", "Search accuracy against ν", (7, 5))
    trained = analyse_train_logs.weight_vs_acc_figure(df, (7, 5))
    for fig, filled, hollow in ((search, "search_valid_acc", "search_train_acc"), (trained, "test_acc", "valid_acc")):
        ax = fig.axes[0]
        at = [0.2, 0.01, 0.001]  # nu = 0 one decade left of the smallest positive nu
        assert sorted(scatter_points(ax)) == sorted(zip(at * 2, [*df[filled], *df[hollow]]))
        assert ax.get_xscale() == "log" and ax.get_xlabel() == plots.NU_LABEL + ", log scale"
        assert "ν=0" in [t.get_text() for t in ax.texts]
        assert point_colour(fig, 0.2, df[filled][0]) == tuple(round(c, 6) for c in plots.nu_color(0.2))
        assert point_colour(fig, 0.001, df[filled][2]) == (0.0, 0.0, 0.0, 1.0)
        (ring,) = [c for c in ax.collections
                   if len(c.get_offsets()) == 1 and np.allclose(c.get_offsets(), [[0.01, df[hollow][1]]])]
        assert len(ring.get_facecolors()) == 0  # the other series drawn open, edged in the colour of its nu
        assert tuple(ring.get_edgecolors()[0]) == pytest.approx(plots.nu_color(0.01))
    assert [t.get_text() for t in search.axes[0].get_legend().get_texts()] == ["search valid", "search train"]
    assert search.axes[0].get_ylabel() == "search accuracy (%)"
    assert [t.get_text() for t in trained.axes[0].get_legend().get_texts()] == ["valid", "test"]
    assert trained.axes[0].get_title() == "Accuracy of the evaluated networks against ν"


def test_accuracies_against_nu_say_how_many_runs_have_no_nu() -> None:
    """Published genotypes have no nu and no place on the axis: the title says they are not drawn."""
    df = pd.DataFrame({"nu": [0.2, 0.2, math.nan, math.nan], "valid_acc": [91.0, 92.0, 95.0, 96.0],
                       "test_acc": [97.0, 98.0, 98.5, 99.0]})
    fig = analyse_train_logs.weight_vs_acc_figure(df, (7, 5))
    assert fig.axes[0].get_title() == ("Accuracy of the evaluated networks against ν\n"
                                       "2 of 4 runs: ν unknown for the others")
    assert len(scatter_points(fig.axes[0])) == 4  # the two runs with a nu, valid and test
    assert analyse_train_logs.weight_vs_acc_figure(df.assign(nu=math.nan), (7, 5)) is None


def test_hypervolume_numbers_are_short() -> None:
    """The value short; the reference point as --reference takes it again (3.46 and 99.3 were another point)."""
    text = tables.hypervolume_text("the front", (12.345678, (3.4567891, 99.305556)), ("M params", "error"))
    assert text == "hypervolume of the front: 12.35 (reference point M params = 3.45679, error = 99.3056)"


def test_minus_d_is_explained_in_each_tool() -> None:
    assert "in analyse_search_logs.py and analyse_train_logs.py, -d reads a table" in " ".join(
        plot_frontier.build_parser().format_help().split())
    for tool in (analyse_search_logs, analyse_train_logs):
        assert "in plot_frontier.py, -d is --dominated" in " ".join(tool.build_parser().format_help().split())


# --------------------------------------------------------------------------- robust latency


def test_latency_is_the_fastest_block_with_the_threads_pinned(monkeypatch) -> None:
    """A scripted clock: each pass advances it; the slow blocks stand for other processes taking the CPU."""
    import types

    import profiling

    clock = {"now": 0.0, "passes": 0}
    threads_seen = []
    block_ms = [5.0, 2.0, 3.0, 4.0, 6.0, 7.0]

    def advance() -> None:
        warm = 3  # warmup=1, min_run_time=0.01: passes of 1 ms until 2.5 ms have passed
        k = clock["passes"]
        clock["now"] += 1e-3 if k < warm else block_ms[min((k - warm) // 20, 5)] * 1e-3
        clock["passes"] += 1
        threads_seen.append(torch.get_num_threads())

    class Scripted(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.step = advance

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.step()
            return x

    monkeypatch.setattr(profiling, "time", types.SimpleNamespace(perf_counter=lambda: clock["now"]))
    before = torch.get_num_threads()
    ms = profiling.measure_latency(Scripted(), "cpu", min_run_time=0.01, warmup=1, threads=before + 1)
    assert ms == pytest.approx(2.0)  # the fastest block, not the median (4.0)
    assert clock["passes"] == 3 + 5 * 20  # warm-up, then 5 blocks of 20 passes (20 ms each at 1 ms a pass)
    assert set(threads_seen) == {before + 1} and torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads"):
        profiling.measure_latency(Scripted(), "cpu", threads=0)


def test_a_busy_cpu_is_warned_about_once(monkeypatch, caplog) -> None:
    import profiling

    monkeypatch.setattr(profiling.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(profiling.os, "getloadavg", lambda: (7.9, 7.5, 7.0))
    profiler = Profiler(init_channels=4, layers=3, min_run_time=0.01, threads=1)
    with caplog.at_level("WARNING", logger="profiling"):
        profiler.profile(genotypes.DARTS_V2)
        profiler.profile(genotypes.DARTS_V1)
    busy = [r.getMessage() for r in caplog.records if "busy machine" in r.getMessage()]
    assert len(busy) == 1 and "load average 7.9 on 2 cores, 1 thread)" in busy[0] and "--no_latency" in busy[0]
    (entry,) = tables.profile_record("t.csv", [(profiler, ["DARTS_V2", "DARTS_V1"])])["profilers"]
    assert entry["busy_cpu"] == busy[0].removeprefix("warning: ")  # the warning kept beside the table, not only logged
    assert "--threads 1" in profiling.busy_cpu_note(2)
    assert profiler.settings()["cpu_threads"] == 1
    assert profiler.settings()["cpu"] == cpu_name() and profiler.settings()["torch"] == torch.__version__
    assert "cpu" not in Profiler(init_channels=4, layers=3, latency=False).settings()  # no timing, no machine
    monkeypatch.setattr(profiling.os, "getloadavg", lambda: (0.5, 0.5, 0.5))
    assert profiling.busy_cpu_note(1) is None


def test_names_of_points_at_the_top_edge_are_not_crossed_by_the_front_line() -> None:
    # the gallery's test error against parameters: two networks at the top at one error, the front's
    # drop just right of them, an ensemble far to the right; every spot below them was crossed by the front
    points = [(0.0068, 2.78), (0.0142, 2.78), (0.0167, 1.67), (0.0215, 1.11), (0.0268, 2.22), (0.0286, 1.94),
              (0.115, 0.28)]
    names = ["l2_loss_2e01", "l2_loss_3e02", "l2_loss_5e02", "l2_loss_5e03", "l2_loss_1e02", "l2_loss_2e03",
             "ensemble of 6 [per_model]"]
    fig, ax = plots.plt.subplots(figsize=(7, 5))
    front = [0, 2, 3]
    ax.step([points[i][0] for i in front], [points[i][1] for i in front], where="post", linestyle="--")
    ax.scatter([p[0] for p in points], [p[1] for p in points])
    plots.final_layout(fig)
    assert plots.place_labels(ax, [(x, y, n, "0.2") for (x, y), n in zip(points, names)], required=len(names)) == 0
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    (x0, y0), (x1, y1), (x2, y2) = (ax.transData.transform(points[i]) for i in front)
    drawn = [((x0, y0), (x1, y0)), ((x1, y0), (x1, y1)), ((x1, y1), (x2, y1)), ((x2, y1), (x2, y2))]
    frame = ax.get_window_extent()
    for text in ax.texts:
        box = text.get_window_extent(renderer)
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1, text
        for (p, q) in drawn:
            assert not plots._segment_hits_box((p, q), (box.x0, box.y0, box.x1, box.y1)), (text.get_text(), p, q)
    assert ax.get_ylim()[1] > 2.78  # the room above the top points was made, inside the axes


@pytest.mark.parametrize(("low", "high", "majors", "minors"), [
    (0.5, 8.8, ["1"], ["0.5", "2", "5"]),  # a latency front: plain numbers, the 2s and 5s named
    (1.1, 6.0, [], ["2", "3", "4", "5", "6"]),  # under a decade: more of them named
    (1.5, 600.0, ["10", "100"], []),  # an L2 front over 2.6 decades: no minor names
    (1e-6, 1.0, ["$\\mathdefault{10^{-6}}$", "$\\mathdefault{10^{0}}$"], []),  # nu: powers of ten
])
def test_log_axes_name_their_ticks_without_crowding(low: float, high: float, majors: list, minors: list) -> None:
    fig, ax = plots.plt.subplots()
    ax.plot([low, high], [0, 1])
    plots.log_scale(ax, "x")
    ax.set_xlim(low * 0.95, high * 1.05)
    fig.canvas.draw()
    left, right = ax.get_xlim()

    def named(minor: bool) -> list[str]:  # the labels drawn: on a tick inside the axis, and not empty
        return [t.get_text() for t in ax.get_xticklabels(minor=minor)
                if t.get_text() and left <= t.get_position()[0] <= right]

    shown, named_minors = named(False), named(True)
    plots.plt.close(fig)
    assert all(m in shown for m in majors) and "×" not in "".join(shown + named_minors)
    assert named_minors == minors


def test_load_sweep_finds_its_searches_from_any_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sweep.json may record its search folders relative to where the sweep ran (a relative --logdir): the tools
    read them inside the sweep folder, so the class count (for the classifier's size) comes from result.json."""
    sweep = make_sweep(tmp_path / "logs")
    state = json.loads((sweep / "sweep.json").read_text())
    for record in [*state["searches"], *state["pareto"]]:
        record["run_dir"] = str(Path("logs") / sweep.name / Path(record["run_dir"]).name)
    (sweep / "sweep.json").write_text(json.dumps(state))
    for run in sweep.glob("search-*"):
        result = json.loads((run / "result.json").read_text())
        (run / "result.json").write_text(json.dumps({**result, "num_classes": 3}))
    monkeypatch.chdir(tmp_path / "logs")  # not where the sweep ran
    loaded = tables.load_sweep(sweep)
    assert loaded["num_classes"] == 3
    assert all(Path(s["run_dir"]).parent == sweep for s in [*loaded["searches"], *loaded["pareto"]])


def test_load_sweep_of_one_search_names_its_folder_as_it_is_now(tmp_path: Path) -> None:
    """result.json's run_dir may be relative to where the search ran: search_stability.py read seeds from there."""
    sweep = make_sweep(tmp_path / "logs")
    search = next(sweep.glob("search-00-*"))
    result = json.loads((search / "result.json").read_text())
    (search / "result.json").write_text(json.dumps({**result, "run_dir": f"logs/{search.name}"}))
    assert tables.load_sweep(search)["searches"][0]["run_dir"] == str(search)


@pytest.mark.parametrize("text", ["[1]", '{"args": [1]}'])
def test_a_search_folders_damaged_args_json_is_one_line_naming_it(tmp_path: Path, run_script, text: str) -> None:
    """A search folder whose args.json held no "args" mapping (a hand edit) stopped plot_frontier.py, compare_fronts.py
    and search_stability.py with an AttributeError traceback in tables.load_sweep."""
    sweep = make_sweep(tmp_path / "logs")
    search = next(sweep.glob("search-00-*"))
    (search / "args.json").write_text(text)
    status, err = run_script("tools/plot_frontier.py", plot_frontier, plot_frontier.main,
                             ["-l", str(search), "-o", str(tmp_path / "f.png")])
    assert status == 2 and err.strip() == f"error: {search / 'args.json'} is not a search's args.json (no 'args' " \
                                           "mapping)"
    assert not (tmp_path / "f.png").exists()


@pytest.mark.parametrize("stop_at", [None, "after the first round"])
def test_latency_table_shows_its_progress_and_what_an_interrupt_left(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture,
                                                                      stop_at: str | None) -> None:
    """tools/latency_table.py was silent for minutes at the paper's size, then printed every line at once, and a
    Ctrl-C showed nothing of what it had timed: a line per round and per --validate network now comes as it goes."""
    from tools import latency_table

    chosen = {"PC_DARTS_cifar": genotypes.PC_DARTS_cifar, "pool": cost.uniform_genotype("max_pool_3x3")}
    monkeypatch.setattr(latency_table, "published_genotypes", lambda: chosen)
    calls: list[object] = []
    n_entries: list[int] = []

    def fake_latency(module: nn.Module, device: torch.device, size: object, **_: object) -> float:
        calls.append(size)
        if stop_at and n_entries and len(calls) == n_entries[0] + 1:
            raise KeyboardInterrupt
        return float(len(calls))

    real_rounds = latency_table._fastest_of_rounds

    def counting(entries: dict, *rest: object) -> dict:
        n_entries.append(len(entries))
        return real_rounds(entries, *rest)

    monkeypatch.setattr(latency_table, "measure_latency", fake_latency)
    monkeypatch.setattr(latency_table, "_fastest_of_rounds", counting)
    table = tmp_path / "t.json"
    args = latency_table.build_parser().parse_args(
        ["--eval_channels", "4", "--eval_layers", "3", "--image_size", "8", "--threads", "1", "--validate",
         "--no_progress", "-o", str(table)])
    assert run_main(latency_table.main, args) == (130 if stop_at else 0)
    err = capsys.readouterr().err.splitlines()
    n = n_entries[0]
    assert err[0] == f"timing {n} entries, 3 round(s) in a shuffled order each"
    assert err[1].startswith(f"round 1/3: {n} entries timed")
    if stop_at:
        assert err[2].startswith(f"stopped after {n} of {3 * n} timings") and err[2].endswith("no table written")
        assert err[3] == "interrupted" and not table.exists()
    else:
        assert err[2].startswith("round 2/3") and err[-1].startswith("round 3/3") and table.is_file()
        assert sorted(line.split()[0] for line in err[3:-1]) == ["PC_DARTS_cifar", "pool"]
        assert all(line.endswith("ms (fastest of 3)") for line in err[3:-1])


def test_profilings_example_runs_as_pasted() -> None:
    """profiling.py's example used genotypes without importing it: pasted, it was a NameError."""
    import doctest

    import profiling

    test = doctest.DocTestParser().get_doctest(profiling.__doc__, {}, "profiling", None, 0)
    runner = doctest.DocTestRunner(verbose=False)
    runner.run(test)
    assert runner.summarize(verbose=False) == doctest.TestResults(failed=0, attempted=3)


def _cpuinfo_model_name() -> str | None:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), None)


def test_a_latency_table_records_the_cpu_and_the_rounds_its_times_come_from(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A CPU table's device_name was platform.processor() or platform.machine(): on Linux "x86_64", the same for
    every CPU. And it recorded --min_run_time and --threads but not --rounds: a table's ms, the fastest of 1 or of
    5 timings, could not be compared with another's."""
    from tools import latency_table

    monkeypatch.setattr(latency_table, "measure_latency", lambda *a, **k: 1.0)
    table = tmp_path / "t.json"
    args = latency_table.build_parser().parse_args(
        ["--eval_channels", "4", "--eval_layers", "3", "--image_size", "8", "--threads", "1", "--rounds", "2",
         "--no_progress", "-o", str(table)])
    assert run_main(latency_table.main, args) == 0
    made = json.loads(table.read_text())
    assert made["rounds"] == 2 and made["threads"] == 1 and made["min_run_time"] == 0.2
    if (name := _cpuinfo_model_name()) is not None:  # Linux: the model name, not "x86_64"
        assert made["device_name"] == name


@pytest.mark.parametrize("tool", [analyse_search_logs, analyse_train_logs, compare_fronts, plot_frontier,
                                  search_stability])
def test_the_inches_flag_says_one_or_two_values(tool: object) -> None:
    """The usage read `-i W H [W H ...]`, as if pairs could repeat; a third value is refused, one is a square."""
    parser = tool.build_parser()
    usage = " ".join((parser.format_usage() + parser.format_help()).split())
    assert "-i W [H]" in usage and "[W H ...]" not in usage and "a square" in usage
    (inches,) = [a for a in parser._actions if a.dest == "inches"]
    assert inches.nargs == "+" and tables.parse_inches([6.0]) == (6.0, 6.0)
    with pytest.raises(ValueError, match="a width and a height"):
        tables.parse_inches([7.0, 5.0, 8.0, 6.0])


def killed_sweep(root: Path) -> Path:
    """make_sweep's folder as a sweep killed in its fifth search leaves it: that search "running", no process holding
    the folder's .lock."""
    sweep = make_sweep(root)
    state = json.loads((sweep / "sweep.json").read_text())
    state["searches"].append({"index": len(state["searches"]), "weight": [0.01, 0.99], "status": "running",
                              "run_dir": str(sweep / "search-09-nu0.01")})
    (sweep / "sweep.json").write_text(json.dumps(state))
    lock_run_dir(sweep).release()
    return sweep


def test_a_killed_sweeps_partial_front_is_named_stopped_with_its_resume(tmp_path: Path, capsys) -> None:
    """A sweep killed mid-way was drawn (plot_frontier.py) and tabled (analyse_search_logs.py) as if its front were
    the sweep's, without a word: they say it was stopped, with the --resume that continues it, or still running."""
    sweep = killed_sweep(tmp_path)
    args = plot_frontier.build_parser().parse_args(["-l", str(sweep), "-o", str(tmp_path / "out.png")])
    assert run_main(plot_frontier.main, args) == 0
    assert capsys.readouterr().err == (
        f"note: {sweep} was stopped with 1 search unfinished (python multiobjective.py --resume {sweep} "
        f"continues it): shown are its {len(SEARCHES)} finished searches\n")
    with lock_run_dir(sweep):  # the sweep at work
        assert run_main(plot_frontier.main, args) == 0
    assert capsys.readouterr().err == (f"note: {sweep} has 1 search still running: shown are its {len(SEARCHES)} "
                                       "finished searches\n")
    (sweep / "sweep.json").write_text(json.dumps({**json.loads((sweep / "sweep.json").read_text()),
                                                  "searches": json.loads((sweep / "sweep.json").read_text())
                                                  ["searches"][:-1]}))
    assert run_main(plot_frontier.main, args) == 0
    assert capsys.readouterr().err == ""


def test_a_copy_made_without_its_lock_files_is_not_said_to_be_at_work(tmp_path: Path) -> None:
    """A killed sweep and training copied without their hidden files (rsync --exclude='.lock', a tar of what ls
    shows) were said to have a search "still running" and to be "running": a run locks its folder before it writes
    args.json, so a folder with args.json and no .lock is a copy no process writes to, stopped as its original."""
    sweep = killed_sweep(tmp_path / "cluster")
    (sweep / "args.json").write_text(json.dumps({"kind": "sweep", "args": {"set": "digits"}}))
    training = write_unfinished(tmp_path / "cluster" / "eval-PC_DARTS_cifar-1", "PC_DARTS_cifar", 98.0)
    lock_run_dir(training).release()
    copied = {}
    for run in (sweep, training):
        copied[run] = tmp_path / "laptop" / run.name
        shutil.copytree(run, copied[run], ignore=shutil.ignore_patterns(".lock"))
    note = tables.unfinished_note(tables.load_sweep(copied[sweep]))  # plot_frontier.py's and the others' note
    assert note.startswith(f"note: {copied[sweep]} was stopped with 1 search unfinished")
    assert analyse_train_logs.read_eval_run(copied[training])["status"] == "stopped"


def test_a_sweep_between_two_searches_is_named_at_work_or_stopped(tmp_path: Path, capsys) -> None:
    """A sweep.json not at its end ("complete" false) with no search "running": the sweep is between two searches,
    at work while a process holds its folder, else stopped there; both were drawn as the sweep's front."""
    sweep = make_sweep(tmp_path)
    state = json.loads((sweep / "sweep.json").read_text())
    (sweep / "sweep.json").write_text(json.dumps({**state, "complete": False}))
    args = plot_frontier.build_parser().parse_args(["-l", str(sweep), "-o", str(tmp_path / "out.png")])
    with lock_run_dir(sweep):
        assert run_main(plot_frontier.main, args) == 0
    assert capsys.readouterr().err == (f"note: {sweep} is still at work, between two searches: shown are its "
                                       f"{len(SEARCHES)} finished searches\n")
    assert run_main(plot_frontier.main, args) == 0  # the lock released: stopped there
    assert capsys.readouterr().err == (
        f"note: {sweep} was stopped between two searches, before its end (python multiobjective.py --resume {sweep} "
        f"continues it): shown are its {len(SEARCHES)} finished searches\n")
    empty = tmp_path / "empty"
    shutil.copytree(sweep, empty)
    (empty / "sweep.json").write_text(json.dumps({**state, "complete": False, "searches": [], "pareto": []}))
    assert tables.nothing_finished(tables.load_sweep(empty)) == (
        f"{empty} has no finished search: it was stopped; python multiobjective.py --resume {empty} continues it")


def test_analyse_search_logs_names_a_killed_sweep_stopped(tmp_path: Path, capsys) -> None:
    sweep = killed_sweep(tmp_path)
    args = analyse_search_logs.build_parser().parse_args(["-l", str(sweep), "--no_latency", "-o",
                                                          str(tmp_path / "out.csv")])
    assert run_main(analyse_search_logs.main, args) == 0
    assert (f"note: {sweep} was stopped with 1 search unfinished (python multiobjective.py --resume {sweep} "
            "continues it)") in capsys.readouterr().err


@pytest.mark.parametrize("kind, saved, said, script", [
    ("search", {"arch_learning_rate": 6e-4}, "a search with no result yet", "train_search.py"),
    ("sweep", {"objective": "l2"}, "a sweep that has not started a search yet", "multiobjective.py"),
])
def test_a_run_not_ended_is_named_so_not_as_no_sweep(tmp_path: Path, kind: str, saved: dict, said: str,
                                                     script: str) -> None:
    """A search folder without result.json yet, or a sweep killed between its args.json and its first sweep.json,
    was "not a sweep folder ... (nor a search's result.json)" to every tool."""
    from utils import lock_run_dir

    run = tmp_path / f"{kind}-digits-x"
    run.mkdir()
    (run / "args.json").write_text(json.dumps({"kind": kind, "args": saved}))
    lock = lock_run_dir(run)
    with pytest.raises(ValueError, match=rf"is {said} \(it is still running\)"):
        tables.load_sweep(run)
    lock.release()
    with pytest.raises(ValueError, match=rf"is {said} \(it was stopped; python {script} --resume .* continues it\)"):
        tables.load_sweep(run)


def test_a_file_that_is_no_run_log_is_refused_not_read_as_its_folder(tmp_path: Path, capsys) -> None:
    """-t notes.txt (or -l) read the file's whole folder: every run beside it, one of them damaged, was reported as
    if it were what was asked for. Only a run's log.txt or a file in a run's folder stands for that folder."""
    damaged = tmp_path / "eval-DARTS_V2-20261207-120000"
    damaged.mkdir()
    (damaged / "args.json").write_text(json.dumps({"kind": "train", "args": {"arch": "DARTS_V2"}}))
    (damaged / "metrics.csv").write_text("epoch\n0\n")
    (damaged / "result.json").write_text("[1, 2]")
    notes = tmp_path / "notes.txt"
    notes.write_text("my runs\n")
    said = f"error: {notes} is a file, not a run folder or its log.txt\n"
    for tool, flag in ((analyse_train_logs, "-t"), (analyse_search_logs, "-l"), (plot_frontier, "-l"),
                       (compare_fronts, "-l")):
        args = tool.build_parser().parse_args([flag, str(notes), "-o", str(tmp_path / "out.csv")])
        assert run_main(tool.main, args) == 2
        assert capsys.readouterr().err == said
    assert run_main(search_stability.main, search_stability.build_parser().parse_args([str(notes)])) == 2
    assert capsys.readouterr().err == said
    for stands in (damaged / "log.txt", damaged / "args.json", damaged / "metrics.csv"):  # a run's own files name it
        stands.touch()
        assert tables.run_folder(stands) == damaged
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "log.txt").touch()  # a log alone (a run cut off before its records) still names its folder
    assert tables.run_folder(lone / "log.txt") == lone
    (lone / "metrics.csv").touch()
    with pytest.raises(ValueError, match="metrics.csv is a file, not a run folder or its log.txt"):
        tables.run_folder(lone / "metrics.csv")
    assert not (tmp_path / "out.csv").exists()


def test_a_folder_that_is_no_sweep_is_named_before_the_output(tmp_path: Path, capsys) -> None:
    """plot_frontier -l DIR -o DIR/x.png on a folder that is no sweep said "-o ... is inside the input folder": the
    input is the mistake, and is named first (nothing written either way); likewise in every tool that reads runs."""
    no_sweep = f"error: {tmp_path} is not a sweep folder: it has no sweep.json (nor a search's result.json)"
    cases = ((plot_frontier, ["-l"], "x.png", no_sweep), (compare_fronts, ["-l"], "x.png", no_sweep),
             (analyse_search_logs, ["-l"], "x.csv", no_sweep), (search_stability, [], "x.csv", no_sweep),
             (profile_genotypes, ["--archs"], "x.csv",
              f"error: run folder {tmp_path} has no genotype.json, result.json or genotypes.json"),
             (analyse_train_logs, ["-t"], "x.csv",
              f"error: {tmp_path} is neither an eval run folder nor a batch-train folder holding eval runs"))
    for tool, flag, name, message in cases:
        args = tool.build_parser().parse_args([*flag, str(tmp_path), "-o", str(tmp_path / name)])
        assert run_main(tool.main, args) == 2
        assert capsys.readouterr().err.strip().splitlines()[-1] == message, tool.__name__
        assert list(tmp_path.iterdir()) == []


def test_a_budget_picks_among_finished_runs_only(tmp_path: Path, capsys, monkeypatch) -> None:
    """A run still training (or stopped) has only its last evaluated epoch: the budget named it the best network
    within the limit, on that epoch's test error, while the front and its hypervolume leave it out."""
    table = tmp_path / "table.csv"
    table.write_text("name,test_acc,parameters,status\nl2_loss_2e01,90.0,1000000,done\n"
                     "l2_loss_3e02,99.0,1500000,running\nl2_loss_0,95.0,3000000,done\n")
    monkeypatch.setattr(analyse_train_logs, "make_plots", lambda *args, **kwargs: [])

    def pick(*budget: str) -> tuple[str | None, str]:
        result = analyse_train_logs.main(analyse_train_logs.build_parser().parse_args(
            ["-d", str(table), "-o", str(tmp_path / "t.csv"), "--baselines", "no", *budget]))
        return result["pick"], next(x for x in capsys.readouterr().out.splitlines() if x.startswith("budget"))

    name, line = pick("--max_params", "2")
    assert name == "l2_loss_2e01"
    assert "1 of 2 networks fit" in line and "left out: 1 network not finished training" in line
    table.write_text("name,test_acc,parameters,status\nl2_loss_3e02,99.0,1500000,running\n")
    name, line = pick("--max_params", "2")
    assert name is None and "no network has finished training" in line


def test_a_network_exactly_at_a_decimal_budget_fits() -> None:
    """--max_params 2.01 was the limit 2.01 * 1e6 = 2009999.9999999998: a network of exactly 2,010,000 parameters
    (and one of 4,100,000 FLOPs under --max_flops 4.1) was "none fits; the nearest is a (2.01 M parameters)"."""
    limits = tables.budget_limits(argparse.Namespace(max_params=2.01, max_flops=4.1), profiled=False)
    assert limits["parameters"][0] == 2010000 and limits["flops"][0] == 4100000
    df = pd.DataFrame({"name": ["a", "b"], "parameters": [2010000, 2010001], "flops": [4100000, 1]})
    best, line = tables.pick_within_budget(df, limits, [5.0, 4.0], "error {:.4g}")
    assert best == 0 and "1 of 2 networks fit; the best is a" in line


def test_a_budget_tie_in_error_picks_the_cheaper_network() -> None:
    """Two networks of one test error, both within the limit: the first row was named, here the larger one, which
    the cheaper one of the same error dominates."""
    limits = tables.budget_limits(argparse.Namespace(max_params=3.0, max_flops=500.0), profiled=False)
    df = pd.DataFrame({"name": ["big", "small", "worse"], "parameters": [2500000, 1500000, 1000000],
                       "flops": [300e6, 300e6, 100e6]})
    best, line = tables.pick_within_budget(df, limits, [3.5, 3.5, 4.0], "error {:.4g}")
    assert best == 1 and "the best is small" in line


def test_runs_of_several_datasets_are_said_not_comparable(tmp_path: Path, capsys, monkeypatch) -> None:
    """A digits batch given with a synthetic run: the synthetic run's low error made the front and its hypervolume
    of the digits networks, without a word that the errors are of other test sets."""
    table = tmp_path / "table.csv"
    table.write_text("name,test_acc,size_m,dataset\nl2_loss_2e01,60.0,1.0,digits\nl2_loss_0,55.0,2.0,digits\n"
                     "l2_loss_2e01,80.0,1.0,synthetic\n")
    monkeypatch.setattr(analyse_train_logs, "make_plots", lambda *args, **kwargs: [])
    analyse_train_logs.main(analyse_train_logs.build_parser().parse_args(
        ["-d", str(table), "-o", str(tmp_path / "t.csv"), "--baselines", "no"]))
    assert ("note: the runs were trained on 2 datasets (digits 2 runs, synthetic 1 run): their test errors are not "
            "comparable") in capsys.readouterr().out
    table.write_text("name,test_acc,size_m,dataset\nl2_loss_2e01,60.0,1.0,digits\nl2_loss_0,55.0,2.0,digits\n")
    analyse_train_logs.main(analyse_train_logs.build_parser().parse_args(
        ["-d", str(table), "-o", str(tmp_path / "t.csv"), "--baselines", "no"]))
    assert "note: the runs were trained on" not in capsys.readouterr().out


class _DiskFills:
    """A cell whose writing fails as a write on a disk that has just filled does."""

    def __str__(self) -> str:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_table_the_disk_cannot_take_leaves_the_old_one_whole(tmp_path: Path) -> None:
    """write_table (every tool's CSV: analyse_train_logs, search_stability...) opened the output in place: a full
    disk left the table it was replacing truncated (the last run's results lost) and the error named no file."""
    path = tmp_path / "table.csv"
    tables.write_table(pd.DataFrame({"arch": ["a", "b"], "test_acc": [90.5, 91.25]}), path)
    before = path.read_bytes()
    with pytest.raises(OSError) as caught:
        tables.write_table(pd.DataFrame({"arch": ["a", "b", "c"], "test_acc": [1.0, 2.0, _DiskFills()]}), path)
    assert caught.value.filename == str(path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_a_table_reads_back_the_floats_it_was_written_with(tmp_path: Path) -> None:
    """read_table gives back write_table's floats bit for bit (a re-plotted -d table's front and hypervolume are the
    analysis's own): pandas before 3.1 read 1.6400000000000001 as 1.64 unless asked for its round-trip parser."""
    path = tmp_path / "table.csv"
    losses = [1.6400000000000001, 2.6770691871643066, 0.1 + 0.2]
    tables.write_table(pd.DataFrame({"name": ["a", "b", "c"], "search_valid_loss": losses}), path)
    assert list(tables.read_table(path)["search_valid_loss"]) == losses
    assert list(tables.read_csv_exact(path)["search_valid_loss"]) == losses


def _figure() -> object:
    fig, ax = plots.plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [1, 0])
    return fig


@pytest.mark.parametrize("draw", [
    pytest.param(lambda path: plots.save_figure(_figure(), path.with_suffix(".png")), id="save_figure-png"),
    pytest.param(lambda path: plots.save_figure(_figure(), path.with_suffix(".pdf")), id="save_figure-pdf"),
    pytest.param(lambda path: plots.save_figure(_figure(), path.with_suffix(".svg")), id="save_figure-svg"),
    pytest.param(lambda path: plots.plot_losses([], "l2", path.with_name("losses.png")), id="plot_losses"),
    pytest.param(lambda path: plots_train.plot_training_curves(path.with_name("metrics.csv"), path.parent),
                 id="plot_training_curves"),
])
def test_a_figure_the_disk_cannot_take_leaves_the_old_one_whole(tmp_path: Path, draw, disk_fills) -> None:
    """Figures were written in place (savefig to the path): a full disk left the figure being replaced (a tool re-run
    with the same -o, a resumed sweep's frontier.png) truncated, and the error named no file."""
    columns = ["epoch", "train_loss", "valid_loss", "train_acc", "valid_acc", "train_top5", "valid_top5"]
    write_csv(tmp_path / "metrics.csv", columns, [dict.fromkeys(columns, 1.0) | {"epoch": e} for e in (0, 1)])
    written = draw(tmp_path / "figure")
    path = written[0] if isinstance(written, list) else written
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    open_before = plots.plt.get_fignums()
    disk_fills(1000)  # the write fails part-way through
    with pytest.raises(OSError) as caught:
        draw(tmp_path / "figure")
    assert (caught.value.errno, caught.value.filename) == (errno.ENOSPC, str(path))
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # the old figure whole, no temp file
    assert plots.plt.get_fignums() == open_before  # the figure closed all the same


def test_a_tool_whose_figure_the_disk_cannot_take_names_it(tmp_path: Path, disk_fills, capsys) -> None:
    """plot_frontier.py -o front.pdf re-run on a full disk: one error line naming the file, the old front kept."""
    sweep = make_sweep(tmp_path)
    out = tmp_path / "front.pdf"
    args = plot_frontier.build_parser().parse_args(["-l", str(sweep), "-o", str(out)])
    assert run_main(plot_frontier.main, args) == 0
    before = out.read_bytes()
    disk_fills(2000)
    assert run_main(plot_frontier.main, args) != 0
    assert capsys.readouterr().err.endswith(f"error: {out}: {os.strerror(errno.ENOSPC)}\n")
    assert out.read_bytes() == before and not list(tmp_path.glob(".front.pdf.*"))


def test_analyse_search_logs_refuses_a_table_joining_sweeps_of_different_objectives(tmp_path: Path,
                                                                                     capsys) -> None:
    """An l2 sweep's table joined with a flops sweep's was drawn as one front over R of both units (l2 norms and
    M FLOPs, on the training CE for both) and given one hypervolume; it is now refused before anything is written."""
    header = "name,nu,search_criterion_loss,search_valid_loss,search_reg_loss,objective\n"
    mixed = tmp_path / "mixed.csv"
    mixed.write_text(header + "l2_loss_2e01,0.2,2.29,2.31,29.1,l2\nl2_loss_0,0.0,2.06,2.02,444.8,l2\n"
                     "flops_loss_1e00,1.0,2.06,2.04,14.4,flops\n")
    args = analyse_search_logs.build_parser().parse_args(["-d", str(mixed), "-o", str(tmp_path / "out.csv")])
    assert run_main(analyse_search_logs.main, args) == 2
    assert "joins searches of sweeps of l2, flops" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mixed.csv"]


def test_the_train_command_of_a_budget_pick_trains_its_cells_while_genotypes_json_is_an_earlier_fronts(
        tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    """genotypes.json is written at a sweep's end: a sweep resumed and still at work (or stopped) has an earlier
    front's file. The pick's command named genotypes.json:NAME all the same, which train.py refused (a name the
    file lacks) or trained another search's cells with (a name a rename gave to another nu)."""
    monkeypatch.setattr(analyse_search_logs, "make_plots", lambda *args, **kwargs: [])
    sweep = make_sweep(tmp_path)
    fresh = json.loads((sweep / "genotypes.json").read_text())

    def train_line(genotypes_json: dict | None) -> list[str]:
        if genotypes_json is None:
            (sweep / "genotypes.json").unlink(missing_ok=True)
        else:
            (sweep / "genotypes.json").write_text(json.dumps(genotypes_json))
        args = analyse_search_logs.build_parser().parse_args(
            ["-l", str(sweep), "-o", str(tmp_path / "t.csv"), "--max_params", "10", *TINY])
        assert analyse_search_logs.main(args)["pick"] == "l2_loss_0"
        line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("train it: "))
        return shlex.split(line.removeprefix("train it: "))[2:4]

    assert train_line(fresh) == ["--arch", f"{sweep / 'genotypes.json'}:l2_loss_0"]
    search = str(sweep / "search-02-nu0")
    assert train_line({k: v for k, v in fresh.items() if k != "l2_loss_0"}) == ["--arch", search]
    assert train_line({**fresh, "l2_loss_0": fresh["l2_loss_2e01"]}) == ["--arch", search]  # another search's
    assert train_line(None) == ["--arch", search]  # none yet: its search folder holds the cells


def test_a_sweep_that_ended_with_a_search_failed_says_so(tmp_path: Path, capsys) -> None:
    """A sweep that ended with a search failed (its gap of the front open for good) was tabled and plotted as a
    whole front without a word; the tools that show a sweep's front now note the failed searches."""
    sweep = make_sweep(tmp_path)
    state = json.loads((sweep / "sweep.json").read_text())
    state["searches"].append({"index": 4, "weight": [0.1, 0.9], "status": "failed", "error": "RuntimeError: boom",
                              "run_dir": str(sweep / "search-04-nu0.1")})
    (sweep / "sweep.json").write_text(json.dumps(state))
    args = analyse_search_logs.build_parser().parse_args(["-l", str(sweep), "-o", str(tmp_path / "t.csv"), *TINY])
    assert run_main(analyse_search_logs.main, args) == 0
    assert (f"note: {sweep} ended with 1 search failed (the errors are in its sweep.json and log.txt): shown are its "
            "4 finished searches") in capsys.readouterr().err


def test_a_training_panel_with_nothing_to_draw_says_why() -> None:
    """With 5 classes or fewer train.py leaves every top-5 cell empty (every label is among the top 5), and top5.png
    was a bare axis from 0 to 1 "top-5 accuracy (%)" with no curve and no word."""
    rows = [{"epoch": str(e), "train_top5": "", "valid_top5": "", "test_top5": ""} for e in (0, 1)]
    ax = plots_train.training_figure(rows, "top5", "top-5 accuracy (%)").axes[0]
    assert not ax.lines and list(ax.get_yticks()) == []
    assert [t.get_text() for t in ax.texts] == [
        "not measured: with 5 classes or fewer\nevery label is among the top 5"]
    drawn = plots_train.training_figure([{"epoch": "0", "train_top5": "90.0"}], "top5", "top-5").axes[0]
    assert not drawn.texts and len(drawn.lines) == 1


def test_a_drawing_that_fails_leaves_no_figure_open(caplog: pytest.LogCaptureFixture) -> None:
    """draw_or_warn turns a failed plot into a warning; the figure it had opened stayed open, one more after each
    search of a sweep whose front could not be drawn. Figures open before it are not its to close."""
    import logging

    kept = plots.plt.figure()
    before = set(plots.plt.get_fignums())  # kept, and any an earlier test left open

    def failing() -> None:
        plots.plt.subplots()
        raise ValueError("no room for the labels")

    try:
        assert plots.draw_or_warn(logging.getLogger("t"), "the front", failing) is None
        assert set(plots.plt.get_fignums()) == before
        assert "could not draw the front: no room for the labels" in caplog.text
    finally:
        plots.plt.close(kept)
