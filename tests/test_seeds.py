"""Several seeds per genotype: batch_train --seeds, the mean ± std table of analyse_train_logs, the ensembles of
all runs and of the best run per genotype, and search_stability.

One module-wide batch of 2 tiny digits genotypes x 2 seeds (1 epoch) feeds the tests.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

import batch_train
from utils import run_main

TINY = ["--set", "digits", "--init_channels", "4", "--layers", "3", "--batch_size", "64", "--subsample", "0.1",
        "--epochs", "1", "--no_progress"]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    logdir = tmp_path_factory.mktemp("logs")
    args = batch_train.build_parser().parse_args(
        [*TINY, "--archs", "DARTS_V2", "PC_DARTS_cifar", "DARTS_V2", "--seeds", "3", "5", "--logdir", str(logdir)])
    return batch_train.main(args)


def test_every_genotype_once_per_seed_each_in_its_folder(seeded: dict) -> None:
    folder = Path(seeded["run_dir"])
    assert seeded["trained"] == 4 and seeded["failed"] == 0
    assert [(e["label"], e.get("seed"), e["status"]) for e in seeded["entries"]] == [
        ("DARTS_V2", None, "skipped"), ("DARTS_V2", 3, "done"), ("PC_DARTS_cifar", 3, "done"),
        ("DARTS_V2", 5, "done"), ("PC_DARTS_cifar", 5, "done")]
    evals = sorted(p.name.rsplit("-", 2)[0] for p in folder.glob("eval-*"))
    assert evals == ["eval-DARTS_V2-s3", "eval-DARTS_V2-s5", "eval-PC_DARTS_cifar-s3", "eval-PC_DARTS_cifar-s5"]
    with open(folder / "trained.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == batch_train.SEEDED_COLUMNS
    assert [(r["arch"], r["seed"]) for r in rows] == [("DARTS_V2", "3"), ("PC_DARTS_cifar", "3"),
                                                      ("DARTS_V2", "5"), ("PC_DARTS_cifar", "5")]
    for row in rows:
        run = Path(row["run_dir"])
        assert run.name.startswith(f"eval-{row['arch']}-s{row['seed']}-")
        assert json.loads((run / "args.json").read_text())["args"]["seed"] == int(row["seed"])
        assert float(row["test_acc"]) == pytest.approx(json.loads((run / "result.json").read_text())["test_acc"])
    state = json.loads((folder / "batch.json").read_text())
    assert state["seeds"] == [3, 5] and state["args"]["seeds"] == [3, 5]
    assert all(e["genotype"] for e in state["entries"])  # self-contained: a resume needs no spec file
    assert list(json.loads((folder / "genotypes.json").read_text())) == ["DARTS_V2", "PC_DARTS_cifar"]


def test_a_seeded_batch_resumes_without_training_again(seeded: dict) -> None:
    again = batch_train.main(batch_train.build_parser().parse_args(["--resume", seeded["run_dir"], "--no_progress"]))
    assert again["trained"] == 4 and len(list(Path(seeded["run_dir"]).glob("eval-*"))) == 4
    assert [e.get("seed") for e in again["entries"]] == [None, 3, 3, 5, 5]


def test_seeds_given_twice_are_refused_before_any_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = batch_train.build_parser().parse_args([*TINY, "--archs", "DARTS_V2", "--seeds", "1", "1",
                                                  "--logdir", str(tmp_path)])
    assert run_main(batch_train.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert "given twice" in err and "\n" not in err and list(tmp_path.iterdir()) == []


def test_without_seeds_the_plan_and_folders_are_as_before() -> None:
    entries = batch_train.plan(["DARTS_V2", "PC_DARTS_cifar"])
    assert all("seed" not in e for e in entries) and len(entries) == 2
    assert len(batch_train.plan(["DARTS_V2", "PC_DARTS_cifar"], [0, 1, 2])) == 6
