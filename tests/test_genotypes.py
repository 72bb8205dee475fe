"""genotypes.py: the published genotypes against the spec text, the JSON round trip and the resolver."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import genotypes
from genotypes import (
    PRIMITIVES,
    PUBLISHED,
    Genotype,
    GenotypeError,
    genotype_from_dict,
    genotype_label,
    genotype_to_dict,
    resolve_genotype,
    same_cells,
    save_genotype,
)

_LINE = re.compile(r"^(\w+) (\{.*\})$")


def _spec_genotypes() -> dict[str, dict]:
    text = (Path(__file__).resolve().parent / "data" / "published_genotypes.txt").read_text()
    out = {}
    for line in text.splitlines():
        m = _LINE.match(line)
        if m:
            assert m.group(1) not in out, f"duplicate name {m.group(1)} in the spec"
            out[m.group(1)] = json.loads(m.group(2))
    return out


SPEC = _spec_genotypes()


def test_primitives_in_darts_order() -> None:
    assert PRIMITIVES == [
        "none", "max_pool_3x3", "avg_pool_3x3", "skip_connect",
        "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5",
    ]


def test_published_names_match_the_spec() -> None:
    assert len(SPEC) == 70
    assert set(PUBLISHED) == set(SPEC)
    assert list(PUBLISHED)[:6] == ["NASNet", "AmoebaNet", "DARTS_V1", "DARTS_V2", "PC_DARTS_cifar", "PC_DARTS_image"]


@pytest.mark.parametrize("name", sorted(SPEC))
def test_module_attribute_equals_spec(name: str) -> None:
    g = getattr(genotypes, name)
    assert isinstance(g, Genotype)
    assert PUBLISHED[name] is g
    assert genotype_to_dict(g) == SPEC[name]


@pytest.mark.parametrize("name", sorted(SPEC))
def test_json_round_trip(name: str, tmp_path: Path) -> None:
    g = PUBLISHED[name]
    save_genotype(g, tmp_path / "g.json")
    assert json.loads((tmp_path / "g.json").read_text()) == SPEC[name]
    back = resolve_genotype(tmp_path / "g.json")
    assert back == g
    assert same_cells(back, g)


def test_a_genotype_write_that_fails_leaves_the_old_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash while writing genotype.json must not leave a truncated file (a search would read as damaged)."""
    import utils

    path = tmp_path / "genotype.json"
    save_genotype(PUBLISHED["DARTS_V1"], path)
    before = path.read_bytes()

    def crash(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(utils.os, "fsync", crash)
    with pytest.raises(OSError, match="Input/output error"):
        save_genotype(PUBLISHED["DARTS_V2"], path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["genotype.json"]  # no temp file left either


def test_round_trip_keeps_tuple_pairs() -> None:
    g = genotype_from_dict(SPEC["DARTS_V2"])
    assert g.normal[0] == ("sep_conv_3x3", 0)
    assert isinstance(g.normal[0], tuple)
    assert g.normal_concat == [2, 3, 4, 5]
    assert genotype_from_dict(g) == g  # a Genotype is accepted too


def test_same_cells_ignores_container_types() -> None:
    g = genotypes.PC_DARTS_cifar
    h = Genotype(tuple(g.normal), range(2, 6), list(g.reduce), tuple(g.reduce_concat))
    assert same_cells(g, h)
    assert not same_cells(g, genotypes.DARTS_V2)


# ---------------------------------------------------------------------------------------------- resolver


def test_resolve_name() -> None:
    assert resolve_genotype("PC_DARTS_cifar") is genotypes.PC_DARTS_cifar
    assert resolve_genotype("l1_loss_3e06_l2_3e04") == genotype_from_dict(SPEC["l1_loss_3e06_l2_3e04"])
    assert resolve_genotype(genotypes.DARTS_V1) is genotypes.DARTS_V1


def test_resolve_json_file(tmp_path: Path) -> None:
    path = tmp_path / "my_cell.json"
    path.write_text(json.dumps(SPEC["DARTS_V2"]))
    assert resolve_genotype(path) == genotypes.DARTS_V2
    assert resolve_genotype(str(path)) == genotypes.DARTS_V2


def test_resolve_run_folder_with_genotype_json(tmp_path: Path) -> None:
    run = tmp_path / "search-EXP-20260101-000000"
    run.mkdir()
    save_genotype(genotypes.PC_DARTS_image, run / "genotype.json")
    (run / "log.txt").write_text("whatever was printed\n")
    assert resolve_genotype(run) == genotypes.PC_DARTS_image
    assert resolve_genotype(str(run) + "/") == genotypes.PC_DARTS_image
    assert resolve_genotype(run / "log.txt") == genotypes.PC_DARTS_image


def test_resolve_run_folder_with_result_json(tmp_path: Path) -> None:
    run = tmp_path / "search-EXP-20260101-000001"
    run.mkdir()
    result = {"reg_loss": 1.5, "criterion_loss": 0.3, "model_size": 3.6, "genotype": SPEC["l2_loss_2e01"]}
    (run / "result.json").write_text(json.dumps(result))
    (run / "log.txt").write_text("")
    assert resolve_genotype(run) == genotypes.l2_loss_2e01
    assert resolve_genotype(run / "log.txt") == genotypes.l2_loss_2e01
    assert resolve_genotype(run / "result.json") == genotypes.l2_loss_2e01


def test_resolve_genotypes_json_with_name(tmp_path: Path) -> None:
    sweep = tmp_path / "multi-search-cifar10-EXP-20260101-000000"
    sweep.mkdir()
    mapping = {"l2_loss_2e01": SPEC["l2_loss_2e01"], "l2_loss_9e04": SPEC["l2_loss_9e04"]}
    (sweep / "genotypes.json").write_text(json.dumps(mapping))
    assert resolve_genotype(f"{sweep}/genotypes.json:l2_loss_9e04") == genotypes.l2_loss_9e04
    assert resolve_genotype(f"{sweep}/genotypes.json:l2_loss_2e01") == genotypes.l2_loss_2e01
    assert genotype_label(f"{sweep}/genotypes.json:l2_loss_9e04") == "l2_loss_9e04"
    with pytest.raises(GenotypeError) as err:  # several genotypes and no name: say which ones there are
        resolve_genotype(sweep / "genotypes.json")
    assert "l2_loss_2e01" in str(err.value) and "l2_loss_9e04" in str(err.value)
    with pytest.raises(GenotypeError) as err:
        resolve_genotype(f"{sweep}/genotypes.json:l2_loss_9e4")
    assert "l2_loss_9e04" in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_name_lists_close_names() -> None:
    with pytest.raises(GenotypeError) as err:
        resolve_genotype("PC_DARTS_cifa")
    msg = str(err.value)
    assert "\n" not in msg
    assert "PC_DARTS_cifa" in msg and "PC_DARTS_cifar" in msg
    assert isinstance(err.value, ValueError)  # scripts catch ValueError for one-line errors


@pytest.mark.parametrize(("typo", "close"), [("l2_loss_9e4", "l2_loss_9e04"),
                                             ("l1_loss_3e06_l2_3e4", "l1_loss_3e06_l2_3e04"),
                                             ("pc_darts_image", "PC_DARTS_image")])
def test_unknown_name_suggests_the_close_one(typo: str, close: str) -> None:
    with pytest.raises(GenotypeError) as err:
        resolve_genotype(typo)
    assert close in str(err.value) and "\n" not in str(err.value)


def test_unknown_name_far_from_everything_still_one_line() -> None:
    with pytest.raises(GenotypeError) as err:
        resolve_genotype("zzzzzzzz")
    assert "\n" not in str(err.value) and "zzzzzzzz" in str(err.value)



def test_a_name_after_a_bare_colon_is_no_file_of_the_working_folder(tmp_path: Path, monkeypatch) -> None:
    """':DARTS_V2' (FILE:NAME with its file left out, an unset shell variable) read the working folder as a run
    folder: 'run folder . has no genotype.json...', with no word of the name typed."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(GenotypeError) as err:
        resolve_genotype(":DARTS_V2")
    assert "':DARTS_V2'" in str(err.value) and "DARTS_V2" in str(err.value).split("known:")[-1]
    assert "run folder" not in str(err.value) and "\n" not in str(err.value)

def test_missing_file_or_folder(tmp_path: Path) -> None:
    for spec in (str(tmp_path / "nope.json"), str(tmp_path / "no_such_run")):
        with pytest.raises(GenotypeError) as err:
            resolve_genotype(spec)
        assert "\n" not in str(err.value)


def test_run_folder_without_genotype(tmp_path: Path) -> None:
    with pytest.raises(GenotypeError) as err:
        resolve_genotype(tmp_path)
    assert str(tmp_path) in str(err.value) and "\n" not in str(err.value)


def test_a_sweep_folder_before_its_end_says_so(tmp_path: Path) -> None:
    """A sweep writes genotypes.json at its end: before it (or killed), train.py/batch_train.py/visualize.py said the
    folder had no genotype.json, result.json or genotypes.json, as of any folder; it is named a sweep, with its
    --resume."""
    (tmp_path / "sweep.json").write_text("{}")
    for spec in (tmp_path, f"{tmp_path}:l2_loss_2e01"):
        with pytest.raises(GenotypeError) as err:
            resolve_genotype(spec)
        assert str(err.value) == (f"sweep folder {tmp_path} has no genotypes.json yet: the sweep writes it at its end "
                                  f"(if it was stopped, python multiobjective.py --resume {tmp_path} continues it)")


def test_a_search_or_sweep_at_work_is_named_so(tmp_path: Path) -> None:
    """A search still running (visualize.py or train.py --arch on its folder) was 'a run folder with no genotype.json,
    result.json or genotypes.json', as a wrong folder; a sweep at work said 'if it was stopped'. Their locks tell:
    at work, or stopped with the --resume that continues it (a sweep's search: the sweep's)."""
    from utils import lock_run_dir

    sweep = tmp_path / "multi-search-digits-x"
    search = sweep / "search-00-nu0.2"
    search.mkdir(parents=True)
    (sweep / "sweep.json").write_text("{}")
    with lock_run_dir(sweep), lock_run_dir(search):
        (search / "args.json").write_text(json.dumps({"kind": "search", "args": {}}))
        for folder, kind, missing in ((sweep, "sweep", "genotypes.json"), (search, "search", "genotype.json")):
            with pytest.raises(GenotypeError) as err:
                resolve_genotype(folder)
            assert str(err.value) == (f"{kind} folder {folder} has no {missing} yet: the {kind} writes it at its end "
                                      "(it is still running)")
    with pytest.raises(GenotypeError) as err:
        resolve_genotype(search)
    assert str(err.value) == (f"search folder {search} has no genotype.json yet: the search writes it at its end (it "
                              f"was stopped; python multiobjective.py --resume {sweep} continues it)")


def test_a_resumed_sweeps_old_genotypes_json_is_named_stale(tmp_path: Path, capsys) -> None:
    """A completed sweep resumed for more searches keeps its old genotypes.json until its new end: train.py logged it
    and batch_train.py trained it (visualize.py drew it) as the sweep's front without a word."""
    import batch_train
    import visualize
    from utils import lock_run_dir

    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "genotypes.json").write_text(json.dumps({"l2_loss_2e01": genotype_to_dict(PUBLISHED["PC_DARTS_cifar"])}))
    (sweep / "sweep.json").write_text(json.dumps({"complete": True}))
    spec = f"{sweep}:l2_loss_2e01"
    assert genotypes.resolve_genotype_source(spec).stale is None
    (sweep / "sweep.json").write_text(json.dumps({"complete": False}))
    resume = f"python multiobjective.py --resume {sweep}"
    assert genotypes.resolve_genotype_source(spec).stale == (
        f"{sweep / 'genotypes.json'} is the front of the sweep's earlier end; the sweep was resumed since and is "
        f"unfinished (if it was stopped, {resume} continues it)")  # no lock file: cannot tell which
    lock = lock_run_dir(sweep)
    resolved = genotypes.resolve_genotype_source(spec)
    assert resolved.stale.endswith("is still at work") and resolved.note.endswith(f"({resolved.stale})")
    lock.release()
    stale = genotypes.resolve_genotype_source(spec).stale
    assert stale.endswith(f"is stopped before its new end ({resume} continues it)")
    batch_train.expand_archs([str(sweep)])
    assert capsys.readouterr().out == f"note: {stale}: the genotypes trained may leave its front\n"
    visualize.expand(str(sweep))
    assert capsys.readouterr().out == f"note: {stale}: the cells drawn may leave its front\n"
    from tools import profile_genotypes

    assert [label for label, _ in profile_genotypes.expand_archs([str(sweep)])] == ["l2_loss_2e01"]
    assert capsys.readouterr().err == f"note: {stale}: the genotypes profiled may leave its front\n"


def _bad(data: object) -> str:
    with pytest.raises(GenotypeError) as err:
        genotype_from_dict(data)
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def test_malformed_genotypes_give_clear_errors() -> None:
    good = SPEC["DARTS_V2"]
    assert "normal" in _bad({"normal": good["normal"]})  # missing keys
    assert "normal" in _bad([1, 2, 3])
    assert "conv_9x9" in _bad({**good, "normal": [["conv_9x9", 0], *good["normal"][1:]]})
    # node 0 may read inputs 0 and 1 only
    assert "input" in _bad({**good, "normal": [["sep_conv_3x3", 2], *good["normal"][1:]]})
    assert "input" in _bad({**good, "reduce": [*good["reduce"][:7], ["skip_connect", -1]]})
    assert _bad({**good, "normal": good["normal"][:7]})  # odd number of entries: not two per node
    assert _bad({**good, "normal": [["sep_conv_3x3"], *good["normal"][1:]]})  # not a pair
    assert _bad({**good, "normal": [["sep_conv_3x3", "0"], *good["normal"][1:]]})  # input not an int
    assert "concat" in _bad({**good, "normal_concat": [2, 3, 4, 9]})
    assert "concat" in _bad({**good, "reduce_concat": []})


def test_malformed_json_files(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"normal": [["sep_conv_3x3", 0]')
    with pytest.raises(GenotypeError) as err:
        resolve_genotype(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"lr": 0.1}))
    with pytest.raises(GenotypeError) as err:
        resolve_genotype(other)
    assert "\n" not in str(err.value)
    bad_op = tmp_path / "bad_op.json"
    bad_op.write_text(json.dumps({**SPEC["DARTS_V2"], "reduce": [["maxpool", 0]] + SPEC["DARTS_V2"]["reduce"][1:]}))
    with pytest.raises(GenotypeError, match="maxpool"):
        resolve_genotype(bad_op)


def test_genotype_label() -> None:
    assert genotype_label("DARTS_V2") == "DARTS_V2"
    assert genotype_label(genotypes.PC_DARTS_cifar) == "PC_DARTS_cifar"
    assert genotype_label("runs/my_cell.json") == "my_cell"
    assert genotype_label("logs/search-EXP-1/result.json") == "search-EXP-1"  # a run's files: the run's name
    assert genotype_label("logs/search-EXP-1/genotype.json") == genotype_label("logs/search-EXP-1/log.txt")
    assert genotype_label("result.json") == "result"


def test_genotype_label_of_a_run_given_from_inside_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`cd logs/search-EXP-1 && train.py --arch ./result.json` (or `--arch .`) named the run eval-result-... (or by
    no name at all): the run folder's own name, as for logs/search-EXP-1/result.json."""
    run = tmp_path / "search-EXP-1"
    run.mkdir()
    for name in ("result.json", "genotype.json", "log.txt"):
        (run / name).write_text("{}")
    monkeypatch.chdir(run)
    for spec in (".", "./", "result.json", "./genotype.json", "log.txt", "../search-EXP-1/result.json"):
        assert genotype_label(spec) == "search-EXP-1", spec
    assert genotype_label("..") == tmp_path.name


# ------------------------------------------------------------------------- names in files, strict cells


def test_a_name_after_a_file_must_be_one_it_holds(tmp_path: Path) -> None:
    """single.json:nope once trained the file's only genotype (in eval-nope): a name that is not there is an error."""
    single = tmp_path / "single.json"
    save_genotype(genotypes.DARTS_V2, single)
    run = tmp_path / "search-EXP-20260101-000000"
    run.mkdir()
    save_genotype(genotypes.DARTS_V2, run / "genotype.json")
    (run / "log.txt").write_text("")
    (run / "result.json").write_text(json.dumps({"genotype": SPEC["DARTS_V2"]}))
    for spec in (f"{single}:nope", f"{run}:nope", f"{run}/result.json:nope", f"{run}/log.txt:nope"):
        with pytest.raises(GenotypeError) as err:
            resolve_genotype(spec)
        assert "'nope'" in str(err.value) and "unnamed" in str(err.value) and "\n" not in str(err.value), spec
    one = tmp_path / "one_entry.json"
    one.write_text(json.dumps({"only_cell": SPEC["DARTS_V2"]}))
    with pytest.raises(GenotypeError) as err:
        resolve_genotype(f"{one}:nope")
    assert str(err.value) == f"{one} has no genotype 'nope'; it holds: only_cell"
    assert resolve_genotype(f"{one}:only_cell") == resolve_genotype(one) == genotypes.DARTS_V2
    # a sweep folder: its genotypes.json, by name
    sweep = tmp_path / "multi-search-digits-EXP-20260101-000000"
    sweep.mkdir()
    (sweep / "genotypes.json").write_text(json.dumps({"l2_loss_2e01": SPEC["DARTS_V2"], "l2_loss_0": SPEC["NASNet"]}))
    assert resolve_genotype(f"{sweep}:l2_loss_0") == genotypes.NASNet
    with pytest.raises(GenotypeError, match="it holds: l2_loss_0, l2_loss_2e01$"):
        resolve_genotype(f"{sweep}:l2_loss_1")


_REST = SPEC["DARTS_V2"]["normal"][1:]


@pytest.mark.parametrize("change, message", [
    ({"normal_concat": [2.9, 3.2]}, "'normal_concat' [2.9, 3.2] must hold integer node indices, not 2.9"),
    ({"normal_concat": [2, None]}, "must hold integer node indices, not None"),
    ({"reduce_concat": [True, 3]}, "'reduce_concat' [True, 3] must hold integer node indices, not True"),
    ({"normal_concat": [[2, 3], 4]}, "must hold integer node indices, not [2, 3]"),
    ({"normal_concat": [2.0, 3.0]}, "not 2.0"),
    ({"normal_concat": "2345"}, "'normal_concat' must be a non-empty list"),
    ({"reduce_concat": None}, "'reduce_concat' must be a non-empty list"),
    ({"normal": [[["sep_conv_3x3"], 0], *_REST]}, "entry 0 names an unknown operation ['sep_conv_3x3']"),
    ({"normal": [[{"op": "sep_conv_3x3"}, 0], *_REST]}, "entry 0 names an unknown operation"),
    ({"normal": [[0, "sep_conv_3x3"], *_REST]}, "entry 0 names an unknown operation 0"),
    ({"normal": [[["sep_conv_3x3", 0]], *_REST]}, "entry 0 is not an (op, input) pair"),
    ({"normal": [["sep_conv_3x3", 0, 1], *_REST]}, "entry 0 is not an (op, input) pair"),
    ({"normal": [["sep_conv_3x3", 1.0], *_REST]}, "entry 0 has input 1.0"),
    ({"normal": [["sep_conv_3x3", None], *_REST]}, "entry 0 has input None"),
    ({"normal": [[*_REST]]}, "must be a non-empty list of (op, input) pairs, two per node"),
    ({"reduce": {"node0": [["max_pool_3x3", 0]]}}, "'reduce' must be a non-empty list"),
    ({"normal_concat": [2, 3, 3, 5]}, "'normal_concat' [2, 3, 3, 5] names a node more than once"),
    ({"reduce_contact": [2, 3, 4, 5]}, "reduce_concat, not reduce_contact"),
])
def test_bad_specs_are_one_line_errors_never_silently_changed(tmp_path: Path, change: dict, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**SPEC["DARTS_V2"], **change}))
    with pytest.raises(GenotypeError) as err:
        resolve_genotype(path)
    assert message in str(err.value) and "\n" not in str(err.value)
    named = tmp_path / "named.json"
    named.write_text(json.dumps({"good": SPEC["DARTS_V2"], "bad": {**SPEC["DARTS_V2"], **change}}))
    with pytest.raises(GenotypeError, match=f"^{re.escape(str(named))}:bad: "):
        resolve_genotype(f"{named}:bad")


