"""Evaluate trained weights on the test split: DARTS / PC-DARTS's test.py and test_imagenet.py.

    python test.py logs/eval-PC_DARTS_cifar-20260101-120000                 # a train.py run folder
    python test.py --model_path logs/eval-PC_DARTS_cifar-20260101-120000/weights.pt          # the same
    python test.py --model_path cifar10_model.pt --arch DARTS_V2 --auxiliary                 # published weights
    python test.py --set imagenet --model_path imagenet_model.pt --arch PC_DARTS_image --data data
    python test.py logs/eval-l2_loss_2e01-20260101-120000 -o l2_loss_2e01_test.json

What is evaluated, given as the positional RUN or as --model_path:

* a train.py run folder (or its log.txt, or a weights file inside one, e.g. its weights.pt): the genotype (its
  genotype.json), dataset, image size, data path, batch size and network shape
  (init_channels, layers, auxiliary) come from the folder's args.json; a flag that contradicts the
  folder (another --set, --image_size, --arch, --init_channels, --layers, --auxiliary) is refused
  with one line, while --data, --batch_size and --data_on_device given here win (where the data
  lives and how it is batched, not what the network is). A folder whose training has not finished
  is evaluated from its checkpoint.pt. The evaluation is float32, as the original's, unless
  --amp bf16 is given (the log says so when the run itself evaluated under bf16).
* any other weights file: --arch (any form: a published name, a genotype JSON, a run folder,
  FILE:NAME) with the network shape read from the weights where the flags leave it open (stem
  width, cell count, auxiliary head, NetworkImageNet's two stems), then loaded with strict=True.
  A bare state_dict (DARTS's weights.pt, the published checkpoints), {'state_dict': ...} or
  {'model': ...} (train.py's checkpoint.pt) and DataParallel's 'module.' prefix are accepted.

The network runs in eval mode (so drop path and the auxiliary head are off, as in the original;
--drop_path_prob, --cutout and --cutout_length are accepted for parity and change nothing) over
the test split with the training's normalisation and no augmentation: CIFAR's 10,000 test images,
digits' fixed 20 %, synthetic's test draw, folder's val/ (or test/), and for ``--set imagenet``
NetworkImageNet on ImageNet's val/ resized to 256 and centre-cropped to 224 with ImageNet's mean
and std (DARTS's test_imagenet.py; other --image_size values scale the resize by 256/224). Those
image folders are read alone (data.load_test_set): no train/ needed, none of its files listed; a run
folder's weights are labelled by the class names its args.json records (``classes``), bare weights (or an
older run) by train/'s class folders where it exists, else val/'s own.

Written to the run folder ``logs/test-<save or arch>-<time>/`` (or with ``-o FILE`` to FILE and
FILE's stem + ``_confusion.png`` beside it, and no run folder): ``test.json`` with test_loss
(mean cross-entropy), test_acc, test_top5 (%; null with 5 classes or fewer, where every label is among the
top 5), n_samples, classes, per_class_acc (%, None for a
class without samples), per_class_n, confusion_matrix (rows: true class, columns: predicted),
model_size (M parameters without the auxiliary head), the genotype and where it came from, the
weights file, the run folder it came from and that run's own test_acc (trained_test_acc), the
settings taken and the arguments; ``confusion.png`` (row-normalised confusion matrix) and
``log.txt``. test.json is not named result.json so that no tool takes the folder for a training.
"""

from __future__ import annotations

if __name__ == "__main__":  # before torch's imports: a Ctrl-C while they run is one line, not their traceback
    from interrupts import quiet_interrupts

    quiet_interrupts()

import argparse
import contextlib
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

import cli
import data as datalib
import train
from fastpath import make_autocast
from genotypes import (
    Genotype,
    GenotypeError,
    genotype_from_dict,
    genotype_label,
    genotype_to_dict,
    resolve_genotype,
    same_cells,
)
from utils import (
    UserError,
    bar_off,
    check_output,
    configure_torch,
    count_parameters_in_MB,
    create_run_dir,
    data_recorded_in,
    environment_info,
    float_or_na,
    get_device,
    get_logger,
    load_checkpoint,
    log_data_notes,
    percent_or_na,
    read_json,
    read_run_record,
    recorded_failure,
    resume_command,
    run_kind,
    run_main,
    set_seed,
    shell_command,
    top5_or_none,
    write_figure,
    write_json_atomic,
)

