"""The documented command lines still parse: every ``python <script>.py ...`` (``python3``, ``python -m``) of
README.md, docs/*.md, bench/RESULTS.md, the scripts' module docstrings and the Makefile's recipes is given to that
script's own ``build_parser().parse_args`` (parsing only: nothing runs; a few seconds in all). Flags must be spelled
in full: a flag the parser has lost would otherwise still pass as an abbreviation of a longer one.

Extraction: fenced code blocks, and the docstring lines that start with ``python``, are shell lines (``\\`` continues
a line, ``#`` starts a comment, ``&&``, ``||``, ``|`` and ``;`` separate commands). In prose only inline code spans
are read: a span with a python command is checked like a shell line; a span that starts with a script and an
argument but no ``python`` (``train_search.py -l2 0.01 -cw 0.99 --seed S``) is a fragment, checked the same way
except that the script's required flags may be left out.

Placeholders stay as written where any string will do (``logs/eval-<time>``, ``DIR``, ``SWEEP``, ``$B``); the few
given to a numeric or a choices flag, and usage notation (``[--validate]``, ``{params,flops}``, ``...``), are
replaced by the explicit rules of ``fill_placeholders``. A command that cannot be checked is listed in ``UNCHECKED``
with its reason; any other one that cannot be checked fails.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib
import io
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

MARKDOWN = ["README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")), "bench/RESULTS.md"]
SCRIPT_DIRS = ("", "tools/", "bench/")
DOCSTRING_FILES = sorted(str(p.relative_to(ROOT)) for d in SCRIPT_DIRS for p in (ROOT / d).glob("*.py"))

# Scripts whose documented commands cannot be parsed here, and why (their commands are reported as skipped): none
# today; a script without a build_parser() would be one.
UNCHECKED: dict[str, str] = {}
# `python -m X` of modules that are not this project's: not checked (their flags are not ours to document).
EXTERNAL_MODULES = {"pytest", "venv", "pip", "ruff", "uv"}

# Placeholder words of the docs that a numeric or a choices flag receives, and the dummy value each stands for.
PLACEHOLDERS = {"NU": "0.01", "CW": "0.99", "M": "2", "MS": "5", "S": "0", "OBJECTIVE": "l2", "R": "100", "CE": "2"}

PYTHON = re.compile(r"(\S*/)?python3?|\$\(PY\)")  # python, python3, .venv/bin/python, the Makefile's $(PY)
SEPARATORS = {"&&", "||", "|", ";"}

Snippet = tuple[int, str]  # (line number, shell text)


@dataclass(frozen=True)
class Command:
    source: str  # the file, relative to the repository root ("Makefile[demo]": a target's recipe)
    line: int  # where the command starts in it
    text: str  # as written (continuations joined)
    script: str  # the script it runs, relative to the repository root ("tools/plot_frontier.py")
    argv: tuple[str, ...]  # its arguments, placeholders filled
    fragment: bool = False  # an inline span without python: its required flags may be left out

    def where(self) -> str:
        return f"{self.source}:{self.line}: {self.text}"


# ---------------------------------------------------------------- snippets of each source: shell lines, spans
def join_continuations(lines: list[Snippet]) -> list[Snippet]:
    """Shell lines, a trailing backslash joining a line to the next; each keeps the number of its first line."""
    joined: list[Snippet] = []
    pending: Snippet | None = None
    for number, text in lines:
        if pending:
            number, text = pending[0], pending[1] + " " + text.strip()
        pending = (number, text.rstrip()[:-1]) if text.rstrip().endswith("\\") else None
        if not pending:
            joined.append((number, text))
    return joined + ([pending] if pending else [])


def inline_spans(prose: list[str], first_line: int) -> list[Snippet]:
    """The inline code spans (`...`, ``...``, across line breaks too) of the prose lines, with the line each starts
    on (``prose[0]`` is line ``first_line``)."""
    text = "\n".join(prose)
    return [(first_line + text.count("\n", 0, m.start()), m.group(2).replace("\n", " "))
            for m in re.finditer(r"(`+)(.+?)\1", text, re.S)]


def markdown_snippets(text: str) -> tuple[list[Snippet], list[Snippet]]:
    """A markdown file's shell lines (its fenced code blocks') and its prose's inline code spans."""
    code: list[Snippet] = []
    prose: list[str] = []  # a blank line for each code line, so that span line numbers stay right
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif fenced:
            code.append((number, line))
        prose.append("" if fenced or line.lstrip().startswith("```") else line)
    return join_continuations(code), inline_spans(prose, 1)


