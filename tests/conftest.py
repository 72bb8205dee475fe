"""Shared test fixtures: the repository root on sys.path and the facts stored under tests/data."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"

# The modules under test are flat scripts at the repository root; plain `pytest` does not put it on sys.path.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# The tests run tiny tensors: a second intra-op thread only adds synchronisation, and on a loaded 2-core
# machine it makes them many times slower. Scripts choose their own threads (--threads); this is the suite's.
torch.set_num_threads(1)


@pytest.fixture
def data_dir() -> Path:
    """tests/data: facts copied from the specification (genotypes, state_dict layouts)."""
    return DATA


@pytest.fixture(autouse=True)
def _seed() -> None:
    """Every test starts from the same RNG state, so random tensors are reproducible per test."""
    torch.manual_seed(0)


def layout(state_dict: dict[str, torch.Tensor]) -> list[str]:
    """One 'key shape' line per entry, in the spec files' notation ('36x108x1x1', 'scalar')."""
    return [f"{k} {'x'.join(map(str, v.shape)) if v.dim() else 'scalar'}" for k, v in state_dict.items()]


def spec_lines(text: str) -> list[str]:
    """The non-comment, non-empty lines of a spec file."""
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def load_test_script() -> ModuleType:
    """test.py as a module: it shares its name with the standard library's test package, so it is loaded by path."""
    spec = importlib.util.spec_from_file_location("testpy_script", ROOT / "test.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
