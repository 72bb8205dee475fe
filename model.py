"""Evaluation networks built from a genotype: NetworkCIFAR and NetworkImageNet.

The modules are registered in the order of the DARTS evaluation code, so the state_dict has its
keys, order and shapes and published DARTS / PC-DARTS / MOOD-NAS checkpoints load with strict=True.

    >>> import genotypes
    >>> net = NetworkCIFAR(36, 10, 20, True, genotypes.PC_DARTS_cifar)
    >>> net.drop_path_prob = 0.2
    >>> logits, logits_aux = net(torch.randn(2, 3, 32, 32))
"""

from __future__ import annotations

import torch
from torch import nn

from genotypes import Genotype
from operations import OPS, FactorizedReduce, Identity, ReLUConvBN

__all__ = [
    "drop_path", "imagenet_stems", "Cell", "AuxiliaryHeadCIFAR", "AuxiliaryHeadImageNet", "NetworkCIFAR",
    "NetworkImageNet",
]


def drop_path(x: torch.Tensor, drop_prob: float | torch.Tensor) -> torch.Tensor:
    """Zero whole samples of a branch with probability drop_prob and rescale the survivors.

    ``drop_prob`` may be a 0-d tensor (what a compiled network reads, so that a new value each epoch
    does not recompile it).
    """
    keep_prob = 1.0 - drop_prob
    mask = torch.empty(x.size(0), 1, 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep_prob)
    return x / keep_prob * mask


class Cell(nn.Module):
    """One cell of the evaluation network: each node sums two ops applied to earlier states."""

    def __init__(
        self, genotype: Genotype, C_prev_prev: int, C_prev: int, C: int, reduction: bool, reduction_prev: bool
    ):
        super().__init__()
        if reduction_prev:
            self.preprocess0 = FactorizedReduce(C_prev_prev, C)
        else:
            self.preprocess0 = ReLUConvBN(C_prev_prev, C, 1, 1, 0)
        self.preprocess1 = ReLUConvBN(C_prev, C, 1, 1, 0)
        edges = genotype.reduce if reduction else genotype.normal
        concat = genotype.reduce_concat if reduction else genotype.normal_concat
        op_names, indices = zip(*edges)
        self.reduction = reduction
        self._steps = len(op_names) // 2
        self._concat = list(concat)
        self.multiplier = len(self._concat)
        self._indices = list(indices)
        self._ops = nn.ModuleList(
            OPS[name](C, 2 if reduction and index < 2 else 1, True) for name, index in zip(op_names, indices)
        )

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float | torch.Tensor | None) -> torch.Tensor:
        """``drop_prob``: drop-path probability while training (None or 0: no drop path)."""
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        drop = self.training and drop_prob is not None and (torch.is_tensor(drop_prob) or drop_prob > 0.0)
        for i in range(self._steps):
            total = None
            for k in (2 * i, 2 * i + 1):
                op = self._ops[k]
                h = op(states[self._indices[k]])
                if drop and not isinstance(op, Identity):
                    h = drop_path(h, drop_prob)
                total = h if total is None else total + h
            states.append(total)
        return torch.cat([states[i] for i in self._concat], dim=1)


