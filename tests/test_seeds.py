"""Several seeds per genotype: batch_train --seeds, the mean ± std table of analyse_train_logs, the ensembles of
all runs and of the best run per genotype, and search_stability.

One module-wide batch of 2 tiny digits genotypes x 2 seeds (1 epoch) feeds the tests.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import statistics
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import batch_train
import ensemble
import genotypes
from tools import analyse_train_logs, search_stability, tables
from utils import lock_run_dir, run_main

# the whole (8x8) training set: a --subsample would be drawn anew by each seed, and the runs then share no held-out
# split for ensemble.py --calculate
TINY = ["--set", "digits", "--image_size", "8", "--init_channels", "4", "--layers", "3", "--batch_size", "64",
        "--epochs", "1", "--train_portion", "0.8", "--no_progress"]


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


# --------------------------------------------------------------------------- analyse_train_logs: mean ± std


def test_the_summary_equals_the_numbers_computed_by_hand_from_result_json(seeded: dict, tmp_path: Path) -> None:
    out = tmp_path / "table.csv"
    result = analyse_train_logs.main(analyse_train_logs.build_parser().parse_args(
        ["-t", seeded["run_dir"], "-o", str(out), "--no_latency", "--baselines", "no"]))
    per_run = pd.read_csv(out)
    assert sorted(zip(per_run["name"], per_run["seed"])) == [("DARTS_V2", 3), ("DARTS_V2", 5),
                                                             ("PC_DARTS_cifar", 3), ("PC_DARTS_cifar", 5)]
    summary = pd.read_csv(tmp_path / "table_summary.csv")
    assert result["summary_csv"] == tmp_path / "table_summary.csv"
    by_hand: dict[str, list[float]] = {}
    for run in Path(seeded["run_dir"]).glob("eval-*"):
        res = json.loads((run / "result.json").read_text())
        by_hand.setdefault(res["arch"], []).append(100.0 - res["test_acc"])
    assert sorted(summary["name"]) == sorted(by_hand)
    for _, row in summary.iterrows():
        errors = by_hand[row["name"]]
        assert row["n"] == 2 and row["seeds"] == "3 5"
        assert row["test_error_mean"] == pytest.approx(statistics.mean(errors), abs=1e-9)
        assert row["test_error_std"] == pytest.approx(statistics.stdev(errors), abs=1e-9)  # ddof=1
        assert row["test_error_best_of_n"] == pytest.approx(min(errors), abs=1e-9)
    front, close = tables.overlapping_neighbours(summary["size_m"].tolist(), summary["test_error_mean"].tolist(),
                                                 summary["test_error_std"].tolist())
    assert list(summary["pareto_params"]) == [i in front for i in range(len(summary))]
    assert list(summary["not_separable"]) == [i in close for i in range(len(summary))]
    assert {p.name for p in result["plots"]} >= {"table_error_vs_params.png", "table_error_vs_flops.png"}
    # the front is of the genotypes' means, not of single runs (a best-of-n front of lucky seeds)
    means = tables.front_hypervolume(summary["size_m"].to_numpy(float), summary["test_error_mean"].to_numpy(float))
    assert result["hypervolume"]["value"] == pytest.approx(means[0])


def test_one_run_has_no_std_and_the_single_seed_table_is_as_before(seeded: dict, tmp_path: Path) -> None:
    (one,) = Path(seeded["run_dir"]).glob("eval-PC_DARTS_cifar-s3-*")
    result = analyse_train_logs.main(analyse_train_logs.build_parser().parse_args(
        ["-t", str(one), "-o", str(tmp_path / "t.csv"), "--no_latency", "--baselines", "no"]))
    row = result["summary"].iloc[0]
    assert row["n"] == 1 and math.isnan(row["test_error_std"])
    assert row["test_error_best_of_n"] == row["test_error_mean"] == pytest.approx(100 - result["table"]["test_acc"][0])
    assert not analyse_train_logs.repeated(result["summary"])


def test_a_seed_still_training_pools_with_the_finished_seeds_of_its_genotype(seeded: dict, tmp_path: Path) -> None:
    """A run still training (only metrics.csv) had no auxiliary setting, unlike a result.json, so mid-batch its
    genotype got a second summary row (n 1, "running"): a duplicate point on every plot and on the front."""
    (done,) = Path(seeded["run_dir"]).glob("eval-DARTS_V2-s5-*")
    running = tmp_path / "eval-DARTS_V2-s7-1"
    shutil.copytree(done, running)
    (running / "result.json").unlink()
    (running / "weights.pt").unlink()
    with lock_run_dir(running):  # at work: a training holds its folder's lock
        result = analyse_train_logs.main(analyse_train_logs.build_parser().parse_args(
            ["-t", seeded["run_dir"], str(running), "-o", str(tmp_path / "t.csv"), "--no_latency", "--baselines",
             "no"]))
    assert "running" in set(result["table"]["status"])
    summary = result["summary"]
    assert sorted(summary["name"]) == ["DARTS_V2", "PC_DARTS_cifar"]
    row = summary[summary["name"] == "DARTS_V2"].iloc[0]
    assert row["n"] == 2 and row["status"] == "done"  # over the finished runs, as the module doc says


def test_runs_of_one_genotype_trained_otherwise_are_not_pooled_as_seeds() -> None:
    """A genotype trained at 64 px and at 224 px with the auxiliary head made one row, "n 2, seeds 0 0", a mean
    and std over two different setups, with the first run's FLOPs."""
    def run(seed: int, flops: float, auxiliary: bool, acc: float) -> dict:
        return {"name": "g", "size_m": 2.3, "parameters": 2_300_000, "flops": flops, "test_acc": acc, "seed": seed,
                "status": "done", "valid_acc": acc, "dataset": "imagenet", "auxiliary": auxiliary}

    df = pd.DataFrame([run(0, 4.4e5, False, 50.0), run(0, 5.4e6, True, 60.0), run(1, 4.4e5, False, 52.0)],
                      columns=[*analyse_train_logs.TABLE_COLUMNS])
    summary = analyse_train_logs.summary_table(df)
    assert sorted(zip(summary["n"], summary["flops"])) == [(1, 5.4e6), (2, 4.4e5)]
    assert summary.loc[summary["n"] == 2, "seeds"].iat[0] == "0 1"


