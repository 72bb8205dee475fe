"""Tests of train.py on the bundled digits set with a tiny network (CPU, seconds).

The interrupted run is made with the hidden ``--stop_after 1`` flag: the run stops after epoch 1
of 2 exactly as a kill after that epoch's checkpoint would leave it (checkpoint.pt, one metrics
row, no result.json), and ``--resume`` must then end with the unbroken run's result, bit for bit.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import genotypes
import plots_train
import train
from model import NetworkCIFAR
from utils import UserError, run_main

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--set", "digits", "--arch", "DARTS_V2", "--init_channels", "4", "--layers", "3", "--batch_size", "64",
        "--subsample", "0.2", "--train_portion", "0.8", "--auxiliary", "--cutout", "--no_progress"]


def parse(*extra: str) -> object:
    return train.build_parser().parse_args([*TINY, *extra])


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    logdir = tmp_path_factory.mktemp("logs")
    return train.main(parse("--epochs", "2", "--logdir", str(logdir), "--save", "full"))


def test_loss_png_names_the_train_objective(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """train_loss is CE + 0.4 x the auxiliary head's CE (label-smoothed here), the valid and test losses the plain
    CE: loss.png's legend says what the train curve is, so that it does not read as under-fitting."""
    legends = []
    real = plots_train.training_figure

    def keep(rows: list, key: str, ylabel: str, title: str = "", train_label: str = "train") -> object:
        fig = real(rows, key, ylabel, title, train_label)
        legends.append((key, [t.get_text() for t in fig.axes[0].get_legend().get_texts()]))
        return fig

    monkeypatch.setattr(plots_train, "training_figure", keep)
    train.main(parse("--epochs", "1", "--logdir", str(tmp_path), "--label_smooth", "0.1", "--threads", "1"))
    assert legends == [("loss", ["train (objective: CE + 0.4 × auxiliary CE, label smoothing 0.1)", "valid", "test"]),
                       ("acc", ["train", "valid", "test"]), ("top5", ["train", "valid", "test"])]
    assert plots_train.train_loss_label() == "train"
    assert plots_train.train_loss_label(0.0, 0.1) == "train (objective: CE, label smoothing 0.1)"


