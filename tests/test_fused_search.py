"""fused_search.py: the grouped supernet forward equals the reference forward, gradients and BN buffers included."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from architect import Architect
from fused_search import (
    _CpuDepthwiseConv,
    _pointwise,
    check_fusable,
    disable_fused,
    enable_fused,
    fused_forward,
    is_fused,
)
from model_search import Network, NetworkImageNet
from operations import subsample_for_pointwise

# (class, C, layers, input size, batch): K = 4 for the CIFAR supernet, K = 2 for the ImageNet one
CONFIGS = {
    "cifar-c4-l3": (Network, 4, 3, 16, 4),
    "cifar-c8-l5": (Network, 8, 5, 16, 4),
    "imagenet-c8-l3-64px": (NetworkImageNet, 8, 3, 64, 4),
    "imagenet-c8-l2-32px": (NetworkImageNet, 8, 2, 32, 8),
}


def _randomise(net: nn.Module, scale: float = 1.0) -> None:
    """Random alphas/betas (far from uniform) and random BatchNorm running statistics."""
    with torch.no_grad():
        for p in net.arch_parameters():
            p.normal_(0.0, scale)
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.random_(0, 100)


def _pair(name: str, dtype: torch.dtype = torch.float32) -> tuple[nn.Module, nn.Module, torch.Tensor, torch.Tensor]:
    cls, C, layers, size, batch = CONFIGS[name]
    ref = cls(C, 10, layers).to(dtype)
    _randomise(ref)
    fused = enable_fused(copy.deepcopy(ref))
    x = torch.randn(batch, 3, size, size, dtype=dtype)
    y = torch.randint(0, 10, (batch,))
    return ref, fused, x, y


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach(), b.detach()
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def _check_grads(ref: nn.Module, fused: nn.Module, rtol: float, atol: float) -> None:
    """Per tensor: |g_fused - g_ref| <= rtol |g_ref| + atol |all gradients|.

    The absolute floor is for weights whose true gradient is ~0: a 1-channel pointwise conv right
    before a non-affine BatchNorm is scale-invariant, so both gradients are pure rounding noise.
    """
    total = torch.cat([p.grad.flatten() for p in ref.parameters() if p.grad is not None]).norm()
    assert total > 0
    for (name, p), q in zip(ref.named_parameters(), fused.parameters()):
        if p.grad is None:  # unused (alphas_normal of a net without normal cells)
            assert q.grad is None, name
            continue
        assert q.grad is not None, name
        err = (q.grad - p.grad).norm()
        assert err <= rtol * p.grad.norm() + atol * total, (name, float(err), float(p.grad.norm()), float(total))
    for p, q in zip(ref.arch_parameters(), fused.arch_parameters()):
        if p.grad is not None:
            assert _rel(q.grad, p.grad) <= rtol, _rel(q.grad, p.grad)


def _check_buffers(ref: nn.Module, fused: nn.Module, rtol: float) -> None:
    for (name, a), b in zip(ref.named_buffers(), fused.buffers()):
        if name.endswith("num_batches_tracked"):
            assert torch.equal(a, b), name
        else:
            torch.testing.assert_close(b, a, rtol=rtol, atol=rtol, msg=name)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_train_mode_matches_reference(name: str) -> None:
    ref, fused, x, y = _pair(name)
    before = {k: v.clone() for k, v in ref.state_dict().items()}
    logits_ref = ref(x)
    logits = fused(x)
    assert is_fused(fused) and not is_fused(ref)
    assert _rel(logits, logits_ref) < 1e-5
    F.cross_entropy(logits_ref, y).backward()
    F.cross_entropy(logits, y).backward()
    _check_grads(ref, fused, rtol=1e-4, atol=1e-6)
    # the BatchNorm buffers advanced exactly as the modules' own forward advances them
    _check_buffers(ref, fused, rtol=1e-5)
    moved = [k for k, v in ref.state_dict().items() if k.endswith("running_mean") and not torch.equal(v, before[k])]
    assert len(moved) > 100
    assert list(fused.state_dict()) == list(ref.state_dict())


@pytest.mark.parametrize("name", ["cifar-c4-l3", "imagenet-c8-l3-64px"])
def test_eval_mode_matches_reference(name: str) -> None:
    ref, fused, x, y = _pair(name)
    ref.eval()
    fused.eval()
    before = copy.deepcopy(fused.state_dict())
    logits_ref, logits = ref(x), fused(x)
    assert _rel(logits, logits_ref) < 1e-5
    F.cross_entropy(logits_ref, y).backward()
    F.cross_entropy(logits, y).backward()
    _check_grads(ref, fused, rtol=1e-4, atol=1e-6)
    for k, v in fused.state_dict().items():  # eval mode reads the running statistics and leaves them alone
        assert torch.equal(v, before[k]), k


@pytest.mark.parametrize("name", ["cifar-c4-l3", "imagenet-c8-l2-32px"])
def test_float64_is_exact_up_to_rounding(name: str) -> None:
    ref, fused, x, y = _pair(name, torch.float64)
    logits_ref, logits = ref(x), fused(x)
    assert _rel(logits, logits_ref) < 1e-12
    F.cross_entropy(logits_ref, y).backward()
    F.cross_entropy(logits, y).backward()
    _check_grads(ref, fused, rtol=1e-9, atol=1e-13)
    _check_buffers(ref, fused, rtol=1e-12)


@pytest.mark.parametrize("kwargs", [{"steps": 3, "multiplier": 3}, {"steps": 2, "multiplier": 2}, {"k": 8}, {"k": 1}])
def test_other_cell_shapes(kwargs: dict) -> None:
    ref = Network(16 if kwargs.get("k") == 8 else 8, 10, 3, **kwargs)
    _randomise(ref)
    fused = enable_fused(copy.deepcopy(ref))
    x, y = torch.randn(2, 3, 8, 8), torch.tensor([1, 7])
    logits_ref, logits = ref(x), fused(x)
    assert _rel(logits, logits_ref) < 1e-5
    F.cross_entropy(logits_ref, y).backward()
    F.cross_entropy(logits, y).backward()
    _check_grads(ref, fused, rtol=1e-4, atol=1e-6)
    _check_buffers(ref, fused, rtol=1e-5)


def test_second_step_and_saturated_weights() -> None:
    """Two steps in a row (buffers feed the next batch), alphas saturated so single ops dominate."""
    ref, fused, x, y = _pair("cifar-c4-l3")
    with torch.no_grad():
        for a, b in zip(ref.arch_parameters(), fused.arch_parameters()):
            a.mul_(8.0)
            b.copy_(a)
    for _ in range(2):
        ref.zero_grad()
        fused.zero_grad()
        logits_ref, logits = ref(x), fused(x)
        assert _rel(logits, logits_ref) < 1e-5
        F.cross_entropy(logits_ref, y).backward()
        F.cross_entropy(logits, y).backward()
        _check_grads(ref, fused, rtol=1e-4, atol=1e-6)
    _check_buffers(ref, fused, rtol=1e-5)


def test_enable_disable_state_dict_genotype_deepcopy() -> None:
    net = Network(8, 10, 3)
    _randomise(net)
    keys = list(net.state_dict())
    values = copy.deepcopy(net.state_dict())
    genotype = net.genotype()
    x = torch.randn(2, 3, 8, 8)
    net.eval()
    reference = net(x)
    assert enable_fused(net) is net and is_fused(net)
    assert list(net.state_dict()) == keys
    assert all(torch.equal(v, values[k]) for k, v in net.state_dict().items())
    assert net.genotype() == genotype
    torch.testing.assert_close(net(x), reference, rtol=1e-5, atol=1e-6)
    clone = copy.deepcopy(net)
    assert is_fused(clone) and clone.forward.__self__ is clone
    torch.testing.assert_close(clone(x), reference, rtol=1e-5, atol=1e-6)
    assert disable_fused(net) is net and not is_fused(net)
    assert torch.equal(net(x), reference)
    # a state_dict saved from the fused model loads into a plain one and vice versa
    plain = Network(8, 10, 3)
    plain.load_state_dict(clone.state_dict())
    plain.eval()
    torch.testing.assert_close(plain(x), reference)


def test_functional_call_uses_the_given_tensors() -> None:
    """The unrolled architect swaps in virtual weights and cloned buffers with functional_call."""
    ref, fused, x, _ = _pair("cifar-c4-l3")
    params = {n: p.detach() * 1.01 for n, p in ref.named_parameters()}
    bufs_ref = {n: b.clone() for n, b in ref.named_buffers()}
    bufs_fused = {n: b.clone() for n, b in ref.named_buffers()}
    own = copy.deepcopy(fused.state_dict())
    out_ref = functional_call(ref, {**params, **bufs_ref}, (x,))
    out = functional_call(fused, {**params, **bufs_fused}, (x,))
    assert _rel(out, out_ref) < 1e-5
    for n in bufs_ref:
        torch.testing.assert_close(bufs_fused[n], bufs_ref[n], rtol=1e-5, atol=1e-5)
    assert all(torch.equal(v, own[k]) for k, v in fused.state_dict().items())


def test_architect_step_matches() -> None:
    """The second-order step: functional_call with virtual weights, and alpha-only gradients."""
    ref, fused, x, y = _pair("cifar-c4-l3", torch.float64)
    xv, yv = torch.randn_like(x), torch.randint(0, 10, y.shape)

    def loss_fn(logits: torch.Tensor, target: torch.Tensor, weights: list[torch.Tensor]) -> torch.Tensor:
        return F.cross_entropy(logits, target) + 1e-3 * sum(w.square().sum() for w in weights)

    for net in (ref, fused):
        opt = torch.optim.SGD(net.weights(), 0.05, momentum=0.9)
        F.cross_entropy(net(x), y).backward()
        opt.step()  # a momentum buffer for the unrolled step
        architect = Architect(net, loss_fn, momentum=0.9, weight_decay=3e-4, arch_learning_rate=0.1,
                              arch_weight_decay=1e-3)
        architect.step(x, y, xv, yv, eta=0.05, network_optimizer=opt, unrolled=True)
    for a, b in zip(ref.arch_parameters(), fused.arch_parameters()):
        torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-12)
    _check_buffers(ref, fused, rtol=1e-9)


def test_double_backward_matches() -> None:
    """A Hessian-vector product through the fused forward (create_graph) equals the reference's."""
    ref, fused, x, y = _pair("cifar-c4-l3", torch.float64)
    results = []
    for net in (ref, fused):
        weights = list(net.weights())
        grads = torch.autograd.grad(F.cross_entropy(net(x), y), weights, create_graph=True)
        g_dot_v = sum((g * torch.ones_like(g)).sum() for g in grads)
        results.append(torch.autograd.grad(g_dot_v, net.arch_parameters()))
    for a, b in zip(*results):
        assert _rel(b, a) < 1e-8