def test_a_sweeps_cells_and_the_published_ones_of_one_name_are_not_pooled_as_seeds() -> None:
    """A sweep's l2_loss_2e01 and the published l2_loss_2e01 (all-pooling cells both, so of one size and FLOPs)
    made one row "n 3, seeds 0 0 1": the mean and std of two different genotypes."""
    sweep = str(genotypes.Genotype(normal=[("avg_pool_3x3", 1)] * 8, normal_concat=[2, 3, 4, 5],
                                   reduce=[("max_pool_3x3", 0)] * 8, reduce_concat=[2, 3, 4, 5]))
    published = str(genotypes.PUBLISHED["l2_loss_2e01"])

    def run(cells: str, seed: int, acc: float) -> dict:
        return {"name": "l2_loss_2e01", "size_m": 0.0022, "parameters": 2198, "flops": 54144.0, "test_acc": acc,
                "seed": seed, "status": "done", "valid_acc": acc, "dataset": "digits", "auxiliary": False,
                "epochs": 2, "genotype": cells}

    df = pd.DataFrame([run(sweep, 0, 22.0), run(published, 0, 17.5), run(published, 1, 25.8)],
                      columns=[*analyse_train_logs.TABLE_COLUMNS])
    summary = analyse_train_logs.summary_table(df)
    assert sorted(zip(summary["n"], summary["seeds"])) == [(1, "0"), (2, "0 1")]
    assert analyse_train_logs.pooling_note(df) is None