# What a train.py run folder supplies (cli.run_settings): the network and its inputs, where a flag that says
# otherwise is refused, and where the data lives and how it is evaluated, where a flag given wins.
RUN_SETTINGS = {**cli.DATA_SETTINGS, **cli.NETWORK_SETTINGS, "batch_size": 96, "data_on_device": None}
TAKEN_FROM_RUN = ("data", "batch_size", "data_on_device")
# The original's defaults, where neither a flag nor a run folder (nor the weights) says: CIFAR's, and
# test_imagenet.py's with --set imagenet.
DEFAULTS = {"set": "cifar10", "data": "data", "batch_size": 96, "init_channels": 36, "layers": 20,
            "auxiliary": False, "arch": "PC_DARTS_cifar"}
IMAGENET_DEFAULTS = {"batch_size": 128, "init_channels": 48, "layers": 14, "arch": "PC_DARTS_image"}


# --------------------------------------------------------------------------- arguments


def build_parser() -> argparse.ArgumentParser:
    parser = cli.ArgumentParser(
        description="Evaluate trained weights (a train.py run folder or a weights file) on the test split: "
                    "loss, top-1, top-5, per-class accuracy and a confusion matrix.",
        formatter_class=cli.HelpFormatter,
    )
    parser.add_argument("run", nargs="?", default=None,
                        help="a train.py run folder (logs/eval-...), or its weights file; same as --model_path")
    g = parser.add_argument_group("weights and network")
    g.add_argument("--model_path", type=str, default=None,
                   help="a train.py run folder, or a weights file (state_dict or checkpoint) to evaluate")
    g.add_argument("--arch", type=str, default=None,
                   help="genotype: a name, a genotype JSON file, a run folder, FILE:NAME or SWEEP_DIR:NAME (one "
                        "entry of a genotypes.json), or a quoted Genotype(...) string (default: the run folder's, "
                        "else PC_DARTS_cifar; PC_DARTS_image with --set imagenet)")
    g.add_argument("--init_channels", type=int, default=None,
                   help="num of init channels (default: the run folder's, else read from the weights, else 36)")
    g.add_argument("--layers", type=int, default=None,
                   help="total number of layers (default: the run folder's, else read from the weights, else 20)")
    g.add_argument("--auxiliary", action=argparse.BooleanOptionalAction, default=None,
                   help="the weights hold the auxiliary tower (unused at test time) (default: the run folder's, "
                        "else read from the weights)")
    g.add_argument("--drop_path_prob", type=float, default=0.2,
                   help="drop path probability; set on the network as the original does, inactive in eval mode")
    g = parser.add_argument_group("data")
    g.add_argument("--data", type=str, default=None, help="location of the data corpus (default: the run folder's, "
                                                          "else data)")
    g.add_argument("--set", type=str, default=None,
                   help="dataset: cifar10, cifar100, digits (bundled), synthetic, folder (ImageFolder), imagenet "
                        "(default: the run folder's, else cifar10)")
    g.add_argument("--image_size", type=int, default=None,
                   help="image side (default: the run folder's, else the dataset's own: 32, 224 for imagenet)")
    g.add_argument("--download", action="store_true", help="let torchvision download CIFAR into --data")
    g.add_argument("--cutout", action="store_true", default=False,
                   help=f"{cli.NO_EFFECT} (the test split is never augmented)")
    g.add_argument("--cutout_length", type=int, default=16, help=f"{cli.NO_EFFECT} (cutout length)")
    g.add_argument("--workers", type=int, default=2, help="data loader worker processes (host path)")
    g.add_argument("--data_on_device", action=argparse.BooleanOptionalAction, default=None,
                   help="keep the test set on the device (default: the run folder's, else on for tensor datasets)")
    g = parser.add_argument_group("evaluation")
    g.add_argument("--batch_size", type=int, default=None,
                   help="batch size (default: the run folder's, else 96; 128 with --set imagenet)")
    g.add_argument("--seed", type=int, default=0, help=f"{cli.NO_EFFECT} (the evaluation draws nothing at random)")
    cli.add_hardware_args(parser)
    g = parser.add_argument_group("output")
    g.add_argument("--save", type=str, default=None, help="experiment name (default: the genotype's name)")
    g.add_argument("--report_lines", type=int, default=5, help="log lines over the test split (report_freq)")
    g.add_argument("--logdir", type=str, default="logs", help="folder that holds the run folders")
    g.add_argument("-o", "--output", type=str, default=None,
                   help="write the JSON here (and <stem>_confusion.png beside it) instead of a run folder (not with "
                        "--save or --logdir)")
    g.add_argument("--no_progress", action="store_true", help="no progress bar")
    return parser