def test_a_plot_that_fails_is_a_warning_and_the_result_is_written(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk or a matplotlib error while the training curves are drawn warns in the log, and the run keeps
    its result (it was lost with the checkpoint kept). They are drawn before result.json, the mark of a finished run:
    drawn after it, a run killed meanwhile was finished without them, and --resume did not draw them."""
    real_savefig = plots_train.plt.Figure.savefig
    opened = []

    def full_disk(fig: object, *a: object, **k: object) -> None:
        opened.append(fig)
        assert not list(tmp_path.rglob("result.json"))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(plots_train.plt.Figure, "savefig", full_disk)
    result = train.main(parse("--epochs", "1", "--logdir", str(tmp_path), "--threads", "1"))
    monkeypatch.setattr(plots_train.plt.Figure, "savefig", real_savefig)
    run = Path(result["run_dir"])
    assert json.loads((run / "result.json").read_text())["test_acc"] == result["test_acc"]
    assert not (run / "checkpoint.pt").exists() and not (run / "loss.png").exists()
    assert "could not draw the training curves: [Errno 28] No space left on device" in (run / "log.txt").read_text()
    assert opened and not any(plots_train.plt.fignum_exists(f.number) for f in opened)  # the failed figure freed


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_two_epochs_write_every_file(full_run: dict) -> None:
    run = Path(full_run["run_dir"])
    assert run.name.startswith("eval-full-")
    for name in ("args.json", "log.txt", "metrics.csv", "result.json", "weights.pt", "loss.png", "acc.png", "top5.png"):
        assert (run / name).is_file() and (run / name).stat().st_size > 0, name
    for png in ("loss.png", "acc.png", "top5.png"):
        assert (run / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (run / "checkpoint.pt").exists()  # resume state is dropped once the result is written

    rows = read_rows(run / "metrics.csv")
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    assert float(rows[0]["lr"]) == pytest.approx(0.025) and float(rows[1]["lr"]) == pytest.approx(0.0125)
    assert float(rows[0]["drop_path_prob"]) == 0.0 and float(rows[1]["drop_path_prob"]) == pytest.approx(0.15)
    for r in rows:
        for key in ("train_loss", "train_acc", "train_top5", "valid_loss", "valid_acc", "test_loss", "test_acc"):
            assert r[key] != "", key

    result = json.loads((run / "result.json").read_text())
    assert {k: result[k] for k in ("test_loss", "test_acc", "run_dir")} == \
           {k: full_run[k] for k in ("test_loss", "test_acc", "run_dir")}
    assert result["epochs"] == 2 and result["batch_size"] == 64 and result["dataset"] == "digits"
    assert result["arch"] == "DARTS_V2" and result["device"] == "cpu" and result["wall_time"] > 0
    assert genotypes.genotype_from_dict(result["genotype"]) == genotypes.DARTS_V2
    assert result["test_loss"] == pytest.approx(float(rows[-1]["test_loss"]))
    assert result["test_acc"] == pytest.approx(float(rows[-1]["test_acc"]))
    assert 0.0 <= result["test_acc"] <= result["test_top5"] <= 100.0
    assert result["valid_acc"] is not None and result["valid_top5"] is not None

    net = NetworkCIFAR(4, 10, 3, True, genotypes.DARTS_V2)
    state = torch.load(run / "weights.pt", weights_only=True)
    assert list(state) == list(net.state_dict())  # plain state_dict in the DARTS key layout
    net.load_state_dict(state, strict=True)
    params = sum(p.numel() for n, p in net.named_parameters() if "auxiliary" not in n) / 1e6
    assert result["model_size"] == pytest.approx(params)
    args = json.loads((run / "args.json").read_text())["args"]
    assert args["arch"] == "DARTS_V2" and args["epochs"] == 2
    assert result["genotype_source"] == args["genotype_source"] == "published genotype DARTS_V2 from genotypes.py"
    assert "genotype DARTS_V2: published genotype DARTS_V2 from genotypes.py" in (run / "log.txt").read_text()
    log = (run / "log.txt").read_text().splitlines()  # the user is told where the run lives, first and last
    assert log[0].endswith(f"run folder: {run}") and log[-1].endswith(f"run folder: {run}")
    assert sum(" done in " in line for line in log) == 2 and "(1 of 2); about " in "".join(log)  # each epoch's end


def test_resumed_training_equals_unbroken(full_run: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    stopped = train.main(parse("--epochs", "2", "--logdir", str(tmp_path), "--save", "part", "--stop_after", "1"))
    run = Path(stopped["run_dir"])
    assert stopped["stopped_after"] == 1
    assert (run / "checkpoint.pt").is_file() and not (run / "result.json").exists()
    assert len(read_rows(run / "metrics.csv")) == 1

    # Only --resume (and hardware flags) are given: everything else comes from the run's args.json.
    resumed = train.main(train.build_parser().parse_args(["--resume", str(run), "--no_progress"]))
    assert resumed["run_dir"] == str(run)
    log = (run / "log.txt").read_text()  # the next epoch logged is "epoch 1": "after epoch 1" misled
    assert f"resuming {run} at epoch 1 (epoch 0 done)" in log
    # each start names torch's CPU threads in effect: a --resume may change --threads, which args.json does not show
    assert len(re.findall(r"device \S+ \(\d+ CPU threads?\), digits", log)) == 2, log
    for key in ("test_loss", "test_acc", "test_top5", "valid_loss", "valid_acc", "train_loss", "train_acc"):
        assert resumed[key] == full_run[key], key
    a = torch.load(run / "weights.pt", weights_only=True)
    b = torch.load(Path(full_run["run_dir"]) / "weights.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in b)
    rows_a, rows_b = read_rows(run / "metrics.csv"), read_rows(Path(full_run["run_dir"]) / "metrics.csv")
    assert [{k: v for k, v in r.items() if k != "epoch_time"} for r in rows_a] == \
           [{k: v for k, v in r.items() if k != "epoch_time"} for r in rows_b]
    # Resuming a finished run returns its result without training again.
    capsys.readouterr()
    again = train.main(train.build_parser().parse_args(["--resume", str(run)]))
    assert again["test_acc"] == resumed["test_acc"]
    assert capsys.readouterr().out == f"{run} has finished: nothing to resume (its result.json stands)\n"


def test_model_path_loads_matching_weights(full_run: dict) -> None:
    net = NetworkCIFAR(4, 10, 3, True, genotypes.DARTS_V2)
    train.load_weights(net, Path(full_run["run_dir"]) / "weights.pt")
    saved = torch.load(Path(full_run["run_dir"]) / "weights.pt", weights_only=True)
    assert all(torch.equal(net.state_dict()[k], saved[k]) for k in saved)
    wrapped = Path(full_run["run_dir"]).parent / "wrapped.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in saved.items()}}, wrapped)
    other = NetworkCIFAR(4, 10, 3, True, genotypes.DARTS_V2)
    train.load_weights(other, wrapped)  # DataParallel prefix and a wrapper dict are accepted
    assert torch.equal(other.classifier.weight, net.classifier.weight)


def test_weights_of_another_genotype_name_the_keys(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    other = tmp_path / "other.pt"
    torch.save(NetworkCIFAR(4, 10, 3, True, genotypes.PC_DARTS_cifar).state_dict(), other)
    with pytest.raises(UserError) as info:
        train.load_weights(NetworkCIFAR(4, 10, 3, True, genotypes.DARTS_V2), other, "DARTS_V2")
    message = str(info.value)
    assert "\n" not in message and "missing key" in message and "unexpected key" in message
    assert "cells.0._ops." in message and "another genotype" in message

    args = parse("--epochs", "1", "--logdir", str(tmp_path / "logs"), "--model_path", str(other))
    assert run_main(train.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: weights") and "\n" not in err and "shape mismatch" in err
    assert not (tmp_path / "logs").exists()  # nothing is created for a run that cannot start


def test_unknown_genotype_is_one_line_with_close_names(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "train.py"), "--arch", "DARTS_V3", "--logdir", str(tmp_path)],
                          check=False, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "DARTS_V3" in lines[0] and "DARTS_V2" in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_learning_rate_schedules() -> None:
    args = parse("--epochs", "4")
    assert [train.lr_at(args, e) for e in range(4)] == pytest.approx([0.025, 0.025 * (1 + 2 ** -0.5) / 2, 0.0125,
                                                                      0.025 * (1 - 2 ** -0.5) / 2])
    imagenet = train.build_parser().parse_args(["--set", "imagenet", "--learning_rate", "0.1"])
    assert train.lr_at(imagenet, 2) == pytest.approx(0.1 * 0.97 ** 2)
    assert train.label_smoothing(imagenet) == 0.1 and train.label_smoothing(args) == 0.0


def test_linear_schedule_is_pc_darts_imagenet() -> None:
    """PC-DARTS's train_imagenet: warm-up (batch > 256), then a line to 0, its last 5 epochs at a fifth of the slope."""
    pc_darts = train.build_parser().parse_args(["--set", "imagenet", "--lr_schedule", "linear", "--learning_rate",
                                                "0.5", "--batch_size", "1024", "--epochs", "250"])
    lrs = [train.lr_at(pc_darts, e) for e in range(250)]
    assert lrs[:5] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])
    assert lrs[5] == pytest.approx(0.5 * 240 / 245) and lrs[244] == pytest.approx(0.5 / 245)
    assert lrs[245] == pytest.approx(0.5 / 245) and lrs[249] == pytest.approx(0.5 / 1225)
    assert all(a >= b for a, b in zip(lrs[4:], lrs[5:])) and min(lrs) > 0
    small_batch = train.build_parser().parse_args(["--lr_schedule", "linear", "--batch_size", "128", "--epochs", "10"])
    assert [train.lr_at(small_batch, e) for e in (0, 1, 4, 5, 9)] == pytest.approx(
        [0.025, 0.025 * 4 / 5, 0.025 / 5, 0.025 * 5 / 25, 0.025 / 25])