def test_a_pool_that_repeats_a_seed_or_mixes_epochs_is_named() -> None:
    """Two batch folders of one setup given to -t pooled "n 3, seeds 0 0 1": the same training counted twice in
    the mean and std, and a 2-epoch and a 20-epoch training pooled as seeds, without a word."""
    def run(name: str, seed: int, epochs: int, acc: float, status: str = "done") -> dict:
        return {"name": name, "size_m": 2.3, "parameters": 2_300_000, "flops": 4.4e5, "test_acc": acc, "seed": seed,
                "status": status, "valid_acc": acc, "dataset": "digits", "auxiliary": False, "epochs": epochs}

    columns = [*analyse_train_logs.TABLE_COLUMNS]
    twice = pd.DataFrame([run("a", 0, 2, 70.0), run("a", 0, 2, 70.0), run("a", 1, 2, 90.0)], columns=columns)
    assert analyse_train_logs.summary_table(twice)["seeds"].iat[0] == "0 0 1"
    note = analyse_train_logs.pooling_note(twice)
    assert note is not None and "a (seed 0 more than once)" in note
    mixed = pd.DataFrame([run("b", 0, 2, 70.0), run("b", 1, 20, 90.0)], columns=columns)
    assert "b (runs of 2 and 20 epochs)" in analyse_train_logs.pooling_note(mixed)
    # one run per seed of one length, and a seed still training (its epochs so far) beside finished ones: no note
    fine = pd.DataFrame([run("c", 0, 20, 70.0), run("c", 1, 20, 90.0), run("c", 2, 3, 50.0, "running")],
                        columns=columns)
    assert analyse_train_logs.pooling_note(fine) is None


def test_a_pool_that_mixes_other_training_settings_is_named(tmp_path: Path) -> None:
    """Two batches of one genotype, one trained at --learning_rate 0.05 and one at 0.025 (same epochs, cells, size),
    pooled as "n 4, seeds 0 1 3 4" without a word: the std was mostly the learning rate's."""
    def run(seed: int, lr: float) -> Path:
        folder = tmp_path / f"eval-g-s{seed}-20260101-000000"
        folder.mkdir()
        (folder / "result.json").write_text(json.dumps({"test_acc": 60.0 + seed, "arch": "g", "epochs": 2}))
        (folder / "args.json").write_text(json.dumps({"args": {"seed": seed, "learning_rate": lr, "batch_size": 64,
                                                               "cutout": False, "set": "digits"}}))
        return folder

    runs = [analyse_train_logs.read_eval_run(run(seed, lr)) for seed, lr in ((0, 0.05), (1, 0.05), (3, 0.025))]
    assert json.loads(runs[2]["train_settings"]) == {"batch_size": 64, "cutout": False, "learning_rate": 0.025}

    def table(rows: list[dict]) -> pd.DataFrame:
        return pd.DataFrame([{"name": "g", "size_m": 2.3, "parameters": 2_300_000, "flops": 4.4e5,
                              "test_acc": r["test_acc"], "seed": r["seed"], "status": "done", "dataset": "digits",
                              "auxiliary": False, "epochs": 2, "train_settings": r["train_settings"]} for r in rows],
                            columns=[*analyse_train_logs.TABLE_COLUMNS])

    note = analyse_train_logs.pooling_note(table(runs))
    assert note is not None and "g (runs of learning_rate 0.025 and 0.05)" in note, note
    assert analyse_train_logs.pooling_note(table(runs[:2])) is None  # one setup, one run per seed


def test_front_points_whose_intervals_overlap_are_not_separable() -> None:
    sizes, means, stds = [1.0, 2.0, 3.0, 4.0, 2.5], [10.0, 9.0, 5.0, 4.8, 9.5], [0.4, 0.4, 0.1, 0.15, 0.1]
    front, close = tables.overlapping_neighbours(sizes, means, stds)
    assert front == [0, 1, 2, 3]  # 2.5 / 9.5 is dominated by 2.0 / 9.0
    assert close == [2, 3]  # |10 - 9| > 0.8 and |9 - 5| > 0.5, but |5 - 4.8| <= 0.25
    assert tables.overlapping_neighbours([1.0, 2.0], [3.0, 2.0], [math.nan, 1.5])[1] == [0, 1]  # 3 inside 2 ± 1.5
    assert tables.overlapping_neighbours([1.0, 2.0], [3.0, 2.0], [math.nan, math.nan])[1] == []


