"""The parity check of bench/speed.py --parity: the fast path against the faithful one, same seed, same batches.

The steps come from the caller (``build(kind, levers, seed)``: bench/speed.py's, which are the scripts'
own builders), so this module only feeds them identical batches and compares the losses, the alphas
and the genotypes, against bounds that ``Tolerance`` explains.
"""

from __future__ import annotations

import statistics
import sys
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch

import data as datalib
import fastpath
from bench.timing import Budget, cleanup, error_record, log, short
from genotypes import Genotype

Build = Callable[[str, frozenset, int], Any]  # (kind "search" | "eval", levers, seed) -> a built step


@dataclass
class Tolerance:
    """Parity bounds (relative loss differences).

    ``step``: the first two losses (the same initial weights, then after one update) test that the fast
    path computes the same function before chaos amplifies rounding (about tenfold per step here).
    ``trajectory``: the mean of the last five losses; SGD at lr 0.1 amplifies any rounding difference,
    so this bound is set well inside the spread that another init seed gives (seed_spread).
    """

    step_fp32: float = 2e-3
    step_bf16: float = 3e-2
    trajectory: float = 5e-2

    def why(self) -> str:
        return ("step: fp32 levers only reorder sums (cuDNN's TF32 convolutions and other algorithms change "
                "rounding at 1e-4..1e-3), bf16 keeps 8 mantissa bits (0.4% per op, partly averaging out); "
                "trajectory: after N SGD steps the rounding has grown chaotically, so the last-5 mean is "
                "compared with a bound far inside the change another init seed gives (seed_spread). The "
                "genotype is reported, not required: after 20 steps the alphas have moved by about 1e-2 and "
                "near-ties decide several edges")


def _parity_data(cfg: Any, device: torch.device, image_size: int, batch: int, n: int,
                 held_out: bool) -> list[tuple[torch.Tensor, ...]]:
    """n (train, held-out) batches of learnable synthetic images through the DeviceLoader (crop, flip)."""
    num = max(10 * batch, 2000)
    x, y, _, _ = datalib.make_synthetic(num, 10, 10, image_size, seed=cfg.seed)
    mean = tuple(float(v) for v in x.double().div(255).mean(dim=(0, 2, 3)))
    std = tuple(float(v) for v in x.double().div(255).std(dim=(0, 2, 3)))
    ds = datalib.TensorImageDataset(x, y, mean=mean, std=std, augment=True)
    loader = datalib.DeviceLoader(ds, torch.arange(num), batch, shuffle=True, seed=cfg.seed, device=device,
                                  drop_last=True)
    out: list[tuple[torch.Tensor, ...]] = []
    epoch = 0
    while len(out) < n:
        loader.set_epoch(epoch)
        for xb, yb in loader:
            out.append((xb, yb, *loader.sample_batch()) if held_out else (xb, yb))
            if len(out) == n:
                break
        epoch += 1
    return out


def _parity_run(kind: str, cfg: Any, levers: frozenset[str], device: torch.device, build: Build,
                batches: list[tuple[torch.Tensor, ...]], seed: int) -> dict[str, Any]:
    step = build(kind, levers, seed)
    call: Callable[..., torch.Tensor] = step.fn
    if "cuda_graphs" in levers:
        snap = fastpath.Snapshot(step.model, step.optimizers, [step.sums])
        call = fastpath.GraphedStep(step.fn, batches[0], warmup=cfg.graph_warmup, after_capture=snap.restore)
    curve = torch.stack([call(*b).detach().float().clone() for b in batches]).tolist()
    out: dict[str, Any] = {"levers": sorted(levers), "final_loss": curve[-1],
                           "last5_mean": statistics.fmean(curve[-5:]), "losses": [round(v, 6) for v in curve]}
    if kind == "search":
        out["_alphas"] = torch.cat([p.detach().float().flatten() for p in step.model.arch_parameters()]).cpu()
        out["_genotype"] = step.model.genotype()
    del step, call
    cleanup(device)
    return out


def _genotype_edges_differ(a: Genotype, b: Genotype) -> int:
    return sum(x != y for x, y in zip(a.normal + a.reduce, b.normal + b.reduce))


def _parity_runs(kind: str, fast: frozenset[str], device: torch.device, spread: bool) -> dict[str, frozenset[str]]:
    """The runs of one parity section: faithful, the fast path without bf16, the fast path, another seed."""
    if device.type != "cuda":
        fast = fast - {"cuda_graphs"}
    if kind == "eval":
        fast = fast - {"fused"}
    runs: dict[str, frozenset[str]] = {"faithful": frozenset()}
    if fast - {"bf16"} and "bf16" in fast:
        runs["fast_fp32"] = fast - {"bf16"}
    if fast:
        runs["fast"] = fast
    if spread:
        runs["faithful_seed+1"] = frozenset()
    return runs


