"""Tests of batch_size_predict.py (the memory model) and batch_train.py, and ensemble.py over a batch folder.

Everything runs on the CPU: the ridge fit is checked against scikit-learn on a CSV the test
writes, ``--measure`` runs its real training steps with a fake peak reader (a CPU has no CUDA
allocator to read), and batch_train trains two tiny digits networks.
"""

from __future__ import annotations

import csv
import json
import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import held_open_under, load_test_script

import batch_size_predict as bsp
import batch_train
import cli
import ensemble
import genotypes
import train
from utils import UserError, run_main

testpy = load_test_script()

TINY = ["--set", "digits", "--init_channels", "4", "--layers", "3", "--batch_size", "64", "--subsample", "0.1",
        "--epochs", "1", "--auxiliary", "--no_progress"]


# --------------------------------------------------------------------------- the memory model


def write_memory_csv(path: Path, n: int = 24, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows that look like the thesis table: MB grows with size and batch, plus noise."""
    rng = np.random.default_rng(seed)
    size = rng.uniform(1.3, 4.7, n).round(2)
    batch = rng.integers(32, 513, n)
    mb = (600 + 25 * size * batch + 0.05 * batch ** 2 + 300 * size + rng.normal(0, 80, n)).round()
    with open(path, "w", newline="") as f:
        f.write("model size,batch size,GPU mb\n")
        f.writelines(f"{row[0]},{row[1]},{int(row[2])}\n" for row in zip(size, batch, mb))
    return np.stack([size, batch.astype(float)], axis=1), mb


def test_fit_reproduces_sklearn_and_json_reloads_without_pickle(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from sklearn.linear_model import Ridge
    from sklearn.metrics import (
        max_error,
        mean_absolute_error,
        mean_absolute_percentage_error,
    )
    from sklearn.model_selection import LeaveOneOut, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures

    X, y = write_memory_csv(tmp_path / "batch_data.csv")
    pkl = tmp_path / "new" / "m.pkl"  # in a folder not made yet: made, as the JSON's is (it failed after the JSON)
    args = bsp.build_parser().parse_args(["-d", str(tmp_path / "batch_data.csv"), "--pickle", str(pkl)])
    out = bsp.main(args)
    printed = capsys.readouterr().out
    reference = make_pipeline(PolynomialFeatures(2), Ridge(alpha=0.5)).fit(X, y)
    pred = reference.predict(X)
    loo = cross_val_predict(make_pipeline(PolynomialFeatures(2), Ridge(alpha=0.5)), X, y, cv=LeaveOneOut())

    match = re.search(r"MAE = ([\d.]+), MAX = ([\d.]+), MAPE = ([\d.]+)%", printed)
    assert match, printed
    assert float(match[1]) == pytest.approx(mean_absolute_error(y, pred), abs=0.01)
    assert float(match[2]) == pytest.approx(max_error(y, pred), abs=0.01)
    assert float(match[3]) == pytest.approx(100 * mean_absolute_percentage_error(y, pred), abs=0.01)
    assert out["loo_mape"] == pytest.approx(100 * mean_absolute_percentage_error(y, loo), rel=1e-9)
    assert f"leave-one-out MAPE = {out['loo_mape']:.2f}%" in printed

    saved = tmp_path / "batch_predict.json"  # default: beside the CSV
    assert saved.is_file() and pkl.stat().st_size > 0
    text = saved.read_text()
    assert "sklearn." not in text.replace('"sklearn":', "")  # plain numbers, no pickled objects
    model = bsp.load_memory_model(saved)
    grid_size, grid_batch = np.meshgrid(np.linspace(1, 5, 9), np.arange(16, 1025, 37))
    grid = np.stack([grid_size.ravel(), grid_batch.ravel()], axis=1)
    np.testing.assert_allclose(model.predict(grid[:, 0], grid[:, 1]), reference.predict(grid), rtol=1e-10)
    assert float(model.predict(3.0, 96)) == pytest.approx(reference.predict([[3.0, 96]])[0], rel=1e-10)
    # the same fit again leaves the file as it is (the repository's batch_predict.json showed as modified)
    before = saved.read_bytes()
    bsp.main(bsp.build_parser().parse_args(["-d", str(tmp_path / "batch_data.csv")]))
    assert saved.read_bytes() == before and "already holds this fit" in capsys.readouterr().out


def test_a_refit_that_differs_only_by_float_rounding_leaves_the_file(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture) -> None:
    """Another CPU refits the repository's batch_data.csv to coefficients that differ in the last digits: the
    tracked batch_predict.json was rewritten (shown as modified); a fit that differs for real still replaces it."""
    write_memory_csv(tmp_path / "batch_data.csv")
    argv = ["-d", str(tmp_path / "batch_data.csv")]
    bsp.main(bsp.build_parser().parse_args(argv))
    saved = tmp_path / "batch_predict.json"
    fit = json.loads(saved.read_text())
    fit["coef"] = [c * (1 + 3e-15) + 1e-13 for c in fit["coef"]]
    fit["fit"] = {k: v * (1 + 1e-15) for k, v in fit["fit"].items()}
    fit["intercept"] += 1e-12
    saved.write_text(json.dumps(fit))
    capsys.readouterr()
    before = saved.read_bytes()
    bsp.main(bsp.build_parser().parse_args(argv))
    assert saved.read_bytes() == before and "already holds this fit" in capsys.readouterr().out
    fit["coef"][1] *= 1.01
    saved.write_text(json.dumps(fit))
    bsp.main(bsp.build_parser().parse_args(argv))
    assert json.loads(saved.read_text())["coef"][1] != fit["coef"][1]
    assert "already holds this fit" not in capsys.readouterr().out


def test_largest_batch_under_the_budget(tmp_path: Path) -> None:
    write_memory_csv(tmp_path / "d.csv")
    model, _ = bsp.fit_memory_model(tmp_path / "d.csv")
    free = 12000.0
    batch = batch_train.choose_batch_size(model, 3.0, free, margin_mb=500, max_batch=2048)
    assert batch is not None and 32 < batch < 2048
    assert model.predict(3.0, batch) <= free - 500 < model.predict(3.0, batch + 1)
    assert batch_train.choose_batch_size(model, 3.0, 100.0) is None  # nothing fits
    assert batch_train.line_batch_size([(16, 1000.0), (32, 1400.0)], 3000.0) == 96  # 600 + 25 b <= 3000
    assert batch_train.line_batch_size([(16, 1000.0), (32, 1400.0)], 900.0) == 12
    assert batch_train.line_batch_size([(16, 1000.0), (32, 1400.0)], 500.0) is None


@pytest.mark.parametrize("content, expected", [
    ("model size,batch,GPU mb\n1,2,3\n", "lacks the column(s) 'batch size'"),
    ("model size,batch size,GPU mb\n1,32,900\n2,x,1000\n3,64,1200\n", "line 3: 'batch size' is 'x', not a number"),
    ("model size,batch size,GPU mb\n1,32,900\n", "at least 3"),
    ("", "is empty"),
    (b"\x89PNG\r\n\x1a\n\xff\xfe", "is not a text CSV (not UTF-8)"),  # was a bare codec error
    (None, "is a folder: give the memory CSV"),  # was "no such file"
])
def test_bad_csv_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture, content: str | bytes | None,
                             expected: str) -> None:
    if content is None:
        (tmp_path / "bad.csv").mkdir()
    elif isinstance(content, bytes):
        (tmp_path / "bad.csv").write_bytes(content)
    else:
        (tmp_path / "bad.csv").write_text(content)
    assert run_main(bsp.main, bsp.build_parser().parse_args(["-d", str(tmp_path / "bad.csv")])) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and expected in err and "\n" not in err
    assert not (tmp_path / "batch_predict.json").exists()


def test_a_csv_saved_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    """Excel's "CSV UTF-8" starts with a byte order mark: the fit said the CSV lacked 'model size' (it has
    '\\ufeffmodel size'), and --measure refused to append to it."""
    data = tmp_path / "excel.csv"
    write_memory_csv(data, n=6)
    data.write_bytes(b"\xef\xbb\xbf" + data.read_bytes())
    X, y = bsp.read_memory_csv(data)
    assert X.shape == (6, 2)
    bsp.measure(["DARTS_V2"], [32], torch.device("cpu"), data, probe=FakeProbe(), run_steps=lambda *a, **k: 3.5)
    assert len(bsp.read_memory_csv(data)[1]) == 7


def test_a_fit_of_too_few_sizes_warns_that_its_errors_mean_nothing(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture) -> None:
    """Three identical rows fitted the six-term quadratic with MAPE and leave-one-out MAPE 0.00%, and no word."""
    csv_file = tmp_path / "one.csv"
    csv_file.write_text("model size,batch size,GPU mb\n1,32,100\n1,32,100\n1,32,100\n")
    bsp.main(bsp.build_parser().parse_args(["-d", str(csv_file)]))
    printed = capsys.readouterr().out
    assert "leave-one-out MAPE = 0.00%" in printed
    assert ("warning: the CSV has only 1 model size(s) and 1 batch size(s): the quadratic's terms in it are not "
            "determined by the data (measure at least 3 of each)") in printed, printed
    write_memory_csv(csv_file)
    bsp.main(bsp.build_parser().parse_args(["-d", str(csv_file), "-o", str(tmp_path / "m.json")]))
    assert "warning" not in capsys.readouterr().out


def test_fit_never_overwrites_its_data(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = tmp_path / "data.csv"
    write_memory_csv(data)
    before = data.read_text()
    for extra in (["-o", str(data)], ["--pickle", str(data)], ["-o", str(tmp_path)]):
        assert run_main(bsp.main, bsp.build_parser().parse_args(["-d", str(data), *extra])) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err
    assert data.read_text() == before and sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]


def test_the_fit_does_not_replace_a_measured_csv_named_as_its_output(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    """-o names the CSV --measure appends to, and the fit's JSON: `-o my_gpu.csv` without --measure fitted the
    default -d and wrote its JSON over the measured rows. A memory CSV as -o or --pickle is refused, untouched."""
    data, measured = tmp_path / "data.csv", tmp_path / "my_gpu.csv"
    write_memory_csv(data)
    write_memory_csv(measured, seed=1)
    before = measured.read_bytes()
    for extra in (["-o", str(measured)], ["-o", str(tmp_path / "m.json"), "--pickle", str(measured)]):
        assert run_main(bsp.main, bsp.build_parser().parse_args(["-d", str(data), *extra])) == 2
        err = capsys.readouterr().err.strip()
        assert "is a memory CSV (measured rows), which the fit would replace" in err and "\n" not in err, err
    assert measured.read_bytes() == before and not (tmp_path / "m.json").exists()


@pytest.mark.parametrize(("argv", "says"), [
    (["--archs", "DARTS_V2", "-o", "new.csv"], "--archs acts only with --measure"),
    (["--measure", "-d", "my_gpu.csv", "--archs", "DARTS_V2"], "-d is the fit's, which --measure does not read"),
])
def test_a_flag_the_mode_does_not_read_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                  monkeypatch: pytest.MonkeyPatch, argv: list[str], says: str) -> None:
    """--archs without --measure fitted the default -d into -o, and -d with --measure appended to the default -o
    batch_data.csv: each ignored its flag without a word. Both are one-line errors that write nothing."""
    monkeypatch.chdir(tmp_path)
    write_memory_csv(tmp_path / "batch_data.csv")
    assert run_main(bsp.main, bsp.build_parser().parse_args(argv)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {says}") and "\n" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["batch_data.csv"]


def test_a_pickle_named_as_the_model_json_says_so(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """--pickle and -o one file: the message called the -o file "an input", and its own line never showed."""
    data = tmp_path / "data.csv"
    write_memory_csv(data)
    out = tmp_path / "m.json"
    args = bsp.build_parser().parse_args(["-d", str(data), "-o", str(out), "--pickle", str(out)])
    assert run_main(bsp.main, args) == 2
    assert capsys.readouterr().err.strip() == f"error: --pickle {out} is the -o file too: give two names"
    assert not out.exists()


def test_the_fit_checks_its_input_before_the_default_output(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """-d inside a training run folder blamed `-o RUN/batch_predict.json`, an -o never given, even for a -d that
    did not exist: -d is read first, and a default -o refused says it is the default beside -d and how to change it."""
    run = tmp_path / "eval-DARTS_V2-1"
    run.mkdir()
    (run / "args.json").write_text(json.dumps({"kind": "train", "args": {"arch": "DARTS_V2"}}))
    (run / "metrics.csv").write_text("epoch,train_acc\n1,20.0\n")
    write_memory_csv(run / "batch_data.csv")

    def error(*argv: str) -> str:
        assert run_main(bsp.main, bsp.build_parser().parse_args(list(argv))) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err, err
        return err

    assert error("-d", str(run / "nope.csv")) == (
        f"error: -d {run / 'nope.csv'}: no such file (the memory CSV with the columns model size, batch size, "
        "GPU mb, e.g. the repository's batch_data.csv)")
    assert f"{run / 'metrics.csv'} lacks the column(s) 'model size'" in error("-d", str(run / "metrics.csv"))
    err = error("-d", str(run / "batch_data.csv"))
    assert err.startswith(f"error: the default -o (batch_predict.json beside -d) {run / 'batch_predict.json'} is "
                          f"inside a training run folder ({run})") and err.endswith("give -o FILE to choose another")
    assert error("-d", str(run / "batch_data.csv"), "-o", str(run / "m.json")).startswith(
        f"error: -o {run / 'm.json'} is inside")  # an -o given is still called -o
    assert sorted(p.name for p in run.iterdir()) == ["args.json", "batch_data.csv", "metrics.csv"]
    bsp.main(bsp.build_parser().parse_args(["-d", str(run / "batch_data.csv"), "-o", str(tmp_path / "m.json")]))
    assert (tmp_path / "m.json").is_file()


def test_the_default_output_does_not_replace_the_fit_of_another_csv(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    """Two GPUs' CSVs in one folder: the fit of the second, without -o, replaced the first's batch_predict.json
    without a word. It is refused (naming the other CSV); a refit of the same CSV, or -o, still writes it."""
    write_memory_csv(tmp_path / "gpu_a.csv", seed=1)
    write_memory_csv(tmp_path / "gpu_b.csv", seed=2)
    model = tmp_path / "batch_predict.json"
    bsp.main(bsp.build_parser().parse_args(["-d", str(tmp_path / "gpu_a.csv")]))
    first = model.read_bytes()
    assert run_main(bsp.main, bsp.build_parser().parse_args(["-d", str(tmp_path / "gpu_b.csv")])) == 2
    err = capsys.readouterr().err.strip()
    assert "is the fit of another CSV" in err and "gpu_a.csv" in err and "\n" not in err
    assert model.read_bytes() == first
    write_memory_csv(tmp_path / "gpu_a.csv", n=30, seed=3)  # more rows measured: its own refit replaces it
    bsp.main(bsp.build_parser().parse_args(["-d", str(tmp_path / "gpu_a.csv")]))
    assert json.loads(model.read_text())["rows"] == 30
    bsp.main(bsp.build_parser().parse_args(["-d", str(tmp_path / "gpu_b.csv"), "-o", str(model)]))
    assert json.loads(model.read_text())["data"] == str(tmp_path / "gpu_b.csv")


def test_a_memory_csv_given_as_the_model_says_to_fit_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """batch_train.py --batch_model batch_data.csv (the rows, where the fit is meant) said only that the CSV was
    not valid JSON ("Expecting value: line 1 column 1")."""
    rows = tmp_path / "my_gpu.csv"
    write_memory_csv(rows)
    args = batch_train.build_parser().parse_args(["--set", "digits", "--archs", "DARTS_V2", "--batch_model", str(rows),
                                                  "--logdir", str(tmp_path / "logs")])
    assert run_main(batch_train.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert "is a memory CSV (the rows), not a memory model" in err and f"-o {tmp_path / 'my_gpu.json'}" in err
    assert "\n" not in err and not (tmp_path / "logs").exists()


def test_bad_model_json_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(Exception, match="not a memory model"):
        bsp.load_memory_model(tmp_path / "m.json")


# --------------------------------------------------------------------------- --measure


class FakeProbe:
    """Stands in for the CUDA peak reader: a CPU has no allocator statistics to read."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def start(self) -> None:
        self.calls.append("start")

    def peak_mb(self) -> float:
        self.calls.append("peak")
        return 1000.0 + len(self.calls)

    growth_mb = peak_mb

    def release(self) -> None:
        self.calls.append("release")