def test_the_plot_of_the_means_has_error_bars_and_rings_the_inseparable() -> None:
    runs = analyse_train_logs._typed(pd.DataFrame(
        [{"name": n, "size_m": s, "test_acc": a, "status": "done", "seed": k, "nu": None}
         for n, s, accs in (("a", 1.0, (90.0, 91.0, 92.0)), ("b", 2.0, (91.5, 92.5, 93.0)), ("c", 3.0, (97.0, 97.2)))
         for k, a in enumerate(accs)]))
    summary = analyse_train_logs.summary_table(runs)
    assert list(summary["n"]) == [3, 3, 2] and list(summary["not_separable"]) == [True, True, False]
    fig = analyse_train_logs.error_vs_figure(summary, "parameters_m", (7, 5), False, [], [], runs=runs)
    ax = fig.axes[0]
    (bars,) = [c for c in ax.containers if hasattr(c, "has_yerr") and c.has_yerr]
    segments = bars.lines[2][0].get_segments()
    assert [abs(seg[1][1] - seg[0][1]) / 2 for seg in segments] == pytest.approx(
        [statistics.stdev(e) for e in ((10, 9, 8), (8.5, 7.5, 7), (3, 2.8))])
    labels = ax.get_legend_handles_labels()[1]
    assert "Pareto front of the means" in labels and "single runs (one per seed)" in labels
    ring = [c for c in ax.collections if "not separable" in str(c.get_label())]
    assert len(ring) == 1 and np.allclose(ring[0].get_offsets(), [[1.0, 9.0], [2.0, 23 / 3]])


def test_names_and_ensemble_labels_stay_inside_the_axes_once_saved(tmp_path: Path) -> None:
    """Labels are placed on the final layout: saving (with a colour bar and a legend below) moves none out."""
    runs = analyse_train_logs._typed(pd.DataFrame(
        [{"name": n, "size_m": s, "test_acc": a, "status": "done", "seed": k, "nu": nu}
         for n, s, nu, accs in (("l2_loss_2e01", 0.0066, 0.2, (97.2, 98.9, 96.7)), ("DARTS_V2", 0.0082, None,
                                (98.3, 98.3, 97.8)), ("PC_DARTS_cifar", 0.038, None, (98.1, 99.4, 99.2)))
         for k, a in enumerate(accs)]))
    runs["eval_dir"] = [str(tmp_path / f"eval-{k}") for k in range(len(runs))]
    summary = analyse_train_logs.summary_table(runs)
    models = [{"name": n, "run_dir": d} for n, d in zip(runs["name"], runs["eval_dir"])]
    (tmp_path / "ensemble.json").write_text(json.dumps({
        "test_acc": 99.72, "weighting": "per_model", "models": models,
        "best_per_genotype": {"test_acc": 99.44, "models": models[1::3]}}))
    loaded = analyse_train_logs.load_ensembles([str(tmp_path / "ensemble.json")])
    ensembles = analyse_train_logs.read_ensembles(loaded, runs)  # the real labels
    assert [e["members"] for e in ensembles] == [list(range(9)), [1, 4, 7]]
    fig = analyse_train_logs.error_vs_figure(summary, "parameters_m", (7, 5), False, [], ensembles, runs=runs)
    fig.savefig(tmp_path / "plot.png", bbox_inches="tight")  # the layout pass save_figure makes
    ax = fig.axes[0]
    frame = ax.get_window_extent()
    texts = [t for t in ax.texts if t.get_text()]
    assert {t.get_text() for t in texts} >= {"l2_loss_2e01", "DARTS_V2", "PC_DARTS_cifar", *(e["label"] for e in
                                                                                         ensembles)}
    renderer = fig.canvas.get_renderer()
    for t in texts:
        box = t.get_window_extent(renderer)
        inside = frame.x0 - 1 <= box.x0 and box.x1 <= frame.x1 + 1 and frame.y0 - 1 <= box.y0 <= box.y1 <= frame.y1 + 1
        assert inside, t.get_text()


# --------------------------------------------------------------------------- ensemble.py: all runs, best per genotype


