"""Pareto tools for the nu sweep: the NISE weight estimator, dominance, 2-D hypervolume, names.

Both objectives are minimised. A search run with weight w = (nu, cw), nu + cw = 1, minimises
cw * CE + nu * R and yields the point (R, CE); ``front_ce_key`` says which cross-entropy of the
search that is (the one its weighted loss trades against R). The estimator
(NISE, as in the MOOD-NAS thesis) picks the next w normal to the widest not yet visited gap
between neighbouring non-dominated points, so the searches spread over the frontier.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Weight = tuple[float, float]
Point = tuple[float, float]

__all__ = [
    "NoMoreWeights",
    "WeightEstimator",
    "as_point",
    "default_reference",
    "finite_positions",
    "format_weight_name",
    "front_ce",
    "front_ce_key",
    "front_ce_name",
    "front_indices",
    "hypervolume_2d",
    "is_dominated",
    "non_dominated",
    "normal_weight",
    "sweep_name",
]

_STATE_VERSION = 1
_WEIGHT_TOL = 1e-9


class NoMoreWeights(StopIteration):
    """Raised by ``get_next`` when nothing can be proposed (converged, or results pending)."""


# --------------------------------------------------------------------------------------------
# which cross-entropy a front uses

# the objectives whose penalty is on the architecture step (cost.COSTS; a test keeps the two equal)
ARCHITECTURE_OBJECTIVES = ("params", "flops", "latency")


def front_ce_key(objective: str | None) -> str:
    """The result key of the cross-entropy a sweep's front (and NISE) uses for ``objective``.

    NISE reads each search as the minimiser of cw * CE + nu * R, so CE must be the cross-entropy the
    search's weighted loss trades against R. With l1/l2 that is the weight step's: the mean training CE
    of the last epoch (``criterion_loss``, the thesis's). A cost objective weighs R against the
    architecture step's CE on the held-out half, while its weight step is plain training CE: its front
    takes the supernet's held-out CE at the end of the search (``valid_loss``).
    """
    return "valid_loss" if objective in ARCHITECTURE_OBJECTIVES else "criterion_loss"


def front_ce_name(objective: str | None) -> str:
    """How logs and printed tables name the front's CE: "CE" (the search's, l1/l2) or "held-out CE" (a cost)."""
    return "held-out CE" if front_ce_key(objective) == "valid_loss" else "CE"


def front_ce(record: Mapping[str, Any], objective: str | None) -> Any:
    """The cross-entropy of a search record on its sweep's front (see ``front_ce_key``)."""
    return record.get(front_ce_key(objective))


# --------------------------------------------------------------------------------------------
# dominance and hypervolume


def as_point(p: Sequence[float], what: str = "point") -> Point:
    """Two finite floats, or a clear error: NaN would silently break every comparison."""
    try:
        if isinstance(p, (str, bytes)) or len(p) != 2:
            raise ValueError
        x, y = float(p[0]), float(p[1])
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a pair of numbers, got {p!r}") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"{what} must be finite, got {p!r}")
    return x, y


def is_dominated(p: Sequence[float], q: Sequence[float]) -> bool:
    """True if q dominates p (minimisation): q is no worse in every objective and better in one."""
    if len(p) != len(q):
        raise ValueError(f"points have different lengths: {len(p)} and {len(q)}")
    no_worse = all(b <= a for a, b in zip(p, q))
    better = any(b < a for a, b in zip(p, q))
    return no_worse and better


def non_dominated(points: Sequence[Sequence[float]]) -> list[int]:
    """Indices (ascending) of the non-dominated 2-D points under minimisation.

    Of several identical points only the first is kept, so the result has no duplicates.
    O(n log n): sort by the first objective and keep points that improve the second.
    """
    pts = [as_point(p) for p in points]
    order = sorted(range(len(pts)), key=lambda i: (pts[i][0], pts[i][1], i))
    keep: list[int] = []
    best_y = math.inf
    for i in order:
        if pts[i][1] < best_y:
            keep.append(i)
            best_y = pts[i][1]
    return sorted(keep)