def test_a_mis_keyed_entry_hides_no_other_and_is_named(tmp_path: Path) -> None:
    """A hand-edited genotypes.json with one entry's key renamed: the other entries still resolve, and
    reading the bad one (by name, or the file's only entry) says which entry and which key is missing."""
    bad = {**{k: v for k, v in SPEC["NASNet"].items() if k != "normal"}, "normal_cells": SPEC["NASNet"]["normal"]}
    for content in ({"good": SPEC["DARTS_V2"], "bad": bad}, {"genotypes": {"good": SPEC["DARTS_V2"], "bad": bad}}):
        path = tmp_path / "genotypes.json"
        path.write_text(json.dumps(content))
        assert resolve_genotype(f"{path}:good") == genotypes.DARTS_V2
        with pytest.raises(GenotypeError) as err:
            resolve_genotype(f"{path}:bad")
        assert str(err.value) == (f"{path}:bad: a genotype needs the keys normal, normal_concat, reduce and "
                                  "reduce_concat (missing normal)")
    only = tmp_path / "only.json"
    only.write_text(json.dumps({"bad": bad}))
    with pytest.raises(GenotypeError, match=f"^{re.escape(str(only))}:bad: .*missing normal"):
        resolve_genotype(only)
    assert genotypes.genotype_mapping(bad) is None and genotypes.genotype_mapping({"lr": 0.1}) is None
    assert genotypes.genotype_mapping({"genotype": SPEC["DARTS_V2"], "x": {}}) is None  # a result.json