def test_the_ensemble_of_all_runs_and_of_the_best_run_per_genotype(seeded: dict, tmp_path: Path) -> None:
    out = tmp_path / "ens.json"
    result = ensemble.main(ensemble.build_parser().parse_args(
        ["--set", "digits", "--models_folder", seeded["run_dir"], "--calculate", "--batch_size", "128",
         "-o", str(out)]))
    assert json.loads(out.read_text())["best_per_genotype"] == result["best_per_genotype"]
    assert len(result["models"]) == 4 and result["runs_per_genotype"] == {"DARTS_V2": 2, "PC_DARTS_cifar": 2}
    best = result["best_per_genotype"]
    assert best["chosen_by"].startswith("valid_acc") and "never the test set" in best["chosen_by"]
    by_arch: dict[str, list[dict]] = {}
    for run in Path(seeded["run_dir"]).glob("eval-*"):
        res = json.loads((run / "result.json").read_text())
        by_arch.setdefault(res["arch"], []).append({**res, "seed": int(run.name.split("-s")[-1].split("-")[0])})
    assert sorted(m["name"] for m in best["models"]) == ["DARTS_V2", "PC_DARTS_cifar"]
    for m in best["models"]:
        runs = by_arch[m["name"]]
        assert m["run_valid_acc"] == max(r["valid_acc"] for r in runs)
        assert m["seed"] in {r["seed"] for r in runs if r["valid_acc"] == m["run_valid_acc"]}
    assert len(best["weights"]) == 2 and max(best["weights"]) == 1.0 and 0 <= best["test_acc"] <= 100
    loaded = analyse_train_logs.load_ensembles([str(out)])
    ensembles = analyse_train_logs.read_ensembles(loaded, pd.DataFrame({"name": [], "eval_dir": []}))
    assert [e["label"] for e in ensembles] == ["ensemble of 4 [per_model]",
                                               "best per genotype by valid acc, 2 [per_model]"]


def test_the_best_run_is_chosen_by_the_held_out_split_not_the_test_set(tmp_path: Path) -> None:
    g1, g2 = genotypes.DARTS_V2, genotypes.PC_DARTS_cifar
    models = [{"genotype": g1, "run_valid_acc": 80.0, "run_dir": "a", "test_acc": 99.0},
              {"genotype": g2, "run_valid_acc": 70.0, "run_dir": "b"},
              {"genotype": g1, "run_valid_acc": 85.0, "run_dir": "c", "test_acc": 50.0},
              {"genotype": g2, "run_valid_acc": 75.0, "run_dir": str(tmp_path / "d")}]
    groups = ensemble.genotype_groups(models)
    assert groups == [[0, 2], [1, 3]]
    assert ensemble.best_by_held_out(models, groups) == ([2, 3], None)  # c, though a has the higher test accuracy
    models[3]["run_valid_acc"] = None
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "result.json").write_text('{"valid_acc": null}')
    chosen, note = ensemble.best_by_held_out(models, groups)
    assert chosen is None and "d has no valid_acc" in note and "test set must not choose" in note
    (tmp_path / "d" / "result.json").unlink()  # weights.pt written, result.json not yet: not --train_portion 1's
    chosen, note = ensemble.best_by_held_out(models, groups)
    assert chosen is None and "d has no result.json" in note and "--train_portion" not in note, note


# --------------------------------------------------------------------------- search_stability.py


def fake_search(folder: Path, genotype: genotypes.Genotype, nu: float, seed: int, size: float) -> Path:
    """A search run folder as train_search.py leaves it (result.json, args.json), without the search."""
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps({
        "weight": [nu, 1.0], "objective": "l2", "reg_loss": 1.0, "criterion_loss": 2.0, "model_size": size,
        "genotype": genotypes.genotype_to_dict(genotype), "run_dir": str(folder)}))
    (folder / "args.json").write_text(json.dumps({"args": {"seed": seed}}))
    return folder


