"""test.py: evaluating a train.py run folder or a weights file (tiny networks on digits and a tiny ImageNet tree).

The reference is train.py's own result.json: the weights it wrote, evaluated again by test.py on the
same test split, must give exactly the test accuracy the training reported.
"""

from __future__ import annotations

import errno
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import load_test_script, spec_lines
from PIL import Image

import genotypes
import plots
import train
from model import NetworkCIFAR, NetworkImageNet
from utils import run_main

ROOT = Path(__file__).resolve().parents[1]
testpy = load_test_script()

# 8x8 digits, no auxiliary head, 4 epochs: a few seconds, and well above chance (about 35 %).
TRAIN = ["--set", "digits", "--image_size", "8", "--arch", "DARTS_V2", "--init_channels", "8", "--layers", "3",
         "--batch_size", "32", "--subsample", "0.5", "--epochs", "4", "--eval_every", "4", "--drop_path_prob", "0",
         "--no_progress", "--device", "cpu"]


def evaluate(*argv: str) -> dict:
    return testpy.main(testpy.build_parser().parse_args([*argv, "--no_progress", "--device", "cpu"]))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    logdir = tmp_path_factory.mktemp("train")
    result = train.main(train.build_parser().parse_args([*TRAIN, "--logdir", str(logdir)]))
    assert result["test_acc"] > 20.0  # a network that learnt something, so equality below means something
    return result


def test_a_runs_log_txt_stands_for_its_folder(trained: dict, tmp_path: Path) -> None:
    """RUN/log.txt, as --arch and the analysis tools take it, was read as a weights file ("not a file of tensors")."""
    result = evaluate(str(Path(trained["run_dir"]) / "log.txt"), "--logdir", str(tmp_path))
    assert result["test_acc"] == trained["test_acc"] and result["train_run"] == trained["run_dir"]


