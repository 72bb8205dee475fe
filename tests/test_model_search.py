"""model_search.py: the PC-DARTS supernet (partial channels, shuffle, edge normalisation) and genotype()."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import layout, spec_lines
from torch import nn

from genotypes import PRIMITIVES, Genotype
from model_search import MixedOp, Network, NetworkImageNet, channel_shuffle
from operations import FactorizedReduce, Identity, SepConv, Zero

ARCH = ["alphas_normal", "alphas_reduce", "betas_normal", "betas_reduce"]


# ---------------------------------------------------------------------------------------------- channel shuffle


@pytest.mark.parametrize(("channels", "groups"), [(8, 4), (12, 4), (6, 2), (16, 2)])
def test_channel_shuffle_order(channels: int, groups: int) -> None:
    x = torch.arange(float(channels)).view(1, channels, 1, 1).expand(2, channels, 3, 3).contiguous()
    y = channel_shuffle(x, groups)
    per = channels // groups
    # view (b, groups, C/groups, h, w) -> transpose(1, 2) -> flatten: new channel i * groups + g <- g * per + i
    expected = [g * per + i for i in range(per) for g in range(groups)]
    assert y[0, :, 0, 0].tolist() == expected
    assert torch.equal(y[1], y[0])
    assert y[0, :, 2, 1].tolist() == expected


def test_channel_shuffle_k4_literal() -> None:
    x = torch.arange(8.0).view(1, 8, 1, 1)
    assert channel_shuffle(x, 4).flatten().tolist() == [0, 2, 4, 6, 1, 3, 5, 7]


# ---------------------------------------------------------------------------------------------- MixedOp


def _one_hot(name: str) -> torch.Tensor:
    w = torch.zeros(len(PRIMITIVES))
    w[PRIMITIVES.index(name)] = 1.0
    return w


def test_mixed_op_structure() -> None:
    C, k = 16, 4
    op = MixedOp(C, 1, k)
    assert len(op._ops) == len(PRIMITIVES)
    for name, m in zip(PRIMITIVES, op._ops):
        if "pool" in name:
            assert isinstance(m, nn.Sequential) and len(m) == 2
            pool_type = nn.MaxPool2d if name.startswith("max") else nn.AvgPool2d
            assert isinstance(m[0], pool_type)
            assert isinstance(m[1], nn.BatchNorm2d) and m[1].affine is False and m[1].num_features == C // k
        elif name == "none":
            assert isinstance(m, Zero)
        elif name == "skip_connect":
            assert isinstance(m, Identity)
        else:
            convs = [c for c in m.modules() if isinstance(c, nn.Conv2d)]
            assert all(c.in_channels == C // k for c in convs), name
        for bn in (b for b in m.modules() if isinstance(b, nn.BatchNorm2d)):
            assert bn.affine is False
    assert isinstance(MixedOp(C, 2, k)._ops[PRIMITIVES.index("skip_connect")], FactorizedReduce)
    assert isinstance(op._ops[PRIMITIVES.index("sep_conv_3x3")], SepConv)


@pytest.mark.parametrize("k", [4, 2])
def test_mixed_op_identity_and_zero_show_the_bypass(k: int) -> None:
    C = 8
    op = MixedOp(C, 1, k)
    x = torch.randn(2, C, 6, 6)
    # skip_connect: the processed head is the head itself, so the result is just the shuffled input
    torch.testing.assert_close(op(x, _one_hot("skip_connect")), channel_shuffle(x, k))
    # none: the head becomes zero; the other channels pass untouched
    expected = torch.cat([torch.zeros_like(x[:, : C // k]), x[:, C // k:]], dim=1)
    torch.testing.assert_close(op(x, _one_hot("none")), channel_shuffle(expected, k))


@pytest.mark.parametrize("k", [4, 2])
def test_mixed_op_reduction_max_pools_the_bypass(k: int) -> None:
    C = 8
    op = MixedOp(C, 2, k)
    x = torch.randn(2, C, 6, 6)
    y = op(x, _one_hot("none"))
    assert y.shape == (2, C, 3, 3)
    tail = F.max_pool2d(x[:, C // k:], 2, 2)
    expected = torch.cat([torch.zeros(2, C // k, 3, 3), tail], dim=1)
    torch.testing.assert_close(y, channel_shuffle(expected, k))


def test_mixed_op_only_the_first_channels_go_through_the_ops() -> None:
    C, k = 16, 4
    op = MixedOp(C, 1, k)
    weights = F.softmax(torch.randn(len(PRIMITIVES)), dim=-1)
    x = torch.randn(3, C, 5, 5)
    x2 = x.clone()
    x2[:, C // k:] = torch.randn(3, C - C // k, 5, 5)  # change only the bypassed channels
    y, y2 = op(x, weights), op(x2, weights)
    # un-shuffle: shuffled channel i * k + g holds original channel g * (C / k) + i; group 0 is the processed head
    head = y.view(3, C // k, k, 5, 5)[:, :, 0]
    head2 = y2.view(3, C // k, k, 5, 5)[:, :, 0]
    torch.testing.assert_close(head, head2)
    # and the head is the weighted sum of the ops on the first C/k channels
    expected = sum(w * m(x[:, : C // k]) for w, m in zip(weights, op._ops))
    torch.testing.assert_close(head, expected)
    # the bypassed channels come back unchanged, in shuffled positions
    torch.testing.assert_close(y2.view(3, C // k, k, 5, 5)[:, :, 1:].transpose(1, 2).reshape(3, -1, 5, 5),
                               x2[:, C // k:])


# ---------------------------------------------------------------------------------------------- the supernet


def _bn_affine_only_in_stem(net: nn.Module) -> None:
    bns = [(n, m) for n, m in net.named_modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns
    for name, bn in bns:
        assert bn.affine is name.startswith("stem"), name


def test_cifar_supernet_forward_backward() -> None:
    net = Network(8, 10, 5)
    assert [i for i, c in enumerate(net.cells) if c.reduction] == [1, 3]
    assert isinstance(net.cells[2].preprocess0, FactorizedReduce) and net.cells[2].preprocess0.bn.affine is False
    _bn_affine_only_in_stem(net)
    assert all(m.k == 4 for m in net.modules() if isinstance(m, MixedOp))
    x = torch.randn(2, 3, 16, 16)
    logits = net(x)
    assert logits.shape == (2, 10)
    F.cross_entropy(logits, torch.tensor([3, 4])).backward()
    for n, p in net.named_parameters():
        assert p.grad is not None, n
        assert torch.isfinite(p.grad).all(), n
    for p in net.arch_parameters():
        assert p.grad.abs().sum() > 0


def test_imagenet_supernet_forward_backward() -> None:
    net = NetworkImageNet(8, 10, 5)
    mixed = [m for m in net.modules() if isinstance(m, MixedOp)]
    assert mixed and all(m.k == 2 for m in mixed)
    # K = 2: the sep conv of a normal cell (C = 8) processes 4 channels
    assert net.cells[0]._ops[0]._ops[PRIMITIVES.index("sep_conv_3x3")].op[1].in_channels == 4
    assert not hasattr(net, "stem") and hasattr(net, "stem0") and hasattr(net, "stem1")
    assert isinstance(net.cells[0].preprocess0, FactorizedReduce)  # s0 is at stride 4, s1 at stride 8
    _bn_affine_only_in_stem(net)
    x = torch.randn(2, 3, 64, 64)
    s0, s1 = net._stem_forward(x)
    assert s0.shape[-1] == 16 and s1.shape[-1] == 8
    logits = net(x)
    assert logits.shape == (2, 10)
    logits.logsumexp(1).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    assert all(p.grad.abs().sum() > 0 for p in net.arch_parameters())
    keys = list(net.state_dict())
    assert keys[-4:] == ARCH and keys[0].startswith("stem0.")


def test_weights_and_arch_parameters_are_apart() -> None:
    net = Network(8, 10, 3)
    arch = net.arch_parameters()
    assert [p is getattr(net, n) for p, n in zip(arch, ARCH)] == [True] * 4
    assert [tuple(p.shape) for p in arch] == [(14, 8), (14, 8), (14,), (14,)]
    weights = list(net.weights())
    ids = {id(p) for p in weights}
    assert not ids & {id(p) for p in arch}
    assert len(weights) + 4 == len(list(net.parameters()))
    assert ids | {id(p) for p in arch} == {id(p) for p in net.parameters()}
    names = [n for n, _ in net.named_weights()]
    assert not set(names) & set(ARCH)
    # weights in state_dict order, so penalties and optimizers see the original layout
    params = dict(net.named_parameters())
    sd_keys = [k for k in net.state_dict() if k in params]
    assert names == sd_keys[:-4]
    # DARTS initialisation: 1e-3 * N(0, 1)
    assert all(p.abs().max() < 1e-2 for p in arch)


def test_search_state_dict_layout(data_dir: Path) -> None:
    text = gzip.decompress((data_dir / "search_state_dict_c16_l8.txt.gz").read_bytes()).decode()
    expected = spec_lines(text)
    with torch.device("meta"):
        net = Network(16, 10, 8)
    got = layout(net.state_dict())
    assert got[-4:] == ["alphas_normal 14x8", "alphas_reduce 14x8", "betas_normal 14", "betas_reduce 14"]
    assert len(got) - 4 == len(expected)
    for i, (g, e) in enumerate(zip(got, expected)):
        assert g == e, f"line {i}: {g!r} != {e!r}"
    assert sum(p.numel() for p in net.weights()) == 299_578


def test_load_weights_only_state_dict(tmp_path: Path) -> None:
    net = Network(8, 10, 3)
    x = torch.randn(2, 3, 16, 16)
    net(x)  # move the BN statistics
    with torch.no_grad():
        for p in net.arch_parameters():
            p.normal_()
    full = net.state_dict()
    weights_only = {k: v for k, v in full.items() if k not in ARCH}
    torch.save(weights_only, tmp_path / "w.pt")
    torch.save(full, tmp_path / "full.pt")

    other = Network(8, 10, 3)
    own_arch = [p.detach().clone() for p in other.arch_parameters()]
    other.load_state_dict(torch.load(tmp_path / "w.pt", weights_only=True), strict=True)
    for p, q in zip(other.arch_parameters(), own_arch):
        assert torch.equal(p, q)  # kept its own alphas and betas
    for (n, p), (_, q) in zip(other.named_weights(), net.named_weights()):
        assert torch.equal(p, q), n

    other.load_state_dict(torch.load(tmp_path / "full.pt", weights_only=True), strict=True)
    for p, q in zip(other.arch_parameters(), net.arch_parameters()):
        assert torch.equal(p, q)
    net.eval()
    other.eval()
    with torch.no_grad():
        assert torch.equal(net(x), other(x))
    # an extra key still fails a strict load
    with pytest.raises(RuntimeError):
        Network(8, 10, 3).load_state_dict({**weights_only, "bogus.weight": torch.zeros(1)}, strict=True)


def test_new_copies_the_architecture() -> None:
    net = NetworkImageNet(8, 10, 3)
    with torch.no_grad():
        net.alphas_normal.fill_(0.5)
        net.betas_reduce.fill_(-1.0)
    clone = net.new()
    assert type(clone) is NetworkImageNet
    for p, q in zip(clone.arch_parameters(), net.arch_parameters()):
        assert torch.equal(p, q) and p is not q


def test_edge_normalisation_in_forward() -> None:
    """A node's incoming edges are weighted by a softmax over that node's betas only."""
    net = Network(8, 10, 3)
    net.eval()
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        base = net(x)
        # shifting all betas of one node by a constant leaves its softmax, hence the output, unchanged
        net.betas_normal[2:5] += 3.0
        net.betas_reduce[9:14] -= 2.0
        torch.testing.assert_close(net(x), base)
        # while moving one edge's beta changes it
        net.betas_normal[3] += 3.0
        assert not torch.allclose(net(x), base)


# ---------------------------------------------------------------------------------------------- genotype()


def _probs(**given: float) -> list[float]:
    """An op-probability row over PRIMITIVES; ops not named share what is left equally."""
    rest = [p for p in PRIMITIVES if p not in given]
    share = (1.0 - sum(given.values())) / len(rest) if rest else 0.0
    assert share >= 0
    return [given.get(p, share) for p in PRIMITIVES]


def _set(net: Network, normal: list[list[float]], reduce: list[list[float]],
         betas_normal: list[float], betas_reduce: list[float]) -> None:
    """alphas = log(p), so softmax(alphas) is exactly p."""
    with torch.no_grad():
        net.alphas_normal.copy_(torch.tensor(normal).log())
        net.alphas_reduce.copy_(torch.tensor(reduce).log())
        net.betas_normal.copy_(torch.tensor(betas_normal))
        net.betas_reduce.copy_(torch.tensor(betas_reduce))


UNIFORM = [[1 / 8] * 8] * 14

# Normal-cell alphas, one row per edge: node 0 reads edges 0-1, node 1 edges 2-4, node 2 edges 5-8, node 3 9-13.
HAND = [
    _probs(sep_conv_3x3=0.5),                 # node 0, input 0
    _probs(dil_conv_3x3=0.4),                 # node 0, input 1
    _probs(sep_conv_5x5=0.6),                 # node 1, input 0
    _probs(max_pool_3x3=0.5),                 # node 1, input 1
    _probs(skip_connect=0.3),                 # node 1, input 2
    _probs(none=0.9, max_pool_3x3=0.05),      # node 2, input 0: `none` dominates, best real op is weak
    _probs(skip_connect=0.3),                 # node 2, input 1
    _probs(avg_pool_3x3=0.2),                 # node 2, input 2
    _probs(sep_conv_5x5=0.15),                # node 2, input 3
    [1 / 8] * 8,                              # node 3, inputs 0-3: all ops tie at 1/8
    [1 / 8] * 8,
    [1 / 8] * 8,
    [1 / 8] * 8,
    _probs(none=0.7, dil_conv_5x5=0.2),       # node 3, input 4: `none` is its largest, dil_conv_5x5 still wins the node
]

HAND_GENE = [
    ("sep_conv_3x3", 0), ("dil_conv_3x3", 1),      # 0.5 before 0.4
    ("sep_conv_5x5", 0), ("max_pool_3x3", 1),      # 0.6, 0.5 (input 2 only 0.3)
    ("skip_connect", 1), ("avg_pool_3x3", 2),      # input 0's 0.9 is `none`: not counted
    ("dil_conv_5x5", 4), ("max_pool_3x3", 0),      # 0.2 first; ties at 1/8: lowest input, first non-none op
]

# Betas that change the choice: node 0 favours input 1, node 1 input 2 (softmax over that node only).
HAND_BETAS = [0.0, math.log(2.0), 0.0, 0.0, math.log(4.0), 0, 0, 0, 0, 0, 0, 0, 0, 0]
HAND_BETAS_GENE = [
    ("dil_conv_3x3", 1), ("sep_conv_3x3", 0),      # 0.4 * 2/3 > 0.5 * 1/3: order flips
    ("skip_connect", 2), ("sep_conv_5x5", 0),      # 0.3 * 4/6 > 0.6 * 1/6 > 0.5 * 1/6: input 2 now chosen
    ("skip_connect", 1), ("avg_pool_3x3", 2),
    ("dil_conv_5x5", 4), ("max_pool_3x3", 0),
]

TIES_GENE = [("max_pool_3x3", 0), ("max_pool_3x3", 1)] * 4


def test_genotype_by_hand_from_alphas() -> None:
    net = Network(8, 10, 3)
    _set(net, HAND, UNIFORM, [0.0] * 14, [0.0] * 14)
    g = net.genotype()
    assert isinstance(g, Genotype)
    assert list(g.normal) == HAND_GENE
    assert list(g.reduce) == TIES_GENE  # all equal: edges 0 and 1, first non-none op (max_pool_3x3)
    assert list(g.normal_concat) == [2, 3, 4, 5] and list(g.reduce_concat) == [2, 3, 4, 5]


def test_genotype_betas_change_the_edges() -> None:
    net = Network(8, 10, 3)
    _set(net, HAND, HAND, HAND_BETAS, [0.0] * 14)
    g = net.genotype()
    assert list(g.normal) == HAND_BETAS_GENE
    assert list(g.reduce) == HAND_GENE  # reduce reads its own alphas and betas
    assert HAND_BETAS_GENE != HAND_GENE


def test_genotype_betas_alone_pick_the_edges() -> None:
    net = Network(8, 10, 3)
    # uniform alphas; the betas of node 3 (edges 9-13) favour inputs 3 then 4; a constant shift of another
    # node's betas changes nothing there, since each node is normalised on its own
    betas = [5.0, 5.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 1.0]
    _set(net, UNIFORM, UNIFORM, [0.0] * 14, betas)
    g = net.genotype()
    assert list(g.normal) == TIES_GENE
    assert list(g.reduce) == TIES_GENE[:6] + [("max_pool_3x3", 3), ("max_pool_3x3", 4)]


def _reference_cell(alphas: torch.Tensor, betas: torch.Tensor, steps: int = 4) -> list[tuple[str, int]]:
    """The PC-DARTS rule written independently, vectorised: scale, mask `none`, stable top-2, first argmax."""
    w = F.softmax(alphas.float(), dim=-1).numpy()
    b = betas.float()
    gene, start = [], 0
    none = PRIMITIVES.index("none")
    for i in range(steps):
        n = 2 + i
        W = w[start:start + n] * F.softmax(b[start:start + n], dim=-1).numpy()[:, None]
        W[:, none] = -np.inf
        strongest = np.argsort(-W.max(axis=1), kind="stable")[:2]
        gene += [(PRIMITIVES[int(W[j].argmax())], int(j)) for j in strongest]
        start += n
    return gene


@pytest.mark.parametrize("seed", range(10))
def test_genotype_matches_reference_on_random_arch(seed: int) -> None:
    net = Network(8, 10, 3)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.arch_parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * (0.5 + seed))
    g = net.genotype()
    assert list(g.normal) == _reference_cell(net.alphas_normal.detach(), net.betas_normal.detach())
    assert list(g.reduce) == _reference_cell(net.alphas_reduce.detach(), net.betas_reduce.detach())
    for gene in (g.normal, g.reduce):
        assert all(op != "none" for op, _ in gene)
        for node in range(4):
            (_, a), (_, b) = gene[2 * node], gene[2 * node + 1]
            assert a != b and 0 <= a < 2 + node and 0 <= b < 2 + node


def test_partial_channels_1_is_the_whole_channel_mixed_op() -> None:
    """K = 1 (--partial_channels 1): every op sees every channel, so each edge is DARTS's weighted sum of ops."""
    torch.manual_seed(0)
    net = Network(4, 10, 3, k=1)
    op = net.cells[0]._ops[0]
    assert op._ops[-1].op[1].in_channels == 4  # dil_conv_5x5 convolves all 4 channels
    x = torch.randn(2, 4, 8, 8)
    w = torch.softmax(torch.randn(len(op._ops)), 0)
    op.eval()
    expected = sum(wi * o(x) for wi, o in zip(w, op._ops))
    torch.testing.assert_close(op(x, w), expected)
    assert net(torch.randn(2, 3, 8, 8)).shape == (2, 10)