def test_search_stability_counts_the_shared_edges_and_the_size_spread(tmp_path: Path) -> None:
    a, b = genotypes.DARTS_V2, genotypes.PC_DARTS_cifar
    runs = [fake_search(tmp_path / f"search-s{k}", g, 0.1, k, size)
            for k, (g, size) in enumerate(((a, 2.0), (a, 2.5), (b, 3.6)))]
    out = tmp_path / "out" / "stab.csv"
    result = search_stability.main(search_stability.build_parser().parse_args([*map(str, runs), "-o", str(out)]))
    group = result["groups"].iloc[0]
    assert group["n"] == 3 and group["seeds"] == "0 1 2"
    assert group["model_size_mean"] == pytest.approx(statistics.mean([2.0, 2.5, 3.6]))
    assert group["model_size_std"] == pytest.approx(statistics.stdev([2.0, 2.5, 3.6]))
    assert (group["model_size_min"], group["model_size_max"]) == (2.0, 3.6)
    ea, eb = (search_stability.edges(genotypes.genotype_to_dict(g)) for g in (a, b))
    shared = ea & eb
    assert group["edges_kept_by_all"] == len(shared)
    expected = len(shared) / len(ea | eb)
    assert result["jaccard"][0, 1] == 1.0 and result["jaccard"][0, 2] == pytest.approx(expected)
    assert group["mean_jaccard"] == pytest.approx((1.0 + 2 * expected) / 3)
    table = pd.read_csv(out)
    edge = next(iter(ea - eb))
    row = table[(table["cell"] == edge[0]) & (table["node"] == edge[1]) & (table["input"] == edge[2])
                & (table["op"] == edge[3])]
    assert list(row["count"]) == [2] and row["fraction"].iloc[0] == pytest.approx(2 / 3)
    assert table["count"].sum() == 3 * len(ea)
    for name in ("stab_groups.csv", "stab_searches.csv", "stab_jaccard.csv", "stab_jaccard.png"):
        assert (tmp_path / "out" / name).is_file()
    assert sorted(pd.read_csv(tmp_path / "out" / "stab_searches.csv")["seed"]) == [0, 1, 2]


def test_the_agreement_plot_is_the_jaccard_matrix_named_by_search() -> None:
    searches = [{"label": "search-00-20260101-000000", "seed": 0}, {"label": "search-01-20260101-000001", "seed": 1},
                {"label": "elsewhere", "seed": None}]
    matrix = np.array([[1.0, 0.25, 0.5], [0.25, 1.0, 0.75], [0.5, 0.75, 1.0]])
    fig = search_stability.jaccard_figure(searches, matrix, None)
    ax = fig.axes[0]
    assert np.array_equal(np.asarray(ax.images[0].get_array()), matrix) and ax.images[0].get_clim() == (0, 1)
    names = ["search-00 seed 0", "search-01 seed 1", "elsewhere"]  # time stamps left out
    assert [t.get_text() for t in ax.get_xticklabels()] == names == [t.get_text() for t in ax.get_yticklabels()]
    assert [(t.get_position(), t.get_text()) for t in ax.texts] == [
        ((j, i), f"{matrix[i, j]:.2f}") for i in range(3) for j in range(3)]
    assert ax.get_title() == "Pairwise agreement of 3 genotypes"
    search_stability.plt.close(fig)


