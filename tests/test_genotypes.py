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
    genotype_from_json,
    genotype_label,
    genotype_to_dict,
    genotype_to_json,
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
    back = genotype_from_json(genotype_to_json(g))
    assert back == g
    assert same_cells(back, g)
    assert json.loads(genotype_to_json(g)) == SPEC[name]
    save_genotype(g, tmp_path / "g.json")
    assert resolve_genotype(tmp_path / "g.json") == g


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


def test_missing_file_or_folder(tmp_path: Path) -> None:
    for spec in (str(tmp_path / "nope.json"), str(tmp_path / "no_such_run")):
        with pytest.raises(GenotypeError) as err:
            resolve_genotype(spec)
        assert "\n" not in str(err.value)


def test_run_folder_without_genotype(tmp_path: Path) -> None:
    with pytest.raises(GenotypeError) as err:
        resolve_genotype(tmp_path)
    assert str(tmp_path) in str(err.value) and "\n" not in str(err.value)


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


def test_malformed_json_text_and_files(tmp_path: Path) -> None:
    with pytest.raises(GenotypeError) as err:
        genotype_from_json("{not json")
    assert "\n" not in str(err.value)
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