# ------------------------------------------------------------------------- Genotype(...) strings


def log_string(g: Genotype) -> str:
    """How DARTS, PC-DARTS and train_search.py print a genotype: tuples, and range(2, 6) concats."""
    return repr(Genotype(normal=[tuple(p) for p in g.normal], normal_concat=range(2, 6),
                         reduce=[tuple(p) for p in g.reduce], reduce_concat=range(2, 6)))


def test_a_pasted_genotype_string_is_read_without_eval() -> None:
    text = log_string(genotypes.DARTS_V2)
    assert text.startswith("Genotype(normal=[('sep_conv_3x3', 0), ") and "normal_concat=range(2, 6)" in text
    assert len(text) > 255  # too long for a file name: it once gave OSError: File name too long
    assert resolve_genotype(text) == genotypes.DARTS_V2
    assert genotype_label(text) == "DARTS_V2"
    assert resolve_genotype(f"genotype = {text}") == genotypes.DARTS_V2  # as the search log line has it
    assert resolve_genotype(f"genotypes.{text}") == genotypes.DARTS_V2
    listed = text.replace("range(2, 6)", "[2, 3, 4, 5]")
    assert resolve_genotype(listed) == genotypes.DARTS_V2
    g = genotypes.PC_DARTS_cifar
    positional = f"Genotype({[list(p) for p in g.normal]}, [2, 3, 4, 5], {g.reduce}, range(2, 6))"
    assert resolve_genotype(positional) == g
    custom = text.replace("'dil_conv_3x3', 2", "'dil_conv_5x5', 2")
    assert genotype_label(custom) == "custom" and resolve_genotype(custom).normal[7] == ("dil_conv_5x5", 2)
    assert "Genotype(...) string" in genotypes.resolve_genotype_source(text).source


