"""The PC-DARTS supernet: partial-channel mixed ops, channel shuffle and edge normalisation.

Each edge sends 1/K of its channels through all candidate operations, weighted by softmax(alpha),
and lets the rest bypass; each node weights its incoming edges by a softmax over betas. The
architecture parameters (alphas and betas) are registered parameters but are kept apart from the
network weights: ``weights()`` feeds the weight optimizer and the penalty, ``arch_parameters()``
the architecture optimizer. The state_dict holds the weights in the original PC-DARTS layout,
followed by alphas_normal, alphas_reduce, betas_normal and betas_reduce.

    >>> net = Network(16, 10, 8)
    >>> logits = net(torch.randn(2, 3, 32, 32))
    >>> net.genotype()
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from genotypes import PRIMITIVES, Genotype
from model import imagenet_stems
from operations import OPS, FactorizedReduce, ReLUConvBN

__all__ = ["channel_shuffle", "MixedOp", "Cell", "Network", "NetworkImageNet", "ARCH_NAMES"]

ARCH_NAMES = ("alphas_normal", "alphas_reduce", "betas_normal", "betas_reduce")


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave channels across ``groups``, so the next edge samples a different 1/K slice."""
    b, c, h, w = x.shape
    return x.view(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)


class MixedOp(nn.Module):
    """A weighted sum of every primitive over the first C/K channels; the rest bypass."""

    def __init__(self, C: int, stride: int, k: int = 4):
        super().__init__()
        self.k = k
        self.mp = nn.MaxPool2d(2, 2)
        self._ops = nn.ModuleList()
        for primitive in PRIMITIVES:
            op = OPS[primitive](C // k, stride, False)
            if "pool" in primitive:
                op = nn.Sequential(op, nn.BatchNorm2d(C // k, affine=False))
            self._ops.append(op)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1] // self.k
        head, tail = x[:, :channels], x[:, channels:]
        out = sum(w * op(head) for w, op in zip(weights, self._ops))
        if self.k == 1:  # DARTS's mixed op: nothing bypasses, nothing to shuffle
            return out
        if out.shape[2] != x.shape[2]:
            tail = self.mp(tail)
        return channel_shuffle(torch.cat([out, tail], dim=1), self.k)


class Cell(nn.Module):
    """A search cell: every intermediate node sums a mixed op over all earlier states."""

    def __init__(
        self, steps: int, multiplier: int, C_prev_prev: int, C_prev: int, C: int,
        reduction: bool, reduction_prev: bool, k: int = 4,
    ):
        super().__init__()
        self.reduction = reduction
        if reduction_prev:
            self.preprocess0 = FactorizedReduce(C_prev_prev, C, affine=False)
        else:
            self.preprocess0 = ReLUConvBN(C_prev_prev, C, 1, 1, 0, affine=False)
        self.preprocess1 = ReLUConvBN(C_prev, C, 1, 1, 0, affine=False)
        self._steps = steps
        self._multiplier = multiplier
        self._ops = nn.ModuleList()
        for i in range(steps):
            for j in range(2 + i):
                self._ops.append(MixedOp(C, 2 if reduction and j < 2 else 1, k))

    def forward(
        self, s0: torch.Tensor, s1: torch.Tensor, weights: torch.Tensor, edge_weights: torch.Tensor
    ) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        offset = 0
        for _ in range(self._steps):
            s = sum(
                edge_weights[offset + j] * self._ops[offset + j](h, weights[offset + j]) for j, h in enumerate(states)
            )
            offset += len(states)
            states.append(s)
        return torch.cat(states[-self._multiplier:], dim=1)


def edge_softmax(betas: torch.Tensor, steps: int) -> torch.Tensor:
    """Normalise the betas of each node's incoming edges (2, 3, 4, ... of them) separately."""
    parts, start = [], 0
    for i in range(steps):
        end = start + 2 + i
        parts.append(F.softmax(betas[start:end], dim=-1))
        start = end
    return torch.cat(parts, dim=0)


def _derive_cell(weights: np.ndarray, edge_weights: np.ndarray, steps: int) -> list[tuple[str, int]]:
    """Keep, per node, the two strongest edges and their best non-`none` op (PC-DARTS's rule)."""
    none = PRIMITIVES.index("none")
    gene: list[tuple[str, int]] = []
    start = 0
    for i in range(steps):
        n = 2 + i
        W = weights[start:start + n] * edge_weights[start:start + n, None]
        strength = [max(W[j][k] for k in range(W.shape[1]) if k != none) for j in range(n)]
        edges = sorted(range(n), key=lambda j: -strength[j])[:2]
        for j in edges:
            k_best = None
            for k in range(W.shape[1]):
                if k != none and (k_best is None or W[j][k] > W[j][k_best]):
                    k_best = k
            gene.append((PRIMITIVES[k_best], j))
        start += n
    return gene


class Network(nn.Module):
    """The CIFAR supernet: a 3x3 stem and ``layers`` search cells, reductions at 1/3 and 2/3."""

    def __init__(
        self, C: int, num_classes: int, layers: int, steps: int = 4, multiplier: int = 4,
        stem_multiplier: int = 3, k: int = 4,
    ):
        super().__init__()
        self._C = C
        self._num_classes = num_classes
        self._layers = layers
        self._steps = steps
        self._multiplier = multiplier
        self._stem_multiplier = stem_multiplier
        self._k = k
        C_prev_prev, C_prev, reduction_prev = self._make_stem(C, stem_multiplier)
        C_curr = C
        self.cells = nn.ModuleList()
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                C_curr *= 2
            self.cells.append(
                Cell(steps, multiplier, C_prev_prev, C_prev, C_curr, reduction, reduction_prev, k)
            )
            reduction_prev = reduction
            C_prev_prev, C_prev = C_prev, multiplier * C_curr
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)
        self._initialize_alphas()
        self._register_state_dict_hook(_arch_last)

    def _make_stem(self, C: int, stem_multiplier: int) -> tuple[int, int, bool]:
        C_stem = stem_multiplier * C
        self.stem = nn.Sequential(nn.Conv2d(3, C_stem, 3, padding=1, bias=False), nn.BatchNorm2d(C_stem))
        return C_stem, C_stem, False

    def _stem_forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.stem(x)
        return s, s

    def _initialize_alphas(self) -> None:
        n_edges = sum(2 + i for i in range(self._steps))
        n_ops = len(PRIMITIVES)
        self.alphas_normal = nn.Parameter(1e-3 * torch.randn(n_edges, n_ops))
        self.alphas_reduce = nn.Parameter(1e-3 * torch.randn(n_edges, n_ops))
        self.betas_normal = nn.Parameter(1e-3 * torch.randn(n_edges))
        self.betas_reduce = nn.Parameter(1e-3 * torch.randn(n_edges))

    def arch_parameters(self) -> list[nn.Parameter]:
        """Alphas and betas: what the architecture step trains (the weight step never does)."""
        return [self.alphas_normal, self.alphas_reduce, self.betas_normal, self.betas_reduce]

    def named_weights(self) -> Iterator[tuple[str, nn.Parameter]]:
        """The network weights (everything but alphas and betas), in state_dict order."""
        return ((n, p) for n, p in self.named_parameters() if n not in ARCH_NAMES)

    def weights(self) -> Iterator[nn.Parameter]:
        """Every parameter but the architecture's: what the weight step and the L1/L2 penalty act on."""
        return (p for _, p in self.named_weights())

    def new(self) -> Network:
        """A fresh supernet of the same shape carrying a copy of these architecture parameters."""
        clone = type(self)(
            self._C, self._num_classes, self._layers, self._steps, self._multiplier, self._stem_multiplier, self._k
        ).to(self.alphas_normal.device)
        with torch.no_grad():
            for mine, theirs in zip(clone.arch_parameters(), self.arch_parameters()):
                mine.copy_(theirs)
        return clone

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        s0, s1 = self._stem_forward(input)
        normal = (F.softmax(self.alphas_normal, dim=-1), edge_softmax(self.betas_normal, self._steps))
        reduce = (F.softmax(self.alphas_reduce, dim=-1), edge_softmax(self.betas_reduce, self._steps))
        for cell in self.cells:
            weights, edge_weights = reduce if cell.reduction else normal
            s0, s1 = s1, cell(s0, s1, weights, edge_weights)
        out = self.global_pooling(s1)
        return self.classifier(out.flatten(1))

    def genotype(self) -> Genotype:
        """Derive the discrete cell: edges scaled by their normalised betas, top two per node."""
        with torch.no_grad():
            def parse(alphas: torch.Tensor, betas: torch.Tensor) -> list[tuple[str, int]]:
                weights = F.softmax(alphas.float(), dim=-1).cpu().numpy()
                edges = edge_softmax(betas.float(), self._steps).cpu().numpy()
                return _derive_cell(weights, edges, self._steps)

            normal = parse(self.alphas_normal, self.betas_normal)
            reduce = parse(self.alphas_reduce, self.betas_reduce)
        concat = list(range(2 + self._steps - self._multiplier, self._steps + 2))
        return Genotype(normal=normal, normal_concat=concat, reduce=reduce, reduce_concat=concat)

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: Any, **kwargs: Any) -> None:
        # Checkpoints of the original code hold the weights only: keep our alphas/betas then.
        for name in ARCH_NAMES:
            state_dict.setdefault(prefix + name, getattr(self, name).detach().clone())
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def _arch_last(module: Network, state_dict: dict, prefix: str, local_metadata: Any) -> None:
    """Move alphas and betas behind the weights, where the original layout has them."""
    for name in ARCH_NAMES:
        state_dict[prefix + name] = state_dict.pop(prefix + name)


class NetworkImageNet(Network):
    """The ImageNet supernet of PC-DARTS: a stride-8 stem and K = 2."""

    def __init__(
        self, C: int, num_classes: int, layers: int, steps: int = 4, multiplier: int = 4,
        stem_multiplier: int = 3, k: int = 2,
    ):
        super().__init__(C, num_classes, layers, steps, multiplier, stem_multiplier, k)

    def _make_stem(self, C: int, stem_multiplier: int) -> tuple[int, int, bool]:
        self.stem0, self.stem1 = imagenet_stems(C)
        return C, C, True

    def _stem_forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s0 = self.stem0(x)
        return s0, self.stem1(s0)