def docstring_snippets(source: str) -> tuple[list[Snippet], list[Snippet]]:
    """A module docstring's shell lines (those that start with a python command, and their continuations) and its
    prose's inline code spans. Read from the source, so that line numbers and backslashes are as written."""
    tree = ast.parse(source)
    first = tree.body[0] if tree.body else None
    if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value,
                                                                                                    str)):
        return [], []
    code: list[Snippet] = []
    prose: list[str] = []
    continued = False
    for number, line in list(enumerate(source.splitlines(), 1))[first.lineno - 1:first.end_lineno]:
        words = line.lstrip().lstrip('"').split()
        if continued or (words and PYTHON.fullmatch(words[0])):
            code.append((number, line.lstrip().lstrip('"')))
            continued = line.rstrip().endswith("\\")
            prose.append("")
        else:
            prose.append(line)
    return join_continuations(code), inline_spans(prose, first.lineno)


def makefile() -> tuple[dict[str, str], list[tuple[int, str, str]]]:
    """The Makefile's variables, and its recipe lines as (line, target, text), continuations joined."""
    variables: dict[str, str] = {}
    recipes: list[tuple[int, str, str]] = []
    target = ""
    for number, line in join_continuations(list(enumerate((ROOT / "Makefile").read_text().splitlines(), 1))):
        if line.startswith("\t"):
            recipes.append((number, target, line.strip()))
        elif m := re.match(r"([A-Z_]+)\s*[:?]?=\s*(.*)", line):
            variables[m.group(1)] = m.group(2)
        elif m := re.match(r"(\S+):", line):
            target = m.group(1)
    return variables, recipes


def expand(text: str, variables: dict[str, str]) -> str:
    """make's expansion of ``$(VAR)`` (recursively; ``$(PY)`` is kept: it is the python command) and of ``$$``."""
    while m := re.search(r"\$\((?!PY\))([A-Z_]+)\)", text):
        text = text[:m.start()] + variables[m.group(1)] + text[m.end():]
    return text.replace("$$", "$")


# ---------------------------------------------------------------- commands
def fill_placeholders(argv: list[str]) -> tuple[str, ...]:
    """The arguments as checked: a word of ``PLACEHOLDERS`` replaced by its dummy value, and usage notation read as
    an example: ``[--validate]`` is ``--validate``, ``{params,flops}`` is ``params``, and ``...`` or ``..`` (more of
    the same, or flags left out) is dropped."""
    filled = []
    for a in argv:
        a = re.sub(r"^\[(.*)\]$", r"\1", a)
        a = re.sub(r"^\{([^,}]*),.*\}$", r"\1", a)
        if a not in ("...", ".."):
            filled.append(PLACEHOLDERS.get(a, a))
    return tuple(filled)


def segments(text: str) -> list[list[str]]:
    """The commands of one shell line: its words (comments dropped) split at ``&&``, ``||``, ``|`` and ``;``."""
    try:
        words = shlex.split(text, comments=True)
    except ValueError:  # an unbalanced quote: prose (an apostrophe), not a command
        words = text.split()
    parts: list[list[str]] = [[]]
    for word in words:
        if word in SEPARATORS:
            parts.append([])
        else:
            parts[-1].append(word)
    return [p for p in parts if p]


def script_named(word: str) -> str | None:
    """The project's script that a fragment's first word names (``train.py``, ``plot_frontier.py``,
    ``tools/plot_frontier.py``), or None."""
    if not re.fullmatch(r"[\w/]+\.py", word):
        return None
    for folder in ("",) if "/" in word else SCRIPT_DIRS:
        path = folder + word
        if path in UNCHECKED or ((ROOT / path).is_file() and "def build_parser(" in (ROOT / path).read_text()):
            return path
    return None


def script_of_module(module: str) -> str | None:
    """The project's script that ``python -m module`` runs, or None for another package's module."""
    path = module.replace(".", "/") + ".py"
    return path if (ROOT / path).is_file() else None


def command_start(words: list[str]) -> int | None:
    """Where the command of a segment starts: after any environment variables (``X=1``) and words without a letter
    (a diagram's arrow)."""
    return next((i for i, w in enumerate(words) if not re.match(r"\w+=", w) and re.search(r"[^\W\d_]", w)), None)


def commands_in(source: str, snippets: list[Snippet]) -> list[Command]:
    """The python commands of the snippets: the segments whose command is a python one."""
    found = []
    for number, text in snippets:
        for words in segments(text):
            at = command_start(words)
            if at is None or not PYTHON.fullmatch(words[at]):
                continue
            rest = words[at + 1:]
            if rest[:1] == ["-m"]:
                module = rest[1] if len(rest) > 1 else ""
                script = script_of_module(module)
                if script is None:
                    assert module in EXTERNAL_MODULES, \
                        f"{source}:{number}: python -m {module}: not this project's module, nor in EXTERNAL_MODULES"
                    continue
                args = rest[2:]
            else:
                script, args = (rest[0] if rest else ""), rest[1:]
            found.append(Command(source, number, shlex.join(words[at:]), script, fill_placeholders(args)))
    return found