def finite_positions(xs: Iterable[Any], ys: Iterable[Any]) -> list[int]:
    """Positions of the (x, y) pairs that are both finite numbers (a table's rows may lack either)."""
    out = []
    for i, (x, y) in enumerate(zip(xs, ys)):
        try:
            if math.isfinite(float(x)) and math.isfinite(float(y)):
                out.append(i)
        except (TypeError, ValueError):
            continue
    return out


def front_indices(xs: Sequence[Any], ys: Sequence[Any]) -> list[int]:
    """Positions of the non-dominated (x, y) points, both minimised; points with a NaN are left out."""
    valid = finite_positions(xs, ys)
    points = [(float(xs[i]), float(ys[i])) for i in valid]
    return [valid[k] for k in non_dominated(points)] if points else []


def hypervolume_2d(points: Sequence[Sequence[float]], reference: Sequence[float]) -> float:
    """Area dominated by ``points`` and bounded by ``reference`` (minimisation).

    Points not strictly better than the reference in both objectives add nothing and are ignored.
    """
    rx, ry = as_point(reference, "reference")
    pts = [p for p in (as_point(p) for p in points) if p[0] < rx and p[1] < ry]
    front = sorted(pts[i] for i in non_dominated(pts))  # x ascending, so y descending
    area = 0.0
    for k, (x, y) in enumerate(front):
        x_next = front[k + 1][0] if k + 1 < len(front) else rx
        area += (x_next - x) * (ry - y)
    return area


def default_reference(points: Sequence[Sequence[float]], margin: float = 0.1) -> Point:
    """Reference point for tables: each objective's maximum over ``points`` times (1 + margin).

    Computed as max + margin * |max| (identical for the non-negative losses of a sweep, and still
    beyond the points if a maximum is negative). A maximum of exactly 0 gives a reference of 0,
    so points at 0 in that objective then add no area.
    """
    if not (math.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin must be a finite number >= 0, got {margin!r}")
    pts = [as_point(p) for p in points]
    if not pts:
        raise ValueError("default_reference needs at least one point")
    mx = max(p[0] for p in pts)
    my = max(p[1] for p in pts)
    return mx + margin * abs(mx), my + margin * abs(my)


def beyond_front_end(searches: Sequence[Mapping[str, Any]], pareto: Sequence[Mapping[str, Any]],
                     objective: str | None) -> dict[str, Any] | None:
    """Why a front ends where it does: the finished searches whose R is above the front's largest.

    Each of them scored a CE no lower than the front's end (the front's lowest CE), or it would be on
    the front: in this sweep a larger R bought nothing, which users otherwise read as a search gone
    wrong. None when no search went beyond the front's end. R is each record's ``reg_loss`` (the real
    cost for a cost objective, the norm for l1/l2), CE the front's (``front_ce``).
    """
    if not pareto:
        return None
    end = max(pareto, key=lambda p: p["reg_loss"])
    beyond = [s for s in searches if s.get("status", "done") == "done" and s["reg_loss"] > end["reg_loss"]
              and front_ce(s, objective) is not None]
    if not beyond:
        return None
    return {"end": {"nu": end["weight"][0], "reg_loss": end["reg_loss"], "ce": front_ce(end, objective)},
            "nus": sorted((s["weight"][0] for s in beyond), reverse=True),
            "max_reg_loss": max(s["reg_loss"] for s in beyond),
            "best_ce": min(front_ce(s, objective) for s in beyond)}


# --------------------------------------------------------------------------------------------
# the NISE estimator


def _as_weight(w: Sequence[float], what: str = "weight") -> Weight:
    """A valid (nu, cw): two finite non-negative numbers summing to 1."""
    nu, cw = as_point(w, what)
    if nu < 0 or cw < 0 or abs(nu + cw - 1.0) > _WEIGHT_TOL:
        raise ValueError(f"{what} must be (nu, cw) with nu, cw >= 0 and nu + cw = 1, got {w!r}")
    return nu, cw


def _same_weight(a: Weight, b: Weight) -> bool:
    """Weights equal up to rounding (a weight may come back through JSON or as 1 - nu)."""
    return all(math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-15) for x, y in zip(a, b))