class AuxiliaryHeadCIFAR(nn.Module):
    """Auxiliary classifier on the 8x8 feature map, used only while training."""

    def __init__(self, C: int, num_classes: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),
            nn.Conv2d(C, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        return self.classifier(x.flatten(1))


class AuxiliaryHeadImageNet(nn.Module):
    """Auxiliary classifier on the 14x14 map; like DARTS, without a BatchNorm after the 2x2 conv."""

    def __init__(self, C: int, num_classes: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.AvgPool2d(5, stride=2, padding=0, count_include_pad=False),
            nn.Conv2d(C, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        return self.classifier(x.flatten(1))


class _Network(nn.Module):
    """Shared body of both evaluation networks: the cell stack, the auxiliary head and the classifier."""

    @property
    def drop_path_prob(self) -> float:
        """The drop-path probability (train.py raises it epoch by epoch)."""
        return self._drop_path_prob

    @drop_path_prob.setter
    def drop_path_prob(self, p: float) -> None:
        # Eager runs read the float; a compiled forward reads the tensor copy and guards only on whether
        # drop path is on, so a new probability each epoch does not recompile it.
        self._drop_path_prob = float(p)
        self._drop_path_on = self._drop_path_prob > 0.0
        self._buffers["drop_prob_t"].fill_(self._drop_path_prob)

    def _build_cells(
        self, C: int, num_classes: int, layers: int, auxiliary: bool, genotype: Genotype,
        C_prev_prev: int, C_prev: int, reduction_prev: bool, aux_head: type[nn.Module],
    ) -> int:
        self._layers = layers
        self._auxiliary = auxiliary
        self.register_buffer("drop_prob_t", torch.zeros(()), persistent=False)
        self.drop_path_prob = 0.0
        self.cells = nn.ModuleList()
        C_curr = C
        C_aux = C_prev
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                C_curr *= 2
            cell = Cell(genotype, C_prev_prev, C_prev, C_curr, reduction, reduction_prev)
            reduction_prev = reduction
            self.cells.append(cell)
            C_prev_prev, C_prev = C_prev, cell.multiplier * C_curr
            if i == 2 * layers // 3:
                C_aux = C_prev
        if auxiliary:
            self.auxiliary_head = aux_head(C_aux, num_classes)
        return C_prev

    def _run_cells(self, s0: torch.Tensor, s1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        logits_aux = None
        drop: float | torch.Tensor | None = None
        if self._drop_path_on:
            drop = self.drop_prob_t if torch.compiler.is_compiling() else self._drop_path_prob
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, drop)
            if i == 2 * self._layers // 3 and self._auxiliary and self.training:
                logits_aux = self.auxiliary_head(s1)
        out = self.global_pooling(s1)
        return self.classifier(out.flatten(1)), logits_aux


class NetworkCIFAR(_Network):
    """The CIFAR evaluation network: a 3x3 stem, ``layers`` cells with reductions at 1/3 and 2/3."""

    def __init__(self, C: int, num_classes: int, layers: int, auxiliary: bool, genotype: Genotype):
        super().__init__()
        stem_multiplier = 3
        C_stem = stem_multiplier * C
        self.stem = nn.Sequential(nn.Conv2d(3, C_stem, 3, padding=1, bias=False), nn.BatchNorm2d(C_stem))
        C_prev = self._build_cells(
            C, num_classes, layers, auxiliary, genotype, C_stem, C_stem, False, AuxiliaryHeadCIFAR
        )
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)

    def forward(self, input: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        s = self.stem(input)
        return self._run_cells(s, s)


def imagenet_stems(C: int) -> tuple[nn.Sequential, nn.Sequential]:
    """DARTS's stride-8 ImageNet stem as its two halves (stem0: /4, stem1: /2); the supernet uses it too."""
    stem0 = nn.Sequential(
        nn.Conv2d(3, C // 2, kernel_size=3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(C // 2),
        nn.ReLU(inplace=True),
        nn.Conv2d(C // 2, C, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(C),
    )
    stem1 = nn.Sequential(
        nn.ReLU(inplace=False),
        nn.Conv2d(C, C, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(C),
    )
    return stem0, stem1


class NetworkImageNet(_Network):
    """The ImageNet (mobile setting) evaluation network: two strided stems, then the cell stack."""

    def __init__(self, C: int, num_classes: int, layers: int, auxiliary: bool, genotype: Genotype):
        super().__init__()
        self.stem0, self.stem1 = imagenet_stems(C)
        C_prev = self._build_cells(C, num_classes, layers, auxiliary, genotype, C, C, True, AuxiliaryHeadImageNet)
        # DARTS uses AvgPool2d(7) at 224x224 input; the adaptive pool is the same there and allows smaller inputs.
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)

    def forward(self, input: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        s0 = self.stem0(input)
        s1 = self.stem1(s0)
        return self._run_cells(s0, s1)


def build_network(genotype: Genotype, num_classes: int, init_channels: int, layers: int, auxiliary: bool,
                  imagenet: bool = False) -> nn.Module:
    """The evaluation network of a genotype (NetworkImageNet for ImageNet): the one constructor that
    train.py, test.py, ensemble.py, the profiler, the memory measurement and the benchmark share."""
    net_cls = NetworkImageNet if imagenet else NetworkCIFAR
    return net_cls(init_channels, num_classes, layers, auxiliary, genotype)


def paper_network(imagenet: bool = False) -> tuple[int, int]:
    """(init_channels, layers) of the paper's evaluation network, NetworkCIFAR(36, classes, 20) or
    NetworkImageNet(48, classes, 14): the network a search's model_size counts and the tools profile by default."""
    return (48, 14) if imagenet else (36, 20)


def last_side(side: int, imagenet: bool = False) -> int:
    """The side of the map the last cells work on, for a side that fits (input_side_error): CIFAR's two
    reductions quarter it; ImageNet's stems take it to ceil(side / 4) and three halvings follow."""
    return -(-side // 4) // 8 if imagenet else side // 4


def _side_fits(side: int, imagenet: bool, auxiliary: bool) -> bool:
    """Whether side x side images pass the network (see input_side_error)."""
    if imagenet:
        stem0 = -(-side // 4)  # two stride-2, padding-1 3x3 convolutions round up
        if stem0 < 8 or stem0 % 8:
            return False
        window, stride = 5, 2
    else:
        if side < 4 or side % 4:
            return False
        window, stride = 5, 3
    last = last_side(side, imagenet)
    # the auxiliary head's 2x2 convolution must turn its pooled map into the 1x1 its Linear(768) reads
    return not auxiliary or (last >= window and (last - window) // stride + 1 == 2)


def input_side_error(side: int, imagenet: bool = False, auxiliary: bool = False) -> str | None:
    """Why the evaluation network (and the supernet, which reduces alike) cannot take side x side images, as the
    rest of a one-line message after "--image_size N"; None when it can.

    A FactorizedReduce halves a map with two stride-2 1x1 convolutions, one shifted by a pixel, whose outputs
    agree only on an even side: NetworkCIFAR has two of those halvings (its reduction cells), NetworkImageNet
    three after its stems (the first cell's preprocessing of stem0's map, then the reduction cells). DARTS's
    auxiliary heads are fixed to the paper's sizes: the 8x8 map of 32x32 CIFAR, the 7x7 map of 224x224 ImageNet.
    Without this check such a side fails deep inside the first forward pass, once the run folder exists.
    """
    if _side_fits(side, imagenet, auxiliary):
        return None
    if side < 1:
        return "must be >= 1"
    step = 32 if imagenet else 4  # every multiple of these fits (ImageNet's 29-31 too, but 32 is the round one)
    nearest = " and ".join(str(n) for n in (side // step * step, -(-side // step) * step) if n >= step)
    if auxiliary and _side_fits(side, imagenet, False):
        sizes = "221-224 or 253-256" if imagenet else "32, 36 or 40"
        return (f"does not fit --auxiliary: DARTS's auxiliary head pools the map after the second reduction to "
                f"2x2 with a 5x5 window, which takes an input side of {sizes} (drop --auxiliary, or use one)")
    if imagenet:
        return (f"does not fit NetworkImageNet: its stems take a side to ceil(side / 4) = {-(-side // 4)} and "
                "then halve it three times with factorised reduces, which need an even side, so ceil(side / 4) "
                f"must be a multiple of 8 (the nearest multiples of 32, which fit: {nearest})")
    return (f"must be a multiple of 4: the network's two reduction cells halve the side with factorised "
            f"reduces, which need an even side (the nearest sizes that fit: {nearest})")


def init_channels_error(channels: int, imagenet: bool = False) -> str | None:
    """Why the evaluation network cannot be built C channels wide, as the rest of a one-line message after
    "--flag C"; None when it can. NetworkImageNet's first cell halves stem0's C-channel map with a factorised
    reduce, whose two convolutions give C/2 channels each; NetworkCIFAR's factorised reduces all work on the
    doubled widths after a reduction, so any C builds there."""
    if channels < 1:
        return "must be >= 1"
    if imagenet and channels % 2:
        return ("must be even on ImageNet: NetworkImageNet's first cell halves the stem's map with a factorised "
                "reduce, two convolutions of C/2 channels each")
    return None
