"""architect.py: first- and second-order architecture steps on a tiny supernet.

The second-order (unrolled) gradient is checked against autograd through an explicit virtual SGD step
w' = w - eta * (momentum * m + dL_train/dw + wd * w) with double backward. DARTS's central difference
uses R = 0.01 / |v|; on a network this small that step crosses ReLU/max-pool kinks next to BatchNorms of
tiny variance and is off by several times its value (it improves with network size), so the comparison
runs the same code path with R = 1e-6 / |v| in float64, where the difference quotient is exact to ~1e-9.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from architect import Architect
from model_search import Network

NU = 1e-3  # a small L2 penalty, so the penalty path through the virtual weights is exercised too
MOMENTUM, WD, LR = 0.9, 3e-4, 0.1


def loss_fn(logits: torch.Tensor, target: torch.Tensor, weights: Sequence[torch.Tensor]) -> torch.Tensor:
    return F.cross_entropy(logits, target) + NU * sum((w * w).sum() for w in weights)


def _setup(dtype: torch.dtype = torch.float32) -> tuple[Network, Architect, torch.optim.SGD, tuple]:
    torch.manual_seed(0)
    net = Network(8, 4, 3).to(dtype)
    with torch.no_grad():  # an architecture away from uniform, so every term of the gradient is sizeable
        for p in net.arch_parameters():
            p.normal_(0.0, 0.5)
    x_t, x_v = torch.randn(4, 3, 8, 8, dtype=dtype), torch.randn(4, 3, 8, 8, dtype=dtype)
    y_t, y_v = torch.tensor([0, 1, 2, 3]), torch.tensor([3, 2, 1, 0])
    opt = torch.optim.SGD(net.weights(), lr=LR, momentum=MOMENTUM, weight_decay=WD)
    # one real weight step, so the optimizer holds momentum buffers that the virtual step must use
    opt.zero_grad()
    loss_fn(net(x_t), y_t, list(net.weights())).backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    architect = Architect(net, loss_fn, momentum=MOMENTUM, weight_decay=WD, arch_learning_rate=6e-4,
                          arch_weight_decay=1e-3)
    return net, architect, opt, (x_t, y_t, x_v, y_v)


def _snapshot(net: Network, opt: torch.optim.Optimizer) -> dict[str, dict[str, torch.Tensor]]:
    return {
        "weights": {n: p.detach().clone() for n, p in net.named_weights()},
        "arch": {n: p.detach().clone() for n, p in zip(("an", "ar", "bn", "br"), net.arch_parameters())},
        "buffers": {n: b.clone() for n, b in net.named_buffers()},
        "momentum": {str(i): opt.state[p]["momentum_buffer"].clone() for i, p in enumerate(net.weights())},
    }


def _batches_tracked(buffers: dict[str, torch.Tensor]) -> set[int]:
    return {int(v) for k, v in buffers.items() if k.endswith("num_batches_tracked")}


def test_adam_settings() -> None:
    net, architect, _, _ = _setup()
    group = architect.optimizer.param_groups[0]
    assert group["betas"] == (0.5, 0.999) and group["lr"] == 6e-4 and group["weight_decay"] == 1e-3
    assert [id(p) for p in group["params"]] == [id(p) for p in net.arch_parameters()]


@pytest.mark.parametrize("unrolled", [False, True])
def test_step_moves_the_architecture_only(unrolled: bool) -> None:
    net, architect, opt, (x_t, y_t, x_v, y_v) = _setup()
    before = _snapshot(net, opt)
    loss = architect.step(x_t, y_t, x_v, y_v, eta=LR, network_optimizer=opt, unrolled=unrolled)
    after = _snapshot(net, opt)
    assert loss.dim() == 0 and not loss.requires_grad and torch.isfinite(loss)
    for name in before["arch"]:
        assert not torch.equal(before["arch"][name], after["arch"][name]), name
    for name in before["weights"]:
        assert torch.equal(before["weights"][name], after["weights"][name]), name  # bit for bit
    for name in before["momentum"]:
        assert torch.equal(before["momentum"][name], after["momentum"][name])
    for p in net.weights():
        assert p.grad is None  # the architecture step leaves no gradient on the weights
    # BatchNorm statistics: as in DARTS, the first-order step runs the model once (the valid batch); the
    # unrolled step runs it at w (train batch) and at w +- R v (the Hessian-vector product) while the virtual
    # model w' works on its own copy of the statistics: three updates, not four.
    (n0,) = _batches_tracked(before["buffers"])
    assert _batches_tracked(after["buffers"]) == {n0 + (3 if unrolled else 1)}


def _functional_loss(net: Network, params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor,
                     weight_names: list[str]) -> torch.Tensor:
    buffers = {n: b.clone() for n, b in net.named_buffers()}  # leave the model's statistics alone
    logits = functional_call(net, {**params, **buffers}, (x,))
    return loss_fn(logits, y, [params[n] for n in weight_names])


def test_first_order_gradient_is_the_valid_loss_gradient() -> None:
    net, architect, opt, (x_t, y_t, x_v, y_v) = _setup(torch.float64)
    names = [n for n, _ in net.named_weights()]
    weights = {n: p.detach() for n, p in net.named_weights()}
    arch = {n: p.detach().clone().requires_grad_() for n, p in
            zip(("alphas_normal", "alphas_reduce", "betas_normal", "betas_reduce"), net.arch_parameters())}
    expected = torch.autograd.grad(_functional_loss(net, {**weights, **arch}, x_v, y_v, names), list(arch.values()))
    architect.step(x_t, y_t, x_v, y_v, eta=LR, network_optimizer=opt, unrolled=False)
    for p, e in zip(net.arch_parameters(), expected):
        torch.testing.assert_close(p.grad, e)


def test_grad_clip_bounds_the_architecture_gradient_norm() -> None:
    """PC-DARTS's ImageNet search clips the architecture gradients at --grad_clip (train_search gives it there only);
    without grad_clip the gradient is the held-out loss's, unclipped."""
    net, architect, opt, (x_t, y_t, x_v, y_v) = _setup()
    architect.step(x_t, y_t, x_v, y_v, eta=LR, network_optimizer=opt)
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in net.arch_parameters()]))
    clip = float(norm) / 4
    net, architect, opt, (x_t, y_t, x_v, y_v) = _setup()
    architect.grad_clip = clip
    architect.step(x_t, y_t, x_v, y_v, eta=LR, network_optimizer=opt)
    clipped = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in net.arch_parameters()]))
    assert float(clipped) == pytest.approx(clip, rel=1e-4)