def fragments_in(source: str, spans: list[Snippet]) -> list[Command]:
    """The fragments of the inline spans: spans that start with one of the project's scripts and an argument."""
    found = []
    for number, text in spans:
        words = (segments(text) or [[]])[0]
        script = script_named(words[0]) if len(words) > 1 else None
        if script:
            found.append(Command(source, number, shlex.join(words), script, fill_placeholders(words[1:]), True))
    return found


@cache
def documented() -> tuple[Command, ...]:
    found: list[Command] = []
    for name in MARKDOWN + DOCSTRING_FILES:
        text = (ROOT / name).read_text()
        code, spans = markdown_snippets(text) if name.endswith(".md") else docstring_snippets(text)
        found += commands_in(name, code + spans) + fragments_in(name, spans)
    return tuple(sorted(found, key=lambda c: (c.source, c.line)))


@cache
def make_commands() -> tuple[Command, ...]:
    variables, recipes = makefile()
    found: list[Command] = []
    for number, target, text in recipes:
        found += commands_in(f"Makefile[{target}]", [(number, expand(text, variables))])
    return tuple(found)


def params(commands: tuple[Command, ...]) -> list:
    """One pytest param per command, its id the file and line (``#2`` for a second command on the same line)."""
    seen: dict[str, int] = {}
    out = []
    for c in commands:
        key = f"{c.source}:{c.line}"
        seen[key] = seen.get(key, 0) + 1
        out.append(pytest.param(c, id=key if seen[key] == 1 else f"{key}#{seen[key]}"))
    return out


# ---------------------------------------------------------------- parsing
def all_parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """``parser`` and its subcommands' parsers."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from all_parsers(sub)


@cache
def parser_of(script: str) -> argparse.ArgumentParser:
    parser = importlib.import_module(script.removesuffix(".py").replace("/", ".")).build_parser()
    parser.prog = script  # as run from the repository root, not pytest's __main__.py
    for p in all_parsers(parser):
        p.allow_abbrev = False
    return parser


@contextlib.contextmanager
def nothing_required(parser: argparse.ArgumentParser) -> Iterator[None]:
    """The parser with its required flags (and groups) optional for a while: a fragment may leave them out."""
    required = [x for p in all_parsers(parser) for x in (*p._actions, *p._mutually_exclusive_groups) if x.required]
    try:
        for x in required:
            x.required = False
        yield
    finally:
        for x in required:
            x.required = True


def check(command: Command) -> None:
    """Parse the command's arguments with its script's parser; fail with the file, line, command and argparse's
    error. ``-h`` must print the usage and exit 0."""
    assert (ROOT / command.script).is_file(), f"{command.where()}\n  no such script: {command.script}"
    if command.script in UNCHECKED:
        pytest.skip(f"{command.script}: {UNCHECKED[command.script]}")
    parser = parser_of(command.script)
    helped = bool({"-h", "--help"} & set(command.argv))
    out, err = io.StringIO(), io.StringIO()
    status = None
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                (nothing_required(parser) if command.fragment else contextlib.nullcontext()):
            parser.parse_args(list(command.argv))
    except SystemExit as exit_:
        status = exit_.code or 0
    if helped:
        assert status == 0 and out.getvalue().startswith("usage:"), f"{command.where()}\n  -h: exit {status}"
    elif status is not None:
        pytest.fail(f"{command.where()}\n  {err.getvalue().strip() or f'exit status {status}'}", pytrace=False)


@pytest.mark.parametrize("command", params(documented()))
def test_documented_command_parses(command: Command) -> None:
    check(command)


@pytest.mark.parametrize("command", params(make_commands()))
def test_makefile_command_parses(command: Command) -> None:
    check(command)


def test_commands_found() -> None:
    """Extraction still finds the docs' commands, of every script (an extraction that breaks finds few)."""
    commands = documented()
    assert len([c for c in commands if not c.fragment]) >= 120, len(commands)
    assert len([c for c in commands if c.fragment]) >= 20, len(commands)
    scripts = {c.script for c in commands}
    for script in ("multiobjective.py", "train_search.py", "train.py", "batch_train.py", "batch_size_predict.py",
                   "ensemble.py", "test.py", "visualize.py", "tools/analyse_search_logs.py",
                   "tools/analyse_train_logs.py", "tools/compare_fronts.py", "tools/latency_table.py",
                   "tools/plot_frontier.py", "tools/profile_genotypes.py", "tools/search_stability.py"):
        assert script in scripts, script
    # a continued line is one command: the demo's search in docs/objectives.md ends with its cost flags
    flops = [c for c in commands if c.source == "docs/objectives.md" and c.argv[:2] == ("-o", "flops")]
    assert flops and flops[0].argv[-2:] == ("--eval_layers", "8"), flops


