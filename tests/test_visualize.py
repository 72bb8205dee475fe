"""visualize.py: the drawn cells match their genotypes, the layout is clean, and every --arch form writes its files."""

from __future__ import annotations

import errno
import json
import logging
from collections import Counter
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

import visualize
from genotypes import PUBLISHED, genotype_to_dict, save_genotype
from utils import run_main

CELLS = {"normal": ("normal", "normal_concat"), "reduction": ("reduce", "reduce_concat")}


def run(argv: list[str]) -> int:
    return run_main(visualize.main, visualize.build_parser().parse_args(argv))


def expected_edges(edges: list, concat: list) -> Counter:
    return Counter([f"{i}->{2 + k // 2}" for k, (_, i) in enumerate(edges)] + [f"{c}->out" for c in concat])


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_every_published_genotype_is_drawn_as_it_is(name: str) -> None:
    genotype = PUBLISHED[name]
    figures = visualize.genotype_figures(genotype, name)
    assert set(figures) == {"normal", "reduction"}
    for cell, fig in figures.items():
        edges, concat = getattr(genotype, CELLS[cell][0]), list(getattr(genotype, CELLS[cell][1]))
        (ax,) = fig.axes
        boxes = [a for a in ax.get_children() if str(a.get_gid()).startswith(("input:", "node:", "output"))]
        assert sorted(a.get_gid() for a in boxes) == sorted(
            ["input:0", "input:1", "output"] + [f"node:{j}" for j in range(len(edges) // 2)])
        labels = [t for t in ax.texts if str(t.get_gid()).startswith("op:")]
        assert sorted(t.get_text() for t in labels) == sorted(op for op, _ in edges)
        assert Counter(t.get_gid().split(":", 2)[2] for t in labels) == expected_edges(edges, [])
        assert all(t.get_gid() == f"op:{t.get_text()}:{t.get_gid().split(':', 2)[2]}" for t in labels)
        arrows = [a.get_gid()[5:] for a in ax.get_children() if str(a.get_gid()).startswith("edge:")]
        assert Counter(arrows) == expected_edges(edges, concat)
        assert fig.texts[-1].get_text() == f"{name}: {cell} cell"
        # readable: no label covers another label or a box
        renderer = fig.canvas.get_renderer()
        label_boxes = [t.get_window_extent(renderer) for t in labels]
        node_boxes = [b.get_window_extent(renderer) for b in boxes]
        for k, a in enumerate(label_boxes):
            assert not any(a.overlaps(b) for b in label_boxes[k + 1:] + node_boxes), (cell, labels[k].get_gid())
        plt.close(fig)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_no_edge_runs_through_a_box(name: str) -> None:
    genotype = PUBLISHED[name]
    for edges_key, concat_key in CELLS.values():
        lay = visualize.layout_cell(getattr(genotype, edges_key), getattr(genotype, concat_key))
        half_w, half_h = visualize.BOX_W / 2 - 0.02, visualize.BOX_H / 2 - 0.02
        for e, (src, dst, _, _) in enumerate(lay.edges):
            points = np.concatenate([curve(np.linspace(0, 1, 25)) for curve, _ in
                                     visualize._edge_path(lay, e).iter_bezier()])
            for v in set(range(lay.n_nodes)) - {src, dst}:
                cx, cy = lay.x[lay.layer_of[v]], lay.y[v]
                inside = (np.abs(points[:, 0] - cx) < half_w) & (np.abs(points[:, 1] - cy) < half_h)
                assert not inside.any(), f"{edges_key}: edge {src}->{dst} crosses box {v}"


def test_a_name_writes_png_and_pdf_into_cells_of_the_current_folder(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(["DARTS_V2"]) == 0
    for cell in ("normal", "reduction"):
        assert (tmp_path / "cells" / f"DARTS_V2_{cell}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (tmp_path / "cells" / f"DARTS_V2_{cell}.pdf").read_bytes()[:5] == b"%PDF-"
    assert len(list((tmp_path / "cells").iterdir())) == 4


def test_all_writes_every_published_genotype(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = []

    def blank(edges, concat, title=None):  # the drawing itself is checked above; here, what gets written
        drawn.append((list(edges), list(concat), title))
        return plt.figure(figsize=(0.5, 0.5))

    monkeypatch.setattr(visualize, "cell_figure", blank)
    out = tmp_path / "all"
    assert run(["all", "-o", f"{out}/", "-f", "png", "svg"]) == 0
    expected = {f"{n}_{c}.{ext}" for n in PUBLISHED for c in ("normal", "reduction") for ext in ("png", "svg")}
    assert {p.name for p in out.iterdir()} == expected
    assert len(drawn) == 2 * len(PUBLISHED)
    assert (list(PUBLISHED["NASNet"].reduce), list(PUBLISHED["NASNet"].reduce_concat),
            "NASNet: reduction cell") in drawn


def test_file_name_and_run_folder_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "genotypes.json").write_text(json.dumps({"l2_loss_2e01": genotype_to_dict(PUBLISHED["DARTS_V1"]),
                                                      "l2_loss_1e02": genotype_to_dict(PUBLISHED["NASNet"])}))
    assert run([f"{sweep}/genotypes.json:l2_loss_1e02", "-f", "png"]) == 0
    assert sorted(p.name for p in (sweep / "cells").iterdir()) == ["l2_loss_1e02_normal.png",
                                                                   "l2_loss_1e02_reduction.png"]
    (sweep / "log.txt").write_text("")
    for given in (sweep, sweep / "log.txt"):  # a sweep folder, or its log: all its genotypes
        assert run([str(given), "-o", str(tmp_path / "front"), "-f", "png"]) == 0
    assert {p.name for p in tmp_path.glob("front_*")} == {
        f"front_{n}_{c}.png" for n in ("l2_loss_2e01", "l2_loss_1e02") for c in ("normal", "reduction")}
    folder = tmp_path / "eval-run"
    folder.mkdir()
    save_genotype(PUBLISHED["PC_DARTS_cifar"], folder / "genotype.json")
    assert run([str(folder), "-o", str(tmp_path / "one.png"), "-f", "png"]) == 0
    assert (tmp_path / "one_normal.png").is_file() and (tmp_path / "one_reduction.png").is_file()
    assert run([str(folder / "genotype.json"), "-f", "pdf"]) == 0
    assert sorted(p.name for p in (folder / "cells").iterdir()) == ["eval-run_normal.pdf", "eval-run_reduction.pdf"]


def test_without_o_a_run_folder_gets_its_own_cells(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The default place, cells/ of the run folder, is written; -o elsewhere in a run folder is still refused."""
    sweep = tmp_path / "multi-search-digits-EXP-1"
    search = sweep / "search-00-nu0.2"
    train = tmp_path / "eval-EXP-1"
    for folder, kind in ((sweep, "sweep"), (search, "search"), (train, "train")):
        folder.mkdir(parents=True)
        (folder / "args.json").write_text(json.dumps({"kind": kind, "args": {"set": "digits"}}))
    (sweep / "sweep.json").write_text(json.dumps({"objective": "l2", "searches": [], "pareto": []}))
    (sweep / "genotypes.json").write_text(json.dumps({"l2_loss_2e01": genotype_to_dict(PUBLISHED["DARTS_V1"])}))
    save_genotype(PUBLISHED["DARTS_V1"], search / "genotype.json")
    save_genotype(PUBLISHED["DARTS_V2"], train / "genotype.json")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    for given in (sweep, f"{sweep}/genotypes.json:l2_loss_2e01", search, train, train / "genotype.json"):
        assert run([str(given), "-f", "png"]) == 0, capsys.readouterr().err
    assert sorted(p.name for p in (sweep / "cells").iterdir()) == ["l2_loss_2e01_normal.png",
                                                                   "l2_loss_2e01_reduction.png"]
    assert sorted(p.name for p in (search / "cells").iterdir()) == ["search-00-nu0.2_normal.png",
                                                                    "search-00-nu0.2_reduction.png"]
    assert sorted(p.name for p in (train / "cells").iterdir()) == ["eval-EXP-1_normal.png", "eval-EXP-1_reduction.png"]
    assert all(p.read_bytes() == data for p, data in before.items())  # the run's own files as they were
    capsys.readouterr()
    assert run([str(train), "-o", str(train / "mine"), "-f", "png"]) == 2
    assert "inside a training run folder" in capsys.readouterr().err and not list(train.glob("mine*"))
    (train / "cells" / "eval-EXP-1_normal.pdf").mkdir()  # a refusal without -o does not name -o
    assert run([str(train), "-f", "pdf"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: default output ") and "is a folder" in err and " -o " not in err


@pytest.mark.parametrize("argv, message", [
    (["DARTS_v2"], "closest: DARTS_V2"),
    (["DARTS_V2", "nowhere/genotypes.json"], "does not exist"),
    (["{tmp}/sweep/genotypes.json:l2_loss_9e09"], "closest: l2_loss_2e01"),
])
def test_bad_names_are_one_line_and_write_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture, argv: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "genotypes.json").write_text(json.dumps({"l2_loss_2e01": genotype_to_dict(
        PUBLISHED["DARTS_V1"])}))
    assert run([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert not list(tmp_path.rglob("*.png")) and not list(tmp_path.rglob("*.pdf"))


def test_a_mis_keyed_entry_of_a_genotypes_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """visualize FILE draws every entry: a renamed key in one is that entry's error, not 'pick one with FILE:NAME'."""
    bad = genotype_to_dict(PUBLISHED["NASNet"])
    bad["normal_cells"] = bad.pop("normal")
    path = tmp_path / "genotypes.json"
    path.write_text(json.dumps({"good": genotype_to_dict(PUBLISHED["DARTS_V2"]), "bad": bad}))
    assert run([str(path), "-o", f"{tmp_path}/out/"]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {path}: genotype bad: a genotype needs the keys normal, normal_concat, reduce and " \
                  "reduce_concat (missing normal)\n"
    assert not (tmp_path / "out").exists()
    assert run([f"{path}:good", "-o", f"{tmp_path}/out/", "-f", "png"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good_normal.png", "good_reduction.png"]


def test_outputs_never_overwrite_an_input(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = tmp_path / "g_normal.png"  # a genotype file under a name an output would take
    save_genotype(PUBLISHED["DARTS_V2"], source)
    before = source.read_bytes()
    assert run([str(source), "-o", str(tmp_path / "g"), "-f", "png"]) == 2
    assert "also an input" in capsys.readouterr().err
    assert source.read_bytes() == before and not (tmp_path / "g_reduction.png").exists()


def test_two_genotypes_under_one_name_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for where, genotype in (("a", "DARTS_V1"), ("b", "DARTS_V2")):
        (tmp_path / where / "run").mkdir(parents=True)
        save_genotype(PUBLISHED[genotype], tmp_path / where / "run" / "genotype.json")
    assert run([str(tmp_path / "a" / "run"), str(tmp_path / "b" / "run"), "-o", f"{tmp_path}/out/"]) == 2
    assert "two different genotypes named run" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_sweep_cells_are_written_and_a_failure_is_only_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "cells"
    folder.mkdir()
    (folder / "l2_loss_5e01_normal.png").write_bytes(b"old")  # a name no longer on the front
    (folder / "l2_loss_5e01_reduction.pdf").write_bytes(b"old")  # ... whose PDF visualize.py SWEEP wrote
    (folder / "notes_normal.txt").write_text("the user's")  # not a diagram: kept
    genotypes = {"l2_loss_2e01": genotype_to_dict(PUBLISHED["l2_loss_2e01"]),
                 "l2_loss_1e04": genotype_to_dict(PUBLISHED["DARTS_V2"]),
                 "l2_loss_bad": {"normal": [["sep_conv_3x3", 7]], "normal_concat": [2]}}
    logger = logging.getLogger("test_visualize")
    with caplog.at_level(logging.WARNING, logger="test_visualize"):
        written = visualize.write_sweep_cells(genotypes, folder, logger)
    assert sorted(p.name for p in written) == sorted(p.name for p in folder.iterdir() if p.suffix != ".txt") == [
        "l2_loss_1e04_normal.png", "l2_loss_1e04_reduction.png", "l2_loss_2e01_normal.png",
        "l2_loss_2e01_reduction.png"]
    assert (folder / "notes_normal.txt").is_file()
    assert any("l2_loss_bad" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)

    def broken(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(visualize, "write_cells", broken)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="test_visualize"):
        assert visualize.write_sweep_cells(genotypes, folder, logger) == []
    assert sum("No space left" in r.getMessage() for r in caplog.records) == 2


def test_write_cells_frees_both_figures_when_a_file_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sweep draws on after a failed diagram (a full disk): the cell not reached must not stay open, one
    figure per genotype, for the rest of the process; and formats given as a generator serve both cells."""
    open_before = set(plt.get_fignums())
    assert [p.name for p in visualize.write_cells(PUBLISHED["DARTS_V2"], tmp_path / "g", (f for f in ["png"]))] == [
        "g_normal.png", "g_reduction.png"]

    def full(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(plt.Figure, "savefig", full)
    with pytest.raises(OSError):
        visualize.write_cells(PUBLISHED["DARTS_V2"], tmp_path / "h", ["png"])
    assert set(plt.get_fignums()) == open_before


@pytest.mark.parametrize("ext", ["png", "pdf", "svg"])
def test_a_diagram_the_disk_cannot_take_leaves_the_old_one_whole(tmp_path: Path, ext: str, disk_fills) -> None:
    """write_cells wrote in place: a full disk left a re-drawn diagram truncated (the older one lost), its error
    naming no file; the old file now stays whole, no temp file is left and the error names the file."""
    written = visualize.write_cells(PUBLISHED["DARTS_V2"], tmp_path / "g", [ext])
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    open_before = set(plt.get_fignums())
    disk_fills(1000)
    with pytest.raises(OSError) as caught:
        visualize.write_cells(PUBLISHED["DARTS_V2"], tmp_path / "g", [ext])
    assert (caught.value.errno, caught.value.filename) == (errno.ENOSPC, str(written[0]))
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert set(plt.get_fignums()) == open_before


def test_a_genotypes_file_with_none_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """{"genotypes": {}} drew nothing, printed nothing and exited 0."""
    path = tmp_path / "genotypes.json"
    path.write_text(json.dumps({"genotypes": {}}))
    assert run([str(path), "-o", f"{tmp_path}/out/"]) == 2
    assert capsys.readouterr().err == f"error: {path} holds no genotypes: nothing to draw\n"
    assert not (tmp_path / "out").exists()


def test_a_node_left_out_of_concat_deeper_than_the_concat_nodes_is_drawn() -> None:
    # train.py builds such a hand-written cell (node 3 computed, its output unused); the output box was put one
    # layer right of the deepest concat node, left of node 3's layer, and the layout failed with an IndexError
    chain = [("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 2), ("skip_connect", 0),
             ("sep_conv_3x3", 3), ("dil_conv_3x3", 1), ("sep_conv_3x3", 4), ("max_pool_3x3", 0)]
    for concat in ([2], [0, 1]):
        lay = visualize.layout_cell(chain, concat)
        out = lay.n_nodes - 1
        assert lay.layer_of[out] == max(lay.layer_of[v] for v in range(out)) + 1  # c_{k} right of every node
        fig = visualize.cell_figure(chain, concat)
        arrows = [a.get_gid()[5:] for a in fig.axes[0].get_children() if str(a.get_gid()).startswith("edge:")]
        assert Counter(arrows) == expected_edges(chain, concat)
        plt.close(fig)


def test_a_name_that_passes_to_another_genotype_loses_its_old_pdf(tmp_path: Path) -> None:
    # a resumed sweep can give a name to another search's genotype; the sweep redrew the PNG but kept the PDF that
    # visualize.py SWEEP had drawn of the old genotype, under the same name
    folder = tmp_path / "cells"
    old, new = genotype_to_dict(PUBLISHED["DARTS_V2"]), genotype_to_dict(PUBLISHED["DARTS_V1"])
    new["normal"] = old["normal"]  # only the reduction cell differs
    visualize.write_sweep_cells({"l2_loss_1e04": old}, folder)
    visualize.write_cells(PUBLISHED["DARTS_V2"], folder / "l2_loss_1e04", ["pdf"], name="l2_loss_1e04")
    visualize.write_sweep_cells({"l2_loss_1e04": old}, folder)  # the same front again: its PDFs are kept
    assert sorted(p.name for p in folder.glob("*.pdf")) == ["l2_loss_1e04_normal.pdf", "l2_loss_1e04_reduction.pdf"]
    visualize.write_sweep_cells({"l2_loss_1e04": new}, folder)
    assert sorted(p.name for p in folder.glob("*.pdf")) == ["l2_loss_1e04_normal.pdf"]
    assert sorted(p.name for p in folder.glob("*.png")) == ["l2_loss_1e04_normal.png", "l2_loss_1e04_reduction.png"]


def test_a_published_name_drawn_in_a_run_folder_is_refused_without_o(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture) -> None:
    """cells/ of the current folder is the run folder's own only for its own genotypes: a published name drawn
    from inside a sweep put DARTS_V2's cells among the sweep's front's; the sweep's own '.' is still drawn."""
    sweep = tmp_path / "multi-search-digits-EXP-1"
    sweep.mkdir()
    (sweep / "args.json").write_text(json.dumps({"kind": "sweep", "args": {"set": "digits"}}))
    (sweep / "sweep.json").write_text(json.dumps({"objective": "l2", "searches": [], "pareto": []}))
    (sweep / "genotypes.json").write_text(json.dumps({"l2_loss_2e01": genotype_to_dict(PUBLISHED["DARTS_V1"])}))
    monkeypatch.chdir(sweep)
    assert run(["DARTS_V2", "-f", "png"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: default output cells/DARTS_V2_normal.png is inside a sweep run folder")
    assert not (sweep / "cells").exists()
    assert run([".", "-f", "png"]) == 0
    assert sorted(p.name for p in (sweep / "cells").iterdir()) == ["l2_loss_2e01_normal.png",
                                                                   "l2_loss_2e01_reduction.png"]