@pytest.mark.parametrize("replace, message", [
    (("[('sep_conv_3x3', 0), ", "__import__('os').system('touch PWNED') or [('sep_conv_3x3', 0), "), "found"),
    (("normal_concat=range(2, 6)", "normal_concat=list(range(2, 6))"), "found 'list(range(2, 6))'"),
    (("normal_concat=range(2, 6)", "normal_concat=range(2, 10 ** 9)"), "found '10 ** 9'"),
    (("normal_concat=range(2, 6)", "normal_concat=range(2, 1000000000)"), "found 'range(2, 1000000000)'"),
    (("normal_concat=range(2, 6)", "normal_concat=range(2, 6), extra=1"), "extra= is unknown or given twice"),
    (("normal_concat=range(2, 6)", "normal_concat=range(2, 6), normal=[]"), "normal= is unknown or given twice"),
    (("normal_concat=range(2, 6)", "**{'normal_concat': [2, 3, 4, 5]}"), "as name=value, not **{...}"),
    (("('sep_conv_3x3', 0)", "('sep_conv_3x3', 0.0)"), "found '0.0'"),
    (("('sep_conv_3x3', 0)", "(PRIMITIVES[4], 0)"), "found 'PRIMITIVES[4]'"),
    (("reduce_concat=range(2, 6))", "reduce_concat=range(2, 6)).normal"), "not a Genotype(...) string"),
    (("reduce_concat=range(2, 6))", "reduce_concat=range(2, 6)"), "not a readable Genotype(...) string"),
    (("normal_concat=range(2, 6)", "normal_concat=range(2, 6.5)"), "found '6.5'"),
    (("normal_concat=range(2, 6)", "normal_concat=range(2, 9)"), "'normal_concat' [2, 3, 4, 5, 6, 7, 8]"),
    # a ValueError, an OverflowError and RecursionErrors were tracebacks
    (("normal_concat=range(2, 6)", "normal_concat=range(2, 6, 0)"), "found 'range(2, 6, 0)'"),
    (("normal_concat=range(2, 6)", f"normal_concat=range(2, {10 ** 30})"), "found 'range(2, 1000000000000"),
    (("normal_concat=range(2, 6)", "normal_concat=" + "+".join(["1"] * 700)), "found an expression nested too deeply"),
    (("normal_concat=range(2, 6)", "normal_concat=" + "+".join(["1"] * 100_000)), "string: nested too deeply"),
])
def test_a_genotype_string_may_hold_data_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              replace: tuple[str, str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    text = log_string(genotypes.DARTS_V2)
    assert replace[0] in text
    bad = text.replace(replace[0], replace[1], 1)
    with pytest.raises(GenotypeError) as err:
        resolve_genotype(bad)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "PWNED").exists()