def test_makefile_commands_found() -> None:
    """Every Makefile target that runs one of the project's scripts is checked, each of its commands."""
    commands = make_commands()
    assert {c.source for c in commands} == {f"Makefile[{t}]" for t in
                                            ("demo", "demo-flops", "demo-params", "demo-latency", "demo-seeds")}
    assert len(commands) == 8, commands


def test_the_demo_targets_run_on_one_thread() -> None:
    """The demos are CPU runs on one thread (README: tiny networks run fastest so, and a busy machine's second
    thread inflates the latencies analyse_train_logs times): every command of theirs that takes --threads gives 1."""
    for c in make_commands():
        if any("--threads" in p._option_string_actions for p in all_parsers(parser_of(c.script))):
            assert "--threads" in c.argv and c.argv[c.argv.index("--threads") + 1] == "1", c.where()


def test_lint_targets_the_documented_python() -> None:
    """ruff's target-version is the README's oldest Python: a newer target lets its pyupgrade rules rewrite the code
    into forms (datetime.UTC, ...) that the oldest documented Python cannot run."""
    floor = re.search(r"Python 3\.(\d+)\+", (ROOT / "README.md").read_text())
    target = re.search(r'^target-version = "py3(\d+)"$', (ROOT / "pyproject.toml").read_text(), re.M)
    assert floor and target, "README.md's 'Python 3.X+' or pyproject.toml's ruff target-version is missing"
    assert target[1] == floor[1], f"ruff targets py3{target[1]}, README.md says Python 3.{floor[1]}+"


def test_documented_make_targets_exist() -> None:
    """`make X` in the docs names a target of the Makefile."""
    targets = set(re.findall(r"^([\w.-]+):", (ROOT / "Makefile").read_text(), re.M))
    missing, found = [], 0
    for name in MARKDOWN:
        code, spans = markdown_snippets((ROOT / name).read_text())
        for number, snippet in code + spans:
            for words in segments(snippet):
                if words[0] == "make":
                    found += 1
                    missing += [f"{name}:{number}: make {t}" for t in words[1:] if t not in targets]
    assert found >= 20, found
    assert not missing, missing


# ---------------------------------------------------------------- the original scripts' flags
# The flags of the original MOOD-NAS / PC-DARTS / DARTS scripts, with their short forms and defaults: commands
# written for the original must run unchanged here, so none may be renamed or change its default (new flags are
# welcome). A flag that this project leaves to a run folder (default None: "the run's own") is checked against
# the value the script falls back to when no run says, the same one the help names.
SEARCH_FLAGS = {"--data": "data", "--set": "cifar10", "--batch_size": 256, "--learning_rate": 0.1,
                "--learning_rate_min": 0.001, "--momentum": 0.9, "--weight_decay": 3e-4, "--report_lines": 5,
                "--gpu": 0, "--epochs": 50, "--init_channels": 16, "--layers": 8, "--cutout": False,
                "--cutout_length": 16, "--drop_path_prob": 0.3, "--save": "EXP", "--seed": 2, "--grad_clip": 5,
                "--train_portion": 0.5, "--unrolled": False, "--arch_learning_rate": 6e-4,
                "--arch_weight_decay": 1e-3, "--subsample": 0, "--begin": 15}
IMAGENET_SEARCH_FLAGS = {**SEARCH_FLAGS, "--workers": 4, "--set": "imagenet", "--batch_size": 128,
                         "--learning_rate": 0.5, "--learning_rate_min": 0.0, "--arch_learning_rate": 6e-3,
                         "--begin": 35, "--note": "try"}
TRAIN_FLAGS = {"--data": "data", "--set": "cifar10", "--batch_size": 96, "--learning_rate": 0.025, "--momentum": 0.9,
               "--weight_decay": 3e-4, "--report_lines": 5, "--gpu": 0, "--epochs": 600, "--init_channels": 36,
               "--layers": 20, "--model_path": None, "--auxiliary": False, "--auxiliary_weight": 0.4,
               "--cutout": False, "--cutout_length": 16, "--drop_path_prob": 0.3, "--seed": 0,
               "--arch": "PC_DARTS_cifar", "--grad_clip": 5, "--train_portion": 1.0}