def test_run_folder_gives_the_training_test_accuracy(trained: dict, tmp_path: Path) -> None:
    run = trained["run_dir"]
    result = evaluate(run, "--logdir", str(tmp_path))
    assert result["test_acc"] == trained["test_acc"]
    assert result["test_top5"] == trained["test_top5"]
    assert result["test_loss"] == pytest.approx(trained["test_loss"], rel=1e-6)
    assert result["trained_test_acc"] == trained["test_acc"] and result["train_run"] == run
    assert (result["dataset"], result["image_size"], result["init_channels"], result["layers"],
            result["auxiliary"], result["batch_size"]) == ("digits", 8, 8, 3, False, 32)
    assert genotypes.genotype_from_dict(result["genotype"]) == genotypes.DARTS_V2

    n = result["n_samples"]
    assert n == 360 and sum(result["per_class_n"]) == n  # digits' fixed 20 % test split
    matrix = torch.tensor(result["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == n
    assert 100.0 * matrix.trace().item() / n == pytest.approx(result["test_acc"], abs=1e-4)
    assert result["per_class_acc"][3] == pytest.approx(100.0 * matrix[3, 3].item() / matrix[3].sum().item())
    assert result["classes"] == [str(i) for i in range(10)]

    (out_dir,) = tmp_path.glob("test-DARTS_V2-*")
    assert result["run_dir"] == str(out_dir)
    assert json.loads((out_dir / "test.json").read_text())["test_acc"] == trained["test_acc"]
    assert (out_dir / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    log = (out_dir / "log.txt").read_text().splitlines()
    assert f"run folder {out_dir}" in log[0] and str(out_dir) in log[-1]
    assert any("settings from the run folder" in line for line in log)


def test_a_difference_from_the_trainings_accuracy_is_in_points(trained: dict, tmp_path: Path) -> None:
    """The log said "differs by -0.2778" after "test top-1 91.6667%": a unit-less number beside a percentage."""
    run = tmp_path / "eval-copy"
    shutil.copytree(trained["run_dir"], run)
    result = json.loads((run / "result.json").read_text())
    (run / "result.json").write_text(json.dumps({**result, "test_acc": result["test_acc"] - 1.5}))
    out = evaluate(str(run), "--logdir", str(tmp_path / "logs"))
    log = (Path(out["run_dir"]) / "log.txt").read_text()
    assert f"this evaluation differs by {out['test_acc'] - out['trained_test_acc']:+.4f} points)" in log
    assert "+1.5000 points" in log


def test_the_confusion_plot_shows_each_true_class_as_a_row_of_fractions() -> None:
    fig = testpy.confusion_figure([[3, 1, 0], [0, 0, 0], [2, 0, 6]], ["cat", "dog", "eel"], "DARTS_V2: test")
    ax = fig.axes[0]
    assert np.allclose(np.asarray(ax.images[0].get_array()), [[0.75, 0.25, 0], [0, 0, 0], [0.25, 0, 0.75]])
    assert ax.images[0].get_clim() == (0.0, 1.0)
    classes = ["cat", "dog", "eel"]
    assert [t.get_text() for t in ax.get_xticklabels()] == classes == [t.get_text() for t in ax.get_yticklabels()]
    # the counts, where a row is the true class and a column the predicted one; white on the dark cells
    assert [(t.get_position(), t.get_text(), t.get_color()) for t in ax.texts] == [
        ((0, 0), "3", "white"), ((1, 0), "1", "black"), ((0, 2), "2", "black"), ((2, 2), "6", "white")]
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("predicted class", "true class", "DARTS_V2: test")
    plots.plt.close(fig)


def test_class_names_with_dollar_signs_are_drawn_as_written(tmp_path: Path) -> None:
    """Image folder classes are folder names: a '$' pair (cost_$5_$10) was read as mathtext and the plot failed
    after the evaluation, with test.json unwritten."""
    classes = ["cost_$5_$10", "a^b$", "eel"]
    png = testpy.plot_confusion([[3, 1, 0], [0, 2, 0], [2, 0, 6]], classes, tmp_path / "confusion.png",
                                "my$arch$: test")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fig = testpy.confusion_figure([[1, 0, 0], [0, 1, 0], [0, 0, 1]], classes, "t")
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == [r"cost_\$5_\$10", r"a^b\$", "eel"]
    plots.plt.close(fig)


def test_a_confusion_plot_the_disk_cannot_take_leaves_the_old_one_whole(tmp_path: Path, disk_fills) -> None:
    """confusion.png was written in place: a full disk left a re-run's plot truncated and named no file."""
    png = testpy.plot_confusion([[3, 1], [0, 2]], ["a", "b"], tmp_path / "confusion.png", "t")
    before = png.read_bytes()
    open_before = plots.plt.get_fignums()
    disk_fills(1000)
    with pytest.raises(OSError) as caught:
        testpy.plot_confusion([[3, 1], [0, 2]], ["a", "b"], png, "t")
    assert (caught.value.errno, caught.value.filename) == (errno.ENOSPC, str(png))
    assert png.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["confusion.png"]
    assert plots.plt.get_fignums() == open_before


def test_weights_file_with_arch_gives_the_same(trained: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # where the default --logdir, logs/, would be made
    weights = tmp_path / "elsewhere" / "w.pt"
    weights.parent.mkdir()
    shutil.copy(Path(trained["run_dir"]) / "weights.pt", weights)
    out = tmp_path / "out" / "digits.json"
    # init_channels, layers and the (absent) auxiliary head are read off the weights
    result = evaluate("--model_path", str(weights), "--arch", "DARTS_V2", "--set", "digits", "--image_size", "8",
                      "--batch_size", "32", "-o", str(out))
    assert result["test_acc"] == trained["test_acc"] and result["train_run"] is None
    assert (result["init_channels"], result["layers"], result["auxiliary"]) == (8, 3, False)
    assert json.loads(out.read_text())["test_top5"] == trained["test_top5"]
    assert (out.parent / "digits_confusion.png").is_file()
    assert not (tmp_path / "logs").exists()  # -o: no run folder

    # --arch naming a run's genotype: the data and image size are that run's, not CIFAR-10's defaults
    from_run = evaluate("--model_path", str(weights), "--arch", str(Path(trained["run_dir"]) / "genotype.json"),
                        "--batch_size", "32", "-o", str(tmp_path / "from_run.json"))
    assert (from_run["dataset"], from_run["image_size"]) == ("digits", 8)
    assert from_run["test_acc"] == trained["test_acc"]

    # its run folder's weights.pt given as --model_path is that run folder
    inside = evaluate("--model_path", str(Path(trained["run_dir"]) / "weights.pt"), "-o", str(tmp_path / "in.json"))
    assert inside["train_run"] == trained["run_dir"] and inside["test_acc"] == trained["test_acc"]


def test_unfinished_run_is_evaluated_from_its_checkpoint(trained: dict, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "eval-copy"
    shutil.copytree(trained["run_dir"], run)
    state = torch.load(run / "weights.pt", weights_only=True)
    (run / "weights.pt").unlink()
    (run / "result.json").unlink()
    torch.save({"epoch": 4, "model": state}, run / "checkpoint.pt")
    result = evaluate(str(run), "-o", str(tmp_path / "c.json"))
    assert result["weights"] == str(run / "checkpoint.pt") and result["test_acc"] == trained["test_acc"]
    assert result["trained_test_acc"] is None
    epochs = json.loads((run / "args.json").read_text())["args"]["epochs"]
    assert (f"{run} has no weights.pt yet (training not finished): evaluating its checkpoint.pt (after 4 of "
            f"{epochs} epochs)") in capsys.readouterr().out  # how far it got: not the run's test accuracy


def test_a_damaged_result_json_is_refused_before_the_evaluation(trained: dict, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture) -> None:
    """Valid JSON that is no result (a list) was an AttributeError traceback after the whole evaluation."""
    run = tmp_path / "eval-copy"
    shutil.copytree(trained["run_dir"], run)
    (run / "result.json").write_text("[]")
    monkeypatch.setattr(testpy.datalib, "load_test_set", lambda *a, **k: pytest.fail("the evaluation started"))
    args = testpy.build_parser().parse_args([str(run), "--logdir", str(tmp_path / "logs")])
    assert run_main(testpy.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: {run / 'result.json'} holds no training result (not a JSON object): restore it, "
                   "or move it aside to test the weights without it")
    (run / "result.json").write_text('{"test_acc": 1')  # truncated: named too, before the work
    assert run_main(testpy.main, args) == 2
    assert capsys.readouterr().err.startswith(f"error: {run / 'result.json'} is not valid JSON")
    assert not (tmp_path / "logs").exists()


@pytest.mark.parametrize("flags, named", [
    (["--layers", "5"], "--layers 5"), (["--init_channels", "16"], "--init_channels 16"),
    (["--set", "synthetic"], "--set synthetic"), (["--image_size", "16"], "--image_size 16"),
    (["--auxiliary"], "--auxiliary"), (["--arch", "PC_DARTS_cifar"], "--arch PC_DARTS_cifar")])
def test_flag_contradicting_the_run_folder_is_refused(trained: dict, tmp_path: Path, flags: list[str], named: str,
                                                       capsys: pytest.CaptureFixture) -> None:
    args = testpy.build_parser().parse_args([trained["run_dir"], *flags, "--logdir", str(tmp_path / "logs")])
    assert run_main(testpy.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {named} contradicts the run folder") and "\n" not in err
    assert not (tmp_path / "logs").exists()
    # the folder's own values are no contradiction
    same = testpy.build_parser().parse_args([trained["run_dir"], "--layers", "3", "--arch", "DARTS_V2",
                                             "--image_size", "8", "-o", str(tmp_path / "same.json")])
    assert run_main(testpy.main, same) == 0


def test_bad_inputs_are_one_line(trained: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    search = tmp_path / "search-x"
    search.mkdir()
    (search / "args.json").write_text(json.dumps({"kind": "search", "args": {"arch_learning_rate": 6e-4}}))
    weights = str(Path(trained["run_dir"]) / "weights.pt")
    copy = tmp_path / "w.pt"
    shutil.copy(weights, copy)
    for split in ("train", "val"):  # a 3-class ImageFolder set for 10-class weights
        for c in range(3):
            (tmp_path / split / f"c{c}").mkdir(parents=True)
            Image.new("RGB", (8, 8), (80 * c, 0, 0)).save(tmp_path / split / f"c{c}" / "a.png")
    torch.save({"alphas": torch.zeros(1)}, search / "checkpoint.pt")
    batch = tmp_path / "batch-train-x"  # its advice was `train.py --arch <batch>`, which refuses several genotypes
    batch.mkdir()
    (batch / "args.json").write_text(json.dumps({"kind": "batch", "args": {"archs": ["DARTS_V2"]}}))
    (batch / "batch.json").write_text(json.dumps({"entries": []}))
    cases = [
        ([str(search)], "not a train.py run folder but a search folder"),
        ([str(batch)], "is a batch_train.py folder: test one of its trainings, the eval-* folders inside it"),
        (["--model_path", str(search / "checkpoint.pt"), "--arch", str(search)],
         "holds the weights of a search run, not of a trained network"),
        ([str(tmp_path / "nothing")], "no such run folder or weights file"),
        ([], "nothing to evaluate"),
        (["--model_path", str(copy), "--arch", "PC_DARTS_cifar", "--set", "digits"], "missing key"),
        (["--model_path", str(copy), "--arch", "DARTS_V2", "--set", "imagenet"], "NetworkCIFAR's"),
        (["--model_path", str(copy), "--arch", "DARTS_V2", "--set", "folder"], "classify 10 classes"),
        ([str(Path(trained["run_dir"]) / "metrics.csv")],
         "metrics.csv: not a file of tensors"),  # a text file as weights (was an IndexError traceback)
        # -o makes no run folder: --save and --logdir (typed here for every case) were dropped without a word
        ([str(Path(trained["run_dir"])), "-o", str(tmp_path / "o.json"), "--save", "mine"],
         "--save and --logdir name the run folder, which -o"),
    ]
    for argv, expected in cases:
        args = testpy.build_parser().parse_args([*argv, "--logdir", str(tmp_path / "logs"), "--data", str(tmp_path)])
        assert run_main(testpy.main, args) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and expected in err and "\n" not in err, (argv, err)
    assert not (tmp_path / "logs").exists() and not (tmp_path / "o.json").exists()


def test_a_folder_that_is_no_training_is_told_what_works(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """An empty folder or test.py's own output was told to give 'its weights file with --arch' (weights go with
    --model_path); a search not finished was told `python train.py --arch <search>`, which fails on a folder
    without genotype.json. Each is told a command that works for the folder as it is."""
    def folder(name: str, kind: str | None = None, **files: object) -> Path:
        path = tmp_path / name
        path.mkdir()
        if kind is not None:
            saved = {"arch_learning_rate": 6e-4} if kind == "search" else {"arch": "DARTS_V2"}
            (path / "args.json").write_text(json.dumps({"kind": kind, "args": saved}))
        for file, content in files.items():
            (path / file.replace("_json", ".json")).write_text(json.dumps(content))
        return path

    cell = genotypes.genotype_to_dict(genotypes.DARTS_V2)
    training = folder("eval-DARTS_V2-1", "train")
    tested = folder("test-DARTS_V2-1", test_json={"train_run": str(training), "test_acc": 10.0})
    empty, searching = folder("empty"), folder("search-running", "search")
    searched = folder("search-done", "search", genotype_json=cell)
    sweeping = folder("multi-search-running", "sweep", sweep_json={})
    swept = folder("multi-search-done", "sweep", sweep_json={}, genotypes_json={"cellA": cell})
    cases = [
        (empty, f"{empty} is not a train.py run folder (no args.json): give a train.py run folder, or a weights "
                "file with --model_path WEIGHTS and its genotype with --arch"),
        (tested, f"{tested} is test.py's own output (test.json), not a train.py run folder: to test that training "
                 f"again, python test.py {training}"),
        (searching, f"the search has not finished (no genotype.json yet): resume it with python train_search.py "
                    f"--resume {searching}, then train the genotype it finds with train.py"),
        (searched, f"train its genotype with train.py first (python train.py --arch {searched}), then test that run"),
        (sweeping, f"the sweep has not finished (no genotypes.json yet): resume it with python multiobjective.py "
                   f"--resume {sweeping}"),
        (swept, f"python batch_train.py --archs {swept}, or one of them: python train.py --arch "
                f"{swept / 'genotypes.json'}:NAME"),
    ]
    for run, expected in cases:
        args = testpy.build_parser().parse_args([str(run), "--logdir", str(tmp_path / "logs")])
        assert run_main(testpy.main, args) == 2, run
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and expected in err and "\n" not in err, (run, err)
        assert "weights file with --arch" not in err, err
        assert run == searched or f"train.py --arch {run})" not in err, err  # fails on a folder without a genotype
    assert not (tmp_path / "logs").exists()


def test_an_args_json_without_its_arguments_is_named_damaged(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A training whose args.json is valid JSON with no "args" object was "a folder of unknown kind: train its
    genotype with train.py first"; its weights given with --model_path were tested as bare weights (on CIFAR-10,
    the run's settings unread). Every run's args.json has that object: the file is named, and nothing written."""
    run = tmp_path / "eval-DARTS_V2-1"
    run.mkdir()
    (run / "args.json").write_text(json.dumps({"kind": "train", "env": {}}))
    (run / "weights.pt").write_bytes(b"")
    said = f'{run / "args.json"} is not a train.py args.json (no "args" object): restore it'
    logs = ["--logdir", str(tmp_path / "logs")]
    assert said in _refusal(capsys, run, *logs)
    assert said in _refusal(capsys, "--model_path", run / "weights.pt", "--arch", "DARTS_V2", *logs)
    (run / "args.json").write_text("{cut")
    assert _refusal(capsys, run, *logs).startswith(f"error: {run / 'args.json'} is not valid JSON")
    assert not (tmp_path / "logs").exists()


def _refusal(capsys: pytest.CaptureFixture, *argv: str | Path) -> str:
    """test.py's one-line refusal (exit 2) of a call."""
    args = testpy.build_parser().parse_args([*map(str, argv), "--device", "cpu"])
    assert run_main(testpy.main, args) == 2, argv
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err


def _search_folder(path: Path, **files: str) -> Path:
    """A search's run folder: its args.json, and the given files' text (genotype_json: genotype.json)."""
    path.mkdir(parents=True)
    (path / "args.json").write_text(json.dumps({"kind": "search", "args": {"arch_learning_rate": 6e-4}}))
    for file, text in files.items():
        (path / file.replace("_json", ".json")).write_text(text)
    return path


def test_a_damaged_genotype_json_is_said_not_taken_for_a_search_not_finished(tmp_path: Path,
                                                                             capsys: pytest.CaptureFixture) -> None:
    """A search whose genotype.json is truncated or holds no genotype was told it had not finished (no
    genotype.json yet), and to resume it; the refusal names the file, what is wrong, and what gets it back."""
    cell = json.dumps(genotypes.genotype_to_dict(genotypes.DARTS_V2))
    truncated = _search_folder(tmp_path / "search-truncated", genotype_json=cell[:40])
    err = _refusal(capsys, truncated)
    assert (f"its {truncated / 'genotype.json'} is damaged (not valid JSON: " in err
            and f"resume it with python train_search.py --resume {truncated} to write it again" in err), err
    assert "has not finished" not in err and "no genotype.json" not in err
    # a search that finished (its result.json records the genotype) and whose genotype.json was damaged since
    result = json.dumps({"genotype": json.loads(cell)})
    wrong = _search_folder(tmp_path / "search-wrong", genotype_json='{"normal": []}', result_json=result)
    (wrong / "checkpoint.pt").write_bytes(b"")
    for argv in ([wrong], ["--model_path", wrong / "checkpoint.pt"]):  # the folder, or its supernet's weights
        err = _refusal(capsys, *argv)
        assert (f"its {wrong / 'genotype.json'} is damaged (not a genotype: a genotype needs the keys" in err
                and f"restore it, or train the genotype its result.json records (python train.py --arch "
                    f"{wrong / 'result.json'})" in err), err
        assert "has not finished" not in err and "--resume" not in err, err
    assert genotypes.resolve_genotype(wrong / "result.json") == genotypes.DARTS_V2  # the command named works


def test_a_sweeps_search_not_finished_is_resumed_by_its_sweep(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A search-NN folder of a sweep was told `train_search.py --resume <search>`, which finishes that search alone
    and leaves the sweep stopped: it is told to resume the sweep, with the command multiobjective.py takes. A lone
    search is still told train_search.py --resume."""
    import multiobjective

    sweep = tmp_path / "multi-search-digits-t-1"
    sweep.mkdir()
    (sweep / "args.json").write_text(json.dumps({"kind": "sweep", "args": {"objective": "l2"}}))
    (sweep / "sweep.json").write_text(json.dumps({"searches": []}))
    search = _search_folder(sweep / "search-00-nu0.2")
    cell = json.dumps(genotypes.genotype_to_dict(genotypes.DARTS_V2))
    damaged = _search_folder(sweep / "search-01-nu0", genotype_json=cell[:40])
    command = f"python multiobjective.py --resume {sweep}"
    for run, expected in ((search, f"the search has not finished (no genotype.json yet): resume its sweep with "
                                   f"{command}, then train the genotype it finds with train.py"),
                          (damaged, "genotype.json is damaged (not valid JSON: Unterminated string starting at: "
                                    f"line 1 column 35 (char 34)): resume its sweep with {command} to write it again")):
        err = _refusal(capsys, run)
        assert expected in err and "train_search.py" not in err, err
    assert multiobjective.build_parser().parse_args(command.split()[2:]).sweep_resume == str(sweep)
    monkeypatch.chdir(search)  # the search folder as "." is inside its sweep too
    assert f"resume its sweep with python multiobjective.py --resume {sweep.resolve()}," in _refusal(capsys, ".")
    lone = _search_folder(tmp_path / "search-lone")
    assert f"resume it with python train_search.py --resume {lone}, then" in _refusal(capsys, lone)
    # a search the sweep recorded as failed is not run again by the sweep's --resume: that advice would not finish it
    failed = _search_folder(sweep / "search-02-nu0.1")
    (sweep / "sweep.json").write_text(json.dumps({"searches": [
        {"index": 2, "run_dir": str(failed), "status": "failed", "error": "the loss became nan at epoch 3"}]}))
    err = _refusal(capsys, failed)
    assert ("its sweep recorded it as failed (the loss became nan at epoch 3), and the sweep's --resume does not run "
            f"it again: test another of the sweep's searches, or resume it alone with python train_search.py --resume "
            f"{failed}") in err, err
    assert "resume its sweep" in _refusal(capsys, search)  # the others are still the sweep's


@pytest.mark.skipif(sys.platform == "win32", reason="the commands are quoted for cmd.exe there, not for a POSIX shell")
def test_the_commands_test_py_advises_paste_as_one_word_per_path(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A --logdir "my runs": test.py's advice named the folder unquoted, and a shell split the pasted command at the
    space. Each command it advises now splits back into the words it means."""
    import shlex

    sweep = tmp_path / "my runs" / "multi-search-digits-t-1"
    sweep.mkdir(parents=True)
    (sweep / "args.json").write_text(json.dumps({"kind": "sweep", "args": {"objective": "l2"}}))
    (sweep / "sweep.json").write_text(json.dumps({"searches": []}))
    search = _search_folder(sweep / "search-00-nu0.2")
    found = _search_folder(tmp_path / "my runs" / "search-lone", genotype_json=json.dumps(
        genotypes.genotype_to_dict(genotypes.DARTS_V2)))
    for run, words in ((search, ["python", "multiobjective.py", "--resume", str(sweep)]),
                       (sweep, ["python", "multiobjective.py", "--resume", str(sweep)]),
                       (found, ["python", "train.py", "--arch", str(found)])):
        err = _refusal(capsys, run)
        command = shlex.join(words)
        assert command in err and " ".join(words) not in err, err
    (sweep / "genotypes.json").write_text("{}")
    err = _refusal(capsys, sweep)
    assert shlex.join(["python", "batch_train.py", "--archs", str(sweep)]) in err, err
    assert shlex.join(["python", "train.py", "--arch", f"{sweep / 'genotypes.json'}:NAME"]) in err, err


def _published_layout(data_dir: Path) -> dict[str, torch.Tensor]:
    """Tensors with the shapes of the published PC-DARTS CIFAR checkpoint (spec file), not our model's."""
    state = {}
    for line in spec_lines((data_dir / "eval_state_dict_PC_DARTS_cifar.txt").read_text()):
        key, shape = line.split()
        if shape == "scalar":
            state[key] = torch.tensor(0)
        elif key.endswith("running_var"):
            state[key] = torch.ones(*map(int, shape.split("x")))
        else:
            state[key] = torch.randn(*map(int, shape.split("x"))) * 0.05
    return state


def test_published_checkpoint_layout_loads_with_no_shape_flags(data_dir: Path, tmp_path: Path) -> None:
    state = _published_layout(data_dir)
    assert testpy.shape_from_state_dict(state) == {"imagenet": False, "init_channels": 36, "layers": 20,
                                                   "auxiliary": True, "num_classes": 10}
    torch.save(state, tmp_path / "pcdarts.pt")
    result = evaluate("--model_path", str(tmp_path / "pcdarts.pt"), "--arch", "PC_DARTS_cifar", "--set",
                      "digits", "--image_size", "4", "--batch_size", "360", "-o", str(tmp_path / "p.json"))
    assert result["model_size"] == pytest.approx(3.634678)  # the published 3.63M
    assert (result["init_channels"], result["layers"], result["auxiliary"]) == (36, 20, True)
    assert result["n_samples"] == 360


def test_weights_saved_before_batchnorm_counted_batches_load(trained: dict, tmp_path: Path) -> None:
    """DARTS's published cifar10_model.pt was saved by PyTorch 0.3.1, before BatchNorm's num_batches_tracked:
    torch's own strict load accepts such a file, so test.py must too, and give the same accuracy."""
    weights = Path(trained["run_dir"]) / "weights.pt"
    state = torch.load(weights, weights_only=True)
    legacy = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    assert len(legacy) < len(state)
    torch.save(legacy, tmp_path / "legacy.pt")
    flags = ["--arch", "DARTS_V2", "--set", "digits", "--image_size", "8", "--batch_size", "32"]
    result = evaluate("--model_path", str(tmp_path / "legacy.pt"), *flags, "-o", str(tmp_path / "legacy.json"))
    assert result["test_acc"] == trained["test_acc"]
    net = NetworkCIFAR(8, 10, 3, False, genotypes.DARTS_V2)
    train.load_weights(net, tmp_path / "legacy.pt")  # train.py --model_path and ensemble.py load the same way
    assert torch.equal(net.classifier.weight, state["classifier.weight"])


def test_weights_of_another_genotype_without_arch_name_the_default(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    """A bare weights file and no --arch is built as PC_DARTS_cifar: the mismatch read as if PC_DARTS_cifar had
    been asked for ("do not fit PC_DARTS_cifar"), with no word that --arch was left out."""
    torch.save(NetworkCIFAR(4, 10, 3, False, genotypes.DARTS_V2).state_dict(), tmp_path / "w.pt")
    flags = ["--set", "digits", "--image_size", "8", "-o", str(tmp_path / "t.json"), "--no_progress", "--device", "cpu"]
    weights = ["--model_path", str(tmp_path / "w.pt")]
    assert run_main(testpy.main, testpy.build_parser().parse_args([*weights, *flags])) == 2
    err = capsys.readouterr().err.strip()
    assert "do not fit PC_DARTS_cifar (the default, as no --arch was given; NetworkCIFAR" in err and "\n" not in err
    assert run_main(testpy.main, testpy.build_parser().parse_args([*weights, "--arch", "PC_DARTS_cifar", *flags])) == 2
    assert "no --arch was given" not in capsys.readouterr().err and not (tmp_path / "t.json").exists()


def test_shape_is_read_off_imagenet_weights() -> None:
    net = NetworkImageNet(8, 3, 4, True, genotypes.PC_DARTS_image)
    assert testpy.shape_from_state_dict(net.state_dict()) == {"imagenet": True, "init_channels": 8, "layers": 4,
                                                              "auxiliary": True, "num_classes": 3}
    cifar = NetworkCIFAR(6, 10, 5, False, genotypes.DARTS_V2)
    assert testpy.shape_from_state_dict(cifar.state_dict())["init_channels"] == 6


def _folder_tree(data: Path, classes: dict[str, tuple[str, ...]], per_class: int, tinted: bool = False) -> None:
    """An 8x8 image folder tree: per split (train, val) its class folders of ``per_class`` PNGs (``tinted``: each
    class its own colour channel raised, so that a network can learn them)."""
    rng = np.random.default_rng(0)
    for split, names in classes.items():
        for c, name in enumerate(names):
            (data / split / name).mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 40 if tinted else 255, size=(8, 8, 3), dtype=np.uint8)
                if tinted:
                    pixels[..., c] += 200
                Image.fromarray(pixels).save(data / split / name / f"{i}.png")


def _train_on_folder(data: Path, logs: Path, batch_size: int, *extra: str) -> dict:
    """One epoch of a tiny DARTS_V2 on the image folder ``data`` (train.py, in-process)."""
    return train.main(train.build_parser().parse_args(
        ["--set", "folder", "--data", str(data), "--image_size", "8", "--init_channels", "4", "--layers", "3",
         "--batch_size", str(batch_size), "--epochs", "1", "--arch", "DARTS_V2", "--device", "cpu", "--no_progress",
         "--logdir", str(logs), *extra]))


def _imagenet_tree(root: Path, classes: int = 3, per_class: int = 6) -> None:
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c in range(classes):
            folder = root / "imagenet" / split / f"n{c:08d}"
            folder.mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 60, size=(40, 48, 3), dtype=np.uint8)
                pixels[..., c] += 150
                Image.fromarray(pixels).save(folder / f"img_{i}.png")


@pytest.fixture(scope="module")
def imagenet_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """A one-epoch NetworkImageNet training on a tiny ImageNet tree: (its result, the data root)."""
    root = tmp_path_factory.mktemp("imagenet")
    _imagenet_tree(root / "data")
    common = ["--set", "imagenet", "--data", str(root / "data"), "--image_size", "32", "--workers", "0",
              "--device", "cpu", "--no_progress"]
    trained = train.main(train.build_parser().parse_args(
        [*common, "--arch", "PC_DARTS_image", "--layers", "3", "--init_channels", "8", "--batch_size", "6",
         "--epochs", "1", "--logdir", str(root / "logs")]))
    return trained, root / "data"


def test_imagenet_run_folder(imagenet_run: tuple[dict, Path], tmp_path: Path) -> None:
    trained, data = imagenet_run
    result = evaluate(trained["run_dir"], "--workers", "0", "-o", str(tmp_path / "imagenet.json"))
    assert result["test_acc"] == trained["test_acc"] and result["n_samples"] == 18
    assert (result["dataset"], result["image_size"], result["num_classes"]) == ("imagenet", 32, 3)
    assert result["classes"] == ["n00000000", "n00000001", "n00000002"]
    # the bare weights: NetworkImageNet is recognised from its two stems (and --set imagenet is then required)
    weights = tmp_path / "imagenet_weights.pt"
    shutil.copy(Path(trained["run_dir"]) / "weights.pt", weights)
    bare = evaluate("--model_path", str(weights), "--set", "imagenet", "--data", str(data),
                    "--image_size", "32", "--batch_size", "6", "--workers", "0", "-o", str(tmp_path / "bare.json"))
    assert bare["arch"] == "PC_DARTS_image" and bare["test_acc"] == trained["test_acc"]


def test_top5_of_three_classes_is_not_reported_as_100(imagenet_run: tuple[dict, Path], tmp_path: Path) -> None:
    """Every label of 3 classes is among the top 5: test_top5 read 100 % (beside a top-1 of 0 %) in result.json,
    metrics.csv, test.json and the logs. It is now null / an empty cell / n/a, as valid_top5 without a split."""
    trained, _ = imagenet_run
    run = Path(trained["run_dir"])
    assert trained["test_top5"] is None and json.loads((run / "result.json").read_text())["test_top5"] is None
    rows = (run / "metrics.csv").read_text().splitlines()
    header, last = rows[0].split(","), rows[-1].split(",")
    assert last[header.index("train_top5")] == last[header.index("test_top5")] == ""
    log = (run / "log.txt").read_text()
    assert "train_top5 n/a" in log and "test_top5 n/a" in log and "top5 100.00%" not in log
    result = evaluate(str(run), "--workers", "0", "-o", str(tmp_path / "t.json"))
    assert result["test_top5"] is None and json.loads((tmp_path / "t.json").read_text())["test_top5"] is None
    assert result["test_acc"] == trained["test_acc"]


def test_imagenet_val_alone_is_enough(imagenet_run: tuple[dict, Path], tmp_path: Path,
                                      capsys: pytest.CaptureFixture) -> None:
    """<data>/imagenet/val without train/ (all test_imagenet.py reads): it used to fail, looking for train/."""
    trained, data = imagenet_run
    val = tmp_path / "val_only" / "imagenet" / "val"
    shutil.copytree(data / "imagenet" / "val", val)
    weights = tmp_path / "imagenet_weights.pt"
    shutil.copy(Path(trained["run_dir"]) / "weights.pt", weights)
    for source in ([trained["run_dir"]], ["--model_path", str(weights), "--set", "imagenet", "--image_size", "32"]):
        result = evaluate(*source, "--data", str(tmp_path / "val_only"), "--batch_size", "6", "--workers", "0",
                          "-o", str(tmp_path / "val_only.json"))
        assert result["test_acc"] == trained["test_acc"] and result["n_samples"] == 18
        assert result["classes"] == ["n00000000", "n00000001", "n00000002"]
    # a class without its folder in val/ would shift the labels of the next ones: a run folder's weights are
    # labelled by the class names its args.json keeps; bare weights, which name none, are refused in one line
    shutil.rmtree(val / "n00000001")
    capsys.readouterr()
    named = evaluate(trained["run_dir"], "--data", str(tmp_path / "val_only"), "--batch_size", "6", "--workers", "0",
                     "-o", str(tmp_path / "named.json"))
    assert named["classes"] == ["n00000000", "n00000001", "n00000002"] and named["n_samples"] == 12
    assert "warning: " in (out := capsys.readouterr().out) and "1 of the 3 training classes ('n00000001')" in out
    args = testpy.build_parser().parse_args(["--model_path", str(weights), "--set", "imagenet", "--image_size", "32",
                                             "--data", str(tmp_path / "val_only"), "--workers", "0", "--device",
                                             "cpu", "-o", str(tmp_path / "missing.json")])
    assert run_main(testpy.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert "classify 3 classes but --set imagenet has 2" in err and str(val) in err and "\n" not in err, err
    assert not (tmp_path / "missing.json").exists()


def test_script_prints_its_run_folder_first_and_last(trained: dict, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "test.py"), trained["run_dir"], "--logdir", str(tmp_path),
                           "--no_progress", "--device", "cpu", "--threads", "1"],
                          check=False, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (out_dir,) = tmp_path.glob("test-*")
    lines = proc.stdout.strip().splitlines()
    assert lines[0].endswith(f"run folder {out_dir}") and lines[-1].endswith(f"run folder {out_dir}")
    assert f"test_acc {trained['test_acc']:f}" in proc.stdout


def test_an_image_folder_is_labelled_by_the_class_names_the_run_trained_on(tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture) -> None:
    """The labels are class indices: a class folder renamed since the training (val/ alone, where its own folders
    number the classes) shifted every label after it without a word (0 % accuracy, no error). args.json keeps
    the class names; test.py labels by them, ensemble.py and --resume refuse other class folders."""
    import ensemble

    _folder_tree(tmp_path / "data", {"train": ("ant", "bee", "cat"), "val": ("ant", "bee", "cat")}, 6, tinted=True)
    common = ["--set", "folder", "--data", str(tmp_path / "data"), "--image_size", "8", "--init_channels", "4",
              "--layers", "3", "--batch_size", "9", "--device", "cpu", "--no_progress"]
    result = train.main(train.build_parser().parse_args(
        [*common, "--arch", "DARTS_V2", "--epochs", "2", "--stop_after", "1", "--logdir", str(tmp_path / "logs")]))
    run = Path(result["run_dir"])
    assert json.loads((run / "args.json").read_text())["classes"] == ["ant", "bee", "cat"]

    val_only = tmp_path / "val_only"  # bee renamed so that it sorts first: by its own folders ant would be 1
    shutil.copytree(tmp_path / "data" / "val", val_only / "val")
    (val_only / "val" / "bee").rename(val_only / "val" / "0bee")
    args = testpy.build_parser().parse_args([str(run), "--data", str(val_only), "-o", str(tmp_path / "t.json")])
    assert run_main(testpy.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "has class folder(s) not in the training set: 0bee" in err, err
    shutil.rmtree(val_only / "val" / "0bee")  # a class with no image left: labelled by name, and said
    same = testpy.main(testpy.build_parser().parse_args([str(run), "--data", str(val_only), "-o",
                                                         str(tmp_path / "t.json")]))
    assert same["num_classes"] == 3 and "training classes ('bee')" in capsys.readouterr().out

    renamed = tmp_path / "renamed"
    shutil.copytree(tmp_path / "data", renamed)
    (renamed / "train" / "cat").rename(renamed / "train" / "cow")
    (renamed / "val" / "cat").rename(renamed / "val" / "cow")
    resume = train.build_parser().parse_args(["--resume", str(run), "--data", str(renamed)])
    assert run_main(train.main, resume) == 2
    assert "was trained on other class folders: the data now has without 'cat' and with 'cow'" in \
        capsys.readouterr().err
    train.main(train.build_parser().parse_args(["--resume", str(run)]))
    shutil.move(str(run), str(tmp_path / "batch" / run.name))
    ens = ensemble.build_parser().parse_args(["--models_folder", str(tmp_path / "batch"), "--data", str(renamed),
                                              "--batch_size", "9", "--no_progress"])
    assert run_main(ensemble.main, ens) == 2
    assert "was trained on other class folders than those in" in capsys.readouterr().err


def test_output_whose_confusion_plot_cannot_be_written_is_refused_first(trained: dict, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "r_confusion.png").mkdir()  # the plot's name beside -o is taken by a folder
    args = testpy.build_parser().parse_args([trained["run_dir"], "-o", str(tmp_path / "r.json"), "--no_progress",
                                             "--device", "cpu"])
    assert run_main(testpy.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: -o (its confusion plot)") and "is a folder" in err and "\n" not in err
    assert not (tmp_path / "r.json").exists()


def test_a_class_missing_from_val_is_said_in_the_training_log(tmp_path: Path) -> None:
    """The warning went to stderr only: a researcher reading log.txt later could not tell that the run's
    validation accuracy leaves a class out."""
    _folder_tree(tmp_path / "data", {"train": ("ant", "bee", "cat"), "val": ("ant", "bee")}, 4)
    result = _train_on_folder(tmp_path / "data", tmp_path / "logs", 12)
    log = (Path(result["run_dir"]) / "log.txt").read_text()
    assert "warning: " in log and "has no image of 1 of the 3 training classes ('cat')" in log


def test_data_on_device_on_an_image_folder_is_said_and_recorded_off(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    """An image folder is always read by the host loader: --data_on_device was dropped without a word, and
    args.json recorded it on. The log now says so, args.json records it off, and test.py says so too."""
    _folder_tree(tmp_path / "data", {"train": ("ant", "bee"), "val": ("ant", "bee")}, 3)
    result = _train_on_folder(tmp_path / "data", tmp_path / "logs", 6, "--workers", "0", "--data_on_device")
    run = Path(result["run_dir"])
    assert json.loads((run / "args.json").read_text())["args"]["data_on_device"] is False
    assert "--data_on_device has no effect on an image folder" in (run / "log.txt").read_text()
    capsys.readouterr()
    evaluate(str(run), "--data_on_device", "--workers", "0", "-o", str(tmp_path / "t.json"))
    assert "--data_on_device has no effect on an image folder" in capsys.readouterr().out


class _Logits(torch.nn.Module):
    """A network's (logits, auxiliary) pair from a linear layer: evaluate's loop, without a network to build."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        return self.fc(x), None


def test_a_closed_stderr_draws_no_bar_and_the_evaluation_runs(monkeypatch) -> None:
    """Run with 2>&- (sys.stderr None), the progress bar wrote to None: test.py, and a search's or a training's
    first epoch, died there with an AttributeError that no stderr could show."""
    import contextlib

    monkeypatch.setattr(sys, "stderr", None)
    loader = [(torch.randn(6, 4), torch.tensor([0, 1, 2, 0, 1, 2]))] * 2
    result = testpy.evaluate(_Logits(), loader, 3, contextlib.nullcontext)
    assert result["n_samples"] == 12 and sum(result["per_class_n"]) == 12