# ------------------------------------------------------------------------- where a genotype came from


def test_the_source_says_where_a_genotype_came_from(tmp_path: Path) -> None:
    """A sweep names its cells as the thesis did: a bare name is the published one, and the note says so."""
    published = genotypes.resolve_genotype_source("l2_loss_2e01")
    assert published.genotype is genotypes.l2_loss_2e01 and published.published == "l2_loss_2e01"
    assert published.note == ("published genotype l2_loss_2e01 from genotypes.py; to train a sweep's genotype "
                              "of that name use --arch SWEEP/genotypes.json:l2_loss_2e01")
    assert genotypes.resolve_genotype_source("DARTS_V2").note == "published genotype DARTS_V2 from genotypes.py"
    sweep = tmp_path / "multi-search-digits-EXP-20260101-000000"
    sweep.mkdir()
    (sweep / "genotypes.json").write_text(json.dumps({"l2_loss_2e01": SPEC["DARTS_V2"]}))
    for spec in (f"{sweep}/genotypes.json:l2_loss_2e01", f"{sweep}:l2_loss_2e01"):
        ours = genotypes.resolve_genotype_source(spec)
        assert ours.genotype == genotypes.DARTS_V2 and ours.published is None
        assert ours.source == ours.note == f"{(sweep / 'genotypes.json').absolute()}:l2_loss_2e01"
    save_genotype(genotypes.NASNet, tmp_path / "g.json")
    assert genotypes.resolve_genotype_source(tmp_path / "g.json").source == str((tmp_path / "g.json").absolute())
    assert genotypes.resolve_genotype(genotypes.NASNet) is genotypes.NASNet  # existing callers unchanged


