"""The scripts' edges say what they do: what others import is in __all__, the test hook is hidden from -h, flags
parsed but not used say so in their help, one helper tells every script whether a run is on ImageNet, and a start
does not import torchvision."""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from pathlib import Path

import pytest

import batch_size_predict
import batch_train
import cli
import ensemble
import multiobjective
import test as testpy
import train
import train_search
import visualize


@pytest.mark.parametrize("module", [train, train_search, visualize, batch_size_predict])
def test_scripts_imported_by_others_declare_what_they_export(module: object) -> None:
    exported = module.__all__
    assert exported and all(hasattr(module, name) for name in exported)
    assert "main" in exported and "build_parser" in exported


def _names_used_from(module: str) -> set[tuple[str, str]]:
    """(name, file) for every ``from module import name`` and ``module.name`` in the project outside tests/."""
    root = Path(__file__).resolve().parents[1]
    used = set()
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        if rel.parts[0] in {"tests", ".venv", "logs"} or rel.stem == module:
            continue
        tree = ast.parse(path.read_text())
        aliases = {a.asname or a.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                   for a in node.names if a.name == module}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == module:
                used |= {(a.name, str(rel)) for a in node.names}
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
                used.add((node.attr, str(rel)))
    return used


@pytest.mark.parametrize("module", [train, train_search, visualize, batch_size_predict])
def test_what_other_files_import_from_a_script_is_in_its_all(module: object) -> None:
    missing = sorted((name, where) for name, where in _names_used_from(module.__name__)
                     if name not in module.__all__)
    assert not missing


@pytest.mark.parametrize("build_parser", [train.build_parser, batch_train.build_parser])
def test_the_stop_after_hook_is_parsed_but_not_in_the_help(build_parser) -> None:
    parser = build_parser()
    assert "--stop_after" not in parser.format_help()
    assert parser.parse_args(["--stop_after", "1"]).stop_after == 1


def _help(parser: argparse.ArgumentParser, dest: str) -> str:
    return next(a.help for a in parser._actions if a.dest == dest)


@pytest.mark.parametrize("build_parser, dest", [
    (train_search.build_parser, "drop_path_prob"),
    (ensemble.build_parser, "drop_path_prob"),
    (ensemble.build_parser, "report_lines"),
    (ensemble.build_parser, "cutout"),
    (ensemble.build_parser, "cutout_length"),
    (testpy.build_parser, "cutout"),
    (testpy.build_parser, "cutout_length"),
    (testpy.build_parser, "seed"),
])
def test_flags_kept_for_the_originals_command_lines_say_they_do_nothing(build_parser, dest: str) -> None:
    assert _help(build_parser(), dest).startswith(cli.NO_EFFECT)


def test_flags_that_are_used_do_not_say_so() -> None:
    assert not _help(train.build_parser(), "drop_path_prob").startswith(cli.NO_EFFECT)  # train.py ramps it
    assert not _help(train.build_parser(), "cutout").startswith(cli.NO_EFFECT)
    assert _help(ensemble.build_parser(), "no_progress") == "no progress bar"  # honoured (tests/test_ensemble.py)


def test_one_spelling_of_imagenet_for_every_script() -> None:
    sweep = multiobjective.build_parser()
    assert cli.is_imagenet(sweep.parse_args(["-o", "l2", "imagenet"]))
    assert not cli.is_imagenet(sweep.parse_args(["-o", "l2", "cifar"]))
    assert cli.is_imagenet(train_search.build_parser().parse_args(["--imagenet"]))
    assert cli.is_imagenet(train_search.build_parser().parse_args(["--set", "imagenet"]))
    assert not cli.is_imagenet(train_search.build_parser().parse_args([]))
    assert cli.is_imagenet(train.build_parser().parse_args(["--set", "imagenet"]))
    assert not cli.is_imagenet(train.build_parser().parse_args([]))  # --set not given: the run's, else cifar10
    assert train.is_imagenet is train_search.is_imagenet is cli.is_imagenet
    # the sweep's searches are told with the search's own flag
    args = sweep.parse_args(["-o", "l2", "imagenet"])
    assert multiobjective.search_args(args, (0.5, 0.5), Path("/nonexistent")).imagenet


_NO_TORCHVISION = """
import sys
import batch_train, ensemble, multiobjective, test, train, train_search, utils
assert "torchvision" not in sys.modules, "importing the scripts imported torchvision"
version = utils.torchvision_version()
import data
train_ds, test_ds, info = data.load_datasets("digits", "unused", cutout=True)
loader = data.build_loader(train_ds, list(range(8)), 4, train=True, seed=0, device="cpu", on_device=True)
assert isinstance(loader, data.DeviceLoader) and len(list(loader)) == 2
assert "torchvision" not in sys.modules, "a run on digits imported torchvision"
image, label = train_ds[0]  # the host path builds its torchvision transform now
assert "torchvision" in sys.modules and tuple(image.shape) == (3, 32, 32)
import torchvision
assert version == torchvision.__version__, (version, torchvision.__version__)
"""


def test_a_start_does_not_import_torchvision() -> None:
    """torchvision's import (models, ops, torch._dynamo) cost every script start, sweep worker and test subprocess
    about 1.5 s; only the image folders and the host loader's per-image transforms use it, and import it then."""
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-c", _NO_TORCHVISION], cwd=root, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