class FakeCudaMemory:
    """torch.cuda's memory readings of an 80 GB card that other processes use 20 GB of, this process's context
    500 MB, and a piece of work that reserves ``work`` MB in the caching allocator at its peak."""

    MB = 2**20

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.total, self.others, self.context, self.reserved, self.peak = 80_000, 20_000, 500, 0, 0
        for name in ("init", "synchronize", "empty_cache"):
            monkeypatch.setattr(torch.cuda, name, lambda *a, **k: None)
        monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda *a: setattr(self, "peak", self.reserved))
        monkeypatch.setattr(torch.cuda, "memory_reserved", lambda *a: self.reserved * self.MB)
        monkeypatch.setattr(torch.cuda, "max_memory_reserved", lambda *a: self.peak * self.MB)
        monkeypatch.setattr(torch.cuda, "mem_get_info", lambda *a: (
            (self.total - self.others - self.context - self.reserved) * self.MB, self.total * self.MB))

    def work(self, mb: int) -> None:
        self.peak = max(self.peak, self.reserved + mb)


def test_the_probe_counts_what_its_work_takes_not_the_memory_other_processes_hold(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe's peak counted other processes' memory, which the free memory it is compared with leaves out
    already: on a card shared with 20 GB of others it chose about 2/3 of the batch that fits, at 39 GB none."""
    cuda = FakeCudaMemory(monkeypatch)
    probe = bsp.CudaPeakProbe(torch.device("cuda"))
    points = []
    for batch in (16, 32):  # a network of 1000 MB + 50 MB an image
        probe.start()
        cuda.work(1000 + 50 * batch)
        assert probe.peak_mb() == pytest.approx(20_000 + 500 + 1000 + 50 * batch)  # nvidia-smi's view, as before
        cuda.others -= 5_000 * (batch == 32)  # another process frees memory meanwhile: no effect on what it took
        points.append((batch, probe.growth_mb()))
    cuda.others = 20_000
    assert points == [(16, pytest.approx(1800.0)), (32, pytest.approx(2600.0))]
    free = cuda.total - cuda.others - cuda.context
    assert batch_train.line_batch_size(points, free - 500, 4096) == (free - 500 - 1000) // 50


@pytest.mark.parametrize("argv, side, imagenet", [
    (["--set", "imagenet", "--init_channels", "4"], 224, True),
    (["--set", "synthetic", "--image_size", "64", "--init_channels", "4", "--channels_last"], 64, False),
])
def test_probe_measures_the_network_the_batch_trains(monkeypatch: pytest.MonkeyPatch, argv: list[str], side: int,
                                                     imagenet: bool) -> None:
    """--probe ran the memory model's NetworkCIFAR with its auxiliary head whatever the batch trained: on ImageNet
    (where batch_train recommends --probe) and at sides other than 32-40 every training failed in its classifier."""
    sizes = []
    real = bsp.run_training_steps
    monkeypatch.setattr(bsp, "CudaPeakProbe", lambda device: FakeProbe())
    monkeypatch.setattr(bsp, "run_training_steps", lambda *a, **k: sizes.append(real(*a, **k)) or sizes[-1])
    args = batch_train.build_parser().parse_args(
        [*argv, "--archs", "DARTS_V2", "--layers", "3", "--probe", "--probe_batches", "2", "3"])
    points = batch_train.probe_points(genotypes.DARTS_V2, args, torch.device("cpu"), 5, side)
    assert [b for b, _ in points] == [2, 3]
    expected = batch_train.network_size(genotypes.DARTS_V2, args, 5)
    assert sizes == [pytest.approx(expected, abs=1e-9)] * 2 and cli.is_imagenet(args) == imagenet


def test_measure_runs_real_steps_and_appends_rows(tmp_path: Path) -> None:
    out = tmp_path / "batch_data.csv"
    probe = FakeProbe()
    rows = bsp.measure(["DARTS_V2"], [4, 2, 3], torch.device("cpu"), out, probe=probe, init_channels=2, layers=3,
                       steps=1, resident_images=0)
    assert [r["batch size"] for r in rows] == [2, 3, 4]
    size = bsp.run_training_steps(genotypes.DARTS_V2, 2, torch.device("cpu"), init_channels=2, layers=3, steps=1,
                                  resident_images=0)
    assert all(r["model size"] == round(size, 4) for r in rows)
    assert probe.calls[:3] == ["start", "peak", "release"]
    X, y = bsp.read_memory_csv(out)  # what --measure writes is what the fit reads
    assert X.shape == (3, 2) and list(y) == [r["GPU mb"] for r in rows]
    bsp.measure(["DARTS_V2"], [2], torch.device("cpu"), out, probe=FakeProbe(), init_channels=2, layers=3, steps=1,
                resident_images=0)
    assert len(bsp.read_memory_csv(out)[1]) == 4  # appended, one header


def test_measure_out_of_memory_records_nothing_and_skips_larger(tmp_path: Path) -> None:
    def fake_steps(genotype: object, batch_size: int, device: object, **kwargs: object) -> float:
        if batch_size >= 64:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return 3.5

    tried = []

    def counting(genotype: object, batch_size: int, device: object, **kwargs: object) -> float:
        tried.append(batch_size)
        return fake_steps(genotype, batch_size, device)

    out = tmp_path / "m.csv"
    rows = bsp.measure(["DARTS_V2", "PC_DARTS_cifar"], [32, 64, 128], torch.device("cpu"), out, probe=FakeProbe(),
                       run_steps=counting)
    assert [(r["model size"], r["batch size"]) for r in rows] == [(3.5, 32), (3.5, 32)]
    assert tried == [32, 64, 32, 64]  # 128 is skipped after 64 ran out of memory

    def broken(*args: object, **kwargs: object) -> float:
        raise RuntimeError("a real bug")

    with pytest.raises(RuntimeError, match="a real bug"):
        bsp.measure(["DARTS_V2"], [32], torch.device("cpu"), out, probe=FakeProbe(), run_steps=broken)


def test_measure_appends_below_a_last_row_without_its_newline(tmp_path: Path) -> None:
    """A hand-edited CSV whose last row lacks its newline: the first measured row was glued onto it
    (1.5,32,3000 became 1.5,32,30003.5,... and was read back as 30003.5 MB)."""
    out = tmp_path / "batch_data.csv"
    out.write_text("model size,batch size,GPU mb\n1.5,32,3000\n2.5,32,4000\n1.5,64,5000")
    bsp.measure(["DARTS_V2"], [32], torch.device("cpu"), out, probe=FakeProbe(), run_steps=lambda *a, **k: 3.5)
    X, y = bsp.read_memory_csv(out)
    assert X.tolist() == [[1.5, 32], [2.5, 32], [1.5, 64], [3.5, 32]]
    assert y.tolist() == [3000, 4000, 5000, 1002]


def test_measure_records_where_its_rows_were_measured_and_the_fit_keeps_it(tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture,
                                                                           caplog: pytest.LogCaptureFixture) -> None:
    """The CSV's three columns said nothing of the GPU, the torch/CUDA versions or the settings its rows were
    measured with: a memory model's origin was lost. Each --measure call records a session beside the CSV (its
    columns unchanged), a fit copies the sessions into the model JSON, and batch_train's log names the GPU."""
    out = tmp_path / "my_gpu.csv"
    kwargs = {"init_channels": 2, "layers": 3, "steps": 1, "resident_images": 0}
    bsp.measure(["DARTS_V2"], [4, 2, 3], torch.device("cpu"), out, probe=FakeProbe(), **kwargs)
    bsp.measure(["PC_DARTS_cifar"], [2], torch.device("cpu"), out, probe=FakeProbe(), **kwargs)
    assert out.read_text().splitlines()[0] == "model size,batch size,GPU mb"
    record = json.loads(bsp.record_path(out).read_text())
    assert bsp.record_path(out).name == "my_gpu.csv.measure.json" and record["format"] == bsp.RECORD_FORMAT
    first, second = record["sessions"]
    assert (first["first_row"], first["rows"], second["first_row"], second["rows"]) == (1, 3, 4, 1)
    assert first["settings"] == {"archs": ["DARTS_V2"], "batch_sizes": [2, 3, 4], **kwargs}
    assert first["environment"]["device"] == "cpu" and first["environment"]["torch"] == torch.__version__
    model_json = tmp_path / "my_gpu.json"
    bsp.main(bsp.build_parser().parse_args(["-d", str(out), "-o", str(model_json)]))
    assert f"measured on cpu (torch {torch.__version__}, CUDA {torch.version.cuda})" in capsys.readouterr().out
    assert json.loads(model_json.read_text())["measured"] == record["sessions"]
    with caplog.at_level(logging.INFO, logger="test-measured-on"):
        batch_train.load_memory_model(model_json, logging.getLogger("test-measured-on"))
    assert f"of {out} measured on cpu (torch {torch.__version__}" in caplog.records[0].getMessage()