def test_search_stability_groups_by_nu_and_refuses_an_input_as_output(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture) -> None:
    runs = [fake_search(tmp_path / f"search-{k}", genotypes.DARTS_V2, nu, k, 2.0)
            for k, nu in enumerate((0.1, 0.1, 0.01))]
    result = search_stability.main(search_stability.build_parser().parse_args(
        [*map(str, runs), "-o", str(tmp_path / "s.csv")]))
    assert list(result["groups"]["group"]) == ["ν=0.1", "ν=0.01"] and list(result["groups"]["n"]) == [2, 1]
    assert math.isnan(result["groups"]["model_size_std"].iloc[1])
    out = capsys.readouterr().out  # a group of one search agrees with itself: said so, not "16 kept by every search"
    assert "ν=0.1: 16 edge(s) kept by every search" in out and "ν=0.01: one search, nothing to compare" in out
    assert "no nu was searched more than once" not in out
    search_stability.main(search_stability.build_parser().parse_args(
        [*map(str, runs[1:]), "-o", str(tmp_path / "apart.csv")]))  # one sweep: each nu once
    assert "no nu was searched more than once" in capsys.readouterr().out
    everything = search_stability.main(search_stability.build_parser().parse_args(
        [*map(str, runs), "--group", "all", "-o", str(tmp_path / "a.csv")]))
    assert list(everything["groups"]["n"]) == [3] and everything["groups"]["mean_jaccard"].iloc[0] == 1.0
    before = (runs[0] / "result.json").read_text()
    args = search_stability.build_parser().parse_args([*map(str, runs), "-o", str(runs[0] / "result.json")])
    assert run_main(search_stability.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and (runs[0] / "result.json").read_text() == before
    assert run_main(search_stability.main, search_stability.build_parser().parse_args(
        [str(runs[0]), "-o", str(tmp_path / "one.csv")])) == 2
    assert "at least two" in capsys.readouterr().err and not (tmp_path / "one.csv").exists()


def test_searches_of_one_nu_that_are_no_seeds_of_one_search_are_named(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture) -> None:
    """Two searches of seed 0 (on CPU the same cells) and one of seed 1 made "ν=0.1, seeds 0 0 1" whose mean
    Jaccard counted the identical pair, and a digits and a cifar10 search of one nu were compared as seeds, both
    without a word."""
    runs = [fake_search(tmp_path / f"search-{k}", g, 0.1, seed, 2.0)
            for k, (g, seed) in enumerate(((genotypes.DARTS_V2, 0), (genotypes.DARTS_V2, 0),
                                           (genotypes.PC_DARTS_cifar, 1)))]
    for run, dataset in zip(runs, ("digits", "digits", "cifar10")):
        (run / "args.json").write_text(json.dumps({"args": {"seed": json.loads((run / "args.json").read_text())[
            "args"]["seed"], "set": dataset, "epochs": 2}}))
    search_stability.main(search_stability.build_parser().parse_args(
        [*map(str, runs), "-o", str(tmp_path / "s.csv")]))
    out = capsys.readouterr().out
    assert "note: these groups compare searches that are not seeds of one search: ν=0.1 (seed 0 more than once; " \
           'set "cifar10" and "digits")' in out, out
    search_stability.main(search_stability.build_parser().parse_args(  # seeds 0 and 1 of two datasets
        [str(runs[0]), str(runs[2]), "-o", str(tmp_path / "t.csv")]))
    assert 'ν=0.1 (set "cifar10" and "digits")' in capsys.readouterr().out
    (runs[2] / "args.json").write_text(json.dumps({"args": {"seed": 1, "set": "digits", "epochs": 2}}))
    search_stability.main(search_stability.build_parser().parse_args(
        [str(runs[0]), str(runs[2]), "-o", str(tmp_path / "u.csv")]))
    assert "not seeds of one search" not in capsys.readouterr().out
    search_stability.main(search_stability.build_parser().parse_args(  # --group all pools any searches on purpose
        [*map(str, runs), "--group", "all", "-o", str(tmp_path / "v.csv")]))
    assert "not seeds of one search" not in capsys.readouterr().out


def test_two_sweeps_of_different_seeds_are_compared_nu_by_nu(tmp_path: Path) -> None:
    folders = []
    for seed, cells in ((1, (genotypes.DARTS_V2, genotypes.DARTS_V1)), (2, (genotypes.DARTS_V2, genotypes.NASNet))):
        sweep = tmp_path / f"multi-search-digits-s{seed}-20260101-000000"
        sweep.mkdir()
        searches = [{"index": i, "weight": [nu, 1.0], "reg_loss": 1.0, "criterion_loss": 2.0, "model_size": 2.0,
                     "status": "done", "genotype": genotypes.genotype_to_dict(g),
                     "run_dir": str(sweep / f"search-{nu}")}
                    for i, (nu, g) in enumerate(zip((0.1, 0.001), cells))]
        (sweep / "sweep.json").write_text(json.dumps({"args": {"seed": seed}, "searches": searches}))
        folders.append(str(sweep))
    args = search_stability.build_parser().parse_args([*folders, "-o", str(tmp_path / "s.csv")])
    result = search_stability.main(args)
    groups = result["groups"].set_index("group")
    assert groups.loc["ν=0.1", "seeds"] == "1 2" and groups.loc["ν=0.1", "mean_jaccard"] == 1.0
    expected = search_stability.jaccard(*(search_stability.edges(genotypes.genotype_to_dict(g))
                                          for g in (genotypes.DARTS_V1, genotypes.NASNet)))
    assert groups.loc["ν=0.001", "mean_jaccard"] == pytest.approx(expected) and expected < 1


def test_an_ensemble_member_is_found_by_name_only_where_one_genotype_has_that_name() -> None:
    """A member whose run folder is not in the table was matched by name to the first row of that name: where a
    sweep's l2_loss_2e01 and the published one were both trained, that could be the other network's cost."""
    df = pd.DataFrame({"name": ["l2_loss_2e01", "l2_loss_2e01", "DARTS_V2"], "eval_dir": ["a", "b", "c"],
                       "genotype": [str(genotypes.PC_DARTS_cifar), str(genotypes.DARTS_V1), str(genotypes.DARTS_V2)]})
    loaded = [{"test_acc": 90.0, "models": [{"name": "l2_loss_2e01", "run_dir": "/elsewhere/x"},
                                            {"name": "DARTS_V2", "run_dir": "/elsewhere/y"}]}]
    (ens,) = analyse_train_logs.read_ensembles(loaded, df)
    assert ens["members"] == [None, 2]
    same = df.assign(genotype=[str(genotypes.PC_DARTS_cifar)] * 2 + [str(genotypes.DARTS_V2)])  # seeds of one cell
    assert analyse_train_logs.read_ensembles(loaded, same)[0]["members"] == [0, 2]
    assert analyse_train_logs.read_ensembles(loaded, df.drop(columns="genotype"))[0]["members"] == [0, 2]


def test_an_ensemble_member_is_found_by_name_only_among_runs_of_the_ensembles_dataset() -> None:
    """An ensemble of a 3-class image folder's l2_loss_2e01, given with a digits batch, was drawn at the cost of the
    digits run of that name (its members matched by name), its error among errors of another test set."""
    df = pd.DataFrame({"name": ["l2_loss_2e01", "DARTS_V2"], "eval_dir": ["a", "b"], "dataset": ["digits", "digits"],
                       "genotype": [str(genotypes.PC_DARTS_cifar), str(genotypes.DARTS_V2)]})
    members = [{"name": "l2_loss_2e01", "run_dir": "/elsewhere/x"}, {"name": "DARTS_V2", "run_dir": "/elsewhere/y"}]
    (ens,) = analyse_train_logs.read_ensembles([{"test_acc": 90.0, "dataset": "folder", "models": members}], df)
    assert ens["members"] == [None, None]
    (ens,) = analyse_train_logs.read_ensembles([{"test_acc": 90.0, "dataset": "digits", "models": members}], df)
    assert ens["members"] == [0, 1]  # a moved ensemble of the same data is still found by name
    (ens,) = analyse_train_logs.read_ensembles([{"test_acc": 90.0, "models": members}], df)
    assert ens["members"] == [0, 1]  # an ensemble.json that records no dataset: as before


def test_seed_beside_seeds_is_refused_before_any_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """--seed 5 --seeds 1 trained seed 1 alone while the batch's args.json recorded seed 5: --seed was ignored."""
    args = batch_train.build_parser().parse_args([*TINY, "--archs", "DARTS_V2", "--seeds", "1", "--seed", "5",
                                                  "--logdir", str(tmp_path)])
    assert run_main(batch_train.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert "--seed 5 with --seeds" in err and "\n" not in err and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, says", [
    (["--probe", "--batch_model", "m.json"], "--batch_model m.json with --probe: --probe sizes each batch from"),
    (["--probe_batches", "8", "16"], "--probe_batches act only with --probe"),
])
def test_a_sizing_flag_of_the_way_not_taken_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                       argv: list[str], says: str) -> None:
    """--batch_model beside --probe, and --probe_batches without it, were read by nothing, args.json recording them."""
    args = batch_train.build_parser().parse_args([*TINY, "--archs", "DARTS_V2", *argv, "--logdir", str(tmp_path)])
    assert run_main(batch_train.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {says}") and "\n" not in err and list(tmp_path.iterdir()) == []