def _pair_key(a: Weight, b: Weight) -> tuple[Weight, Weight]:
    """Order-free identity of a pair of points: the sorted weights that produced them."""
    return (a, b) if a <= b else (b, a)


def normal_weight(p1: Sequence[float], p2: Sequence[float]) -> Weight:
    """The weight (nu, cw), nu + cw = 1, normal to the segment p1-p2 in (R, CE) space.

    Solves nu * dR + cw * dCE = 0: nu = dCE / (dCE - dR). For two mutually non-dominated points
    dR and dCE have opposite signs, so nu lies in (0, 1).
    """
    r1, ce1 = as_point(p1)
    r2, ce2 = as_point(p2)
    d_r, d_ce = r2 - r1, ce2 - ce1
    if d_r == 0 and d_ce == 0:
        raise ValueError(f"no weight is normal to the segment {p1!r}-{p2!r}: the points coincide")
    if d_r * d_ce > 0:
        raise ValueError(f"points {p1!r} and {p2!r} are not mutually non-dominated")
    nu = d_ce / (d_ce - d_r)
    return nu, 1.0 - nu


def _result_point(result: Any) -> tuple[Point, dict[str, Any]]:
    """(R, CE) from a result dict or a 2-sequence; sequences are stored as a dict."""
    if isinstance(result, Mapping):
        missing = [k for k in ("reg_loss", "criterion_loss") if k not in result]
        if missing:
            raise ValueError(f"result lacks {', '.join(missing)}: keys are {sorted(result)}")
        pair = (result["reg_loss"], result["criterion_loss"])
        point = as_point(pair, "result (reg_loss, criterion_loss)")
        return point, dict(result)
    point = as_point(result, "result (R, CE)")
    return point, {"reg_loss": point[0], "criterion_loss": point[1]}