def test_a_record_of_rows_no_longer_in_the_csv_is_not_their_origin(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture) -> None:
    """my_gpu.csv deleted to measure afresh (on another GPU) kept the old session in my_gpu.csv.measure.json: the
    fit copied it and said the new rows were measured on both GPUs. --measure starts a new record where the CSV
    holds fewer rows than its record tells of, and a fit of such a CSV (rows cut by hand) records none."""
    out = tmp_path / "my_gpu.csv"

    def run(batch_sizes: list[int]) -> None:
        bsp.measure(["DARTS_V2"], batch_sizes, torch.device("cpu"), out, probe=FakeProbe(),
                    run_steps=lambda *a, **k: 3.5)

    run([2, 3, 4, 5])
    out.unlink()
    run([8, 16, 32])
    sessions = json.loads(bsp.record_path(out).read_text())["sessions"]
    assert [(s["settings"]["batch_sizes"], s["first_row"], s["rows"]) for s in sessions] == [([8, 16, 32], 1, 3)]
    run([64])
    out.write_text("".join(out.read_text().splitlines(keepends=True)[:4]))  # the last row cut by hand
    model_json = tmp_path / "my_gpu.json"
    bsp.main(bsp.build_parser().parse_args(["-d", str(out), "-o", str(model_json)]))
    printed = capsys.readouterr().out
    assert f"warning: {bsp.record_path(out)} tells of 4 measured row(s) and {out} holds 3" in printed, printed
    assert "measured" not in json.loads(model_json.read_text())