# ------------------------------------------------------------------------- files json itself cannot take


def _duplicated(key: str) -> str:
    """A genotypes.json holding `key` twice, the second time with other cells (json keeps the last one)."""
    first, second = json.dumps(SPEC["DARTS_V2"]), json.dumps(SPEC["PC_DARTS_cifar"])
    return f'{{"{key}": {first}, "other": {first}, "{key}": {second}}}'


@pytest.mark.parametrize("text, message", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"normal_concat": [' + "1" * 5000 + "]}", "digits"),
    (json.dumps(SPEC["DARTS_V2"])[:-1] + ', "normal": []}', "'normal' is given twice"),
    (_duplicated("a"), "'a' is given twice"),
])
def test_a_file_json_cannot_take_is_one_line_naming_it(tmp_path: Path, text: str, message: str) -> None:
    """Deep nesting was a RecursionError traceback, a long integer a ValueError naming no file, and a key given twice
    (a hand-edited genotype, two entries of one name) silently built the last one's cells."""
    import batch_train
    import visualize
    from tools import profile_genotypes
    from utils import UserError

    path = tmp_path / "genotypes.json"
    path.write_text(text)
    for spec in (str(path), f"{path}:a"):
        with pytest.raises(GenotypeError) as err:
            resolve_genotype(spec)
        assert message in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(GenotypeError, match=message):
        batch_train.expand_archs([str(path)])
    with pytest.raises(ValueError, match=message):
        profile_genotypes.expand_archs([str(path)])
    with pytest.raises(UserError, match=message):
        visualize.expand(str(path))