def check_args(args: argparse.Namespace) -> None:
    """The shared checks plus test.py's own, each a one-line reason."""
    cli.check_common_args(args)
    if not 0.0 <= args.drop_path_prob < 1.0:
        raise UserError(f"--drop_path_prob {args.drop_path_prob} must be in [0, 1)")
    if args.run and args.model_path:
        raise UserError(f"give the weights once: RUN {args.run} or --model_path {args.model_path}, not both")
    unused = [f"--{flag}" for flag in ("save", "logdir") if flag in (cli.typed_flags(args) or ())]
    if args.output and unused:  # they name the run folder, which -o does not make: the flag would be dropped unseen
        verb = "name" if len(unused) > 1 else "names"
        raise UserError(f"{' and '.join(unused)} {verb} the run folder, which -o {args.output} does not make: give "
                        f"-o alone (test.json and its plot go to that file), or {' / '.join(unused)} alone")
    if not (args.run or args.model_path):
        raise UserError("nothing to evaluate: give a train.py run folder (python test.py logs/eval-...) or "
                        "--model_path WEIGHTS with --arch")


# --------------------------------------------------------------------------- where the settings come from


def train_run_folder(path: Path) -> Path | None:
    """The train.py run folder that ``path`` is or holds its weights, else None (a bare weights file).

    A folder that is not a training (a search, a sweep) is refused: it has no trained weights to test.
    """
    folder = path if path.is_dir() else path.parent
    if not (folder / "args.json").is_file():
        if path.is_dir():
            raise UserError(not_a_run_folder(path))
        return None
    try:  # every run's args.json has its arguments: without them it is damaged, not a folder of unknown kind
        record = read_run_record(folder / "args.json", "train.py")
    except UserError as err:
        raise UserError(f"{err}: restore it (test.py builds and reads the network as the run trained it)") from None
    kind = run_kind(folder, record)
    if kind == "train":
        return folder
    if path.is_dir() and kind == "batch":  # its trainings are the eval-* folders inside
        raise UserError(f"{path} is a batch_train.py folder: test one of its trainings, the eval-* folders inside "
                        "it (or ensemble.py for all of them)")
    if path.is_dir():
        what = f"a {kind} folder" if kind else "a folder of unknown kind"
        raise UserError(f"{path} is not a train.py run folder but {what}: {train_first(folder, kind)}")
    if kind is not None:  # a search's checkpoint.pt / weights.pt hold the supernet, not a derived network
        raise UserError(f"{path} holds the weights of a {kind} run, not of a trained network: "
                        f"{train_first(folder, kind)}")
    return None


def not_a_run_folder(path: Path) -> str:
    """Why a folder without args.json is refused, and what to give instead: the weights go with --model_path
    (--arch is the genotype); test.py's own output folder points back to the training it tested."""
    if (path / "test.json").is_file():
        try:
            tested = read_json(path / "test.json").get("train_run")
        except (UserError, OSError, AttributeError):
            tested = None
        if isinstance(tested, str) and (Path(tested) / "args.json").is_file():
            return (f"{path} is test.py's own output (test.json), not a train.py run folder: to test that training "
                    f"again, {shell_command('python', 'test.py', tested)}")
        return (f"{path} is test.py's own output (test.json), not a train.py run folder: give the training it "
                "tested, or the weights file with --model_path WEIGHTS (and the genotype with --arch)")
    weights = next((path / name for name in ("weights.pt", "checkpoint.pt") if (path / name).is_file()), None)
    give = f"--model_path {weights}" if weights is not None else "--model_path WEIGHTS"
    return (f"{path} is not a train.py run folder (no args.json): give a train.py run folder, or a weights file "
            f"with {give} and its genotype with --arch")