def test_the_record_names_the_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """On CUDA the session names the card, its memory and capability, and what was in use before measuring."""
    props = type("Props", (), {"name": "NVIDIA H100 80GB HBM3", "total_memory": 81_559 * 2**20, "major": 9,
                               "minor": 0})()
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: props)
    probe = FakeProbe()
    probe.used_at_start_mb = 523.4  # type: ignore[attr-defined]
    env = bsp.measurement_environment(torch.device("cuda", 0), probe)
    assert (env["gpu"], env["gpu_total_mb"], env["capability"], env["used_at_start_mb"]) == \
        ("NVIDIA H100 80GB HBM3", 81_559, "9.0", 523)
    assert bsp.measured_on({"measured": [{"environment": env}, {"environment": env}]}) == \
        f"NVIDIA H100 80GB HBM3 (torch {torch.__version__}, CUDA {torch.version.cuda})"


def test_a_foreign_file_where_measure_records_is_refused_and_a_fit_goes_on(tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture) -> None:
    """A file of another kind under the record's name is neither overwritten by --measure (refused before its first
    step) nor copied into a fit (which warns and fits the rows)."""
    out = tmp_path / "m.csv"
    write_memory_csv(out)
    bsp.record_path(out).write_text("[1, 2]")
    ran = []
    with pytest.raises(UserError, match="is not a --measure record") as err:
        bsp.measure(["DARTS_V2"], [32], torch.device("cpu"), out, probe=FakeProbe(),
                    run_steps=lambda *a, **k: ran.append(1) or 3.5)
    assert ran == [] and "\n" not in str(err.value) and bsp.record_path(out).read_text() == "[1, 2]"
    bsp.main(bsp.build_parser().parse_args(["-d", str(out), "-o", str(tmp_path / "m.json")]))
    assert "warning:" in capsys.readouterr().out and "measured" not in json.loads((tmp_path / "m.json").read_text())


@pytest.mark.parametrize("content", [b"arch,test_acc\nDARTS_V2,97.1\n", b"\x80\x04\x95pickle"])
def test_measure_refuses_a_foreign_csv_before_its_first_step(tmp_path: Path, content: bytes) -> None:
    """-o naming another CSV (or a pickle) was found out only when the first row was appended: after that
    measurement's steps, whose row was lost; a binary file gave a UnicodeDecodeError traceback."""
    out = tmp_path / "other.csv"
    out.write_bytes(content)
    ran = []
    with pytest.raises(UserError, match="expected the columns|expected model size") as err:
        bsp.measure(["DARTS_V2"], [32], torch.device("cpu"), out, probe=FakeProbe(),
                    run_steps=lambda *a, **k: ran.append(1) or 3.5)
    assert ran == [] and "\n" not in str(err.value) and out.read_bytes() == content