def parity(cfg: Any, device: torch.device, levers: dict[str, frozenset[str]], budget: Budget,
           spread: bool, tol: Tolerance, build: Build) -> dict[str, Any]:
    """Faithful vs the fast path without bf16 vs the whole fast path, same seed and same batches.

    ``levers`` maps "search" and "eval" to the fast path's levers (the fastest working set of the timings);
    ``build(kind, levers, seed)`` builds a step as bench/speed.py times it (the scripts' builders).
    """
    result: dict[str, Any] = {
        "steps": cfg.parity_steps,
        "search_config": {"C": cfg.search_channels, "layers": cfg.search_layers, "batch": cfg.search_batch,
                          "image_size": cfg.image_size, "arch_step_every_step": True},
        "eval_config": {"C": cfg.eval_channels, "layers": cfg.eval_layers, "batch": cfg.eval_batch,
                        "drop_path_prob": cfg.parity_drop_path},
        "data": "learnable synthetic images (data.make_synthetic) through the DeviceLoader, the same batches "
                "for every variant",
        "tolerance": {**asdict(tol), "why": tol.why()},
    }
    for kind in ("search", "eval"):
        held_out = kind == "search"
        section: dict[str, Any] = {}
        result[kind] = section
        try:
            batches = _parity_data(cfg, device, cfg.image_size if held_out else cfg.eval_image_size,
                                   cfg.search_batch if held_out else cfg.eval_batch, cfg.parity_steps, held_out)
        except Exception as e:  # noqa: BLE001
            traceback.print_exc(limit=4, file=sys.stderr)
            section["error"] = error_record(e)["error"]
            continue
        for name, run_levers in _parity_runs(kind, levers.get(kind, frozenset()), device, spread).items():
            if budget.left() < 5:
                section[name] = {"levers": sorted(run_levers), "skipped": "time budget spent"}
                continue
            try:
                section[name] = _parity_run(kind, cfg, run_levers, device, build, batches,
                                            cfg.seed + 1 if name == "faithful_seed+1" else cfg.seed)
            except Exception as e:  # noqa: BLE001
                traceback.print_exc(limit=4, file=sys.stderr)
                section[name] = {"levers": sorted(run_levers), **error_record(e)}
                cleanup(device)
            log(budget, f"parity {kind}/{name}: {short(section[name])}")
        _compare(kind, section, tol, build, cfg.seed)
    checks = [r["ok"] for k in ("search", "eval") for r in result.get(k, {}).values()
              if isinstance(r, dict) and "ok" in r]
    result["ok"] = bool(checks) and all(checks)
    genotypes = [r["genotype_equal"] for name, r in result.get("search", {}).items()
                 if isinstance(r, dict) and "genotype_equal" in r and name != "faithful_seed+1"]
    result["genotype_equal"] = bool(genotypes) and all(genotypes)
    return result


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-12)


def _compare(kind: str, section: dict[str, Any], tol: Tolerance, build: Build, seed: int) -> None:
    """Add the differences to the faithful run (and the verdicts) to each record of a parity section."""
    base = section.get("faithful", {})
    if "losses" in base:
        for name, rec in section.items():
            if name == "faithful" or "losses" not in rec:
                continue
            early = min(2, len(base["losses"]))
            rec["step_rel_diff"] = max(_rel(a, b) for a, b in zip(rec["losses"][:early], base["losses"][:early]))
            rec["last5_rel_diff"] = _rel(rec["last5_mean"], base["last5_mean"])
            rec["final_loss_rel_diff"] = _rel(rec["final_loss"], base["final_loss"])
            if kind == "search":
                rec["alphas_max_abs_diff"] = float((rec["_alphas"] - base["_alphas"]).abs().max())
                rec["genotype_equal"] = rec["_genotype"] == base["_genotype"]
                rec["genotype_edges_differ"] = _genotype_edges_differ(rec["_genotype"], base["_genotype"])
            if name != "faithful_seed+1":
                step_tol = tol.step_bf16 if "bf16" in rec["levers"] else tol.step_fp32
                rec["ok"] = bool(rec["step_rel_diff"] <= step_tol and rec["last5_rel_diff"] <= tol.trajectory)
        if kind == "search":  # how far the faithful run moved the alphas from their initial values
            init = torch.cat([p.detach().float().flatten()
                              for p in build(kind, frozenset(), seed).model.arch_parameters()])
            base["alphas_max_abs_change"] = float((base["_alphas"] - init.cpu()).abs().max())
    for name, rec in section.items():
        if not isinstance(rec, dict):
            continue
        if name not in ("faithful", "faithful_seed+1") and "ok" not in rec:
            rec["ok"] = False  # a fast variant that failed or was skipped does not pass
        genotype = rec.pop("_genotype", None)
        rec.pop("_alphas", None)
        if genotype is not None:
            rec["genotype"] = {"normal": genotype.normal, "reduce": genotype.reduce}
