"""Tests of ensemble.py: the weighting on constructed logits, and model discovery on untrained folders.

The folders hold untrained tiny networks (weights saved straight from the constructor), so only
inference runs here; test_batch.py runs the ensemble over really trained models.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import data as datalib
import ensemble
import genotypes
from model import NetworkCIFAR
from utils import lock_run_dir, run_main


def test_minmax_scale_per_sample() -> None:
    logits = torch.tensor([[[1.0, 3.0, 2.0], [-5.0, 5.0, 0.0], [2.0, 2.0, 2.0]]])
    scaled = ensemble.minmax_scale(logits)
    assert torch.allclose(scaled, torch.tensor([[[0.0, 1.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 0.0]]]))


def test_per_model_weights_count_points_where_not_all_are_right() -> None:
    # 3 models, 4 samples of classes 0, 1, 0, 1: sample 0 all right (no point), sample 1 only model 0,
    # sample 2 models 0 and 1, sample 3 nobody.
    predictions = torch.tensor([[0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0]])
    targets = torch.tensor([0, 1, 0, 1])
    logits = torch.nn.functional.one_hot(predictions, 2).float()
    weights = ensemble.calculate_weights(logits, targets)
    assert torch.allclose(weights, torch.tensor([3.0, 2.0, 1.0]) / 3.0)
    per_class = ensemble.calculate_weights(logits, targets, per_class=True)
    # model 0: class 0 +1 (sample 2), class 1 +1 (sample 1); model 1: class 0 +1; model 2: nothing.
    assert torch.allclose(per_class, torch.tensor([[2.0, 2.0], [2.0, 1.0], [1.0, 1.0]]) / 2.0)


def test_per_class_weights_are_scaled_per_class_and_the_scores_averaged_over_models() -> None:
    """As the original: per-class weights are divided by each class's maximum over the models, and a class's score is
    the mean over the models of weight x scaled logit. They were divided by the one maximum of all, and each class's
    score by that class's weight sum (a weighted average), which cancels how much the models are trusted on one class
    against another."""
    # 2 models, 2 classes; class 0: each model alone right once; class 1: model 0 alone right three times
    predictions = torch.tensor([[0, 1, 1, 1, 1], [1, 0, 0, 0, 0]])
    targets = torch.tensor([0, 0, 1, 1, 1])
    logits = torch.nn.functional.one_hot(predictions, 2).float()
    weights = ensemble.calculate_weights(logits, targets, per_class=True)
    assert torch.allclose(weights, torch.tensor([[1.0, 1.0], [1.0, 0.25]]))
    test = torch.tensor([[[0.0, 2.0, 1.0]], [[3.0, 0.0, 1.0]]])  # 2 models x 1 sample x 3 classes
    weights3 = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.25, 0.5]])
    expected = (weights3[:, None, :] * ensemble.minmax_scale(test)).mean(dim=0)
    assert torch.allclose(ensemble.combine(test, weights3), expected)
    assert torch.allclose(ensemble.combine(test, torch.tensor([1.0, 0.5])),
                          (torch.tensor([1.0, 0.5])[:, None, None] * ensemble.minmax_scale(test)).mean(dim=0))


def specialist_logits(per_class: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """3 models x 3 classes; model m is right exactly on class m and otherwise votes for the third class."""
    g = torch.Generator().manual_seed(seed)
    targets = torch.arange(3).repeat_interleave(per_class)
    logits = torch.empty(3, len(targets), 3)
    for m in range(3):
        votes = torch.where(targets == m, targets, 3 - targets - m)
        logits[m] = 4.0 * torch.nn.functional.one_hot(votes, 3) + torch.randn(len(targets), 3, generator=g)
    return logits, targets


def test_per_class_ensemble_beats_every_single_model() -> None:
    valid_logits, valid_targets = specialist_logits(20, seed=1)
    test_logits, test_targets = specialist_logits(30, seed=2)
    singles = [(test_logits[m].argmax(1) == test_targets).float().mean().item() for m in range(3)]
    assert max(singles) < 0.5  # each model is right on one class in three

    weights = ensemble.calculate_weights(valid_logits, valid_targets, per_class=True)
    assert weights.shape == (3, 3) and weights.max() == 1.0
    assert torch.equal(weights.argmax(dim=0), torch.arange(3))  # each class trusts its specialist
    per_class = ensemble.scores_report(ensemble.combine(test_logits, weights), test_targets)
    equal = ensemble.scores_report(ensemble.combine(test_logits, torch.ones(3)), test_targets)
    assert per_class["acc"] > 100 * max(singles)
    assert per_class["acc"] > equal["acc"]
    # top-5 of 3 classes holds every label: not measured (it read 100 % whatever the ensemble predicted)
    assert per_class["acc"] >= 90.0 and per_class["top5"] is None


def make_run(folder: Path, genotype_name: str, *, saved_as: str | None = None, weights: bool = True,
             result: bool = True, **recorded: object) -> Path:
    """An eval-* folder with untrained tiny weights (of `saved_as` when it differs from the stated genotype);
    `recorded` adds to the arguments of its args.json."""
    folder.mkdir(parents=True)
    args = {"arch": genotype_name, "init_channels": 4, "layers": 3, "auxiliary": True, "set": "digits", **recorded}
    (folder / "args.json").write_text(json.dumps({"args": args}))
    if result:
        genotype = genotypes.genotype_to_dict(genotypes.PUBLISHED[genotype_name])
        (folder / "result.json").write_text(json.dumps({"genotype": genotype, "test_acc": 0.0}))
    if weights:
        net = NetworkCIFAR(4, 10, 3, True, genotypes.PUBLISHED[saved_as or genotype_name])
        torch.save(net.state_dict(), folder / "weights.pt")
    return folder


def test_models_are_found_one_level_down_and_unfinished_ones_skipped(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    """... and the trainings a batch has not started yet are named (the ensemble of a batch stopped half-way
    passed for the batch's)."""
    root = tmp_path / "models"
    make_run(root / "eval-DARTS_V2-1", "DARTS_V2")
    make_run(root / "batch-train-EXP-1" / "eval-PC_DARTS_cifar-1", "PC_DARTS_cifar", result=False)
    (root / "batch-train-EXP-1" / "args.json").write_text(json.dumps({"kind": "batch", "args": {}}))
    (root / "batch-train-EXP-1" / "batch.json").write_text(json.dumps({"entries": [
        {"label": "PC_DARTS_cifar", "status": "done", "run_dir": "eval-PC_DARTS_cifar-1"},
        {"label": "cellQ", "status": "pending", "run_dir": None}]}))
    make_run(root / "eval-unfinished-1", "DARTS_V1", weights=False)
    (root / "notes").mkdir()
    args = ensemble.build_parser().parse_args(["--set", "digits", "--models_folder", str(root), "--calculate",
                                               "--per_class", "--subsample", "0.1", "--batch_size", "128"])
    result = ensemble.main(args)
    assert [m["name"] for m in result["models"]] == ["PC_DARTS_cifar", "DARTS_V2"]
    assert result["skipped"] == [{"run_dir": str(root / "eval-unfinished-1"), "reason": "no weights.pt (stopped "
                                  "before the end: killed, crashed or interrupted; --resume continues it)"}]
    assert result["weighting"] == "per_class" and len(result["weights"]) == 2 and len(result["weights"][0]) == 10
    assert (f"{root / 'batch-train-EXP-1'} has 1 training(s) not started yet (cellQ): it was stopped; python "
            f"batch_train.py --resume {root / 'batch-train-EXP-1'} continues it") in capsys.readouterr().out
    saved = json.loads((root / "ensemble.json").read_text())
    assert saved["test_acc"] == result["test_acc"] and saved["models"][0]["weight"] == result["weights"][0]


def test_a_run_reached_twice_through_a_symlink_is_one_model(tmp_path: Path) -> None:
    root = tmp_path / "models"
    batch = root / "batch-train-EXP-1"
    for name in ("eval-DARTS_V2-1", "eval-DARTS_V1-1"):
        (batch / name).mkdir(parents=True)
    (root / "eval-DARTS_V2-1").symlink_to(batch / "eval-DARTS_V2-1")  # a shortcut beside the batch
    (root / "latest").symlink_to(batch)  # and a link to the batch folder itself
    assert ensemble.eval_folders(root) == [batch / "eval-DARTS_V1-1", batch / "eval-DARTS_V2-1"]


def _truncate(path: Path) -> None:
    """Cut to half (a copy that stopped, a full disk): a weights.pt of 2 kB, an args.json that ends mid-way."""
    path.write_bytes(path.read_bytes()[:min(2048, path.stat().st_size // 2)])


def _wrong_weights(path: Path) -> None:
    torch.save(NetworkCIFAR(4, 10, 3, True, genotypes.PUBLISHED["PC_DARTS_cifar"]).state_dict(), path)


def test_an_unfinished_run_is_skipped_as_still_training_or_stopped(tmp_path: Path) -> None:
    """Every run without weights.pt read "training not finished": one killed (its pid left in its lock file, no
    process holding it) as much as one at work."""
    live, killed = make_run(tmp_path / "eval-live-1", "DARTS_V1", weights=False), make_run(
        tmp_path / "eval-killed-1", "DARTS_V1", weights=False)
    (killed / ".lock").write_text("4000000\n")
    with lock_run_dir(live):
        _, skipped = ensemble.finished_runs([live, killed])
    assert [s["reason"] for s in skipped] == [
        "no weights.pt (still training)",
        "no weights.pt (stopped before the end: killed, crashed or interrupted; --resume continues it)"]


@pytest.mark.parametrize(("damaged", "damage", "expected"), [
    ("weights.pt", _truncate, "cannot read checkpoint"),
    ("args.json", _truncate, "is not valid JSON"),
    ("args.json", lambda p: p.write_text("[1, 2]"), 'args.json (no "args" object)'),
    ("result.json", lambda p: p.write_text('{"genotype": {"normal": '), "is not valid JSON"),
    ("result.json", lambda p: p.write_text("[]"), "holds no training result"),
    ("weights.pt", _wrong_weights, "missing key"),
])

def test_a_damaged_finished_run_is_one_line_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture, damaged: str,
                                                      damage: object, expected: str) -> None:
    """A batch folder with one damaged run gave `ensemble of 2 model(s)` and exit 0: the run was skipped with a log
    line only, and the ensemble.json written looked complete. Now nothing is written and the file is named."""
    make_run(tmp_path / "eval-DARTS_V2-1", "DARTS_V2")
    broken = make_run(tmp_path / "eval-DARTS_V2-2", "DARTS_V2", result=damaged == "result.json")
    make_run(tmp_path / "eval-PC_DARTS_cifar-1", "PC_DARTS_cifar")
    damage(broken / damaged)
    (tmp_path / "ensemble.json").write_text("{}")  # an earlier result: kept as it is
    args = ensemble.build_parser().parse_args(["--models_folder", str(tmp_path), "--subsample", "0.1",
                                               "--batch_size", "128", "--no_progress", "--device", "cpu"])
    assert run_main(ensemble.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {broken} has weights.pt but cannot be ensembled") and "\n" not in err, err
    assert expected in err and (str(broken / damaged) in err or damaged == "weights.pt"), err
    assert (tmp_path / "ensemble.json").read_text() == "{}"


def test_empty_models_folder_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "other").mkdir()
    args = ensemble.build_parser().parse_args(["--set", "digits", "--models_folder", str(tmp_path)])
    assert run_main(ensemble.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no model to ensemble") and "\n" not in err
    assert not (tmp_path / "ensemble.json").exists()


def test_a_single_run_given_as_models_folder_names_its_parent(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """One run's folder holds no eval-*/ folders: the old message ("expected eval-*/ folders with weights.pt") read as
    if the run's own weights.pt were missing."""
    run = make_run(tmp_path / "eval-DARTS_V2-1", "DARTS_V2")
    args = ensemble.build_parser().parse_args(["--set", "digits", "--models_folder", str(run)])
    assert run_main(ensemble.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert "is one training run, not a folder of runs" in err and str(tmp_path) in err and "\n" not in err
    assert "test.py" in err and not (run / "ensemble.json").exists()


def test_folder_with_only_unusable_models_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    make_run(tmp_path / "eval-unfinished-1", "DARTS_V1", weights=False)
    args = ensemble.build_parser().parse_args(["--set", "digits", "--models_folder", str(tmp_path),
                                               "--subsample", "0.1"])
    assert run_main(ensemble.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert "no model to ensemble" in err and "1 skipped: training not finished" in err and "\n" not in err


def test_calculate_needs_a_validation_split(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    make_run(tmp_path / "eval-DARTS_V2-1", "DARTS_V2")
    args = ensemble.build_parser().parse_args(["--set", "digits", "--models_folder", str(tmp_path), "--calculate",
                                               "--train_portion", "1.0"])
    assert run_main(ensemble.main, args) == 2
    assert "validation split" in capsys.readouterr().err


def test_no_progress_turns_the_progress_bar_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--no_progress is honoured (it used to be parsed and never read); without it tqdm decides (off on a pipe)."""
    import tqdm

    asked, real = [], tqdm.tqdm

    def recording(*args: object, **kwargs: object) -> object:
        asked.append(kwargs.get("disable"))
        return real(*args, **kwargs)

    monkeypatch.setattr(tqdm, "tqdm", recording)
    make_run(tmp_path / "eval-DARTS_V2-1", "DARTS_V2")
    flags = ["--set", "digits", "--models_folder", str(tmp_path), "--subsample", "0.05", "--batch_size", "128"]
    ensemble.main(ensemble.build_parser().parse_args(flags))
    ensemble.main(ensemble.build_parser().parse_args([*flags, "--no_progress"]))
    assert asked == [None, True]


# --------------------------------------------------------------------------- the runs' own held-out split

SPLIT = {"train_portion": 0.8, "subsample": 0.2}


def test_calculate_weighs_on_the_split_the_runs_held_out(tmp_path: Path) -> None:
    """--train_portion, --subsample and its --seed come from the runs, as the dataset does; the ensemble used to
    split by its own defaults (0.9), so the models had trained on half of its "validation" images."""
    make_run(tmp_path / "eval-DARTS_V2-1", "DARTS_V2", **SPLIT, seed=4)
    make_run(tmp_path / "eval-PC_DARTS_cifar-1", "PC_DARTS_cifar", **SPLIT, seed=4)
    args = ensemble.build_parser().parse_args(["--models_folder", str(tmp_path), "--calculate", "--batch_size", "128"])
    result = ensemble.main(args)
    train_ds, _, _ = datalib.load_datasets("digits", "unused")
    *_, held_out = datalib.split_training_set(train_ds, 0.2, 4, 0.8)
    assert (result["train_portion"], result["subsample"], result["subsample_seed"]) == (0.8, 0.2, 4)
    assert result["data_split"] == held_out and held_out["held_out"] > 0
    assert json.loads((tmp_path / "ensemble.json").read_text())["data_split"] == held_out


def test_an_ensemble_of_other_weights_is_not_replaced(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A second ensemble.py on a folder replaced the first's ensemble.json: equal weights over a --calculate
    result. Calculated weights are kept from a call that weighs otherwise; anything else is rewritten."""
    make_run(tmp_path / "eval-DARTS_V2-1", "DARTS_V2", **SPLIT, seed=4)
    make_run(tmp_path / "eval-PC_DARTS_cifar-1", "PC_DARTS_cifar", **SPLIT, seed=4)
    base = ["--models_folder", str(tmp_path), "--batch_size", "128", "--no_progress"]
    ensemble.main(ensemble.build_parser().parse_args([*base, "--calculate"]))
    calculated = (tmp_path / "ensemble.json").read_bytes()
    assert run_main(ensemble.main, ensemble.build_parser().parse_args(base)) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: {tmp_path / 'ensemble.json'} holds the per-model weighted ensemble; this call's equal "
                   "weights would replace it: give -o FILE")
    assert (tmp_path / "ensemble.json").read_bytes() == calculated
    ensemble.main(ensemble.build_parser().parse_args([*base, "-o", str(tmp_path / "equal.json")]))
    assert json.loads((tmp_path / "equal.json").read_text())["weighting"] == "equal"
    again = ensemble.main(ensemble.build_parser().parse_args([*base, "--calculate"]))
    assert again["weighting"] == "per_model"
    named = ensemble.main(ensemble.build_parser().parse_args([*base, "-o", str(tmp_path / "ensemble.json")]))
    assert named["weighting"] == "equal"  # -o naming it replaces it, as asked
    ensemble.main(ensemble.build_parser().parse_args([*base, "--calculate"]))  # calculated after equal (the docs')
    (tmp_path / "ensemble.json").write_text("")  # unreadable: nothing to keep
    assert ensemble.main(ensemble.build_parser().parse_args(base))["weighting"] == "equal"


def test_an_ensemble_under_other_amp_is_not_replaced(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """bf16 logits give other predictions than float32 ones: a --amp bf16 call replaced the float32 ensemble.json (and
    the other way round) without a word. It now writes elsewhere only when told, as for calculated weights."""
    make_run(tmp_path / "eval-DARTS_V2-1", "DARTS_V2", **SPLIT, seed=4)
    base = ["--models_folder", str(tmp_path), "--batch_size", "128", "--no_progress", "--device", "cpu"]
    assert ensemble.main(ensemble.build_parser().parse_args(base))["amp"] == "none"
    kept = (tmp_path / "ensemble.json").read_bytes()
    assert run_main(ensemble.main, ensemble.build_parser().parse_args([*base, "--amp", "bf16"])) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {tmp_path / 'ensemble.json'} holds the ensemble of logits under --amp none; this call's --amp bf16 "
        "would replace it: give -o FILE")
    assert (tmp_path / "ensemble.json").read_bytes() == kept
    bf16 = ensemble.main(ensemble.build_parser().parse_args([*base, "--amp", "bf16", "-o", str(tmp_path / "b.json")]))
    assert bf16["amp"] == "bf16" and json.loads((tmp_path / "b.json").read_text())["amp"] == "bf16"
    assert ensemble.main(ensemble.build_parser().parse_args(base))["amp"] == "none"  # the same settings: rewritten


@pytest.mark.parametrize("flag", [["--train_portion", "0.9"], ["--subsample", "0.1"], ["--seed", "5"]])
def test_a_split_flag_that_contradicts_the_runs_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                            flag: list[str]) -> None:
    make_run(tmp_path / "eval-DARTS_V2-1", "DARTS_V2", **SPLIT, seed=4)
    args = ensemble.build_parser().parse_args(["--models_folder", str(tmp_path), "--calculate", *flag])
    assert run_main(ensemble.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {' '.join(flag)} contradicts the run folder") and "\n" not in err, err
    assert not (tmp_path / "ensemble.json").exists()


@pytest.mark.parametrize("second", [{"train_portion": 0.9}, {"seed": 5}])
def test_runs_split_differently_have_no_common_validation_split(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                 second: dict) -> None:
    make_run(tmp_path / "eval-DARTS_V2-1", "DARTS_V2", **SPLIT, seed=4)
    make_run(tmp_path / "eval-PC_DARTS_cifar-1", "PC_DARTS_cifar", **{**SPLIT, "seed": 4, **second})
    flags = ["--models_folder", str(tmp_path), "--batch_size", "128"]
    assert run_main(ensemble.main, ensemble.build_parser().parse_args([*flags, "--calculate"])) == 2
    err = capsys.readouterr().err.strip()
    assert "different splits of the training set" in err and "\n" not in err, err
    assert not (tmp_path / "ensemble.json").exists()
    result = ensemble.main(ensemble.build_parser().parse_args(flags))  # equal weights need no split
    assert result["train_acc"] is None and result["data_split"] is None and len(result["models"]) == 2


def test_the_seed_splits_nothing_without_a_subsample(tmp_path: Path) -> None:
    """Runs of several --seeds on the whole training set share one held-out split (batch_train.py --seeds)."""
    make_run(tmp_path / "eval-DARTS_V2-1", "DARTS_V2", train_portion=0.95, subsample=0.0, seed=1, image_size=8)
    make_run(tmp_path / "eval-DARTS_V2-2", "DARTS_V2", train_portion=0.95, subsample=0.0, seed=2, image_size=8)
    args = ensemble.build_parser().parse_args(["--models_folder", str(tmp_path), "--calculate", "--batch_size", "256"])
    result = ensemble.main(args)
    assert result["subsample_seed"] is None and result["data_split"]["train_portion"] == 0.95


def test_calculate_on_runs_that_held_nothing_out_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Runs trained with --train_portion 1 (train.py's default) saw every training image: no weights from them."""
    make_run(tmp_path / "eval-DARTS_V2-1", "DARTS_V2", train_portion=1.0, subsample=0.1, seed=0)
    flags = ["--models_folder", str(tmp_path), "--batch_size", "128"]
    assert run_main(ensemble.main, ensemble.build_parser().parse_args([*flags, "--calculate"])) == 2
    err = capsys.readouterr().err.strip()
    assert "did not train on" in err and "train_portion 1.0" in err and "\n" not in err, err
    assert not (tmp_path / "ensemble.json").exists()
    assert ensemble.main(ensemble.build_parser().parse_args(flags))["weighting"] == "equal"


def test_runs_per_genotype_keeps_two_genotypes_of_one_name_apart() -> None:
    """Two sweeps' cellX (other cells) were merged into one count; numbered as batch_train's genotypes.json."""
    assert ensemble._counts_by_name([("cellX", 1), ("DARTS_V2", 3), ("cellX", 2), ("cellX", 1)]) == {
        "cellX": 1, "DARTS_V2": 3, "cellX_2": 2, "cellX_3": 1}


@pytest.mark.parametrize("given", [["--per_class"], ["--calculate", "--per_class"]])
def test_a_refused_weighting_names_the_flags_given(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                   given: list[str]) -> None:
    """--per_class alone calculates weights too: its refusal said to leave out a --calculate never given."""
    make_run(tmp_path / "eval-DARTS_V2-1", "DARTS_V2", train_portion=1.0, subsample=0.1, seed=0)
    args = ensemble.build_parser().parse_args(["--models_folder", str(tmp_path), "--batch_size", "128", *given])
    assert run_main(ensemble.main, args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {' '.join(given)} needs a validation split") and "\n" not in err, err
    assert f"leave out {' '.join(given)} (equal weights)" in err, err


def test_runs_of_the_original_are_named_by_their_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The original's train.py left weights.pt (and its log) in eval-<arch>-<time>, nothing else: the original
    ensemble.py took the genotype from that name, so such folders are models, built from the shape flags."""
    for name in ("DARTS_V2", "PC_DARTS_cifar"):
        folder = tmp_path / f"eval-{name}-20210101-120000"
        folder.mkdir()
        torch.save(NetworkCIFAR(4, 10, 3, True, genotypes.PUBLISHED[name]).state_dict(), folder / "weights.pt")
    flags = ["--models_folder", str(tmp_path), "--set", "digits", "--init_channels", "4", "--layers", "3",
             "--auxiliary", "--subsample", "0.05", "--batch_size", "128", "--no_progress"]
    result = ensemble.main(ensemble.build_parser().parse_args(flags))
    assert [m["name"] for m in result["models"]] == ["DARTS_V2", "PC_DARTS_cifar"]
    unknown = tmp_path / "eval-nosuchcell-20210101-120000"
    unknown.mkdir()
    (unknown / "weights.pt").write_bytes((tmp_path / "eval-DARTS_V2-20210101-120000" / "weights.pt").read_bytes())
    assert run_main(ensemble.main, ensemble.build_parser().parse_args([*flags, "-o", str(tmp_path / "x.json")])) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {unknown} has weights.pt but cannot be ensembled") and "\n" not in err, err
    assert "'nosuchcell' of its folder name is no published genotype" in err, err


def test_one_genotype_at_two_sizes_is_two_networks_not_two_seeds(tmp_path: Path) -> None:
    """A folder holding a small and a larger training of one genotype: they are not runs of one network, so
    best_per_genotype (one run per genotype) must not drop one of them, nor count them as 2 runs."""
    for channels in (4, 6):
        folder = make_run(tmp_path / f"eval-DARTS_V2-c{channels}", "DARTS_V2", weights=False, init_channels=channels,
                          train_portion=0.8, subsample=0.2)
        result = json.loads((folder / "result.json").read_text())
        (folder / "result.json").write_text(json.dumps({**result, "valid_acc": 50.0 + channels}))
        torch.save(NetworkCIFAR(channels, 10, 3, True, genotypes.DARTS_V2).state_dict(), folder / "weights.pt")
    args = ensemble.build_parser().parse_args(["--models_folder", str(tmp_path), "--calculate", "--batch_size", "128",
                                               "--no_progress"])
    result = ensemble.main(args)
    assert len(result["models"]) == 2
    assert result["runs_per_genotype"] == {"DARTS_V2": 1, "DARTS_V2_2": 1}
    assert result["best_per_genotype"] is None and "best_per_genotype_note" not in result


def test_ensemble_json_records_the_precision_of_the_logits(tmp_path: Path) -> None:
    """--amp bf16 changes the models' predictions (on digits: a model's top-1 11.39 % -> 10.83 %, the ensemble's
    26.94 % -> 27.22 %), but ensemble.json did not say so: a bf16 ensemble read as a float32 one."""
    make_run(tmp_path / "eval-DARTS_V2-1", "DARTS_V2", image_size=8)
    out = tmp_path / "bf16.json"
    args = ensemble.build_parser().parse_args(["--models_folder", str(tmp_path), "--amp", "bf16", "-o", str(out),
                                               "--batch_size", "512", "--no_progress"])
    assert ensemble.main(args)["amp"] == "bf16"
    assert json.loads(out.read_text())["amp"] == "bf16"


def test_a_training_set_that_no_longer_splits_as_the_runs_did_weighs_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Images added to an image folder since the runs trained move the held-out part (same classes, same
    --train_portion): --calculate weighed the models on images they had partly trained on, and reported that
    "validation" accuracy, without a word. The split each run recorded (args.json's data_split) is compared now."""
    run = make_run(tmp_path / "eval-DARTS_V2-1", "DARTS_V2", train_portion=0.8, subsample=0.0, image_size=8)
    record = json.loads((run / "args.json").read_text())
    made = {"kind": "sequential", "seed": None, "train_portion": 0.8, "train": 800, "held_out": 200}
    (run / "args.json").write_text(json.dumps({**record, "data_split": made}))
    flags = ["--models_folder", str(tmp_path), "--batch_size", "512", "--no_progress"]
    assert run_main(ensemble.main, ensemble.build_parser().parse_args([*flags, "--calculate"])) == 2
    err = capsys.readouterr().err.strip()
    assert "800 train / 200 held-out images" in err and "leave out --calculate" in err and "\n" not in err, err
    assert not (tmp_path / "ensemble.json").exists()
    result = ensemble.main(ensemble.build_parser().parse_args(flags))  # equal weights: the test set is unchanged
    assert result["train_acc"] is None and result["test_acc"] is not None