def train_first(folder: Path, kind: str | None) -> str:
    """How to get a training of the genotype of a run folder that is not one, naming only commands that work on
    the folder as it is: `train.py --arch` on a search that has not written genotype.json yet fails."""
    if kind == "sweep":
        if (folder / "genotypes.json").is_file():
            one = shell_command("python", "train.py", "--arch", f"{folder / 'genotypes.json'}:NAME")
            return (f"train its genotypes first ({shell_command('python', 'batch_train.py', '--archs', folder)}, or "
                    f"one of them: {one}), then test those runs")
        return (f"the sweep has not finished (no genotypes.json yet): resume it with "
                f"{resume_command('multiobjective.py', folder)}, then train its genotypes with "
                "batch_train.py and test those runs")
    try:
        resolve_genotype(folder)
    except (GenotypeError, UserError, OSError) as err:
        if (folder / "genotype.json").is_file():  # read first: the genotype is there, but cannot be read
            return damaged_genotype(folder, kind, err)
        if kind == "search":
            return (f"the search has not finished (no genotype.json yet): {resume_search(folder)}, then train the "
                    "genotype it finds with train.py and test that run")
        return ("it holds no genotype to train: give a train.py run folder, or a weights file with --model_path "
                "WEIGHTS and its genotype with --arch")
    return (f"train its genotype with train.py first ({shell_command('python', 'train.py', '--arch', folder)}), "
            "then test that run")


def resume_search(folder: Path) -> str:
    """How to continue a search not finished: a sweep's search (a search-NN folder beside sweep.json) by resuming
    its sweep, which records it on the front and goes on; a lone search with train_search.py --resume."""
    sweep = folder.parent if folder.name not in ("", "..") else folder.resolve().parent
    if (sweep / "sweep.json").is_file():
        # the sweep's --resume never runs a failed search again (an unreadable sweep.json: None, and the advice
        # stays the sweep's --resume, which says what is wrong)
        failed = recorded_failure(sweep / "sweep.json", "searches", folder.resolve().name)
        if failed is not None:
            return (f"its sweep recorded it as failed ({failed}), and the sweep's --resume does not run it again: "
                    f"test another of the sweep's searches, or resume it alone with "
                    f"{resume_command('train_search.py', folder)}")
        return f"resume its sweep with {resume_command('multiobjective.py', sweep)}"
    return f"resume it with {resume_command('train_search.py', folder)}"


def damaged_genotype(folder: Path, kind: str | None, err: Exception) -> str:
    """Why a folder whose genotype.json cannot be read (truncated, not JSON, not a genotype) is refused: the file
    and what is wrong, and how to get the genotype back (such a search was called not finished)."""
    file, result = folder / "genotype.json", folder / "result.json"
    try:
        genotype_from_dict(json.loads(file.read_text()))
        what = " ".join(str(err).split())
    except (json.JSONDecodeError, UnicodeDecodeError) as bad:
        what = f"not valid JSON: {bad}"
    except GenotypeError as bad:
        what = f"not a genotype: {bad}"
    if kind == "search" and not result.is_file():  # it stopped while writing genotype.json: a resume writes it again
        return f"its {file} is damaged ({what}): {resume_search(folder)} to write it again"
    fix = "restore it"
    with contextlib.suppress(GenotypeError, UserError, OSError):
        resolve_genotype(result)
        train = shell_command("python", "train.py", "--arch", result)
        fix += f", or train the genotype its result.json records ({train}) and test that run"
    return f"its {file} is damaged ({what}): {fix}"


def settings_from_run_folder(folder: Path, weights: Path | None) -> tuple[dict[str, Any], Genotype, Path]:
    """(saved arguments, genotype, weights file) of a train.py run folder.

    The weights are the given file, else weights.pt, else checkpoint.pt of a training not finished yet.
    """
    saved = read_json(folder / "args.json")["args"]
    if any((folder / name).is_file() for name in ("genotype.json", "result.json")):
        genotype = resolve_genotype(folder)  # what was trained, even if --arch's file has changed since
    else:  # a run folder written before train.py saved genotype.json
        genotype = resolve_genotype(saved.get("arch") or DEFAULTS["arch"])
    if weights is None:
        weights = folder / "weights.pt"
        if not weights.is_file():
            weights = folder / "checkpoint.pt"
        if not weights.is_file():
            raise UserError(f"{folder} has no weights.pt (nor a checkpoint.pt): its training never finished an epoch")
    return saved, genotype, weights