def test_linear_schedule_refuses_five_epochs_or_fewer(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The original divides by --epochs - 5: the run stops before its folder with a one-line reason instead."""
    assert run_main(train.main, parse("--lr_schedule", "linear", "--epochs", "5", "--logdir", str(tmp_path))) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --lr_schedule linear needs --epochs > 5 (its last 5 epochs decay at a fifth of the slope), "
                   "not 5"]
    assert not list(tmp_path.iterdir())
    train.check_args(parse("--lr_schedule", "linear", "--epochs", "6"))


@pytest.mark.parametrize("argv, line", [
    (["--auxiliary_weight", "0.6"], "--auxiliary_weight acts only with --auxiliary, and this training has no "
                                    "auxiliary head"),
    (["--gamma", "0.9", "--decay_period", "2"], "--gamma and --decay_period act only with --lr_schedule step, and "
                                                "this training's schedule is cosine (the default here)"),
    (["--lr_schedule", "step", "--learning_rate_min", "0.01"], "--learning_rate_min acts only with --lr_schedule "
                                                               "cosine, and this training's schedule is step"),
    (["--cutout_length", "4"], "--cutout_length acts only with --cutout, and this run has no cutout"),
])
def test_a_flag_this_training_never_reads_is_refused(argv: list[str], line: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    """A value typed to change the training, that it would drop without a word, stops it before its folder; the
    same flags beside what reads them, or left at their defaults, train."""
    def plain(*extra: str) -> object:  # TINY without its --auxiliary and --cutout
        return train.build_parser().parse_args([a for a in TINY if a not in ("--auxiliary", "--cutout")] + [*extra])

    assert run_main(train.main, plain(*argv, "--epochs", "1", "--logdir", str(tmp_path))) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"error: {line}"]
    assert not list(tmp_path.iterdir())
    for fine in (["--auxiliary", "--auxiliary_weight", "0.6"], ["--lr_schedule", "step", "--gamma", "0.9"],
                 ["--learning_rate_min", "0.01"], ["--cutout", "--cutout_length", "4"], []):
        train.check_args(plain(*fine))


def test_eval_view_turns_augmentation_off() -> None:
    import data

    train_ds, test_ds, _ = data.load_datasets("digits", "unused", cutout=True)
    view = train.eval_view(train_ds, test_ds)
    assert view.augment is False and view.cutout is False and train_ds.augment is True
    assert torch.equal(view[5][0], view[5][0])  # deterministic: no random crop, flip or cutout
    assert torch.equal(view[5][0], test_ds.transform(train_ds.images[5]))


@pytest.mark.parametrize("flag, value", [("--drop_path_prob", "1.0"), ("--eval_every", "0"), ("--epochs", "0"),
                                         ("--grad_clip", "-1"), ("--threads", "-1"), ("--image_size", "7"),
                                         ("--auxiliary_weight", "nan"), ("--gamma", "-1"), ("--gamma", "nan"),
                                         ("--image_size", "16")])  # 16 with --auxiliary: the head needs 32
def test_bad_flags_fail_in_one_line(flag: str, value: str, capsys: pytest.CaptureFixture) -> None:
    assert run_main(train.main, parse(flag, value)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and flag in err and "\n" not in err


def test_resume_trains_the_genotype_it_started_with(tmp_path: Path) -> None:
    """--arch's file may change (or go) after the start: the resumed run keeps the saved genotype."""
    arch = tmp_path / "g.json"
    genotypes.save_genotype(genotypes.DARTS_V2, arch)
    argv = [a if a != "DARTS_V2" else str(arch) for a in TINY]
    train.main(train.build_parser().parse_args([*argv, "--epochs", "2", "--logdir", str(tmp_path / "logs"),
                                                "--stop_after", "1"]))
    (run_dir,) = (tmp_path / "logs").glob("eval-*")
    assert genotypes.resolve_genotype(run_dir) == genotypes.DARTS_V2
    genotypes.save_genotype(genotypes.PC_DARTS_cifar, arch)
    train.main(train.build_parser().parse_args(["--resume", str(run_dir)]))
    arch.unlink()
    assert genotypes.resolve_genotype(run_dir) == genotypes.DARTS_V2
    result = train.main(train.build_parser().parse_args(["--resume", str(run_dir)]))
    assert result["epochs"] == 2 and result["genotype_source"] == str(arch.absolute())  # as recorded at the start


def test_a_run_killed_right_after_its_args_json_resumes_the_genotype_it_started_with(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """args.json (which makes a folder resumable) was written before genotype.json: a run stopped between the two
    resolved its --arch again on --resume, a path relative to where it was started (a one-line error from anywhere
    else) or a file changed since, and finished without a genotype.json."""
    (tmp_path / "start").mkdir()
    genotypes.save_genotype(genotypes.DARTS_V2, tmp_path / "start" / "g.json")
    real = train.save_args

    def save_then_stop(*args: object, **kwargs: object) -> None:
        real(*args, **kwargs)
        raise KeyboardInterrupt  # the kill: whatever the run writes after its args.json is not written

    monkeypatch.setattr(train, "save_args", save_then_stop)
    monkeypatch.chdir(tmp_path / "start")
    argv = ["--set", "digits", "--image_size", "8", "--arch", "g.json", "--init_channels", "4", "--layers", "3",
            "--batch_size", "128", "--subsample", "0.2", "--epochs", "1", "--no_progress", "--threads", "1"]
    with pytest.raises(KeyboardInterrupt):
        train.main(train.build_parser().parse_args([*argv, "--logdir", str(tmp_path / "logs")]))
    monkeypatch.setattr(train, "save_args", real)
    (run_dir,) = (tmp_path / "logs").glob("eval-*")
    assert (run_dir / "args.json").is_file()
    genotypes.save_genotype(genotypes.PC_DARTS_cifar, tmp_path / "start" / "g.json")  # changed since
    monkeypatch.chdir(tmp_path)  # resumed from elsewhere: g.json is not there
    result = train.main(train.build_parser().parse_args(["--resume", str(run_dir)]))
    assert genotypes.genotype_from_dict(result["genotype"]) == genotypes.DARTS_V2
    assert genotypes.resolve_genotype(run_dir / "genotype.json") == genotypes.DARTS_V2


def test_resume_refuses_a_folder_of_another_kind(full_run: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    search_dir = tmp_path / "search"
    search_dir.mkdir()
    (search_dir / "args.json").write_text(json.dumps({"kind": "search", "args": {"arch_learning_rate": 6e-4}}))
    before = (search_dir / "args.json").read_text()
    assert run_main(train.main, train.build_parser().parse_args(["--resume", str(search_dir)])) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: --resume {search_dir}: not a training run folder but a search folder "
                   "(resume it with train_search.py)")
    assert sorted(p.name for p in search_dir.iterdir()) == ["args.json"]
    assert (search_dir / "args.json").read_text() == before


def test_a_bare_sweep_like_name_says_it_is_the_published_one(tmp_path: Path) -> None:
    """A sweep names its cells like the thesis's: the log says which was taken and how to take the sweep's."""
    argv = [a if a != "DARTS_V2" else "l2_loss_2e01" for a in TINY]
    train.main(train.build_parser().parse_args([*argv, "--epochs", "1", "--stop_after", "0",
                                                "--logdir", str(tmp_path)]))
    (run,) = tmp_path.glob("eval-l2_loss_2e01-*")
    assert ("genotype l2_loss_2e01: published genotype l2_loss_2e01 from genotypes.py; to train a sweep's genotype "
            "of that name use --arch SWEEP/genotypes.json:l2_loss_2e01") in (run / "log.txt").read_text()
    assert json.loads((run / "args.json").read_text())["args"]["genotype_source"] == \
        "published genotype l2_loss_2e01 from genotypes.py"


def test_a_pasted_genotype_string_trains(tmp_path: Path) -> None:
    g = genotypes.PC_DARTS_cifar
    text = repr(genotypes.Genotype(normal=[tuple(p) for p in g.normal], normal_concat=range(2, 6),
                                   reduce=[("max_pool_3x3", 0)] * 8, reduce_concat=range(2, 6)))
    argv = [a if a != "DARTS_V2" else text for a in TINY]
    train.main(train.build_parser().parse_args([*argv, "--epochs", "1", "--stop_after", "0",
                                                "--logdir", str(tmp_path)]))
    (run,) = tmp_path.glob("eval-custom-*")
    assert genotypes.resolve_genotype(run).reduce == [("max_pool_3x3", 0)] * 8
    assert genotypes.resolve_genotype(run).normal == g.normal
    assert "Genotype(...) string" in json.loads((run / "args.json").read_text())["args"]["genotype_source"]


@pytest.mark.parametrize("spec, message", [
    ("{single}:nope", "holds one unnamed genotype, so 'nope' names nothing in it"),
    ("{bad}", "'normal_concat' [2.9, 3.2] must hold integer node indices"),
    ("Genotype(normal=[('sep_conv_3x3', 0)] * 8)", "may hold only lists"),
])
def test_bad_genotype_specs_fail_in_one_line_before_any_folder(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                               spec: str, message: str) -> None:
    genotypes.save_genotype(genotypes.DARTS_V2, tmp_path / "single.json")
    bad = {**genotypes.genotype_to_dict(genotypes.DARTS_V2), "normal_concat": [2.9, 3.2]}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    spec = spec.format(single=tmp_path / "single.json", bad=tmp_path / "bad.json")
    argv = [a if a != "DARTS_V2" else spec for a in TINY]
    assert run_main(train.main, train.build_parser().parse_args([*argv, "--logdir", str(tmp_path / "logs")])) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert not (tmp_path / "logs").exists()


def test_ctrl_c_names_the_command_that_resumes_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture) -> None:
    """A Ctrl-C printed a bare `interrupted`: the run folder, far up the log, had to be found by hand."""
    def ctrl_c(self, row):
        raise KeyboardInterrupt

    monkeypatch.setattr(train.MetricsCSV, "append", ctrl_c)
    assert run_main(train.main, parse("--epochs", "2", "--logdir", str(tmp_path))) == 130
    (run,) = tmp_path.glob("eval-*")
    assert capsys.readouterr().err == f"interrupted: continue with python train.py --resume {run}\n"


def test_a_diverged_loss_names_the_step_as_the_log_counts_it_and_is_logged(tmp_path: Path,
                                                                            capsys: pytest.CaptureFixture) -> None:
    """The error said "step 1" (0-based) right after the log's finite "train 001/004" line, and log.txt, all a
    researcher keeps of the run, never said why it stopped."""
    argv = ["--set", "digits", "--image_size", "8", "--arch", "DARTS_V2", "--init_channels", "4", "--layers", "3",
            "--batch_size", "128", "--subsample", "0.3", "--epochs", "1", "--no_progress", "--learning_rate", "1e30",
            "--grad_clip", "1e30", "--logdir", str(tmp_path)]
    assert run_main(train.main, train.build_parser().parse_args(argv)) == 2
    err = capsys.readouterr().err.strip()
    (run,) = tmp_path.glob("eval-*")
    log = (run / "log.txt").read_text()
    finite = [line.split("train ")[1].split(" ")[0] for line in log.splitlines() if " train 0" in line]
    assert finite == ["001/004"]  # the first step's loss was finite: the second one diverged
    assert err.startswith("error: the loss became nan") and "step 2/4" in err and "\n" not in err
    assert err[len("error: "):] in log


def test_weights_on_the_meta_device_are_one_line(tmp_path: Path) -> None:
    """A state_dict saved from a network built on the meta device has shapes but no data: --model_path (and
    test.py) said so in a RuntimeError traceback of a line per tensor."""
    with torch.device("meta"):
        empty = NetworkCIFAR(4, 10, 3, True, genotypes.DARTS_V2)
    torch.save(empty.state_dict(), tmp_path / "meta.pt")
    with pytest.raises(UserError, match="only shapes"):
        train.load_weights(NetworkCIFAR(4, 10, 3, True, genotypes.DARTS_V2), tmp_path / "meta.pt")
