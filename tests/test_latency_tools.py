"""The latency table's user-facing checks: its validation statistics, and hand-edited or foreign tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import cost
import genotypes
from tools import latency_table
from utils import UserError

SPEC = cost.EvalSpec(4, 10, 3, False, 8)


def synthetic_table(spec: cost.EvalSpec = SPEC) -> dict:
    """A table as tools/latency_table.py writes it for ``spec``, with made-up times (no timing)."""
    ops = {}
    for reduction, channels, side in cost.cell_shapes(spec):
        for shape in cost.edge_shapes(reduction, channels, side):
            for k, op in enumerate(cost.OP_NAMES):
                ops[cost.op_key(op, *shape)] = 0.01 * (k + 1) * shape[0] / shape[2]
    return {"device": "cpu", "batch": 1, "ops": ops, "fixed_ms": 0.5, "input_side": spec.side,
            "eval": {k: v for k, v in spec.to_dict().items() if k != "input"}}


def test_spearman_of_tied_estimates_does_not_depend_on_their_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """genotypes.py lists one genotype under several names, so the table's estimates tie; ranked in list order, the
    Spearman correlation of --validate changed when two of those names swapped their measured times."""
    same = genotypes.PC_DARTS_cifar
    chosen = {"a": same, "b": same, "pool": cost.uniform_genotype("max_pool_3x3"),
              "sep": cost.uniform_genotype("sep_conv_3x3")}
    monkeypatch.setattr(latency_table, "published_genotypes", lambda: chosen)
    table = synthetic_table()
    first = latency_table.validate(table, SPEC, {"a": 2.0, "b": 1.0, "pool": 0.5, "sep": 3.0})
    swapped = latency_table.validate(table, SPEC, {"a": 1.0, "b": 2.0, "pool": 0.5, "sep": 3.0})
    assert first["spearman"] == pytest.approx(swapped["spearman"])
    est = np.array([r["estimate_ms"] for r in first["genotypes"]])
    assert est[0] == est[1] and len(set(est)) == 3  # the tie the test is about, and an order among the rest
    # Spearman's rho with ties: Pearson's r of the average ranks
    mea = np.array([2.0, 1.0, 0.5, 3.0])
    rank_e = np.array([sorted(est).index(v) + (list(est).count(v) - 1) / 2 for v in est])
    rank_m = np.array([sorted(mea).index(v) for v in mea], dtype=float)
    assert first["spearman"] == pytest.approx(float(np.corrcoef(rank_e, rank_m)[0, 1]))


@pytest.mark.parametrize("network", [[4, 10, 3], "NetworkCIFAR(4, 10, 3)", 7])
def test_a_table_whose_network_record_is_no_mapping_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                       network: object) -> None:
    """A hand-edited table whose 'eval' was a list or a string passed the table's check and then failed the sweep
    with a TypeError traceback where its network was compared with the search's."""
    import multiobjective
    from utils import run_main

    table = synthetic_table()
    table["eval"] = network
    path = tmp_path / "t.json"
    path.write_text(json.dumps(table))
    with pytest.raises(UserError, match=r"not a latency table .*\('eval'\)"):
        cost.load_latency_table(path)
    args = multiobjective.build_parser().parse_args([
        "-o", "latency", "--max_searches", "1", "cifar", "--set", "digits", "--image_size", "8", "--layers", "3",
        "--init_channels", "4", "--epochs", "1", "--begin", "0", "--device", "cpu", "--threads", "1",
        "--eval_channels", "4", "--eval_layers", "3", "--latency_table", str(path), "--logdir", str(tmp_path / "logs")])
    assert run_main(multiobjective.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --latency_table ") and "\n" not in err
    assert not (tmp_path / "logs").exists()


def test_profile_genotypes_of_a_sweep_still_running_says_so(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A sweep writes genotypes.json at its end: profiling one still running said its folder 'has no genotype.json,
    result.json or genotypes.json', as if it were no sweep at all."""
    from tools import profile_genotypes
    from utils import run_main

    sweep = tmp_path / "multi-search-digits-EXP-20260101-000000"
    sweep.mkdir()
    (sweep / "sweep.json").write_text(json.dumps({"args": {}, "searches": []}))
    (sweep / "log.txt").write_text("search 0: nu = 1\n")
    for given in (sweep, sweep / "log.txt"):
        args = profile_genotypes.build_parser().parse_args(["--archs", str(given), "--no_latency", "--device", "cpu",
                                                            "-o", str(tmp_path / "p.csv")])
        assert run_main(profile_genotypes.main, args) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"error: {sweep} is a sweep without its genotypes.json yet") and "\n" not in err
    assert not (tmp_path / "p.csv").exists()


def _sweep_with(root: Path, statuses: list[str], objective: str = "l2") -> Path:
    """A tiny sweep folder whose searches have these statuses (done ones with a result and a genotype)."""
    sweep = root / "multi-search-digits-EXP-20260101-000000"
    sweep.mkdir(parents=True)
    records = []
    for index, status in enumerate(statuses):
        run = sweep / f"search-{index:02d}"
        run.mkdir()
        record = {"index": index, "weight": [0.1 * index, 1 - 0.1 * index], "run_dir": str(run), "status": status}
        if status == "done":
            code = ("PC_DARTS_cifar", "DARTS_V2", "DARTS_V1")[index % 3]
            record.update(reg_loss=1.0 + index, criterion_loss=2.0 - 0.1 * index, valid_loss=2.1 - 0.1 * index,
                          model_size=0.1,
                          genotype=genotypes.genotype_to_dict(getattr(genotypes, code)))
        records.append(record)
    (sweep / "sweep.json").write_text(json.dumps({"objective": objective, "args": {"seed": 2}, "searches": records}))
    return sweep


def test_search_stability_says_when_a_sweep_is_still_running_or_has_nothing_finished(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A sweep still running was compared by its finished searches without a word, and one with none finished was
    left out of the comparison: the tables looked complete."""
    from tools import search_stability
    from utils import run_main

    running = _sweep_with(tmp_path / "a", ["done", "done", "running"])
    args = search_stability.build_parser().parse_args([str(running), "-o", str(tmp_path / "out" / "s.csv")])
    assert run_main(search_stability.main, args) == 0
    err = capsys.readouterr().err
    assert f"note: {running} has 1 search still running: compared are its 2 finished searches" in err
    empty = _sweep_with(tmp_path / "b", ["running"])
    args = search_stability.build_parser().parse_args([str(running), str(empty), "-o", str(tmp_path / "o2" / "s.csv")])
    assert run_main(search_stability.main, args) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == f"error: {empty} has no finished search yet"
    assert not (tmp_path / "o2").exists()


def test_a_sweep_killed_with_searches_running_reads_as_stopped_with_its_resume(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A killed sweep's sweep.json keeps "running" for ever: the tools said "still running" and "wait for it" of a
    sweep that waits for its --resume. Its lock tells the two apart (utils.run_is_live)."""
    from tools import profile_genotypes, search_stability, tables
    from utils import lock_run_dir, run_main

    sweep = _sweep_with(tmp_path / "a", ["done", "done", "running"])
    with lock_run_dir(sweep):  # at work
        assert (tables.load_sweep(sweep)["running"], tables.load_sweep(sweep)["stopped"]) == (1, 0)
    (sweep / ".lock").write_text("4242\n")  # what a holder killed with -9 leaves: its pid, and no lock
    loaded = tables.load_sweep(sweep)
    assert (loaded["running"], loaded["stopped"]) == (0, 1)
    args = search_stability.build_parser().parse_args([str(sweep), "-o", str(tmp_path / "out" / "s.csv")])
    assert run_main(search_stability.main, args) == 0
    assert (f"note: {sweep} was stopped with 1 search unfinished (python multiobjective.py --resume {sweep} "
            "continues it): compared are its 2 finished searches") in capsys.readouterr().err
    empty = _sweep_with(tmp_path / "b", ["running", "failed"])
    (empty / ".lock").write_text("4242\n")
    assert tables.nothing_finished(tables.load_sweep(empty)) == (
        f"{empty} has no finished search: it was stopped with 1 search unfinished (1 failed); "
        f"python multiobjective.py --resume {empty} continues it")
    args = profile_genotypes.build_parser().parse_args(["--archs", str(empty), "--no_latency", "--device", "cpu",
                                                        "-o", str(tmp_path / "p.csv")])
    assert run_main(profile_genotypes.main, args) == 2
    err = capsys.readouterr().err
    assert f"it was stopped; python multiobjective.py --resume {empty} continues it" in err


def test_search_stability_groups_searches_of_different_objectives_apart(tmp_path: Path) -> None:
    """nu = 0.1 of an -o l2 sweep and nu = 0.1 of an -o flops sweep weigh different penalties, yet they were one
    group, compared as if they were seeds of one search."""
    from tools import search_stability

    l2 = _sweep_with(tmp_path / "a", ["done", "done"])
    flops = _sweep_with(tmp_path / "b", ["done", "done"], objective="flops")
    searches = search_stability.collect([str(l2), str(flops)])
    _, groups, _ = search_stability.stability(searches, "nu")
    assert sorted(groups["group"]) == ["flops ν=0", "flops ν=0.1", "l2 ν=0", "l2 ν=0.1"]
    assert (groups["n"] == 1).all()
    one = search_stability.collect([str(l2)])  # one objective: the groups are named by nu alone, as before
    assert sorted(search_stability.stability(one, "nu")[1]["group"]) == ["ν=0", "ν=0.1"]


def test_the_default_output_does_not_replace_a_table_of_another_device_batch_or_network(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """Without -o a table went to latency_table.json whatever was there: a batch-8 table made after a batch-1 one
    (or another network's) replaced it without a word. A remake of the same table, or a named -o, still replaces."""
    from utils import run_main

    monkeypatch.setattr(latency_table, "measure_latency", lambda *a, **k: 1.0)
    monkeypatch.chdir(tmp_path)
    small = ["--eval_channels", "4", "--eval_layers", "3", "--image_size", "8", "--threads", "1", "--rounds", "1",
             "--no_progress"]

    def run(*flags: str) -> int:
        return run_main(latency_table.main, latency_table.build_parser().parse_args([*small, *flags]))

    assert run() == 0 and run() == 0  # made, then remade alike
    made = (tmp_path / "latency_table.json").read_text()
    capsys.readouterr()
    assert run("--batch", "8") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: the default -o latency_table.json is a latency table of another batch (batch 1)")
    assert "\n" not in err and (tmp_path / "latency_table.json").read_text() == made
    assert run("--eval_layers", "4") == 2 and "another eval" in capsys.readouterr().err
    assert run("--batch", "8", "-o", "latency_table.json") == 0
    assert json.loads((tmp_path / "latency_table.json").read_text())["batch"] == 8


def test_an_imagenet_table_has_the_imagenet_classifier_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    run_script) -> None:
    """--imagenet built NetworkImageNet with 10 classes unless --num_classes was given, so the table of
    `latency_table.py --imagenet` fitted no ImageNet search (1000 classes) and was refused by every one."""
    monkeypatch.setattr(latency_table, "measure_latency", lambda *a, **k: 1.0)
    small = ["--eval_channels", "4", "--eval_layers", "3", "--image_size", "32", "--threads", "1", "--rounds", "1",
             "--no_progress", "--imagenet"]
    status, err = run_script("tools/latency_table.py", latency_table, latency_table.main,
                             [*small, "-o", str(tmp_path / "in.json")])
    assert status == 0, err
    table = json.loads((tmp_path / "in.json").read_text())
    assert table["eval"]["num_classes"] == 1000
    cost.check_table_spec(table, cost.EvalSpec(4, 1000, 3, True, 32))  # an ImageNet search's network: no error
    status, err = run_script("tools/latency_table.py", latency_table, latency_table.main,
                             [*small, "--num_classes", "100", "-o", str(tmp_path / "in100.json")])
    assert status == 0 and json.loads((tmp_path / "in100.json").read_text())["eval"]["num_classes"] == 100


def test_search_stability_reads_the_sweeps_seed_where_a_searchs_args_json_is_damaged(tmp_path: Path) -> None:
    """A search's args.json whose "args" was no mapping (a hand edit) stopped search_stability.py with an
    AttributeError traceback; an args.json that is no mapping at all already fell back to the sweep's seed."""
    from tools import search_stability

    sweep = _sweep_with(tmp_path / "a", ["done", "done"])
    (sweep / "search-00" / "args.json").write_text(json.dumps({"args": [1]}))
    (sweep / "search-01" / "args.json").write_text(json.dumps({"args": {"seed": 7}}))
    assert [s["seed"] for s in search_stability.collect([str(sweep)])] == [2, 7]


def test_gpu_beside_the_cpu_names_only_devices_the_tool_takes(tmp_path: Path, run_script) -> None:
    """latency_table's --device has no auto: its refusal of --gpu on the CPU offered "--device cuda (or auto)", and
    the auto it named is itself refused."""
    status, err = run_script("tools/latency_table.py", latency_table, latency_table.main,
                             ["--gpu", "1", "-o", str(tmp_path / "t.json")])
    assert status == 2 and not (tmp_path / "t.json").exists()
    assert err.strip().endswith("drop --gpu, or pass --device cuda") and "auto" not in err, err


@pytest.mark.parametrize("device", ["cuda", "mps"])
def test_a_device_that_is_not_there_is_refused_without_offering_auto(
        tmp_path: Path, run_script, monkeypatch: pytest.MonkeyPatch, device: str) -> None:
    """--device cuda (or mps) where there is none was refused with "try --device auto or cpu", and the auto it
    offered is not one of this tool's choices (argparse refused it in turn)."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    status, err = run_script("tools/latency_table.py", latency_table, latency_table.main,
                             ["--device", device, "-o", str(tmp_path / "t.json")])
    assert status == 2 and not (tmp_path / "t.json").exists()
    assert err.startswith(f"error: --device {device} is not available") and "auto" not in err, err
    assert err.strip().count("\n") == 0