@pytest.mark.parametrize("argv, flag", [
    (["--resident_images", "-1"], "--resident_images -1"),
    (["--num_classes", "0"], "--num_classes 0"),
    (["--layers", "1"], "--layers 1"),
    (["--init_channels", "0"], "--init_channels 0"),
    (["--batch_sizes", "1", "32"], "--batch_sizes 1 32"),
    (["--drop_path_prob", "1"], "--drop_path_prob 1.0"),
    (["--steps", "1"], "--steps 1"),  # the first step's peak lacks the momentum buffers: too low a row
])
def test_measure_checks_its_flags_before_the_device(tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str],
                                                    flag: str) -> None:
    """Each of these failed inside the first training step on the GPU, a torch traceback (or BatchNorm's
    complaint at batch 1) after CUDA's start-up."""
    out = tmp_path / "x.csv"
    args = bsp.build_parser().parse_args(["--measure", "-o", str(out), "--archs", "DARTS_V2", *argv])
    assert run_main(bsp.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {flag}") and "\n" not in err and not out.exists()


def test_the_repositorys_memory_files_are_not_overwritten_by_another_gpus(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """`--measure` in the repository appended another GPU's rows to the H200's batch_data.csv, and a fit of a CSV
    there replaced batch_predict.json, batch_train.py's default model, with no trace of either. (A copy of the
    repository's files stands in for them: the test never writes the repository.)"""
    repo = Path(bsp.__file__).resolve().parent
    for name in ("batch_data.csv", "batch_predict.json"):
        shutil.copy(repo / name, tmp_path / name)
    shipped = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    monkeypatch.setattr(bsp, "REPO", tmp_path.resolve())
    monkeypatch.chdir(tmp_path)
    for argv in (["--measure", "--archs", "DARTS_V2"], ["--measure", "-o", str(tmp_path / "batch_data.csv")]):
        assert run_main(bsp.main, bsp.build_parser().parse_args(argv)) == 2
        err = capsys.readouterr().err.strip()
        assert "is the repository's batch_data.csv, measured on an NVIDIA H200" in err and "\n" not in err, err
        assert "--measure -o my_gpu.csv" in err and "--batch_model my_gpu.json" in err
    mine = tmp_path / "mine.csv"  # another CSV beside the repository's model
    mine.write_bytes(shipped["batch_data.csv"])
    assert run_main(bsp.main, bsp.build_parser().parse_args(["-d", str(mine)])) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: the default -o (batch_predict.json beside -d) {tmp_path / 'batch_predict.json'} "
                          "is the repository's memory model") and err.endswith(f"give -o FILE for the fit of -d "
                                                                               f"{mine}"), err
    mine.unlink()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == shipped
    bsp.main(bsp.build_parser().parse_args(["-d", "batch_data.csv"]))  # the repository's own CSV may refit its model
    assert (tmp_path / "batch_predict.json").is_file()


def test_the_memory_model_a_batch_sizes_with_is_named_in_its_log(caplog: pytest.LogCaptureFixture) -> None:
    """On a GPU the batch said which model it loaded only when it fitted batch_data.csv itself: the repository's
    H200 model, or a --batch_model, sized every training without a word of where its numbers came from."""
    with caplog.at_level(logging.INFO, logger="test-memory-model"):
        model = batch_train.default_memory_model(logging.getLogger("test-memory-model"))
    repo = Path(batch_train.__file__).resolve().parent
    lines = [record.getMessage() for record in caplog.records]
    assert model is not None and lines == [f"memory model {repo / 'batch_predict.json'}: fitted on 40 row(s) of "
                                           f"batch_data.csv, leave-one-out MAPE {model.info['fit']['loo_mape']:.1f}%"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU refusal")
def test_measure_on_cpu_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = bsp.build_parser().parse_args(["--measure", "-o", str(tmp_path / "x.csv"), "--archs", "DARTS_V2"])
    assert run_main(bsp.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert "needs a CUDA GPU" in err and "\n" not in err
    assert not (tmp_path / "x.csv").exists()


# --------------------------------------------------------------------------- batch_train


@pytest.fixture(scope="module")
def batch_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    logdir = tmp_path_factory.mktemp("logs")
    args = batch_train.build_parser().parse_args(
        [*TINY, "--archs", "DARTS_V2", "PC_DARTS_cifar", "DARTS_V2", "--train_portion", "0.5", "--logdir", str(logdir)])
    return batch_train.main(args)


def test_a_finished_batch_holds_none_of_its_files_open(batch_run: dict) -> None:
    """The batch's log.txt stayed open after it ended (its trainings' were released): one descriptor per batch in a
    process that runs several (a notebook, a driver script)."""
    assert held_open_under(Path(batch_run["run_dir"]).parent) == []


def test_batch_train_trains_two_and_skips_the_duplicate(batch_run: dict) -> None:
    folder = Path(batch_run["run_dir"])
    assert folder.name.startswith("batch-train-EXP-")
    assert batch_run["trained"] == 2 and batch_run["failed"] == 0
    assert [e["status"] for e in batch_run["entries"]] == ["done", "done", "skipped"]
    assert batch_run["entries"][2]["duplicate_of"] == "DARTS_V2"
    evals = sorted(p.name for p in folder.iterdir() if p.name.startswith("eval-"))
    assert len(evals) == 2 and evals[0].startswith("eval-DARTS_V2-") and evals[1].startswith("eval-PC_DARTS_cifar-")
    with open(folder / "trained.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["arch"] for r in rows] == ["DARTS_V2", "PC_DARTS_cifar"]
    assert set(rows[0]) == set(batch_train.TRAINED_COLUMNS)
    for row in rows:
        result = json.loads((Path(row["run_dir"]) / "result.json").read_text())
        assert int(row["batch_size"]) == 64 == result["batch_size"]  # CPU: --batch_size as given
        assert float(row["test_acc"]) == pytest.approx(result["test_acc"])
        assert Path(row["run_dir"]).parent == folder
    log = (folder / "log.txt").read_text()
    assert log.count("result: test top-1") == 2  # every training's lines are in the batch log
    assert "skipping DARTS_V2: same cells as DARTS_V2" in log
    assert f"next: python ensemble.py --models_folder {folder} --calculate; python tools/analyse_train_logs.py " \
           f"-t {folder}\n" in log  # published genotypes: no sweep to join


def test_batch_train_resume_of_a_finished_batch_trains_nothing(batch_run: dict) -> None:
    args = batch_train.build_parser().parse_args(["--resume", batch_run["run_dir"], "--no_progress"])
    again = batch_train.main(args)
    assert again["trained"] == 2 and [e["status"] for e in again["entries"]] == ["done", "done", "skipped"]
    assert len(list(Path(batch_run["run_dir"]).glob("eval-*"))) == 2


def test_ensemble_over_the_batch_folder(batch_run: dict, tmp_path: Path) -> None:
    out = tmp_path / "ens.json"
    args = ensemble.build_parser().parse_args(
        ["--set", "digits", "--models_folder", str(Path(batch_run["run_dir"]).parent), "--calculate",
         "--batch_size", "128", "-o", str(out)])  # the runs' split: --subsample 0.1, --train_portion 0.5
    result = ensemble.main(args)
    assert out.is_file() and json.loads(out.read_text())["test_acc"] == result["test_acc"]
    assert [m["name"] for m in result["models"]] == ["DARTS_V2", "PC_DARTS_cifar"]
    assert len(result["weights"]) == 2 and max(result["weights"]) == 1.0
    for model in result["models"]:
        trained = json.loads((Path(model["run_dir"]) / "result.json").read_text())
        assert model["test_acc"] == pytest.approx(trained["test_acc"], abs=1e-3)  # same weights, same test set
        # the weights come from the images the training held out, not from ensemble.py's own split
        assert result["data_split"] == json.loads((Path(model["run_dir"]) / "args.json").read_text())["data_split"]
    assert 0 <= result["test_acc"] <= result["test_top5"] <= 100 and 0 <= result["train_acc"] <= 100


def test_sweep_genotypes_expand_and_duplicates_are_skipped(tmp_path: Path) -> None:
    sweep = tmp_path / "multi-search-digits-EXP-20260101-000000"
    sweep.mkdir()
    mapping = {"l2_loss_2e01": genotypes.genotype_to_dict(genotypes.l2_loss_2e01),
               "l2_loss_1e02": genotypes.genotype_to_dict(genotypes.DARTS_V2)}
    (sweep / "genotypes.json").write_text(json.dumps(mapping))
    (sweep / "sweep.json").write_text("{}")
    for spec in (str(sweep), str(sweep / "genotypes.json")):
        entries = batch_train.plan([spec, "DARTS_V2"])
        assert [e["label"] for e in entries] == ["l2_loss_2e01", "l2_loss_1e02", "DARTS_V2"]
        assert [e["status"] for e in entries] == ["pending", "pending", "skipped"]
        assert entries[0]["spec"] == f"{sweep / 'genotypes.json'}:l2_loss_2e01"
        assert genotypes.resolve_genotype(entries[1]["spec"]) == genotypes.DARTS_V2


def test_out_of_memory_retries_five_smaller(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tried = []

    def fake_main(args: object, *, run_dir: Path, log_files: object = (), **given: object) -> dict:
        tried.append(args.batch_size)
        assert run_dir.is_dir()
        if args.batch_size > 50:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return {"batch_size": args.batch_size, "model_size": 0.1, "test_acc": 50.0, "test_top5": 90.0,
                "run_dir": str(run_dir)}

    monkeypatch.setattr(train, "main", fake_main)
    args = batch_train.build_parser().parse_args(
        ["--set", "digits", "--archs", "DARTS_V2", "--batch_size", "60", "--logdir", str(tmp_path)])
    result = batch_train.main(args)
    assert tried == [60, 55, 50]
    assert result["entries"][0]["batch_size"] == 50 and result["trained"] == 1
    folder = Path(result["run_dir"])
    assert len(list(folder.glob("eval-*"))) == 1  # the failed attempts' folders are removed


@pytest.mark.parametrize("fits_at, tried", [(1, [7, 2, 1]), (0, [7, 2, 1])])
def test_out_of_memory_steps_down_to_batch_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fits_at: int,
                                            tried: list) -> None:
    """A step past batch 1 would skip the smallest batches: 7 - 5 = 2, then 1, and only then give up."""
    seen = []

    def fake_main(args: object, *, run_dir: Path, log_files: object = (), **given: object) -> dict:
        seen.append(args.batch_size)
        if args.batch_size > fits_at:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return {"batch_size": args.batch_size, "model_size": 0.1, "test_acc": 50.0, "test_top5": 90.0,
                "run_dir": str(run_dir)}

    monkeypatch.setattr(train, "main", fake_main)
    result = batch_train.main(batch_train.build_parser().parse_args(
        ["--set", "digits", "--archs", "DARTS_V2", "--batch_size", "7", "--logdir", str(tmp_path)]))
    assert seen == tried
    entry = result["entries"][0]
    if fits_at:
        assert entry["status"] == "done" and entry["batch_size"] == 1
    else:
        assert entry["status"] == "failed" and entry["error"] == "DARTS_V2: out of memory even at batch 1"


def test_out_of_memory_with_auxiliary_stops_at_batch_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DARTS's auxiliary head ends in a BatchNorm on a 1x1 map, which batch 1 cannot train: the ladder ended there,
    with torch's error, and every --resume retried the same batch-1 folder."""
    seen = []

    def fake_main(args: object, *, run_dir: Path, log_files: object = (), **given: object) -> dict:
        seen.append(args.batch_size)
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(train, "main", fake_main)
    result = batch_train.main(batch_train.build_parser().parse_args(
        ["--set", "digits", "--archs", "DARTS_V2", "--batch_size", "8", "--auxiliary", "--logdir", str(tmp_path)]))
    assert seen == [8, 3, 2]
    assert result["entries"][0]["error"] == "DARTS_V2: out of memory even at batch 2"


def _first_training_fails(monkeypatch: pytest.MonkeyPatch, error: Exception) -> list[str]:
    """train.main replaced: its first call raises ``error``, the others succeed; returns the archs it was called on."""
    calls: list[str] = []

    def fake_main(args: object, *, run_dir: Path | None = None, log_files: object = (), **given: object) -> dict:
        calls.append(str(args.arch))
        if len(calls) == 1:
            raise error
        return {"batch_size": args.batch_size, "model_size": 0.0123, "test_acc": 50.0, "test_top5": 99.0,
                "valid_acc": None, "run_dir": str(run_dir)}

    monkeypatch.setattr(train, "main", fake_main)
    return calls


def test_a_training_that_crashes_is_failed_and_the_batch_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture) -> None:
    """Any error of one training (out of memory on its resume, a bug), not only a UserError, marks it failed: the
    others still train, the batch exits 1, its traceback is in log.txt, and --resume retries it."""
    calls = _first_training_fails(monkeypatch, RuntimeError("CUDA error: an illegal memory access was encountered"))
    args = batch_train.build_parser().parse_args(
        ["--set", "digits", "--archs", "DARTS_V2", "PC_DARTS_cifar", "--batch_size", "32", "--logdir", str(tmp_path)])
    assert run_main(batch_train.cli_main, args) == 1
    (batch_dir,) = tmp_path.glob("batch-train-*")
    entries = json.loads((batch_dir / "batch.json").read_text())["entries"]
    assert [e["status"] for e in entries] == ["failed", "done"] and calls == ["DARTS_V2", "PC_DARTS_cifar"]
    assert json.loads((batch_dir / "batch.json").read_text())["args"]["data"] == str(Path("data").absolute())
    assert entries[0]["error"] == "CUDA error: an illegal memory access was encountered"
    assert "Traceback" in (batch_dir / "log.txt").read_text()
    capsys.readouterr()
    again = batch_train.main(batch_train.build_parser().parse_args(["--resume", str(batch_dir)]))
    assert [e["status"] for e in again["entries"]] == ["done", "done"]


def test_one_name_for_other_cells_in_two_sweeps_is_numbered_everywhere(tmp_path: Path) -> None:
    """trained.csv and the results table named both cellX while the batch's genotypes.json had cellX and cellX_2:
    the CSV's name could not be looked up there. Then the eval folders, result.json, ensemble.py's models and
    analyse_train_logs' table (and plot labels) named both cellX too: the two trainings could not be told apart."""
    for k, g in enumerate((genotypes.DARTS_V2, genotypes.NASNet)):
        (tmp_path / f"s{k}").mkdir()
        (tmp_path / f"s{k}" / "genotypes.json").write_text(json.dumps({"cellX": genotypes.genotype_to_dict(g)}))
    entries = batch_train.plan([str(tmp_path / "s0"), str(tmp_path / "s1"), str(tmp_path / "s0"),
                                str(tmp_path / "s1")])
    assert [(e["label"], e["status"]) for e in entries] == [("cellX", "pending"), ("cellX_2", "pending"),
                                                              ("cellX", "skipped"), ("cellX_2", "skipped")]
    assert entries[3]["duplicate_of"] == "cellX_2"
    assert list(batch_train.batch_genotypes(entries)) == ["cellX", "cellX_2"]

    from tools import analyse_train_logs

    batch = Path(batch_train.main(batch_train.build_parser().parse_args(
        ["--set", "digits", "--image_size", "8", "--init_channels", "4", "--layers", "3", "--batch_size", "64",
         "--subsample", "0.1", "--epochs", "1", "--no_progress", "--device", "cpu", "--logdir", str(tmp_path / "logs"),
         "--archs", str(tmp_path / "s0"), str(tmp_path / "s1")]))["run_dir"])
    runs = sorted(batch.glob("eval-*"))
    assert len(runs) == 2 and runs[0].name.startswith("eval-cellX-") and runs[1].name.startswith("eval-cellX_2-")
    results = [json.loads((run / "result.json").read_text()) for run in runs]
    assert [r["arch"] for r in results] == ["cellX", "cellX_2"]
    assert results[1]["arch_spec"] == f"{tmp_path / 's1' / 'genotypes.json'}:cellX"  # what it was trained from
    ens = ensemble.main(ensemble.build_parser().parse_args(
        ["--models_folder", str(batch), "--device", "cpu", "--no_progress", "-o", str(tmp_path / "ens.json")]))
    assert [m["name"] for m in ens["models"]] == ["cellX", "cellX_2"]
    table = analyse_train_logs.main(analyse_train_logs.build_parser().parse_args(
        ["-t", str(batch), "--no_latency", "-o", str(tmp_path / "table.csv")]))["table"]
    assert sorted(table["name"]) == ["cellX", "cellX_2"]
    tested = testpy.main(testpy.build_parser().parse_args([str(runs[1]), "--device", "cpu", "--no_progress",
                                                           "--logdir", str(tmp_path / "tests")]))
    assert tested["arch"] == "cellX_2" and Path(tested["run_dir"]).name.startswith("test-cellX_2-")
    running = tmp_path / runs[1].name  # read as a training still running: from its args.json and metrics.csv
    shutil.copytree(runs[1], running)
    (running / "result.json").unlink()
    assert analyse_train_logs.read_eval_run(running)["arch"] == "cellX_2"
    # cellX_2 is still joined with the search its sweep named cellX, not with another that found the same cells
    nasnet = genotypes.genotype_to_dict(genotypes.NASNet)
    index = [{"name": "cellY", "genotype": nasnet, "weight": [0.1], "run_dir": "s0"},
             {"name": "cellX", "genotype": nasnet, "weight": [0.2], "run_dir": "s1"}]
    assert analyse_train_logs.match_search(results[1], index)["run_dir"] == "s1"


@pytest.mark.parametrize(("argv", "says"), [
    (["--archs", "DARTS_V2", "--arch", "NASNet"], "--arch is train.py's (one genotype): batch_train.py takes --archs"),
    (["--arch", "DARTS_V2"], "--arch is train.py's"),  # ignored, it trained all 70 published genotypes
    (["--archs", "EMPTY"], "holds no genotype (a sweep without a Pareto-optimal search writes it empty)"),
    (["--archs", "DARTS_V2", "--model_path", "MISSING"], "--model_path MISSING: no such file"),
])
def test_what_every_training_would_fail_on_is_refused_before_the_batch_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str], says: str) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "genotypes.json").write_text("{}")
    argv = [str(tmp_path / "empty") if a == "EMPTY" else a for a in argv]
    args = batch_train.build_parser().parse_args(["--set", "digits", *argv, "--device", "cpu", "--logdir",
                                                  str(tmp_path / "logs")])
    assert run_main(batch_train.cli_main, args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and says in err and len(err.splitlines()) == 1
    assert not (tmp_path / "logs").exists()


def test_cuda_graphs_on_cpu_is_refused_before_the_batch_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = batch_train.build_parser().parse_args(
        ["--set", "digits", "--archs", "DARTS_V2", "--device", "cpu", "--cuda_graphs", "--logdir", str(tmp_path)])
    assert run_main(batch_train.cli_main, args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --cuda_graphs needs a CUDA device") and len(err.splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_memory_model_stops_at_the_first_batch_that_does_not_fit() -> None:
    """A fitted polynomial may fall again beyond its data (the shipped one's batch² term is negative), and below
    zero: the batch is the last one before the first that does not fit, never one past that fall."""
    falls = bsp.MemoryModel(np.array([[0, 1], [0, 2]]), np.array([10.0, -0.01]), 100.0, {})
    assert float(falls.predict(0.1, 2000)) < 0 and float(falls.predict(0.1, 900)) < 2000
    assert falls.max_batch(0.1, 2000.0, max_batch=4096) == 255  # 100 + 10 b - 0.01 b² <= 2000 up to b = 255
    assert falls.max_batch(0.1, 50.0, max_batch=4096) is None
    shipped = bsp.load_memory_model(batch_train.REPO / "batch_predict.json")
    for size in (0.01, 1.37, 3.3):
        batch = shipped.max_batch(size, 23500.0, max_batch=32768)
        assert batch is not None and batch < 4096 and 0 < float(shipped.predict(size, batch)) <= 23500.0


def test_the_memory_model_is_not_used_at_another_image_side() -> None:
    """It was fitted at 32x32 and knows no image side: at 128x128 the activations are 16 times as large, and its
    batch would run out of memory (a run of restarts); at another side the batch is --batch_size."""
    import logging

    from data import load_datasets

    args = batch_train.build_parser().parse_args(["--set", "digits", "--archs", "DARTS_V2", "--batch_size", "48"])
    shipped = bsp.load_memory_model(batch_train.REPO / "batch_predict.json")
    info = load_datasets("digits", "unused", image_size=128)[2]
    entry = {"label": "DARTS_V2"}
    cuda = torch.device("cuda")  # the memory model is asked on CUDA only; at 128x128 it is not asked at all
    assert batch_train.pick_batch(entry, genotypes.DARTS_V2, args, cuda, shipped, info,
                                  logging.getLogger("t")) == 48


def test_the_memory_model_is_not_used_for_imagenet_at_32_pixels(tmp_path: Path) -> None:
    """The docs say --batch_size is used as given on ImageNet: the model was fitted on NetworkCIFAR, and an ImageNet
    set read at 32x32 (a downsampled ImageNet) passed the image-side check and took its batch from the CIFAR fit."""
    import logging

    from PIL import Image

    for name in ("a", "b"):
        (tmp_path / "imagenet" / "train" / name).mkdir(parents=True)
        Image.new("RGB", (5, 7)).save(tmp_path / "imagenet" / "train" / name / "x.png")
    from data import load_train_set

    args = batch_train.build_parser().parse_args(["--set", "imagenet", "--archs", "PC_DARTS_image",
                                                  "--batch_size", "48", "--image_size", "32"])
    shipped = bsp.load_memory_model(batch_train.REPO / "batch_predict.json")
    info = load_train_set("imagenet", tmp_path, image_size=32)[1]
    cuda = torch.device("cuda")  # asked on CUDA only; on ImageNet not asked at all (no CUDA call is made)
    assert batch_train.pick_batch({"label": "PC_DARTS_image"}, genotypes.PC_DARTS_image, args, cuda, shipped, info,
                                  logging.getLogger("t")) == 48


def test_a_network_outside_the_memory_models_sizes_is_said_to_be_extrapolated(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """The shipped fit saw 1.37-4.69M parameters: a 3-cell, 4-channel network's batch is the quadratic's guess."""
    import logging

    from data import load_datasets

    shipped = bsp.load_memory_model(batch_train.REPO / "batch_predict.json")
    monkeypatch.setattr(batch_train, "free_memory_mb", lambda device: 20000.0)
    info = load_datasets("digits", "unused", image_size=32)[2]
    cuda = torch.device("cuda")  # only asked of the memory model on CUDA; no CUDA call is made with free memory faked
    for argv, warned in ((["--init_channels", "4", "--layers", "3"], True),
                         (["--init_channels", "36", "--layers", "20"], False)):
        caplog.clear()
        args = batch_train.build_parser().parse_args(["--set", "digits", "--archs", "DARTS_V2", *argv])
        with caplog.at_level(logging.INFO, logger="t"):
            batch = batch_train.pick_batch({"label": "DARTS_V2"}, genotypes.DARTS_V2, args, cuda, shipped, info,
                                           logging.getLogger("t"))
        assert batch is not None
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert warnings == ([f"DARTS_V2: {batch_train.network_size(genotypes.DARTS_V2, args, 10):.3f}M params is "
                             "below the 1.37-4.69M the memory model was fitted on: the batch is the quadratic's "
                             "extrapolation (--probe measures this network instead)"] if warned else [])


def test_batch_train_unknown_genotype_fails_before_training(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = batch_train.build_parser().parse_args(["--archs", "DARTS_V2", "PC_DART", "--logdir", str(tmp_path)])
    assert run_main(batch_train.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert "PC_DART" in err and "PC_DARTS_cifar" in err and "\n" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_mis_keyed_entry_of_an_archs_file_is_a_one_line_error_naming_it(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture) -> None:
    """--archs FILE trains every entry: a bad one is not skipped in silence, nor does it make FILE unreadable."""
    bad = genotypes.genotype_to_dict(genotypes.NASNet)
    bad["normal_cells"] = bad.pop("normal")
    path = tmp_path / "genotypes.json"
    path.write_text(json.dumps({"good": genotypes.genotype_to_dict(genotypes.DARTS_V2), "bad": bad}))
    args = batch_train.build_parser().parse_args(["--archs", str(path), "--logdir", str(tmp_path / "logs")])
    assert run_main(batch_train.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {path}:bad: a genotype needs the keys normal, normal_concat, reduce and reduce_concat " \
                  "(missing normal)"
    assert not (tmp_path / "logs").exists()
    assert [e["label"] for e in batch_train.plan([f"{path}:good"])] == ["good"]


def test_a_batch_with_a_failed_training_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    args = batch_train.build_parser().parse_args(
        [*TINY, "--archs", "DARTS_V2", "--model_path", str(empty), "--logdir", str(tmp_path / "logs")])
    assert run_main(batch_train.cli_main, args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: 1 of 1 trainings failed; their errors are in "), err
    (batch_dir,) = (tmp_path / "logs").glob("batch-train-*")
    assert json.loads((batch_dir / "batch.json").read_text())["entries"][0]["status"] == "failed"


def test_a_batch_stopped_before_its_first_batch_json_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture) -> None:
    """A Ctrl-C between args.json and the first batch.json advised --resume, which then refused the folder (not a
    batch folder: no batch.json); it now plans the batch afresh from its args.json, in its folder."""
    real = batch_train.batch_genotypes

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(batch_train, "batch_genotypes", ctrl_c)  # genotypes.json: written after args.json
    argv = [*TINY, "--archs", "DARTS_V2", "--device", "cpu", "--threads", "1", "--logdir", str(tmp_path)]
    assert run_main(batch_train.main, batch_train.build_parser().parse_args(argv)) == 130
    (batch_dir,) = tmp_path.glob("batch-train-*")
    assert capsys.readouterr().err.splitlines()[-1] == \
        f"interrupted: continue with python batch_train.py --resume {batch_dir}"
    assert (batch_dir / "args.json").is_file() and not (batch_dir / "batch.json").exists()
    monkeypatch.setattr(batch_train, "batch_genotypes", real)
    assert run_main(batch_train.main, batch_train.build_parser().parse_args(["--resume", str(batch_dir)])) == 0
    state = json.loads((batch_dir / "batch.json").read_text())
    assert [(e["label"], e["status"]) for e in state["entries"]] == [("DARTS_V2", "done")]
    assert state["args"]["epochs"] == 1 and "resume" not in state["args"]
    assert len(list(batch_dir.glob("eval-*"))) == 1 and (batch_dir / "genotypes.json").is_file()
    assert json.loads((batch_dir / "args.json").read_text())["args"]["resume"] is None


def test_a_row_of_trained_csv_lost_to_a_kill_comes_back_on_resume(batch_run: dict, tmp_path: Path) -> None:
    """batch.json said "done" before the row was appended to trained.csv: a kill between the two left the row out
    for good, since a resume never revisits a done training. trained.csv is now rewritten from batch.json."""
    copy = tmp_path / Path(batch_run["run_dir"]).name
    shutil.copytree(batch_run["run_dir"], copy)
    with open(copy / "trained.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    (copy / "trained.csv").write_text(",".join(batch_train.TRAINED_COLUMNS) + "\n")  # the kill: no row yet
    done = batch_train.main(batch_train.build_parser().parse_args(["--resume", str(copy), "--no_progress"]))
    assert done["trained"] == 2 and done["failed"] == 0
    with open(copy / "trained.csv", newline="") as f:
        again = list(csv.DictReader(f))
    assert [r["arch"] for r in again] == [r["arch"] for r in rows] == ["DARTS_V2", "PC_DARTS_cifar"]
    assert [r["test_acc"] for r in again] == [r["test_acc"] for r in rows]
    assert [Path(r["run_dir"]).parent for r in again] == [copy, copy]  # the copy's own trainings


def test_a_resumed_batch_whose_data_moved_says_where_its_path_came_from(batch_run: dict, tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture) -> None:
    copy = tmp_path / Path(batch_run["run_dir"]).name
    shutil.copytree(batch_run["run_dir"], copy)
    state = json.loads((copy / "batch.json").read_text())
    state["args"].update(set="folder", data=str(tmp_path / "moved-away"))  # an image folder no longer there
    (copy / "batch.json").write_text(json.dumps(state))
    assert run_main(batch_train.main, batch_train.build_parser().parse_args(["--resume", str(copy)])) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: image folder dataset not found") and err.endswith(
        f"(that --data is the one {copy / 'batch.json'} records: if the data has moved, pass --data DIR where it "
        "is now)"), err
    typed = ["--resume", str(copy), "--data", str(tmp_path / "elsewhere")]
    assert run_main(batch_train.main, batch_train.build_parser().parse_args(typed)) == 2
    assert "records" not in capsys.readouterr().err  # the path typed is the one looked for


def test_a_stopped_batch_resumes_from_elsewhere_without_its_spec_files(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch folder records the resolved genotypes at the start: a resume needs neither --archs' files nor cwd."""
    start = tmp_path / "start"
    (start / "specs").mkdir(parents=True)
    genotypes.save_genotype(genotypes.DARTS_V2, start / "specs" / "one.json")
    genotypes.save_genotype(genotypes.PC_DARTS_cifar, start / "specs" / "two.json")
    pasted = repr(genotypes.Genotype(normal=[tuple(p) for p in genotypes.NASNet.normal], normal_concat=range(2, 7),
                                     reduce=[("max_pool_3x3", 0)] * 8, reduce_concat=range(2, 6)))
    monkeypatch.chdir(start)
    args = batch_train.build_parser().parse_args(
        [*TINY, "--epochs", "2", "--archs", "specs/one.json", "specs/two.json", pasted, "--logdir", "logs",
         "--stop_after", "1"])
    stopped = batch_train.main(args)  # stops after epoch 1 of the first training, as a kill after it would
    assert stopped["stopped"] and [e["status"] for e in stopped["entries"]] == ["pending"] * 3
    batch_dir = (start / stopped["run_dir"]).resolve()
    recorded = json.loads((batch_dir / "genotypes.json").read_text())
    assert list(recorded) == ["one", "two", "custom"]
    assert genotypes.resolve_genotype(f"{batch_dir}/genotypes.json:two") == genotypes.PC_DARTS_cifar
    assert [e["genotype"] for e in json.loads((batch_dir / "batch.json").read_text())["entries"]] == \
        list(recorded.values())
    (in_flight,) = batch_dir.glob("eval-one-*")
    assert (in_flight / "checkpoint.pt").is_file() and not (in_flight / "result.json").exists()

    moved = tmp_path / "moved"
    (start / "specs").rename(moved)  # the spec files are gone from where the batch was started
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    done = batch_train.main(batch_train.build_parser().parse_args(["--resume", str(batch_dir), "--no_progress"]))
    assert done["trained"] == 3 and done["failed"] == 0 and not done.get("stopped")
    assert sorted(p.name.split("-")[1] for p in batch_dir.glob("eval-*")) == ["custom", "one", "two"]
    assert not list(elsewhere.iterdir())  # nothing was written where the resume ran
    for entry, expected in zip(done["entries"], [genotypes.DARTS_V2, genotypes.PC_DARTS_cifar,
                                                 genotypes.genotype_from_dict(recorded["custom"])]):
        result = json.loads((Path(entry["run_dir"]) / "result.json").read_text())
        assert genotypes.genotype_from_dict(result["genotype"]) == expected
        assert Path(entry["run_dir"]).parent == batch_dir
    assert json.loads((Path(done["entries"][1]["run_dir"]) / "result.json").read_text())["genotype_source"] == \
        str(start / "specs" / "two.json")
    epochs = [line.split(",")[0] for line in (in_flight / "metrics.csv").read_text().splitlines()[1:]]
    assert epochs == ["0", "1"]  # the in-flight training continued, it did not start over


def test_the_results_table_lists_every_training_after_a_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture) -> None:
    """The end of a batch prints (and logs) a row per training, one finished before the --resume included."""
    calls = []

    def fake_main(args: object, *, run_dir: Path | None = None, log_files: object = (), **given: object) -> dict:
        calls.append(args.arch)
        if len(calls) == 2:  # "killed" in the second training, after the first had finished
            return {"stopped_after": 1, "run_dir": str(run_dir)}
        acc = {"DARTS_V2": 61.25, "PC_DARTS_cifar": 72.5}[str(args.arch)]
        return {"batch_size": args.batch_size, "model_size": 0.0123, "test_acc": acc, "test_top5": 99.0,
                "valid_acc": None, "run_dir": str(run_dir)}

    monkeypatch.setattr(train, "main", fake_main)
    args = batch_train.build_parser().parse_args(
        ["--set", "digits", "--archs", "DARTS_V2", "PC_DARTS_cifar", "DARTS_V2", "--batch_size", "32",
         "--logdir", str(tmp_path)])
    stopped = batch_train.main(args)
    assert stopped["stopped"] and [e["status"] for e in stopped["entries"]] == ["done", "pending", "skipped"]
    capsys.readouterr()
    done = batch_train.main(batch_train.build_parser().parse_args(["--resume", stopped["run_dir"]]))
    assert done["trained"] == 2 and calls == ["DARTS_V2", "PC_DARTS_cifar", "PC_DARTS_cifar"]
    out = capsys.readouterr().out
    table = out[out.index("results:"):].splitlines()[1:5]
    assert table[0].split() == ["arch", "status", "batch_size", "model_size", "test_acc", "test_top5"]
    assert table[1].split() == ["DARTS_V2", "done", "32", "0.0123", "61.25", "99"]  # done before the resume
    assert table[2].split() == ["PC_DARTS_cifar", "done", "32", "0.0123", "72.5", "99"]
    assert table[3].split() == ["DARTS_V2", "skipped", "(same", "cells", "as", "DARTS_V2)", "-", "-", "-", "-"]
    log = (Path(done["run_dir"]) / "log.txt").read_text()
    assert "\n".join(table) in log


def test_a_resume_retries_the_trainings_that_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A training that failed (its data moved, the GPU taken by another job) is not finished: --resume runs it."""
    calls = _first_training_fails(monkeypatch, UserError("digits/train: dataset not found"))
    first = batch_train.main(batch_train.build_parser().parse_args(
        ["--set", "digits", "--archs", "DARTS_V2", "PC_DARTS_cifar", "--batch_size", "32", "--logdir", str(tmp_path)]))
    assert [e["status"] for e in first["entries"]] == ["failed", "done"] and first["failed"] == 1
    again = batch_train.main(batch_train.build_parser().parse_args(["--resume", first["run_dir"]]))
    assert [e["status"] for e in again["entries"]] == ["done", "done"] and again["failed"] == 0
    assert calls == ["DARTS_V2", "PC_DARTS_cifar", "DARTS_V2"] and "error" not in again["entries"][0]


def test_a_resume_sizes_a_training_that_ran_out_of_memory_at_every_batch_afresh(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A training whose out-of-memory ladder reached the smallest batch (another job held the GPU) failed with
    batch.json recording that batch: --resume, once the GPU was free, trained it at batch 1 rather than at the
    batch its memory allows (here --batch_size, as on a CPU)."""
    seen: list[int] = []

    def fake_main(args: object, *, run_dir: Path | None = None, log_files: object = (), **given: object) -> dict:
        seen.append(args.batch_size)
        if len(seen) <= 3:  # 12, 7, 2, 1 would be the ladder; the GPU is "full" the whole first call
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return {"batch_size": args.batch_size, "model_size": 0.1, "test_acc": 50.0, "test_top5": 90.0,
                "run_dir": str(run_dir)}

    monkeypatch.setattr(train, "main", fake_main)
    first = batch_train.main(batch_train.build_parser().parse_args(
        ["--set", "digits", "--archs", "DARTS_V2", "--batch_size", "12", "--auxiliary", "--logdir", str(tmp_path)]))
    assert seen == [12, 7, 2] and first["entries"][0]["error"] == "DARTS_V2: out of memory even at batch 2"
    again = batch_train.main(batch_train.build_parser().parse_args(["--resume", first["run_dir"]]))
    assert seen[3:] == [12] and again["entries"][0]["status"] == "done" and again["entries"][0]["batch_size"] == 12
    assert len(list(Path(first["run_dir"]).glob("eval-*"))) == 1


def test_a_batch_started_with_a_relative_model_path_resumes_from_elsewhere(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """--model_path as typed (w.pt) was recorded relative: a resume from another directory crashed every training that
    had not yet written a checkpoint ("checkpoint not found: w.pt"), though a batch resumes from anywhere."""
    start = tmp_path / "start"
    start.mkdir()
    net = train.build_network(genotypes.DARTS_V2, 10, 4, 3, True)
    torch.save(net.state_dict(), start / "w.pt")
    monkeypatch.chdir(start)
    args = batch_train.build_parser().parse_args(
        [*TINY, "--epochs", "2", "--archs", "DARTS_V2", "--seeds", "0", "1", "--model_path", "w.pt",
         "--logdir", "logs", "--stop_after", "1"])
    stopped = batch_train.main(args)
    assert stopped["stopped"]
    batch_dir = (start / stopped["run_dir"]).resolve()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    done = batch_train.main(batch_train.build_parser().parse_args(["--resume", str(batch_dir), "--no_progress"]))
    assert done["trained"] == 2 and done["failed"] == 0, [e.get("error") for e in done["entries"]]
    (second,) = batch_dir.glob("eval-DARTS_V2-s1-*")
    assert json.loads((second / "args.json").read_text())["args"]["model_path"] == str(start / "w.pt")
    # its log says so in a line of its own (only the args line did)
    assert f"started from the weights {start / 'w.pt'} (--model_path), not from a random initialisation" \
        in (second / "log.txt").read_text()


def test_the_next_line_names_the_sweep_of_a_sweep_dir_name_entry(tmp_path: Path) -> None:
    """The closing hint joins the trainings to their sweep (analyse_train_logs.py -s SWEEP): it looked for the sweep
    beside the spec as typed, so SWEEP_DIR:NAME (and a relative FILE:NAME resumed from elsewhere) lost the -s."""
    sweep = tmp_path / "multi-search-digits-EXP-20260101-000000"
    sweep.mkdir()
    (sweep / "genotypes.json").write_text(json.dumps({"l2_loss_1e02": genotypes.genotype_to_dict(genotypes.DARTS_V2)}))
    (sweep / "sweep.json").write_text("{}")
    args = batch_train.build_parser().parse_args(
        [*TINY, "--archs", f"{sweep}:l2_loss_1e02", "--logdir", str(tmp_path / "logs")])
    done = batch_train.main(args)
    assert done["trained"] == 1
    log = (Path(done["run_dir"]) / "log.txt").read_text()
    assert f"python tools/analyse_train_logs.py -t {done['run_dir']} -s {sweep}\n" in log


def test_the_next_line_names_the_sweeps_of_search_folders_and_files(tmp_path: Path) -> None:
    """A search's run folder inside a sweep (--archs SWEEP/search-03-...) added no -s: only FILE:NAME sources were
    looked at. The hint's helper, on the sources resolve_genotype_source gives (no training needed)."""
    sweep = tmp_path / "multi-search-digits-EXP-20260101-000000"
    search = sweep / "search-03-nu0.01"
    search.mkdir(parents=True)
    (sweep / "sweep.json").write_text("{}")
    (sweep / "genotypes.json").write_text(json.dumps({"l2_loss_1e02": genotypes.genotype_to_dict(genotypes.DARTS_V2)}))
    (search / "genotype.json").write_text(json.dumps(genotypes.genotype_to_dict(genotypes.DARTS_V2)))
    other = tmp_path / "alone"  # a search run on its own: no sweep
    other.mkdir()
    (other / "genotype.json").write_text(json.dumps(genotypes.genotype_to_dict(genotypes.DARTS_V2)))
    sources = [genotypes.resolve_genotype_source(s).source
               for s in (str(search), f"{sweep}:l2_loss_1e02", str(other), "DARTS_V2")]
    assert batch_train.sweeps_of(sources) == [str(sweep)]
    assert batch_train.sweeps_of([genotypes.resolve_genotype_source(str(search)).source]) == [str(sweep)]


def test_a_resume_may_retype_the_relative_model_path_the_run_recorded_absolute(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """args.json records --model_path absolute; the same file typed again as w.pt is the run's own, not a change."""
    monkeypatch.chdir(tmp_path)
    saved = {"model_path": str(tmp_path / "w.pt"), "epochs": 2}
    args = train.build_parser().parse_args(["--resume", "run", "--model_path", "w.pt"])
    assert cli.resume_args(args, saved).model_path == str(tmp_path / "w.pt")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # there w.pt is another file: a change, refused
    with pytest.raises(UserError, match=r"--model_path w\.pt \(the run has --model_path "):
        cli.resume_args(train.build_parser().parse_args(["--resume", "run", "--model_path", "w.pt"]), saved)