def test_finite_difference_radius_is_darts() -> None:
    assert inspect.signature(Architect._hessian_vector_product).parameters["r"].default == 1e-2


@pytest.mark.parametrize("cw", [1.0, 0.5], ids=["one_loss", "cost_objective"])
def test_second_order_gradient_matches_autograd_through_the_virtual_step(monkeypatch: pytest.MonkeyPatch,
                                                                         cw: float) -> None:
    """cw = 0.5 is a cost objective's architect: its held-out loss is cw * CE, while the virtual step (and
    the Hessian-vector product) must follow the weight step's own loss, unweighted."""
    net, architect, opt, (x_t, y_t, x_v, y_v) = _setup(torch.float64)
    if cw != 1.0:
        architect = Architect(net, lambda lg, t, w: cw * loss_fn(lg, t, w), momentum=MOMENTUM, weight_decay=WD,
                              arch_learning_rate=6e-4, arch_weight_decay=1e-3, train_loss_fn=loss_fn)
    hvp = architect._hessian_vector_product
    monkeypatch.setattr(architect, "_hessian_vector_product", lambda *a, **k: hvp(*a, **{**k, "r": 1e-6}))
    names = [n for n, _ in net.named_weights()]
    arch_names = ["alphas_normal", "alphas_reduce", "betas_normal", "betas_reduce"]
    w = {n: p.detach().clone().requires_grad_() for n, p in net.named_weights()}
    a = {n: p.detach().clone().requires_grad_() for n, p in zip(arch_names, net.arch_parameters())}
    momentum = {n: opt.state[p]["momentum_buffer"] for n, p in net.named_weights()}

    train_loss = _functional_loss(net, {**w, **a}, x_t, y_t, names)
    grads = torch.autograd.grad(train_loss, [w[n] for n in names], create_graph=True)
    w_virtual = {n: w[n] - LR * (MOMENTUM * momentum[n] + g + WD * w[n]) for n, g in zip(names, grads)}
    valid_loss = cw * _functional_loss(net, {**w_virtual, **a}, x_v, y_v, names)
    exact = torch.autograd.grad(valid_loss, [a[n] for n in arch_names], retain_graph=True)
    # the first-order part alone: w' held fixed
    w_fixed = {n: v.detach() for n, v in w_virtual.items()}
    direct = torch.autograd.grad(cw * _functional_loss(net, {**w_fixed, **a}, x_v, y_v, names),
                                 [a[n] for n in arch_names])

    architect.step(x_t, y_t, x_v, y_v, eta=LR, network_optimizer=opt, unrolled=True)
    got = [p.grad for p in net.arch_parameters()]

    def flat(ts: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.cat([t.reshape(-1) for t in ts])

    exact_f, got_f, direct_f = flat(exact), flat(got), flat(direct)
    err = (got_f - exact_f).norm() / exact_f.norm()
    implicit = (direct_f - exact_f).norm() / exact_f.norm()
    assert implicit > 0.1, "the second-order term is too small for this check to mean anything"
    assert err < 1e-6, (float(err), float(implicit))


def test_the_hessian_vector_product_is_taken_in_full_precision_under_autocast() -> None:
    """Under --amp bf16 the two gradients of the central difference, O(R) apart, were each rounded to bf16: the
    implicit term came out as rounding noise (1.3-5x its size on this net). It is now the fp32 one."""
    net, architect, _, (x_t, y_t, _, _) = _setup()
    torch.manual_seed(1)
    vector = [1e-3 * torch.randn_like(w) for w in net.weights()]
    fp32 = architect._hessian_vector_product(vector, x_t, y_t)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        amp = architect._hessian_vector_product(vector, x_t, y_t)
    for a, b in zip(amp, fp32):
        assert (a - b).norm() <= 1e-3 * b.norm(), float((a - b).norm() / b.norm())