ORIGINAL_FLAGS: dict[tuple[str, ...], dict[str, object]] = {
    ("train_search.py",): {**SEARCH_FLAGS, "-l1/--l1_weight": -1, "-l2/--l2_weight": -1,
                           "-cw/--criterion_weight": 1.0},
    ("multiobjective.py", "-o", "l2"): {"-o/--objective": "l2", "-d/--delta": 0.15},
    ("multiobjective.py", "-o", "l2", "cifar"): SEARCH_FLAGS,
    ("multiobjective.py", "-o", "l2", "imagenet"): IMAGENET_SEARCH_FLAGS,
    ("train.py",): TRAIN_FLAGS,
    ("batch_train.py",): {**TRAIN_FLAGS, "--archs": None, "--batch_model": None},
    ("batch_size_predict.py",): {"-d/--data": "batch_data.csv"},
    ("ensemble.py", "--models_folder", "DIR"): {
        "--data": "data", "--set": "cifar10", "--batch_size": 96, "--report_lines": 5, "--gpu": 0,
        "--init_channels": 36, "--layers": 20, "--auxiliary": False, "--cutout": False, "--drop_path_prob": 0.2,
        "--seed": 0, "--train_portion": 0.9, "--models_folder": "DIR", "--calculate": False, "--per_class": False},
    ("test.py",): {"--data": "data", "--batch_size": 96, "--report_lines": 5, "--gpu": 0, "--init_channels": 36,
                   "--layers": 20, "--auxiliary": False, "--cutout": False, "--cutout_length": 16,
                   "--drop_path_prob": 0.2, "--seed": 0, "--model_path": None, "--arch": "PC_DARTS_cifar"},
    ("tools/analyse_search_logs.py", "-l", "LOG"): {"-l/--log": "LOG", "-d/--data": None,
                                                    "-o/--output": None, "-i/--inches": None, "-t/--topk": 5},
    ("tools/analyse_train_logs.py", "-t", "LOG"): {"-t/--train": ["LOG"], "-d/--data": None, "-s/--search": [],
                                                   "-c/--colorbar": False, "-i/--inches": None, "-o/--output": None},
    ("tools/plot_frontier.py", "-l", "LOG"): {"-l/--log": "LOG", "-o/--output": "plot.png", "-i/--inches": None,
                                              "-d/--dominated": False},
}


def fallbacks(script: str) -> dict[str, object]:
    """What a script takes for a flag left to a run folder (parsed as None) when no run says: the fallbacks its
    parser's help names (cli.from_run)."""
    import cli
    import data
    import ensemble
    import test as testpy
    import train
    side = {"cutout_length": data.default_cutout_length(32)}  # DARTS's 16 at 32x32, when no --image_size says
    return {"train.py": {**cli.DATA_SETTINGS, **train.NETWORK_FALLBACK, **side},
            "batch_train.py": {**cli.DATA_SETTINGS, **train.NETWORK_FALLBACK, **side},
            "train_search.py": side, "multiobjective.py": side,
            "ensemble.py": {**cli.DATA_SETTINGS, **cli.NETWORK_SETTINGS, **ensemble.SPLIT_SETTINGS},
            "test.py": testpy.DEFAULTS}.get(script, {})


@pytest.mark.parametrize("argv", list(ORIGINAL_FLAGS), ids=" ".join)
def test_the_original_flags_keep_their_names_and_defaults(argv: tuple[str, ...]) -> None:
    """Every flag of the original script (spelled ``-s/--long`` where it had a short form) is one option of the
    parser here, and a command that leaves it out gets the original's default."""
    script, *args = argv
    parser = parser_of(script)
    sub = next((action.choices[args[-1]] for action in parser._actions
                if isinstance(action, argparse._SubParsersAction) and args and args[-1] in action.choices), parser)
    namespace = parser.parse_args(args)
    wrong = []
    for flags, expected in ORIGINAL_FLAGS[argv].items():
        names = flags.split("/")
        actions = {id(sub._option_string_actions.get(name)): sub._option_string_actions.get(name) for name in names}
        action = next(iter(actions.values()))
        if len(actions) != 1 or action is None:
            wrong.append(f"{flags}: not one option of {sub.prog}")
            continue
        value = getattr(namespace, action.dest)
        if value is None:
            value = fallbacks(script).get(action.dest)
        if value != expected:
            wrong.append(f"{flags}: default {value!r}, the original's {expected!r}")
    assert not wrong, f"{' '.join(argv)}: " + "; ".join(wrong)
