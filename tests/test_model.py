"""model.py: the evaluation networks build from every genotype, match the DARTS checkpoint layout and reload."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import layout, spec_lines
from torch import nn

import genotypes
from genotypes import PUBLISHED, Genotype
from model import Cell, NetworkCIFAR, NetworkImageNet, build_network, drop_path, paper_network
from operations import FactorizedReduce, Identity, ReLUConvBN


def _count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_every_published_genotype_trains_a_small_cifar_net(name: str) -> None:
    # layers=3: reductions at cells 1 and 2; the auxiliary head sits on cell 2's 8x8 output (32x32 input).
    net = NetworkCIFAR(4, 10, 3, True, PUBLISHED[name])
    net.train()
    net.drop_path_prob = 0.2
    x = torch.randn(2, 3, 32, 32)
    logits, aux = net(x)
    assert logits.shape == (2, 10) and aux is not None and aux.shape == (2, 10)
    y = torch.tensor([1, 7])
    loss = F.cross_entropy(logits, y) + 0.4 * F.cross_entropy(aux, y)
    loss.backward()
    for n, p in net.named_parameters():
        assert p.grad is not None, n
        assert torch.isfinite(p.grad).all(), n
    net.eval()
    with torch.no_grad():
        logits_eval, aux_eval = net(x)
    assert aux_eval is None and torch.isfinite(logits_eval).all()

    plain = NetworkCIFAR(4, 10, 3, False, PUBLISHED[name])
    plain.drop_path_prob = 0.2
    logits, aux = plain(x)
    assert aux is None and logits.shape == (2, 10)
    logits.sum().backward()
    assert not hasattr(plain, "auxiliary_head")


@pytest.mark.parametrize(("name", "expected"), [("PC_DARTS_cifar", 3_634_678), ("DARTS_V2", 3_349_342)])
def test_parameter_counts_at_c36_l20(name: str, expected: int) -> None:
    with torch.device("meta"):
        net = NetworkCIFAR(36, 10, 20, False, getattr(genotypes, name))
    assert _count(net) == expected


def test_paper_network_is_the_published_sizes() -> None:
    """paper_network, the one place the tools take the paper's evaluation network from, builds the published
    3.63M-parameter PC-DARTS CIFAR model and the 4.7M-parameter DARTS_V2 ImageNet one."""
    with torch.device("meta"):
        cifar = build_network(genotypes.PC_DARTS_cifar, 10, *paper_network(), False)
        imagenet = build_network(genotypes.DARTS_V2, 1000, *paper_network(imagenet=True), False, imagenet=True)
    assert _count(cifar) == 3_634_678
    assert isinstance(imagenet, NetworkImageNet) and 4.6e6 < _count(imagenet) < 4.8e6


def test_state_dict_layout_matches_darts_checkpoints(data_dir: Path) -> None:
    with torch.device("meta"):
        net = NetworkCIFAR(36, 10, 20, True, genotypes.PC_DARTS_cifar)
    expected = spec_lines((data_dir / "eval_state_dict_PC_DARTS_cifar.txt").read_text())
    got = layout(net.state_dict())
    assert len(got) == len(expected) == 1720
    for i, (g, e) in enumerate(zip(got, expected)):
        assert g == e, f"line {i}: {g!r} != {e!r}"


def test_cell_structure_follows_darts() -> None:
    net = NetworkCIFAR(8, 10, 5, True, genotypes.PC_DARTS_cifar)
    reductions = [i for i, c in enumerate(net.cells) if c.reduction]
    assert reductions == [1, 3]
    for i, cell in enumerate(net.cells):
        prev_reduction = i - 1 in reductions
        assert isinstance(cell.preprocess0, FactorizedReduce if prev_reduction else ReLUConvBN)
        assert isinstance(cell.preprocess1, ReLUConvBN)
        edges = genotypes.PC_DARTS_cifar.reduce if cell.reduction else genotypes.PC_DARTS_cifar.normal
        for op, (name, index) in zip(cell._ops, edges):
            strided = cell.reduction and index < 2
            if name == "skip_connect":
                assert isinstance(op, FactorizedReduce if strided else Identity)
    # the auxiliary head reads cell 2 * layers // 3 = 3 (C = 32 there, 4 nodes concatenated)
    assert net.auxiliary_head.features[2].in_channels == 4 * 32
    assert net.classifier.in_features == 4 * 32


def test_drop_path_zeroes_whole_samples_and_rescales() -> None:
    x = torch.ones(1000, 2, 3, 3)
    y = drop_path(x, 0.25)
    per_sample = y.flatten(1)
    kept = (per_sample == 1 / 0.75).all(1)
    dropped = (per_sample == 0).all(1)
    assert bool((kept | dropped).all())
    assert 0.65 < kept.float().mean().item() < 0.85
    assert torch.equal(x, torch.ones_like(x))  # the input is not modified


def _cell(genotype: Genotype) -> Cell:
    return Cell(genotype, 8, 8, 8, reduction=False, reduction_prev=False)


def test_drop_path_skips_identity_edges_only() -> None:
    skips = Genotype([("skip_connect", 0), ("skip_connect", 1)] * 4, [2, 3, 4, 5],
                     [("skip_connect", 0), ("skip_connect", 1)] * 4, [2, 3, 4, 5])
    s0, s1 = torch.randn(4, 8, 6, 6), torch.randn(4, 8, 6, 6)
    cell = _cell(skips).train()
    torch.testing.assert_close(cell(s0, s1, 0.9), cell(s0, s1, 0.0))
    convs = Genotype([("sep_conv_3x3", 0), ("sep_conv_3x3", 1)] * 4, [2, 3, 4, 5],
                     [("sep_conv_3x3", 0), ("sep_conv_3x3", 1)] * 4, [2, 3, 4, 5])
    cell = _cell(convs).train()
    assert not torch.allclose(cell(s0, s1, 0.9), cell(s0, s1, 0.0))
    cell.eval()  # no drop path in eval mode
    torch.testing.assert_close(cell(s0, s1, 0.9), cell(s0, s1, 0.0))


def test_drop_path_prob_is_used_in_train_mode_only() -> None:
    net = NetworkCIFAR(4, 10, 3, False, genotypes.DARTS_V2)
    x = torch.randn(4, 3, 16, 16)
    net.eval()
    with torch.no_grad():
        net.drop_path_prob = 0.0
        ref = net(x)[0]
        net.drop_path_prob = 0.5
        torch.testing.assert_close(net(x)[0], ref)
        net.train()
        a = net(x)[0]
        b = net(x)[0]
    assert not torch.allclose(a, b)


def test_state_dict_reloads_strictly_and_reproduces_outputs(tmp_path: Path) -> None:
    net = NetworkCIFAR(8, 10, 5, True, genotypes.PC_DARTS_cifar)
    net.train()
    net.drop_path_prob = 0.1
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        for _ in range(2):  # move the BatchNorm statistics away from their defaults
            net(x)
        for p in net.parameters():  # and the affine BN weights away from 1 / 0
            p.add_(0.01 * torch.randn_like(p))
    path = tmp_path / "weights.pt"
    torch.save(net.state_dict(), path)

    other = NetworkCIFAR(8, 10, 5, True, genotypes.PC_DARTS_cifar)
    result = other.load_state_dict(torch.load(path, weights_only=True), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    net.eval()
    other.eval()
    with torch.no_grad():
        a, aux_a = net(x)
        b, aux_b = other(x)
    assert aux_a is None and aux_b is None
    assert torch.equal(a, b)
    # the same weights without the auxiliary head fail a strict load (the head's keys are unexpected)
    with pytest.raises(RuntimeError):
        NetworkCIFAR(8, 10, 5, False, genotypes.PC_DARTS_cifar).load_state_dict(
            torch.load(path, weights_only=True), strict=True
        )


def test_imagenet_network_small() -> None:
    net = NetworkImageNet(8, 10, 3, False, genotypes.PC_DARTS_image)
    net.drop_path_prob = 0.1
    x = torch.randn(2, 3, 64, 64)
    logits, aux = net(x)
    assert logits.shape == (2, 10) and aux is None
    logits.sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    # stems: stride 4 then stride 2; the first cell reduces s0 by a factorized reduce
    assert isinstance(net.cells[0].preprocess0, FactorizedReduce)
    s0 = net.stem0(x)
    assert s0.shape[-1] == 16 and net.stem1(s0).shape[-1] == 8
    keys = list(net.state_dict())
    assert keys[0] == "stem0.0.weight" and keys[5] == "stem0.1.num_batches_tracked"
    assert keys.index("stem1.1.weight") < keys.index("cells.0.preprocess0.conv_1.weight")


def test_imagenet_network_with_auxiliary_head() -> None:
    # 224 / 8 = 28 after the stems, 7x7 after the second reduction: where the auxiliary head reads
    net = NetworkImageNet(4, 10, 3, True, genotypes.DARTS_V2)
    net.drop_path_prob = 0.1
    logits, aux = net(torch.randn(2, 3, 224, 224))
    assert logits.shape == (2, 10) and aux.shape == (2, 10)
    (logits.sum() + aux.sum()).backward()
    # DARTS's ImageNet head has no BatchNorm after its 2x2 conv: two convs, one BN
    kinds = [type(m) for m in net.auxiliary_head.features]
    assert kinds.count(nn.BatchNorm2d) == 1 and kinds.count(nn.Conv2d) == 2
    keys = [k for k in net.state_dict() if k.startswith("auxiliary_head")]
    assert keys[-3:] == ["auxiliary_head.features.5.weight", "auxiliary_head.classifier.weight",
                         "auxiliary_head.classifier.bias"]


def test_imagenet_parameter_count_mobile_setting() -> None:
    """DARTS_V2 at C=48, 14 layers on ImageNet is the published 4.7M-parameter model (without the aux head)."""
    with torch.device("meta"):
        net = NetworkImageNet(48, 1000, 14, False, genotypes.DARTS_V2)
    assert 4.6e6 < _count(net) < 4.8e6


@torch.no_grad()
def _passes(net: nn.Module, side: int) -> bool:
    try:
        net(torch.zeros(2, 3, side, side))
    except RuntimeError:  # the shape errors a side that does not fit raises (cat, the auxiliary Linear)
        return False
    return True


@pytest.mark.parametrize("imagenet, sides", [(False, range(1, 73)), (True, range(1, 270))])
def test_input_side_error_is_exactly_the_sides_the_networks_cannot_take(imagenet: bool, sides: range) -> None:
    """The rule every --image_size check uses says None exactly where the evaluation network (with and
    without DARTS's auxiliary head) and the supernet run a forward pass, and one line where they fail."""
    import model_search
    from model import build_network, input_side_error
    nets = {aux: build_network(genotypes.PC_DARTS_image if imagenet else genotypes.PC_DARTS_cifar, 10, 4, 5, aux,
                               imagenet).train() for aux in (False, True)}
    supernet = (model_search.NetworkImageNet if imagenet else model_search.Network)(4, 10, 3, k=2)
    fits = {aux: [] for aux in (False, True)}
    for side in sides:
        for aux, net in nets.items():
            why = input_side_error(side, imagenet, aux)
            assert (why is None) == _passes(net, side), (side, aux, why)
            assert why is None or "\n" not in why
            if why is None:
                fits[aux].append(side)
        assert (input_side_error(side, imagenet) is None) == _passes(supernet, side), side
    assert fits[True] == ([*range(221, 225), *range(253, 257)] if imagenet else [32, 36, 40])
    assert 224 in fits[False] if imagenet else fits[False] == list(range(4, 73, 4))
