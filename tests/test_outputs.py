"""An output path never replaces an input or a file of a run folder (utils.check_output, every script).

Each script is pointed at an output that is one of its inputs, or that lies inside a run folder
the project wrote; it must stop with one line before any work and leave every file as it was.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

import batch_size_predict as bsp
import ensemble
import genotypes
import utils
from model import NetworkCIFAR
from tools import analyse_search_logs, analyse_train_logs, plot_frontier, profile_genotypes
from utils import UserError, run_main


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(main, parser, argv: list[str], capsys: pytest.CaptureFixture, expected: str) -> None:
    assert run_main(main, parser.parse_args(argv)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and expected in err, err


def eval_run(folder: Path) -> Path:
    """An eval-* folder as train.py leaves it (untrained tiny weights)."""
    folder.mkdir(parents=True)
    (folder / "args.json").write_text(json.dumps({"kind": "train", "args": {
        "arch": "DARTS_V2", "init_channels": 4, "layers": 3, "auxiliary": False, "set": "digits"}}))
    (folder / "result.json").write_text(json.dumps({"genotype": genotypes.genotype_to_dict(genotypes.DARTS_V2),
                                                    "test_acc": 10.0}))
    torch.save(NetworkCIFAR(4, 10, 3, False, genotypes.DARTS_V2).state_dict(), folder / "weights.pt")
    return folder


def sweep_folder(root: Path) -> Path:
    sweep = root / "multi-search-digits-EXP-1"
    sweep.mkdir(parents=True)
    (sweep / "args.json").write_text(json.dumps({"kind": "sweep", "args": {"set": "digits"}}))
    (sweep / "sweep.json").write_text(json.dumps({"objective": "l2", "args": {"set": "digits"}, "searches": [],
                                                  "pareto": []}))
    (sweep / "genotypes.json").write_text(json.dumps({"l2_loss_2e01": genotypes.genotype_to_dict(genotypes.DARTS_V2)}))
    (sweep / "log.txt").write_text("sweep log\n")
    (sweep / "frontier.png").write_bytes(b"\x89PNG the sweep's own plot")
    return sweep


def test_ensemble_does_not_replace_trained_weights(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    models = tmp_path / "batch-train-EXP-1"
    run = eval_run(models / "eval-DARTS_V2-1")
    (models / "batch.json").write_text(json.dumps({"args": {}, "entries": []}))
    before = snapshot(models)
    parser = ensemble.build_parser()
    for name in ("weights.pt", "new.json"):
        refused(ensemble.main, parser, ["--models_folder", str(models), "-o", str(run / name)], capsys,
                "is inside the input folder")
    refused(ensemble.main, parser, ["--models_folder", str(models), "-o", str(models / "trained.csv")], capsys,
            "inside a batch-train run folder")
    assert snapshot(models) == before


def test_profile_genotypes_does_not_rewrite_its_genotype_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    spec = tmp_path / "g.json"
    genotypes.save_genotype(genotypes.DARTS_V2, spec)
    (tmp_path / "link.csv").symlink_to(spec)
    os.link(spec, tmp_path / "hard.csv")
    before = snapshot(tmp_path)
    parser = profile_genotypes.build_parser()
    for out in (spec, tmp_path / "link.csv", tmp_path / "hard.csv"):
        refused(profile_genotypes.main, parser, ["--archs", str(spec), "--no_latency", "-o", str(out)], capsys,
                "is also an input")
    mapping = tmp_path / "genotypes.json"  # FILE:NAME reads FILE
    mapping.write_text(json.dumps({"DARTS_V2": genotypes.genotype_to_dict(genotypes.DARTS_V2)}))
    before = snapshot(tmp_path)
    refused(profile_genotypes.main, parser, ["--archs", f"{mapping}:DARTS_V2", "--no_latency", "-o", str(mapping)],
            capsys, "is also an input")
    assert snapshot(tmp_path) == before


def test_analysis_tools_do_not_write_into_run_folders(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    batch = tmp_path / "batch-train-EXP-1"
    eval_run(batch / "eval-DARTS_V2-1")
    (batch / "batch.json").write_text(json.dumps({"args": {}, "entries": []}))
    (batch / "trained.csv").write_text("arch,batch_size,model_size,test_acc,test_top5,run_dir\n")
    sweep = sweep_folder(tmp_path)
    memory = tmp_path / "memory.csv"  # a valid -d: the input is read before the output is checked
    memory.write_text("model size,batch size,GPU mb\n1.37,32,2911\n1.37,128,7923\n3.35,96,10420\n")
    before = snapshot(tmp_path)
    refused(analyse_train_logs.main, analyse_train_logs.build_parser(),
            ["-t", str(batch), "-o", str(batch / "trained.csv"), "--no_latency"], capsys, "inside the input folder")
    refused(analyse_train_logs.main, analyse_train_logs.build_parser(),
            ["-t", str(batch / "eval-DARTS_V2-1"), "-o", str(sweep / "table.csv"), "--no_latency"], capsys,
            "inside a sweep run folder")
    refused(analyse_search_logs.main, analyse_search_logs.build_parser(),
            ["-l", str(sweep / "log.txt"), "-o", str(sweep / "genotypes.csv"), "--no_latency"], capsys,
            "inside a sweep run folder")
    refused(plot_frontier.main, plot_frontier.build_parser(),
            ["-l", str(sweep / "log.txt"), "-o", str(sweep / "frontier.png")], capsys, "inside a sweep run folder")
    refused(bsp.main, bsp.build_parser(), ["-d", str(memory), "-o", str(batch / "model.json")],
            capsys, "inside a batch-train run folder")
    assert snapshot(tmp_path) == before


def test_check_output_rules(tmp_path: Path) -> None:
    search = tmp_path / "search-EXP-1"
    search.mkdir()
    (search / "args.json").write_text(json.dumps({"kind": "search", "args": {"set": "digits"}}))
    with pytest.raises(UserError, match="inside a search run folder"):
        utils.check_output(search / "sub" / "x.csv", "-o")
    assert utils.check_output(search / "mine.json", "-o", allowed=[search / "mine.json"]) == search / "mine.json"
    plain = tmp_path / "project"
    plain.mkdir()
    (plain / "args.json").write_text("not JSON: a user's own file, not a run folder")
    assert utils.check_output(plain / "out.csv", "-o") == plain / "out.csv"
    (tmp_path / "in").mkdir()
    with pytest.raises(UserError, match="inside the input folder"):
        utils.check_output(tmp_path / "in" / "deep" / "x.csv", "-o", [tmp_path / "in"])
    assert utils.check_output(tmp_path / "x.csv", "-o", [tmp_path / "in"]) == tmp_path / "x.csv"
    assert utils.run_folder_kind(search) == "search" and utils.run_folder_kind(plain) is None