def shape_from_state_dict(state: dict[str, torch.Tensor]) -> dict[str, Any]:
    """The network shape a state_dict was saved from (None where its keys do not say)."""
    imagenet = "stem0.0.weight" in state
    stem = state.get("stem0.3.weight" if imagenet else "stem.0.weight")
    init_channels = None
    if stem is not None and stem.dim() == 4:
        init_channels = int(stem.shape[0]) if imagenet else int(stem.shape[0]) // 3  # NetworkCIFAR's stem is 3C
    cells = {int(k.split(".")[1]) for k in state if k.startswith("cells.") and k.split(".")[1].isdigit()}
    classifier = state.get("classifier.weight")
    return {
        "imagenet": imagenet if (imagenet or "stem.0.weight" in state) else None,
        "init_channels": init_channels,
        "layers": max(cells) + 1 if cells else None,
        "auxiliary": any(k.startswith("auxiliary_head.") for k in state),
        "num_classes": int(classifier.shape[0]) if classifier is not None and classifier.dim() == 2 else None,
    }


def weights_file_settings(args: argparse.Namespace, weights: Path) -> tuple[dict[str, Any], Genotype, list[str]]:
    """The settings for a bare weights file: the flags, else what the weights say, else the original's defaults."""
    shape = shape_from_state_dict(train.read_state_dict(weights))
    data_note = ""
    if args.arch is not None and train.arch_run_folder(args.arch) is not None:  # a run's cells: on its data
        args, data_note = train.arch_settings(args, [args.arch], what="the run of --arch")
        data_note = f"; {data_note}"
    data_set = args.set or DEFAULTS["set"]
    if shape["imagenet"] is not None and shape["imagenet"] != (data_set == "imagenet"):
        which = "NetworkImageNet's (stems stem0/stem1)" if shape["imagenet"] else "NetworkCIFAR's (one stem)"
        fix = "--set imagenet" if shape["imagenet"] else "a --set other than imagenet"
        raise UserError(f"the weights {weights} are {which} but --set {data_set} builds the other network: use {fix}")
    defaults = {**DEFAULTS, **(IMAGENET_DEFAULTS if data_set == "imagenet" else {})}
    cfg: dict[str, Any] = {"set": data_set, "image_size": args.image_size}
    read_off = []
    for key in ("init_channels", "layers", "auxiliary"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
        elif shape[key] is not None:
            cfg[key] = shape[key]
            read_off.append(f"{key} {shape[key]}")
        else:
            cfg[key] = defaults[key]
    for key in ("data", "batch_size"):
        cfg[key] = getattr(args, key) if getattr(args, key) is not None else defaults[key]
    cfg["data_on_device"] = args.data_on_device
    cfg["arch"] = args.arch or defaults["arch"]
    cfg["arch_defaulted"] = args.arch is None
    cfg["weights_num_classes"] = shape["num_classes"]
    notes = [f"weights file {weights} (not in a train.py run folder): genotype {cfg['arch']}"
             + (f"; read off the weights: {', '.join(read_off)}" if read_off else "") + data_note]
    return cfg, resolve_genotype(cfg["arch"]), notes


# --------------------------------------------------------------------------- evaluation


@torch.no_grad()
def evaluate(model: nn.Module, loader: Any, num_classes: int, autocast: Any, *, report_lines: int = 5,
             logger: Any = None, progress: bool = True) -> dict[str, Any]:
    """Loss, top-1, top-5 (%; None with 5 classes or fewer, where it is always 100) and the confusion matrix over a
    loader, in eval mode.

    Loss and accuracies are summed as train.infer sums them (float32 per-batch sums divided by n), so a
    run folder's weights give the test accuracy its training reported: exactly on the CPU (tested), and on a
    GPU to float rounding, where cuDNN may choose other convolution algorithms than the training's
    (which searched for them) and flip a near-tie prediction.
    """
    from tqdm import tqdm

    model.eval()
    n_steps = len(loader)
    report_every = max(1, math.ceil(n_steps / report_lines))
    sums = None
    confusion = None
    n = 0
    bar = tqdm(total=n_steps, desc="test", leave=False, file=sys.stderr, disable=bar_off(not progress),
               dynamic_ncols=True)
    for step, (x, y) in enumerate(loader):
        with autocast():
            logits, _ = model(x)
        top = logits.topk(min(5, logits.size(1)), dim=1).indices
        hits = top.eq(y[:, None])
        row = torch.stack([F.cross_entropy(logits.float(), y, reduction="sum"), hits[:, 0].sum().float(),
                           hits.any(dim=1).sum().float()])
        sums = row if sums is None else sums + row
        counts = torch.bincount(y * num_classes + top[:, 0], minlength=num_classes * num_classes)
        confusion = counts if confusion is None else confusion + counts
        n += y.numel()
        bar.update(1)
        if logger is not None and ((step + 1) % report_every == 0 or step + 1 == n_steps):
            s = (sums / n).tolist()
            logger.info("test %03d/%03d loss %e top1 %.2f%% top5 %s", step + 1, n_steps, s[0], 100 * s[1],
                        percent_or_na(top5_or_none(100 * s[2], num_classes)))
    bar.close()
    if sums is None:
        raise UserError("the test split is empty")
    loss, top1, top5 = (sums / n).tolist()
    matrix = confusion.view(num_classes, num_classes).cpu()
    per_class_n = matrix.sum(dim=1).tolist()
    per_class_acc = [100.0 * matrix[c, c].item() / per_class_n[c] if per_class_n[c] else None
                     for c in range(num_classes)]
    return {"test_loss": loss, "test_acc": 100.0 * top1, "test_top5": top5_or_none(100.0 * top5, num_classes),
            "n_samples": n, "per_class_acc": per_class_acc, "per_class_n": per_class_n,
            "confusion_matrix": matrix.tolist()}


def plain_text(text: str) -> str:
    """``text`` as matplotlib draws it literally: its '$' escaped, so that no part of a name is read as mathtext."""
    return text.replace("$", r"\$")


def confusion_figure(matrix: list[list[int]], classes: list[str], title: str) -> Any:
    """The row-normalised confusion matrix (a row: the images of one true class), counts written in small ones."""
    from plots import plt

    counts = torch.tensor(matrix, dtype=torch.float64)
    fraction = counts / counts.sum(dim=1, keepdim=True).clamp_min(1)
    # a '$' pair in a class folder's name (cost_$5_$10) starts matplotlib's mathtext: the plot failed after the
    # evaluation, and test.json was never written
    classes = [plain_text(c) for c in classes]
    k = len(classes)
    side = min(4.0 + 0.4 * k, 14.0)
    fig, ax = plt.subplots(figsize=(side + 1.5, side))
    image = ax.imshow(fraction.numpy(), cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    if k <= 30:
        ax.set_xticks(range(k), classes, rotation=90 if max(len(c) for c in classes) > 3 else 0)
        ax.set_yticks(range(k), classes)
    if k <= 20:
        for i in range(k):
            for j in range(k):
                if counts[i, j]:
                    ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="center", fontsize=8,
                            color="white" if fraction[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(plain_text(title))
    fig.colorbar(image, ax=ax, label="fraction of the true class's images")
    fig.tight_layout()
    return fig


def plot_confusion(matrix: list[list[int]], classes: list[str], path: Path, title: str) -> Path:
    """confusion_figure written as a PNG (confusion.png of a test run)."""
    from plots import DPI, plt

    fig = confusion_figure(matrix, classes, title)
    try:
        return write_figure(fig, path, dpi=DPI)
    finally:
        plt.close(fig)


# --------------------------------------------------------------------------- main


def resolve_settings(args: argparse.Namespace) -> tuple[dict[str, Any], Genotype, Path, Path | None, list[str]]:
    """(settings, genotype, weights file, run folder or None, log notes) for this call."""
    source = Path(args.run or args.model_path)
    if not source.exists():
        raise FileNotFoundError(f"no such run folder or weights file: {source}")
    if source.name == "log.txt" and source.is_file():  # a run's log stands for its folder, as in --arch and the tools
        source = source.parent
    folder = train_run_folder(source)
    if folder is None:
        cfg, genotype, notes = weights_file_settings(args, source)
        return cfg, genotype, source, None, notes
    saved, genotype, weights = settings_from_run_folder(folder, None if source.is_dir() else source)
    if args.arch is not None and not same_cells(resolve_genotype(args.arch), genotype):
        raise UserError(f"--arch {args.arch} contradicts the run folder {folder}, which trained another genotype "
                        f"(its genotype.json): drop --arch")
    merged, note = cli.run_settings(folder, args, RUN_SETTINGS, overridable=TAKEN_FROM_RUN)
    cfg = {key: getattr(merged, key) for key in RUN_SETTINGS}
    cfg["arch"] = saved.get("arch") or genotype_label(genotype)
    cfg["arch_label"] = saved.get("arch_label")  # the name batch_train.py gave the run (cellX_2), if any
    cfg["classes"] = read_json(folder / "args.json").get("classes")  # an image folder's, by name (label order)
    # checked against the test set's classes, which a val/ without train/ gives by its own class folders
    cfg["weights_num_classes"] = shape_from_state_dict(train.read_state_dict(weights))["num_classes"]
    notes = [f"settings from the run folder {folder}: {note}"]
    if saved.get("amp", "none") != "none" and args.amp == "none":
        notes.append(f"the run evaluated its test set under --amp {saved['amp']}; this evaluation is float32 "
                     f"(pass --amp {saved['amp']} to evaluate as it did)")
    if weights.name == "checkpoint.pt":
        notes.append(f"{folder} has no weights.pt yet (training not finished): evaluating its checkpoint.pt"
                     + checkpoint_progress(weights, saved.get("epochs")))
    return cfg, genotype, weights, folder, notes


def checkpoint_progress(path: Path, epochs: Any) -> str:
    """" (after N of M epochs)" of an unfinished training's checkpoint.pt ("" where it records none): the test
    accuracy of a network a few epochs in is not the run's, and the note should say how far it got."""
    state = load_checkpoint(path)
    done = state.get("epoch") if isinstance(state, dict) else None
    if not isinstance(done, int) or isinstance(done, bool):
        return ""
    of = f" of {epochs}" if isinstance(epochs, int) and not isinstance(epochs, bool) else ""
    return f" (after {done}{of} epochs)"


def training_result(folder: Path | None) -> dict[str, Any]:
    """The run's result.json ({} without one), read before the evaluation: its test accuracy is reported beside
    this one, and a damaged file found after minutes of evaluating would lose them."""
    if folder is None or not (folder / "result.json").is_file():
        return {}
    result = read_json(folder / "result.json")
    if not isinstance(result, dict):
        raise UserError(f"{folder / 'result.json'} holds no training result (not a JSON object): restore it, "
                        "or move it aside to test the weights without it")
    return result


def main(args: argparse.Namespace) -> dict:
    """Evaluate one network on the test split; returns what test.json holds."""
    check_args(args)
    cfg, genotype, weights, folder, notes = resolve_settings(args)
    trained = training_result(folder)
    if args.output:
        out = check_output(args.output, "-o", [weights, folder])
        check_output(out.with_name(f"{out.stem}_confusion.png"), "-o (its confusion plot)", [weights, folder])
    device = get_device(args.device, args.gpu)
    configure_torch(device, args.threads, training=False)
    set_seed(args.seed)
    cfg_args = argparse.Namespace(**cfg)
    cli.check_common_args(cfg_args)

    # the test split alone: an ImageNet val/ needs no train/ beside it, and its training files are not listed
    with data_recorded_in(folder / "args.json" if folder is not None and args.data is None else None):
        test_ds, info = datalib.load_test_set(cfg["set"], cfg["data"], download=args.download,
                                              image_size=cfg["image_size"], classes=cfg.get("classes"))
    wanted = cfg.get("weights_num_classes")
    if wanted is not None and wanted != info.num_classes:
        source = getattr(test_ds, "class_source", None)
        where = f" (the class folders of {source})" if source is not None else ""
        raise UserError(f"the weights {weights} classify {wanted} classes but --set {info.name} has "
                        f"{info.num_classes}{where}: pass the dataset they were trained on")
    if note := datalib.on_device_note(cfg["data_on_device"], test_ds):
        notes.append(note)
    imagenet = cfg["set"] == "imagenet"
    model = train.build_network(genotype, info.num_classes, cfg["init_channels"], cfg["layers"], cfg["auxiliary"],
                                imagenet)
    network = "NetworkImageNet" if imagenet else "NetworkCIFAR"
    # a bare weights file records no genotype: a mismatch with the default --arch must say it was not chosen
    default = "the default, as no --arch was given; " if cfg.get("arch_defaulted") else ""
    train.load_weights(model, weights, f"{train.arch_label(cfg)} ({default}{network}, C={cfg['init_channels']}, "
                                       f"{cfg['layers']} layers, auxiliary={cfg['auxiliary']}, "
                                       f"{info.num_classes} classes)")
    model.drop_path_prob = args.drop_path_prob  # as the original; eval mode applies no drop path
    model = model.to(device)
    loader = datalib.build_loader(test_ds, torch.arange(len(test_ds)), cfg["batch_size"], train=False,
                                  seed=args.seed, device=device, workers=args.workers,
                                  on_device=datalib.keep_on_device(cfg["data_on_device"], test_ds))

    if args.output:
        out = Path(args.output)
        png = out.with_name(f"{out.stem}_confusion.png")
        run_dir = None
        out.parent.mkdir(parents=True, exist_ok=True)
        logger = get_logger("test")
        logger.info("writing %s and %s", out, png)
    else:
        named = argparse.Namespace(save=args.save, arch=cfg["arch"], arch_label=cfg.get("arch_label"))
        run_dir = create_run_dir("test", train.run_label(named), args.logdir)
        out, png = run_dir / "test.json", run_dir / "confusion.png"
        logger = get_logger(f"test.{run_dir.name}", run_dir)
        logger.info("run folder %s", run_dir)
    try:
        for note in notes:
            logger.info("%s", note)
        log_data_notes(logger, info)
        model_size = count_parameters_in_MB(model)
        logger.info("genotype = %s", genotype)
        logger.info("device %s, %s: %d test images at %dx%d, %d classes, param size = %.6fM parameters", device,
                    info.name, len(test_ds), info.image_size, info.image_size, info.num_classes, model_size)
        t0 = time.time()
        stats = evaluate(model, loader, info.num_classes, make_autocast(device, args.amp),
                         report_lines=args.report_lines, logger=logger, progress=not args.no_progress)
        classes = [str(c) for c in getattr(test_ds, "classes", range(info.num_classes))]
        result = {
            **stats,
            "classes": classes,
            "model_size": model_size,
            "genotype": genotype_to_dict(genotype),
            "arch": train.arch_label(cfg),
            "arch_spec": str(cfg["arch"]),
            "weights": str(weights),
            "train_run": str(folder) if folder is not None else None,
            "trained_test_acc": trained.get("test_acc"),
            "dataset": info.name,
            "num_classes": info.num_classes,
            "image_size": info.image_size,
            "init_channels": cfg["init_channels"],
            "layers": cfg["layers"],
            "auxiliary": cfg["auxiliary"],
            "batch_size": cfg["batch_size"],
            "data": str(cfg["data"]),
            "amp": args.amp,
            "device": str(device),
            "wall_time": round(time.time() - t0, 3),
            "run_dir": str(run_dir) if run_dir is not None else None,
            "args": {k: v for k, v in vars(args).items()},
            "argv": list(sys.argv),
            "env": environment_info(device),
        }
        title = f"{result['arch']} on {info.name}: top-1 {stats['test_acc']:.2f}% (n = {stats['n_samples']})"
        plot_confusion(stats["confusion_matrix"], classes, png, title)
        write_json_atomic(out, result)
        logger.info("test_acc %f test_top5 %s test_loss %f (%d images)", stats["test_acc"],
                    float_or_na(stats["test_top5"]), stats["test_loss"], stats["n_samples"])
        worst = sorted((a, c) for a, c in zip(stats["per_class_acc"], classes) if a is not None)[:3]
        logger.info("lowest per-class top-1: %s", ", ".join(f"{c} {a:.1f}%" for a, c in worst))
        if result["trained_test_acc"] is not None:
            logger.info("the training's own result.json: test top-1 %.4f%% (%s)", result["trained_test_acc"],
                        "the same" if result["trained_test_acc"] == stats["test_acc"] else
                        f"this evaluation differs by {stats['test_acc'] - result['trained_test_acc']:+.4f} points")
        logger.info("written %s, %s%s", out, png, f"; run folder {run_dir}" if run_dir is not None else "")
        return result
    finally:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser().parse_args()))