def test_bf16_autocast_runs_with_fp32_arch_gradients() -> None:
    ref, fused, x, y = _pair("cifar-c4-l3")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits_ref, logits = ref(x), fused(x)
    assert logits.dtype == logits_ref.dtype
    assert _rel(logits.float(), logits_ref.float()) < 5e-2
    F.cross_entropy(logits.float(), y).backward()
    assert all(p.grad.dtype == torch.float32 and torch.isfinite(p.grad).all() for p in fused.arch_parameters())


def test_check_fusable_rejects_other_structures() -> None:
    with pytest.raises(ValueError, match="model_search.Network"):
        enable_fused(nn.Linear(2, 2))
    net = Network(8, 10, 3)
    check_fusable(net)
    net.cells[0]._ops[3]._ops[4].op[1].padding = (2, 2)  # one edge's sep conv no longer like its siblings
    with pytest.raises(ValueError, match="sep_conv_3x3"):
        enable_fused(net)
    net = Network(8, 10, 3)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None
    with pytest.raises(ValueError, match="momentum"):
        check_fusable(net)
    net = Network(8, 10, 3)
    net.cells[0]._ops[0]._ops[1][1].eval()  # one BatchNorm in eval mode while its round trains
    with pytest.raises(ValueError, match="train/eval"):
        fused_forward(net, torch.randn(2, 3, 8, 8))


@pytest.mark.parametrize(("stride", "padding", "dilation", "kernel"), [(1, 2, 2, 3), (2, 2, 1, 5)])
def test_cpu_depthwise_conv_gradients(stride: int, padding: int, dilation: int, kernel: int) -> None:
    x = torch.randn(2, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 1, kernel, kernel, dtype=torch.float64, requires_grad=True)

    def conv(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return _CpuDepthwiseConv.apply(x, w, (stride, stride), (padding, padding), (dilation, dilation), 2)

    torch.testing.assert_close(conv(x, w), F.conv2d(x, w, None, stride, padding, dilation, 2))
    assert torch.autograd.gradcheck(conv, (x, w))
    assert torch.autograd.gradgradcheck(conv, (x, w))


@pytest.mark.parametrize("stride", [1, 2])
def test_pointwise_matmul_equals_grouped_conv(stride: int) -> None:
    x = torch.randn(3, 12, 6, 6, dtype=torch.float64)
    w = torch.randn(12, 2, 1, 1, dtype=torch.float64)
    sub, unit = subsample_for_pointwise(x, (stride, stride))
    assert unit == (1, 1)
    torch.testing.assert_close(_pointwise(sub, w, 6), F.conv2d(x, w, None, stride, 0, 1, 6))