class WeightEstimator:
    """NISE: proposes penalty weights (nu, cw) that fill the (R, CE) Pareto frontier.

    Hand out the initial weights in order; afterwards take the non-dominated points sorted by CE
    descending, and among neighbouring pairs not yet visited the one farthest apart once each
    objective is divided by its maximum (absolute value; 1 if 0) over the non-dominated set. If
    that distance is <= delta the sweep has converged; otherwise the pair is marked visited (by
    the two weights that produced it, for good) and the weight normal to it is proposed.

    Weights handed out and not yet answered are ``pending``; their pairs are already visited, so
    nothing is proposed twice. ``has_next()`` says whether a weight can be proposed *now*: with
    results pending, more may become possible once they arrive.

    Resuming: ``state_dict()``/``load_state_dict()`` restore the estimator exactly (pending
    weights included). Alternatively, replaying ``set_result`` in the order the results were set
    on a fresh estimator (same delta and initial weights) rebuilds the same results, handed-out
    initial weights and visited pairs: a result whose weight was never handed out is matched to
    the initial weight or the unvisited neighbouring pair that proposes that weight, which marks
    it as get_next would have. That is exact for sequential sweeps; in parallel sweeps a pair is
    missed only if a later result dominated one of its points before its own result came back.
    """

    def __init__(
        self,
        delta: float = 0.15,
        initial_weights: Sequence[Sequence[float]] = ((0.2, 0.8), (0.0, 1.0)),
    ) -> None:
        try:
            delta = float(delta)
        except (TypeError, ValueError):
            raise ValueError(f"delta must be > 0, got {delta!r}") from None
        if not delta > 0 or not math.isfinite(delta):
            raise ValueError(f"delta must be > 0 and finite, got {delta!r}")
        self.delta = delta
        self.initial_weights: tuple[Weight, ...] = tuple(
            _as_weight(w, "initial weight") for w in initial_weights
        )
        self._initial_out: set[int] = set()
        self._results: list[tuple[Weight, dict[str, Any]]] = []
        self._visited: set[tuple[Weight, Weight]] = set()
        self._pending: list[Weight] = []

    # -- views ---------------------------------------------------------------------------------

    @property
    def results(self) -> list[tuple[Weight, dict[str, Any]]]:
        """(weight, result) in the order they were set."""
        return list(self._results)

    @property
    def optimal_results(self) -> list[tuple[Weight, dict[str, Any]]]:
        """The non-dominated (weight, result), sorted by CE descending (R ascending)."""
        return [(w, r) for w, r, _ in self._front()]

    @property
    def pending(self) -> list[Weight]:
        """Weights handed out whose results have not been set yet."""
        return list(self._pending)

    def _front(self) -> list[tuple[Weight, dict[str, Any], Point]]:
        points = [_result_point(r)[0] for _, r in self._results]
        front = [(*self._results[i], points[i]) for i in non_dominated(points)]
        front.sort(key=lambda t: (-t[2][1], t[2][0]))
        return front

    def _gaps(self) -> list[tuple[Weight, Weight, Point, Point, float, bool]]:
        """Neighbouring pairs along the front: (wa, wb, pa, pb, normalised distance, visited)."""
        front = self._front()
        if not front:
            return []
        sx = max(abs(p[0]) for _, _, p in front) or 1.0
        sy = max(abs(p[1]) for _, _, p in front) or 1.0
        gaps = []
        for (wa, _, pa), (wb, _, pb) in itertools.pairwise(front):
            dist = math.hypot((pb[0] - pa[0]) / sx, (pb[1] - pa[1]) / sy)
            gaps.append((wa, wb, pa, pb, dist, _pair_key(wa, wb) in self._visited))
        return gaps

    def _candidates(
        self, threshold: float | None = None
    ) -> list[tuple[float, Weight, Weight, Weight]]:
        """Unvisited neighbouring pairs farther apart than threshold (delta), widest first.

        Each as (distance, wa, wb, proposed weight).
        """
        threshold = self.delta if threshold is None else threshold
        cands = [
            (dist, k, wa, wb, normal_weight(pa, pb))
            for k, (wa, wb, pa, pb, dist, visited) in enumerate(self._gaps())
            if not visited and dist > threshold
        ]
        cands.sort(key=lambda c: (-c[0], c[1]))
        return [(d, wa, wb, w) for d, _, wa, wb, w in cands]

    def _next_initial(self) -> int | None:
        for i in range(len(self.initial_weights)):
            if i not in self._initial_out:
                return i
        return None

    # -- proposing -----------------------------------------------------------------------------

    def has_next(self) -> bool:
        """Whether a weight can be proposed now (an initial weight left, or a gap > delta)."""
        return self._next_initial() is not None or bool(self._candidates())

    def get_next(self) -> Weight:
        """The next weight (nu, cw); raises NoMoreWeights when ``has_next()`` is False."""
        batch = self.get_next_batch(1)
        if not batch:
            why = " (results pending)" if self._pending else " (the sweep has converged)"
            raise NoMoreWeights("no weight left to propose" + why)
        return batch[0]

    def get_next_batch(self, k: int) -> list[Weight]:
        """Up to k weights at once, for parallel sweeps; k=1 is exactly ``get_next()``.

        While initial weights remain, only those are returned (up to k, in order); otherwise the
        k widest unvisited gaps (distance > delta), each marked visited. Empty when none is left.
        """
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be an integer >= 1, got {k!r}")
        out: list[Weight] = []
        if self._next_initial() is not None:
            while len(out) < k and (i := self._next_initial()) is not None:
                self._initial_out.add(i)
                out.append(self.initial_weights[i])
        else:
            for _, wa, wb, w in self._candidates()[:k]:
                self._visited.add(_pair_key(wa, wb))
                out.append(w)
        self._pending.extend(out)
        return out

    def open_gaps(self) -> list[tuple[Weight, Weight, float, Weight]]:
        """Visited neighbouring pairs still farther apart than delta, each as (wa, wb, distance, proposed weight).

        With no result pending, such a gap's search either ended off the gap (NISE's own end: its point was
        dominated or no better) or failed; a failed weight is discarded and its pair stays visited for good (no
        endless retries), so the sweep ends short of delta there, which its caller can then say.
        """
        return [(wa, wb, dist, normal_weight(pa, pb))
                for wa, wb, pa, pb, dist, visited in self._gaps() if visited and dist > self.delta]

    # -- results -------------------------------------------------------------------------------

    def set_result(
        self, result: Mapping[str, Any] | Sequence[float], weight: Sequence[float]
    ) -> None:
        """Record the search result for ``weight``.

        ``result`` is a dict with at least "reg_loss" and "criterion_loss" (kept whole) or a
        2-sequence (R, CE) (stored as such a dict). A weight equal (to 1e-9) to a pending one is
        stored as that pending weight; one never handed out is matched as if get_next had
        produced it (see the class docstring on replay).
        """
        w = _as_weight(weight)
        _, stored = _result_point(result)
        for k, pw in enumerate(self._pending):
            if _same_weight(pw, w):
                w = self._pending.pop(k)
                break
        else:
            w = self._mark_as_proposed(w)
        self._results.append((w, stored))

    def discard(self, weight: Sequence[float]) -> None:
        """Drop a pending weight whose search failed; its pair stays visited (no endless retries)."""
        w = _as_weight(weight)
        for k, pw in enumerate(self._pending):
            if _same_weight(pw, w):
                del self._pending[k]
                return
        raise ValueError(f"weight {tuple(weight)!r} is not pending: nothing to discard")

    def _mark_as_proposed(self, w: Weight) -> Weight:
        """Mark what get_next would have marked to propose ``w``; return the canonical weight."""
        for i, wi in enumerate(self.initial_weights):
            if i not in self._initial_out and _same_weight(wi, w):
                self._initial_out.add(i)
                return wi
        for _, wa, wb, cand in self._candidates(-math.inf):  # it was proposed when > delta
            if _same_weight(cand, w):
                self._visited.add(_pair_key(wa, wb))
                break
        return w

    # -- persistence ---------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable state (if the result dicts are) that resumes the sweep exactly."""
        return {
            "version": _STATE_VERSION,
            "delta": self.delta,
            "initial_weights": [list(w) for w in self.initial_weights],
            "initial_handed_out": sorted(self._initial_out),
            "results": [{"weight": list(w), "result": dict(r)} for w, r in self._results],
            "visited": [[list(a), list(b)] for a, b in sorted(self._visited)],
            "pending": [list(w) for w in self._pending],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the state written by ``state_dict`` (also after a JSON round trip)."""
        if not isinstance(state, Mapping):
            raise TypeError(f"estimator state must be a dict, got {type(state).__name__}")
        if state.get("version") != _STATE_VERSION:
            raise ValueError(f"unsupported estimator state version {state.get('version')!r}")
        try:
            fresh = WeightEstimator(state["delta"], state["initial_weights"])
            n_init = len(fresh.initial_weights)
            for i in state["initial_handed_out"]:
                if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n_init:
                    raise ValueError(f"bad initial weight index {i!r}")
                fresh._initial_out.add(i)
            for entry in state["results"]:
                w = _as_weight(entry["weight"])
                _, stored = _result_point(entry["result"])
                fresh._results.append((w, stored))
            for a, b in state["visited"]:
                fresh._visited.add(_pair_key(_as_weight(a), _as_weight(b)))
            fresh._pending = [_as_weight(w) for w in state["pending"]]
        except KeyError as e:
            raise ValueError(f"estimator state lacks {e}") from None
        except (TypeError, ValueError) as e:
            raise ValueError(f"malformed estimator state: {e}") from None
        self.__dict__.update(fresh.__dict__)


# --------------------------------------------------------------------------------------------
# names


def _sci_name(value: float, digits: int) -> str:
    """``value`` to ``digits`` significant digits as "<mantissa digits>e<E>", value ~ M * 10^-E.

    E is the exponent of the last kept digit, written with two digits: 0.00429 -> "429e05",
    0.2 -> "2e01". A positive exponent (value >= 10**digits) keeps its sign: 20 -> "2e+01".
    """
    mantissa, exp = f"{value:.{digits - 1}e}".split("e")
    last = int(exp) - (digits - 1)
    ints = mantissa.replace(".", "")
    return f"{ints}e{-last:02d}" if last <= 0 else f"{ints}e+{last:02d}"


def format_weight_name(nus: Sequence[float]) -> list[str]:
    """The nu part of each sweep name, with the fewest significant digits keeping names unique.

    Every name starts at 1 significant digit; names that collide gain a digit, repeatedly, so
    only the crowded ones grow (as the thesis: 2e01, 25e04, 324e06 in one sweep). The format is
    the mantissa's digits then the exponent of the last digit: nu = M * 10^-E is "<M>e<EE>"
    (0.2 -> "2e01", 0.0023 -> "23e04", 5.9e-5 -> "59e06", 0.00429 -> "429e05"); nu = 0 -> "0".
    Equal nus get equal names (nothing can tell them apart).
    """
    values = []
    for nu in nus:
        try:
            v = float(nu)
        except (TypeError, ValueError):
            raise ValueError(f"nu must be a number, got {nu!r}") from None
        if not math.isfinite(v) or v < 0:
            raise ValueError(f"nu must be a finite number >= 0, got {nu!r}")
        values.append(v)
    digits = [1] * len(values)
    while True:
        names = ["0" if v == 0 else _sci_name(v, d) for v, d in zip(values, digits)]
        groups: dict[str, list[int]] = {}
        for i, name in enumerate(names):
            groups.setdefault(name, []).append(i)
        grow = [
            i
            for members in groups.values()
            if len({values[j] for j in members}) > 1
            for i in members
            if digits[i] < 17
        ]
        if not grow:
            return names
        for i in grow:
            digits[i] += 1


def _exact_sci_name(value: float) -> str:
    """``value`` in the name notation with the fewest digits that represent it exactly."""
    for digits in range(1, 18):
        if float(f"{value:.{digits - 1}e}") == value:
            return _sci_name(value, digits)
    return _sci_name(value, 17)


def sweep_name(
    objective: str,
    nu: float,
    digits_name: str | None,
    weight_decay: float,
    dataset: str,
) -> str:
    """Name of a sweep's search, as the published genotypes: "l1_loss_59e06_l2_3e04_cifar100".

    ``digits_name`` is the nu part from ``format_weight_name`` over the whole sweep; if empty, nu
    alone is formatted. "_l2_<wd>" is added for L1 runs with weight decay > 0 (fewest digits that
    represent it: 3e-4 -> "3e04"), and "_cifar100" for CIFAR-100.
    """
    if not isinstance(objective, str) or not objective:
        raise ValueError(f"objective must be a non-empty string, got {objective!r}")
    if not digits_name:
        digits_name = format_weight_name([nu])[0]
    wd = float(weight_decay)
    if not math.isfinite(wd) or wd < 0:
        raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay!r}")
    name = f"{objective}_loss_{digits_name}"
    if objective == "l1" and wd > 0:
        name += f"_l2_{_exact_sci_name(wd)}"
    if dataset == "cifar100":
        name += "_cifar100"
    return name
