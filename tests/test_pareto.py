"""Tests of pareto.py on bi-objective problems whose Pareto fronts are known in closed form.

A "search" with weight (nu, cw) is simulated as the exact minimiser of cw * CE(x) + nu * R(x)
and returns the point (R, CE), as train_search.py reports (reg_loss, criterion_loss).
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from pareto import (
    NoMoreWeights,
    WeightEstimator,
    beyond_front_end,
    default_reference,
    format_weight_name,
    hypervolume_2d,
    is_dominated,
    non_dominated,
    normal_weight,
    sweep_name,
)

# ----------------------------------------------------------------------------------------------
# analytic problems


def parabola_search(weight):
    """R = x^2, CE = (x - 1)^2 on [0, 1]: the minimiser of cw*CE + nu*R is x = cw (closed form)."""
    nu, cw = weight
    x = cw / (cw + nu)
    return {"reg_loss": x * x, "criterion_loss": (x - 1.0) ** 2, "x": x}


_GRID = np.linspace(0.0, 1.0, 20001)


def _gap_front(x):
    """Decreasing CE over x; between 0.3 and 0.7 it bulges above the chord (non-convex)."""
    base = (1.0 - x) ** 2
    chord = 0.49 - (x - 0.3)  # joins (0.3, 0.49) and (0.7, 0.09)
    bump = chord + 0.05 * np.sin(np.pi * (x - 0.3) / 0.4)
    return np.where((x > 0.3) & (x < 0.7), bump, base)


_GAP_R = 10.0 * _GRID  # scaled so that the initial weights span the whole front
_GAP_CE = _gap_front(_GRID)


def gap_search(weight):
    """Exact minimiser over a fine grid: points with 0.3 < x < 0.7 are never supported."""
    nu, cw = weight
    i = int(np.argmin(cw * _GAP_CE + nu * _GAP_R))
    return {"reg_loss": float(_GAP_R[i]), "criterion_loss": float(_GAP_CE[i]), "x": float(_GRID[i])}


def point(result):
    return result["reg_loss"], result["criterion_loss"]


def gaps(est):
    """Independent recomputation of the normalised gaps between neighbours on the front."""
    front = est.optimal_results
    pts = [point(r) for _, r in front]
    sx = max(abs(p[0]) for p in pts) or 1.0
    sy = max(abs(p[1]) for p in pts) or 1.0
    out = []
    for (wa, ra), (wb, rb) in itertools.pairwise(front):
        pa, pb = point(ra), point(rb)
        dist = math.hypot((pb[0] - pa[0]) / sx, (pb[1] - pa[1]) / sy)
        out.append((wa, wb, pa, pb, dist))
    return out


def assert_front_ok(est):
    """optimal_results: non-dominated among all results, none missing, CE strictly descending."""
    opt = [point(r) for _, r in est.optimal_results]
    every = [point(r) for _, r in est.results]
    for p in opt:
        assert not any(is_dominated(p, q) for q in every)
    for q in every:
        assert q in opt or any(is_dominated(q, p) for p in opt)
    ces = [p[1] for p in opt]
    assert ces == sorted(ces, reverse=True)
    assert len(set(ces)) == len(ces)
    rs = [p[0] for p in opt]
    assert rs == sorted(rs)


def run_sweep(est, search, max_steps=200):
    for _ in range(max_steps):
        if not est.has_next():
            return est
        w = est.get_next()
        est.set_result(search(w), w)
    raise AssertionError(f"the sweep did not stop within {max_steps} steps")


def is_visited(est, wa, wb):
    return sorted([list(wa), list(wb)]) in est.state_dict()["visited"]  # as sweep.json records it


# ----------------------------------------------------------------------------------------------
# 1. convex front


def test_convex_front_first_weights_by_hand():
    est = WeightEstimator(delta=0.15)
    w1 = est.get_next()
    est.set_result(parabola_search(w1), w1)
    w2 = est.get_next()
    est.set_result(parabola_search(w2), w2)
    assert (w1, w2) == ((0.2, 0.8), (0.0, 1.0))
    # points: (0.64, 0.04) and (1, 0); dR = 0.36, dCE = -0.04 -> nu = 0.04 / 0.40
    w3 = est.get_next()
    assert w3 == pytest.approx((0.1, 0.9), abs=1e-12)
    est.set_result(parabola_search(w3), w3)
    # front (0.64, .04), (0.81, .01), (1, 0); normalised by (1, 0.04) the first gap is wider
    # (0.769 vs 0.314); dR = 0.17, dCE = -0.03 -> nu = 0.03 / 0.20
    w4 = est.get_next()
    assert w4 == pytest.approx((0.15, 0.85), abs=1e-12)


def test_convex_front_runs_to_convergence():
    delta = 0.15
    est = WeightEstimator(delta=delta)
    for _ in range(2):
        w = est.get_next()
        est.set_result(parabola_search(w), w)
    chosen = []
    steps = 0
    while est.has_next():
        steps += 1
        assert steps < 100
        open_gaps = [g for g in gaps(est) if not is_visited(est, g[0], g[1])]
        widest = max(open_gaps, key=lambda g: g[4])
        assert widest[4] > delta
        w = est.get_next()
        nu, cw = w
        # normal to the widest unvisited segment, in the unnormalised space
        (_, _, pa, pb, dist) = widest
        assert nu * (pb[0] - pa[0]) + cw * (pb[1] - pa[1]) == pytest.approx(0.0, abs=1e-12)
        assert 0.0 < nu < 1.0 and nu + cw == pytest.approx(1.0)
        # on this parabola the normal of the chord between x=a and x=b is cw = (a + b) / 2
        assert cw == pytest.approx((widest[0][1] + widest[1][1]) / 2, abs=1e-12)
        assert is_visited(est, widest[0], widest[1])
        chosen.append(dist)
        est.set_result(parabola_search(w), w)
        assert_front_ok(est)
    assert 3 <= len(chosen) < 100
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(chosen)), chosen
    for wa, wb, _, _, dist in gaps(est):
        assert dist <= delta or is_visited(est, wa, wb)
    with pytest.raises(NoMoreWeights, match="converged"):
        est.get_next()
    # every point lies on the true front CE = (1 - sqrt(R))^2
    for _, r in est.results:
        assert r["criterion_loss"] == pytest.approx((1 - math.sqrt(r["reg_loss"])) ** 2, abs=1e-12)


def test_smaller_delta_fills_the_front_more():
    counts, volumes = [], []
    for delta in (0.6, 0.3, 0.15, 0.05):
        est = run_sweep(WeightEstimator(delta=delta), parabola_search)
        pts = [point(r) for _, r in est.optimal_results]
        counts.append(len(pts))
        volumes.append(hypervolume_2d(pts, (1.1, 0.044)))
        assert max(g[4] for g in gaps(est)) <= delta
    assert counts == sorted(counts) and counts[0] < counts[-1], counts
    assert all(b >= a for a, b in itertools.pairwise(volumes)), volumes


def test_normalisation_makes_the_sweep_scale_free():
    """Scaling R and CE changes the weights but not which points the sweep visits.

    The initial weights are the scale-free extremes here; (0.2, 0.8) depends on the scales.
    """

    def scaled(a, b):
        def search(weight):
            nu, cw = weight
            r = parabola_search((a * nu / (a * nu + b * cw), b * cw / (a * nu + b * cw)))
            return {**r, "reg_loss": a * r["reg_loss"], "criterion_loss": b * r["criterion_loss"]}

        return search

    xs = []
    for a, b in ((1.0, 1.0), (100.0, 1.0), (1.0, 0.01), (30.0, 7.0)):
        est = run_sweep(WeightEstimator(0.1, ((1.0, 0.0), (0.0, 1.0))), scaled(a, b))
        xs.append(sorted(r["x"] for _, r in est.results))  # equal gaps may go in either order
    assert len(xs[0]) > 5
    for other in xs[1:]:
        assert other == pytest.approx(xs[0], abs=1e-9)


# ----------------------------------------------------------------------------------------------
# 2. a front with a non-convex gap


def test_nonconvex_gap_terminates_and_reports_only_optimal_points():
    delta = 0.15
    est = WeightEstimator(delta=delta)
    steps = 0
    while est.has_next():
        steps += 1
        assert steps < 100
        w = est.get_next()
        est.set_result(gap_search(w), w)
        assert_front_ok(est)
    xs = [r["x"] for _, r in est.results]
    assert not any(0.3 + 1e-3 < x < 0.7 - 1e-3 for x in xs)
    # some searches came back with a point already known: nothing new appeared
    n_distinct = len({point(r) for _, r in est.results})
    assert n_distinct < len(est.results)
    # the gap remains wider than delta, and is closed only because it was visited
    wide = [g for g in gaps(est) if g[4] > delta]
    assert wide and all(is_visited(est, g[0], g[1]) for g in wide)
    assert any(g[2][0] <= 3.0 + 1e-9 and g[3][0] >= 7.0 - 1e-9 for g in wide)
    # every reported point is Pareto optimal for the true (grid) problem
    for _, r in est.optimal_results:
        r_, ce = point(r)
        assert not np.any((_GAP_R <= r_) & (_GAP_CE <= ce) & ((_GAP_R < r_) | (_GAP_CE < ce)))


def test_dominated_results_are_never_optimal():
    """A noisy search that now and then returns a worse point: it must never count as optimal."""
    calls = []

    def noisy(weight):
        calls.append(weight)
        r = parabola_search(weight)
        if len(calls) % 3 == 0:
            r = {**r, "reg_loss": r["reg_loss"] + 0.05}
            r["criterion_loss"] += 0.005
        return r

    est = WeightEstimator(delta=0.1)
    for _ in range(60):
        if not est.has_next():
            break
        w = est.get_next()
        est.set_result(noisy(w), w)
        assert_front_ok(est)
    else:
        raise AssertionError("did not stop")
    every = [point(r) for _, r in est.results]
    worse = [point(r) for i, (_, r) in enumerate(est.results) if (i + 1) % 3 == 0]
    dominated = [p for p in worse if any(is_dominated(p, q) for q in every)]
    assert dominated  # the check below is exercised
    optimal = [point(r) for _, r in est.optimal_results]
    assert not set(dominated) & set(optimal)


# ----------------------------------------------------------------------------------------------
# 3. dominance, hypervolume


def test_is_dominated():
    assert is_dominated((2, 2), (1, 2))
    assert is_dominated((2, 2), (1, 1))
    assert not is_dominated((2, 2), (2, 2))
    assert not is_dominated((1, 3), (2, 2))
    assert not is_dominated((1, 1), (2, 2))
    with pytest.raises(ValueError):
        is_dominated((1, 2), (1, 2, 3))


def test_non_dominated():
    pts = [(1, 3), (2, 2), (3, 1), (2.5, 2.5), (2, 2), (1, 4), (0.5, 5), (3, 1.5)]
    assert non_dominated(pts) == [0, 1, 2, 6]
    assert non_dominated([]) == []
    assert non_dominated([(1, 1), (1, 1)]) == [0]
    assert non_dominated([(5, 5), (1, 1), (1, 1)]) == [1]
    with pytest.raises(ValueError, match="finite"):
        non_dominated([(1, float("nan"))])


def test_hypervolume_hand_computed():
    front = [(1, 3), (2, 2), (3, 1)]
    # staircase: 1*1 + 1*2 + 1*3
    assert hypervolume_2d(front, (4, 4)) == pytest.approx(6.0)
    # a dominated point, a duplicate, a point beyond and one on the reference add nothing
    extra = [(2.5, 2.5), (2, 2), (5, 0.5), (4, 0)]
    assert hypervolume_2d(front + extra, (4, 4)) == pytest.approx(6.0)
    assert hypervolume_2d([(1, 1)], (2, 3)) == pytest.approx(2.0)
    assert hypervolume_2d([(0.5, 2.5), (1, 1)], (2, 3)) == pytest.approx(0.5 * 0.5 + 1 * 2)
    assert hypervolume_2d([], (1, 1)) == 0.0
    assert hypervolume_2d([(3, 3)], (2, 2)) == 0.0


def test_default_reference():
    assert default_reference([(1, 3), (2, 2)]) == pytest.approx((2.2, 3.3))
    assert default_reference([(1, 3), (2, 2)], margin=0.0) == pytest.approx((2.0, 3.0))
    with pytest.raises(ValueError):
        default_reference([])
    with pytest.raises(ValueError):
        default_reference([(1, 1)], margin=-0.1)


def test_beyond_front_end_names_the_searches_past_the_fronts_largest_r():
    def record(nu, r, ce, status="done"):
        return {"weight": [nu, 1 - nu], "reg_loss": r, "criterion_loss": ce, "valid_loss": ce + 1, "status": status}

    searches = [record(0.2, 1.0, 2.0), record(0.05, 3.0, 1.0), record(0.01, 5.0, 1.2), record(0.0, 8.0, 1.0),
                record(0.001, 9.0, 0.1, status="failed")]
    front = searches[:2]
    assert beyond_front_end(searches, front, "l2") == {
        "end": {"nu": 0.05, "reg_loss": 3.0, "ce": 1.0}, "nus": [0.01, 0.0], "max_reg_loss": 8.0, "best_ce": 1.0}
    assert beyond_front_end(searches, front, "flops")["end"]["ce"] == 2.0  # a cost's front takes the held-out CE
    assert beyond_front_end(searches[:2], front, "l2") is None
    assert beyond_front_end(searches, [], "l2") is None


def test_normal_weight():
    assert normal_weight((0.64, 0.04), (1.0, 0.0)) == pytest.approx((0.1, 0.9))
    assert normal_weight((1.0, 0.0), (0.64, 0.04)) == pytest.approx((0.1, 0.9))
    assert normal_weight((1, 1), (2, 1)) == (0.0, 1.0)
    with pytest.raises(ValueError, match="coincide"):
        normal_weight((1, 1), (1, 1))
    with pytest.raises(ValueError, match="non-dominated"):
        normal_weight((1, 1), (2, 3))


# ----------------------------------------------------------------------------------------------
# 3. names

# Full-precision weights of the thesis's sweeps (search_l1_l2_fix_*.csv) and the names it gave.
CIFAR10_L1 = {
    0.2: "2e01", 0.020021114821329324: "2e02", 0.011277418944174018: "1e02",
    0.008108502424759629: "8e03", 0.003980938981762601: "4e03", 0.002094899083126409: "2e03",
    0.0008020363537325594: "8e04", 0.00024412425254471807: "2e04",
    0.00011149062957142099: "1e04", 7.436404993225855e-06: "7e06",
    4.486187188463716e-06: "4e06", 3.2628020119402613e-06: "3e06",
}
CIFAR100_L1 = {
    0.2: "2e01", 0.004800217630243996: "5e03", 0.002455266334656121: "25e04",
    0.0017487937155929122: "17e04", 0.0008031031804415669: "8e04",
    0.0004037628022135983: "4e04", 0.0003243876055007853: "324e06",
    0.00031862983710063617: "319e06", 0.0002956691012768128: "30e05",
    0.00027685058911487134: "28e05", 0.000212042349015394: "21e05",
    0.00015253243742430854: "15e05", 0.00011315118965390588: "1e04",
    5.916651494916841e-05: "59e06", 5.5314040182050374e-05: "55e06",
    5.143226770744729e-05: "51e06", 4.893538596216418e-05: "489e07",
    4.868795957617856e-05: "487e07", 3.2239452782445164e-05: "3e05",
}


def test_format_weight_name_matches_published_sweeps():
    for table in (CIFAR10_L1, CIFAR100_L1):
        assert format_weight_name(list(table)) == list(table.values())


def test_published_l2_names():
    # The L2 table publishes nu rounded to its name; its sweep also held unevaluated weights.
    # Two such (0.00199, 0.00194) make 0.00196 and 0.00191 collide at 2 digits, as they did.
    evaluated = {
        0.2: "2e01", 0.1: "1e01", 0.08: "8e02", 0.06: "6e02", 0.03: "3e02", 0.01: "1e02",
        0.007: "7e03", 0.00429: "429e05", 0.00425: "425e05", 0.003: "3e03", 0.0023: "23e04",
        0.00196: "196e05", 0.00191: "191e05", 0.0014: "14e04", 0.0013: "13e04",
        0.0009: "9e04", 0.0007: "7e04",
    }
    names = format_weight_name([*evaluated, 0.00199, 0.00194])
    assert names[: len(evaluated)] == list(evaluated.values())
    published = {
        "l2_loss_2e01", "l2_loss_9e04", "l2_loss_7e03", "l2_loss_23e04", "l2_loss_3e02",
        "l2_loss_1e01", "l2_loss_429e05", "l2_loss_13e04", "l2_loss_196e05", "l2_loss_8e02",
        "l2_loss_1e02", "l2_loss_425e05",
    }
    made = {sweep_name("l2", nu, n, 0.0, "cifar10") for nu, n in zip(evaluated, names)}
    assert published <= made


def test_sweep_name():
    assert sweep_name("l1", 3.26e-6, "3e06", 3e-4, "cifar10") == "l1_loss_3e06_l2_3e04"
    cifar100 = [5.9e-05, 5.5e-05, 5.1e-05, 4.89e-05, 4.87e-05, 3e-05]
    names = [
        sweep_name("l1", nu, n, 3e-4, "cifar100")
        for nu, n in zip(cifar100, format_weight_name(cifar100))
    ]
    assert names == [
        "l1_loss_59e06_l2_3e04_cifar100", "l1_loss_55e06_l2_3e04_cifar100",
        "l1_loss_51e06_l2_3e04_cifar100", "l1_loss_489e07_l2_3e04_cifar100",
        "l1_loss_487e07_l2_3e04_cifar100", "l1_loss_3e05_l2_3e04_cifar100",
    ]
    assert sweep_name("l1", 0.2, "2e01", 0.0, "cifar10") == "l1_loss_2e01"
    assert sweep_name("l2", 0.2, "2e01", 3e-4, "cifar10") == "l2_loss_2e01"
    assert sweep_name("l1", 0.2, "2e01", 2.5e-4, "imagenet") == "l1_loss_2e01_l2_25e05"
    assert sweep_name("l2", 0.0023, None, 0.0, "cifar10") == "l2_loss_2e03"
    with pytest.raises(ValueError):
        sweep_name("l1", 0.2, "2e01", -1.0, "cifar10")


def test_format_weight_name_edge_cases():
    assert format_weight_name([0.0, 0.2]) == ["0", "2e01"]
    assert format_weight_name([0.2, 0.2, 0.21]) == ["20e02", "20e02", "21e02"]
    # 1 digit: 1e03 twice; 2 digits: 10e04 twice; 3 digits tell them apart
    assert format_weight_name([0.000996, 0.00104]) == ["996e06", "104e05"]
    assert format_weight_name([1.0]) == ["1e00"]
    assert format_weight_name([20.0]) == ["2e+01"]
    assert format_weight_name([]) == []
    with pytest.raises(ValueError):
        format_weight_name([-0.1])
    with pytest.raises(ValueError):
        format_weight_name([float("nan")])


# ----------------------------------------------------------------------------------------------
# 3. batches, pending results, persistence, validation


def _started(delta=0.05, n_steps=3):
    est = WeightEstimator(delta=delta)
    for _ in range(2 + n_steps):
        w = est.get_next()
        est.set_result(parabola_search(w), w)
    return est


def test_get_next_batch():
    est = WeightEstimator()
    assert est.get_next_batch(5) == [(0.2, 0.8), (0.0, 1.0)]
    assert est.get_next_batch(5) == []  # both initial results pending: no pair yet
    assert not est.has_next()
    for w in est.pending:
        est.set_result(parabola_search(w), w)
    est = _started()
    open_gaps = sorted(
        (g for g in gaps(est) if not is_visited(est, g[0], g[1]) and g[4] > est.delta),
        key=lambda g: -g[4],
    )
    assert len(open_gaps) >= 3
    batch = est.get_next_batch(3)
    assert len(batch) == 3
    for w, g in zip(batch, open_gaps[:3]):  # the three widest, widest first
        assert w[1] == pytest.approx((g[0][1] + g[1][1]) / 2)
        assert is_visited(est, g[0], g[1])
    assert est.pending == batch
    rest = est.get_next_batch(100)
    assert len(rest) == len(open_gaps) - 3
    assert not set(rest) & set(batch)
    assert not est.has_next()
    with pytest.raises(ValueError):
        est.get_next_batch(0)


def test_batch_of_one_is_get_next():
    a, b = WeightEstimator(delta=0.05), WeightEstimator(delta=0.05)
    while a.has_next():
        assert b.has_next()
        wa, (wb,) = a.get_next(), b.get_next_batch(1)
        assert wa == wb
        a.set_result(parabola_search(wa), wa)
        b.set_result(parabola_search(wb), wb)
    assert not b.has_next()
    assert a.state_dict() == b.state_dict()


def test_pending_results_are_not_proposed_again():
    est = WeightEstimator()
    for _ in range(2):
        w = est.get_next()
        est.set_result(parabola_search(w), w)
    w3 = est.get_next()
    assert est.pending == [w3]
    assert not est.has_next()  # the only gap is out; its result is pending
    with pytest.raises(NoMoreWeights, match="pending"):
        est.get_next()
    with pytest.raises(StopIteration):
        est.get_next()
    # results coming back as JSON-ish lists with 1 - nu rounding still match the pending weight
    est.set_result([0.81, 0.01], [w3[0], 1 - w3[0]])
    assert est.pending == []
    assert est.results[-1] == (w3, {"reg_loss": 0.81, "criterion_loss": 0.01})
    assert est.has_next()
    assert est.get_next() != w3


def test_discard_failed_search():
    est = WeightEstimator()
    for _ in range(2):
        w = est.get_next()
        est.set_result(parabola_search(w), w)
    w3 = est.get_next()
    est.discard(w3)
    assert est.pending == [] and len(est.results) == 2
    assert not est.has_next()  # the failed pair stays visited: no endless retries
    with pytest.raises(ValueError, match="not pending"):
        est.discard(w3)


def test_state_dict_round_trip_gives_same_next_weights():
    est = _started(n_steps=2)
    w_pending = est.get_next()  # handed out, killed before its result
    state = json.loads(json.dumps(est.state_dict()))
    other = WeightEstimator()
    other.load_state_dict(state)  # as a resumed parallel sweep restores it
    assert other.pending == [w_pending]
    assert other.results == est.results
    assert other.state_dict() == est.state_dict()
    assert other.delta == est.delta
    for e in (est, other):
        e.set_result(parabola_search(w_pending), w_pending)
    seq = []
    for e in (est, other):
        out = []
        while e.has_next():
            w = e.get_next()
            out.append(w)
            e.set_result(parabola_search(w), w)
        seq.append(out)
    assert seq[0] == seq[1] and len(seq[0]) > 3
    # load_state_dict onto an existing estimator replaces everything
    third = WeightEstimator(delta=0.9)
    third.load_state_dict(state)
    assert third.delta == est.delta and third.pending == [w_pending]


def test_bad_state_rejected():
    state = _started().state_dict()
    with pytest.raises(ValueError, match="lacks"):
        WeightEstimator().load_state_dict({k: v for k, v in state.items() if k != "visited"})
    with pytest.raises(ValueError, match="version"):
        WeightEstimator().load_state_dict({**state, "version": 99})
    with pytest.raises(ValueError):
        WeightEstimator().load_state_dict({**state, "initial_handed_out": [7]})
    with pytest.raises(TypeError):
        WeightEstimator().load_state_dict([1, 2])


@pytest.mark.parametrize("search", [parabola_search, gap_search])
def test_replaying_set_result_rebuilds_the_state(search):
    est = run_sweep(WeightEstimator(delta=0.05), search)
    replayed = WeightEstimator(delta=0.05)
    history = est.results
    assert len(history) > 8
    for w, r in history[:6]:
        replayed.set_result(r, w)
    # half way: the next proposal is what the original proposed next
    assert replayed.get_next() == history[6][0]
    replayed.set_result(history[6][1], history[6][0])
    for w, r in history[7:]:
        replayed.set_result(r, w)
    assert replayed.state_dict() == est.state_dict()
    assert not replayed.has_next()


def test_results_keep_the_whole_dict():
    est = WeightEstimator()
    w = est.get_next()
    res = {"reg_loss": 1.5, "criterion_loss": 2.0, "genotype": {"normal": []}, "valid_acc": 10.0}
    est.set_result(res, w)
    assert est.results == [((0.2, 0.8), res)]
    assert est.optimal_results == [((0.2, 0.8), res)]


def test_invalid_input_rejected():
    for bad in (0.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="delta must be > 0"):
            WeightEstimator(delta=bad)
    with pytest.raises(ValueError, match="nu \\+ cw = 1"):
        WeightEstimator(initial_weights=((0.5, 0.4),))
    est = WeightEstimator()
    with pytest.raises(ValueError, match="criterion_loss"):
        est.set_result({"reg_loss": 1.0}, (0.2, 0.8))
    with pytest.raises(ValueError, match="finite"):
        est.set_result((float("inf"), 1.0), (0.2, 0.8))
    with pytest.raises(ValueError, match="nu \\+ cw = 1"):
        est.set_result((1.0, 1.0), (0.3, 0.8))
    assert est.results == []
