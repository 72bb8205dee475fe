"""The DARTS operation table and its building blocks.

Every candidate operation maps C channels to C channels; a stride of 2 halves the spatial size.
The module layout (ReLU -> conv -> BN inside an ``nn.Sequential`` called ``op``) is the one the
DARTS family stores in its checkpoints, so published weights load key for key.

    >>> op = OPS["sep_conv_3x3"](16, 1, True)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "OPS",
    "ReLUConvBN",
    "DilConv",
    "SepConv",
    "Identity",
    "Zero",
    "FactorizedReduce",
    "PointwiseConv",
    "Conv7x1_1x7",
    "subsample_for_pointwise",
]


def subsample_for_pointwise(
    x: torch.Tensor, stride: tuple[int, int]
) -> tuple[torch.Tensor, tuple[int, int]]:
    """The input and stride to give a strided 1x1 convolution (no padding) so that it is correct on every CPU.

    oneDNN's AVX2 kernel for the weight gradient of a 1x1, stride-2 convolution of a channels_last input
    with fewer than 8 input channels writes past its buffer (heap corruption with one thread, wrong
    gradients with more), and CPUs without AVX-512 pick it. Taking every stride-th pixel first and
    convolving at stride 1 is the same arithmetic and never reaches that kernel; other devices keep the
    strided convolution.
    """
    if x.device.type != "cpu" or tuple(stride) == (1, 1):
        return x, stride
    return x[:, :, :: stride[0], :: stride[1]], (1, 1)


class ReLUConvBN(nn.Module):
    """ReLU, a dense convolution and BatchNorm: the cell preprocessing and most DARTS ops."""

    def __init__(self, C_in: int, C_out: int, kernel_size: int, stride: int, padding: int, affine: bool = True):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_out, kernel_size, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class DilConv(nn.Module):
    """ReLU, a dilated depthwise convolution, a pointwise convolution and BatchNorm."""

    def __init__(
        self, C_in: int, C_out: int, kernel_size: int, stride: int, padding: int, dilation: int, affine: bool = True
    ):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_in, kernel_size, stride, padding, dilation=dilation, groups=C_in, bias=False),
            nn.Conv2d(C_in, C_out, 1, padding=0, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class SepConv(nn.Module):
    """The depthwise-pointwise pair applied twice; only the first depthwise conv is strided."""

    def __init__(self, C_in: int, C_out: int, kernel_size: int, stride: int, padding: int, affine: bool = True):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_in, kernel_size, stride, padding, groups=C_in, bias=False),
            nn.Conv2d(C_in, C_in, 1, padding=0, bias=False),
            nn.BatchNorm2d(C_in, affine=affine),
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_in, kernel_size, 1, padding, groups=C_in, bias=False),
            nn.Conv2d(C_in, C_out, 1, padding=0, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Identity(nn.Module):
    """skip_connect at stride 1; drop path skips it in the evaluation cell."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class Zero(nn.Module):
    """The `none` op: zeros of the output shape, so a strided edge still halves the resolution."""

    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


class PointwiseConv(nn.Conv2d):
    """A strided 1x1 convolution without padding that is correct on every CPU (see ``subsample_for_pointwise``).

    A Conv2d in all else (parameters, state_dict keys, hooks, FLOPs rules), so published weights still load.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if self.kernel_size != (1, 1) or self.padding != (0, 0) or self.dilation != (1, 1):
            raise ValueError("PointwiseConv is a 1x1 convolution without padding or dilation")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, stride = subsample_for_pointwise(x, self.stride)
        return F.conv2d(x, self.weight, self.bias, stride)


class FactorizedReduce(nn.Module):
    """Halve the resolution without losing half the pixels: two 1x1 stride-2 convs, one shifted by a pixel."""

    def __init__(self, C_in: int, C_out: int, affine: bool = True):
        super().__init__()
        if C_out % 2:
            raise ValueError(f"FactorizedReduce needs an even number of output channels, got {C_out}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = PointwiseConv(C_in, C_out // 2, 1, stride=2, padding=0, bias=False)
        self.conv_2 = PointwiseConv(C_in, C_out // 2, 1, stride=2, padding=0, bias=False)
        self.bn = nn.BatchNorm2d(C_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        out = torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1)
        return self.bn(out)


class Conv7x1_1x7(nn.Sequential):
    """The factorised 7x7 convolution of NASNet/AmoebaNet (outside the 8 search primitives).

    A plain Sequential, not wrapped in ``op``, because that is how DARTS checkpoints store it.
    """

    def __init__(self, C: int, stride: int, affine: bool = True):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(C, C, (1, 7), stride=(1, stride), padding=(0, 3), bias=False),
            nn.Conv2d(C, C, (7, 1), stride=(stride, 1), padding=(3, 0), bias=False),
            nn.BatchNorm2d(C, affine=affine),
        )


def _skip(C: int, stride: int, affine: bool) -> nn.Module:
    return Identity() if stride == 1 else FactorizedReduce(C, C, affine=affine)


OPS: dict[str, Callable[[int, int, bool], nn.Module]] = {
    "none": lambda C, stride, affine: Zero(stride),
    "avg_pool_3x3": lambda C, stride, affine: nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False),
    "max_pool_3x3": lambda C, stride, affine: nn.MaxPool2d(3, stride=stride, padding=1),
    "skip_connect": _skip,
    "sep_conv_3x3": lambda C, stride, affine: SepConv(C, C, 3, stride, 1, affine=affine),
    "sep_conv_5x5": lambda C, stride, affine: SepConv(C, C, 5, stride, 2, affine=affine),
    "sep_conv_7x7": lambda C, stride, affine: SepConv(C, C, 7, stride, 3, affine=affine),
    "dil_conv_3x3": lambda C, stride, affine: DilConv(C, C, 3, stride, 2, 2, affine=affine),
    "dil_conv_5x5": lambda C, stride, affine: DilConv(C, C, 5, stride, 4, 2, affine=affine),
    "conv_7x1_1x7": lambda C, stride, affine: Conv7x1_1x7(C, stride, affine=affine),
}