def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--arch /dev/zero (or a data set given by mistake) read forever into memory; a pipe still works."""
    monkeypatch.setattr(genotypes, "MAX_GENOTYPE_FILE_BYTES", 4096)
    path = tmp_path / "big.json"
    save_genotype(genotypes.DARTS_V2, path)
    assert resolve_genotype(path) == genotypes.DARTS_V2
    path.write_text(" " * 5000 + json.dumps(SPEC["DARTS_V2"]))
    with pytest.raises(GenotypeError, match="far more than any genotype file holds"):
        resolve_genotype(path)
    with pytest.raises(GenotypeError, match="/dev/zero: over"):
        resolve_genotype("/dev/zero")


def test_a_reduction_cell_cannot_concatenate_its_inputs() -> None:
    """Inputs 0 and 1 of a reduction cell keep the size before it: reduce_concat [0, 2, 3] passed, then failed at the
    first forward pass with a RuntimeError traceback (after train.py had made its run folder). A normal cell's input
    has the nodes' size, and still builds and runs."""
    import torch

    from model import NetworkCIFAR

    with pytest.raises(GenotypeError, match=r"'reduce_concat' \[0, 2, 3\] has indices outside 2\.\.5"):
        genotype_from_dict({**SPEC["DARTS_V2"], "reduce_concat": [0, 2, 3]})
    normal_input = genotype_from_dict({**SPEC["DARTS_V2"], "normal_concat": [0, 2, 3]})
    logits, _ = NetworkCIFAR(4, 10, 3, False, normal_input)(torch.zeros(1, 3, 8, 8))
    assert logits.shape == (1, 10)
