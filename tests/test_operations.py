"""operations.py: the DARTS operation table, checked op by op against DARTS semantics."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from operations import OPS, Conv7x1_1x7, DilConv, FactorizedReduce, Identity, ReLUConvBN, SepConv, Zero

ALL_OPS = [
    "none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5", "sep_conv_7x7",
    "dil_conv_3x3", "dil_conv_5x5", "conv_7x1_1x7",
]


def test_table_holds_exactly_the_darts_ops() -> None:
    assert set(OPS) == set(ALL_OPS)


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("name", ALL_OPS)
def test_output_shape_and_input_untouched(name: str, stride: int) -> None:
    op = OPS[name](6, stride, True)
    x = torch.randn(2, 6, 8, 8)
    before = x.clone()
    y = op(x)
    assert y.shape == (2, 6, 8 // stride, 8 // stride)
    assert torch.isfinite(y).all()
    # ReLUs are not in place: the input (an earlier cell state) must survive, or other edges would read it changed.
    assert torch.equal(x, before)


@pytest.mark.parametrize("stride", [1, 2])
def test_none_is_zero_and_honours_stride(stride: int) -> None:
    op = OPS["none"](4, stride, True)
    assert isinstance(op, Zero)
    for size in (8, 7):  # an odd size too: the zero must match the pools' ceil((n + 2 - 3) / s) + 1
        x = torch.randn(2, 4, size, size) + 5.0
        y = op(x)
        expected = OPS["max_pool_3x3"](4, stride, True)(x).shape
        assert y.shape == expected
        assert torch.count_nonzero(y) == 0


def test_none_keeps_the_graph() -> None:
    """The zero of DARTS is x * 0: its gradient flows (as zeros), it is not a detached constant."""
    x = torch.randn(1, 2, 4, 4, requires_grad=True)
    y = OPS["none"](2, 1, True)(x)
    assert y.requires_grad
    y.sum().backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_avg_pool_does_not_count_padding() -> None:
    x = torch.arange(16.0).view(1, 1, 4, 4)
    op = OPS["avg_pool_3x3"](1, 1, True)
    y = op(x)
    # Corner: the mean of the 4 real pixels 0, 1, 4, 5 (counting padding would give 10 / 9).
    assert y[0, 0, 0, 0].item() == pytest.approx(2.5)
    # Edge (0, 1): pixels 0, 1, 2, 4, 5, 6 -> 18 / 6.
    assert y[0, 0, 0, 1].item() == pytest.approx(3.0)
    # Interior (1, 1): the full 3x3 window 0, 1, 2, 4, 5, 6, 8, 9, 10 -> 45 / 9.
    assert y[0, 0, 1, 1].item() == pytest.approx(5.0)
    y2 = OPS["avg_pool_3x3"](1, 2, True)(x)
    assert y2.shape == (1, 1, 2, 2)
    assert y2[0, 0, 0, 0].item() == pytest.approx(2.5)


def test_max_pool_pads_with_minus_infinity() -> None:
    x = -torch.arange(1.0, 17.0).view(1, 1, 4, 4)  # all negative: a zero padding would win
    y = OPS["max_pool_3x3"](1, 1, True)(x)
    assert y[0, 0, 0, 0].item() == -1.0
    assert y[0, 0, 3, 3].item() == -11.0  # window -11, -12, -15, -16


def test_skip_connect_is_identity_or_factorized_reduce() -> None:
    op1 = OPS["skip_connect"](4, 1, True)
    assert isinstance(op1, Identity)
    x = torch.randn(2, 4, 6, 6)
    assert op1(x) is x or torch.equal(op1(x), x)
    op2 = OPS["skip_connect"](4, 2, False)
    assert isinstance(op2, FactorizedReduce)
    assert op2.bn.affine is False


def _convs(module: nn.Module) -> list[nn.Conv2d]:
    return [m for m in module.modules() if isinstance(m, nn.Conv2d)]


@pytest.mark.parametrize(("name", "k", "pad"), [("sep_conv_3x3", 3, 1), ("sep_conv_5x5", 5, 2), ("sep_conv_7x7", 7, 3)])
@pytest.mark.parametrize("stride", [1, 2])
def test_sep_conv_is_two_depthwise_pointwise_pairs(name: str, k: int, pad: int, stride: int) -> None:
    C = 6
    op = OPS[name](C, stride, True)
    assert isinstance(op, SepConv)
    seq = op.op
    kinds = [type(m) for m in seq]
    assert kinds == [nn.ReLU, nn.Conv2d, nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.Conv2d, nn.Conv2d, nn.BatchNorm2d]
    dw1, pw1, dw2, pw2 = seq[1], seq[2], seq[5], seq[6]
    for dw in (dw1, dw2):
        assert dw.groups == C and dw.kernel_size == (k, k) and dw.padding == (pad, pad) and dw.bias is None
        assert dw.dilation == (1, 1)
    for pw in (pw1, pw2):
        assert pw.groups == 1 and pw.kernel_size == (1, 1) and pw.bias is None
    # Only the first depthwise conv is strided.
    assert dw1.stride == (stride, stride) and dw2.stride == (1, 1) and pw1.stride == (1, 1)
    assert not seq[0].inplace and not seq[4].inplace
    assert list(op.state_dict())[:3] == ["op.1.weight", "op.2.weight", "op.3.weight"]


@pytest.mark.parametrize(("name", "k", "pad"), [("dil_conv_3x3", 3, 2), ("dil_conv_5x5", 5, 4)])
@pytest.mark.parametrize("stride", [1, 2])
def test_dil_conv_has_dilation_two(name: str, k: int, pad: int, stride: int) -> None:
    C = 6
    op = OPS[name](C, stride, True)
    assert isinstance(op, DilConv)
    seq = op.op
    assert [type(m) for m in seq] == [nn.ReLU, nn.Conv2d, nn.Conv2d, nn.BatchNorm2d]
    dw, pw = seq[1], seq[2]
    assert dw.dilation == (2, 2) and dw.kernel_size == (k, k) and dw.padding == (pad, pad)
    assert dw.groups == C and dw.stride == (stride, stride)
    assert pw.kernel_size == (1, 1) and pw.groups == 1
    x = torch.randn(1, C, 9, 9)
    assert op(x).shape == (1, C, (9 - 1) // stride + 1, (9 - 1) // stride + 1)


def test_dil_conv_receptive_field() -> None:
    """A 3x3 kernel with dilation 2 reads pixels two apart: an impulse spreads to offsets 0 and +-2 only."""
    op = DilConv(1, 1, 3, 1, 2, 2, affine=False)
    with torch.no_grad():
        op.op[1].weight.fill_(1.0)
        op.op[2].weight.fill_(1.0)
    op.op[1].register_forward_hook(lambda m, i, o: setattr(m, "seen", o.detach()))
    x = torch.zeros(1, 1, 9, 9)
    x[0, 0, 4, 4] = 1.0
    op(x)
    nz = op.op[1].seen[0, 0].nonzero().tolist()
    assert sorted(nz) == sorted([[r, c] for r in (2, 4, 6) for c in (2, 4, 6)])


def test_conv_7x1_1x7_layout() -> None:
    op = OPS["conv_7x1_1x7"](4, 2, True)
    assert isinstance(op, Conv7x1_1x7)
    assert [type(m) for m in op] == [nn.ReLU, nn.Conv2d, nn.Conv2d, nn.BatchNorm2d]
    assert op[1].kernel_size == (1, 7) and op[1].stride == (1, 2) and op[1].padding == (0, 3)
    assert op[2].kernel_size == (7, 1) and op[2].stride == (2, 1) and op[2].padding == (3, 0)
    assert list(op.state_dict())[:2] == ["1.weight", "2.weight"]


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("name", ALL_OPS)
def test_affine_switch(name: str, stride: int, affine: bool) -> None:
    op = OPS[name](4, stride, affine)
    for bn in (m for m in op.modules() if isinstance(m, nn.BatchNorm2d)):
        assert bn.affine is affine
        assert (bn.weight is not None) is affine


def test_relu_conv_bn_order() -> None:
    op = ReLUConvBN(3, 5, 1, 1, 0, affine=False)
    assert [type(m) for m in op.op] == [nn.ReLU, nn.Conv2d, nn.BatchNorm2d]
    assert op.op[1].bias is None and op.op[2].affine is False
    assert list(op.state_dict()) == ["op.1.weight", "op.2.running_mean", "op.2.running_var", "op.2.num_batches_tracked"]


def test_factorized_reduce_concatenates_the_shifted_path() -> None:
    fr = FactorizedReduce(2, 4, affine=True)
    with torch.no_grad():
        fr.conv_1.weight.copy_(torch.eye(2).view(2, 2, 1, 1))
        fr.conv_2.weight.copy_(torch.eye(2).view(2, 2, 1, 1))
    fr.eval()  # BN with fresh statistics: y = x / sqrt(1 + eps)
    x = torch.randn(3, 2, 6, 6)
    y = fr(x)
    r = torch.relu(x)
    expected = torch.cat([r[:, :, ::2, ::2], r[:, :, 1::2, 1::2]], dim=1) / (1 + fr.bn.eps) ** 0.5
    assert y.shape == (3, 4, 3, 3)
    torch.testing.assert_close(y, expected)
    assert list(fr.state_dict())[:3] == ["conv_1.weight", "conv_2.weight", "bn.weight"]


def test_factorized_reduce_needs_even_channels() -> None:
    with pytest.raises(ValueError):
        FactorizedReduce(4, 3)


def test_pool_ops_are_plain_torch_pools() -> None:
    assert isinstance(OPS["none"](4, 1, False), Zero)
    assert isinstance(OPS["max_pool_3x3"](4, 1, False), nn.MaxPool2d)
    avg = OPS["avg_pool_3x3"](4, 1, False)
    assert isinstance(avg, nn.AvgPool2d) and avg.count_include_pad is False
