"""Genotypes: the cell descriptions that the search derives and the evaluation networks build.

A genotype lists, for each intermediate node of the normal and the reduction cell, two
``(operation, input)`` pairs; inputs 0 and 1 are the outputs of the two previous cells and input
k >= 2 is intermediate node k - 2. Every published genotype (DARTS, PC-DARTS, NASNet, AmoebaNet and
the Pareto-optimal cells of the MOOD-NAS thesis) is a module attribute, and ``resolve_genotype``
turns whatever a user passes to ``--arch`` into a Genotype:

    >>> import genotypes
    >>> genotypes.resolve_genotype("PC_DARTS_cifar") == genotypes.PC_DARTS_cifar
    True
    >>> genotypes.resolve_genotype("logs/multi-search-cifar10-EXP-20260101-000000/genotypes.json:l2_loss_2e01")
"""

from __future__ import annotations

import difflib
import json
from collections import namedtuple
from pathlib import Path
from typing import Any

Genotype = namedtuple("Genotype", "normal normal_concat reduce reduce_concat")

PRIMITIVES = [
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
]

# Operations a genotype may name: the search primitives plus the two NASNet/AmoebaNet extras.
KNOWN_OPS = frozenset(PRIMITIVES) | {"sep_conv_7x7", "conv_7x1_1x7"}


NASNet = Genotype(
    normal=[("sep_conv_5x5", 1), ("sep_conv_3x3", 0), ("sep_conv_5x5", 0), ("sep_conv_3x3", 0), ("avg_pool_3x3", 1), ("skip_connect", 0), ("avg_pool_3x3", 0), ("avg_pool_3x3", 0), ("sep_conv_3x3", 1), ("skip_connect", 1)],
    normal_concat=[2, 3, 4, 5, 6],
    reduce=[("sep_conv_5x5", 1), ("sep_conv_7x7", 0), ("max_pool_3x3", 1), ("sep_conv_7x7", 0), ("avg_pool_3x3", 1), ("sep_conv_5x5", 0), ("skip_connect", 3), ("avg_pool_3x3", 2), ("sep_conv_3x3", 2), ("max_pool_3x3", 1)],
    reduce_concat=[4, 5, 6],
)

AmoebaNet = Genotype(
    normal=[("avg_pool_3x3", 0), ("max_pool_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_5x5", 2), ("sep_conv_3x3", 0), ("avg_pool_3x3", 3), ("sep_conv_3x3", 1), ("skip_connect", 1), ("skip_connect", 0), ("avg_pool_3x3", 1)],
    normal_concat=[4, 5, 6],
    reduce=[("avg_pool_3x3", 0), ("sep_conv_3x3", 1), ("max_pool_3x3", 0), ("sep_conv_7x7", 2), ("sep_conv_7x7", 0), ("avg_pool_3x3", 1), ("max_pool_3x3", 0), ("max_pool_3x3", 1), ("conv_7x1_1x7", 0), ("sep_conv_3x3", 5)],
    reduce_concat=[3, 4, 6],
)

DARTS_V1 = Genotype(
    normal=[("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 0), ("sep_conv_3x3", 1), ("skip_connect", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 2)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 0), ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("avg_pool_3x3", 0)],
    reduce_concat=[2, 3, 4, 5],
)

DARTS_V2 = Genotype(
    normal=[("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1), ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)],
    reduce_concat=[2, 3, 4, 5],
)

PC_DARTS_cifar = Genotype(
    normal=[("sep_conv_3x3", 1), ("skip_connect", 0), ("sep_conv_3x3", 0), ("dil_conv_3x3", 1), ("sep_conv_5x5", 0), ("sep_conv_3x3", 1), ("avg_pool_3x3", 0), ("dil_conv_3x3", 1)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_5x5", 1), ("max_pool_3x3", 0), ("sep_conv_5x5", 1), ("sep_conv_5x5", 2), ("sep_conv_3x3", 0), ("sep_conv_3x3", 3), ("sep_conv_3x3", 1), ("sep_conv_3x3", 2)],
    reduce_concat=[2, 3, 4, 5],
)

PC_DARTS_image = Genotype(
    normal=[("skip_connect", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 0), ("skip_connect", 1), ("sep_conv_3x3", 1), ("sep_conv_3x3", 3), ("sep_conv_3x3", 1), ("dil_conv_5x5", 4)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_3x3", 0), ("skip_connect", 1), ("dil_conv_5x5", 2), ("max_pool_3x3", 1), ("sep_conv_3x3", 2), ("sep_conv_3x3", 1), ("sep_conv_5x5", 0), ("sep_conv_3x3", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l1_6e5_l2_0 = Genotype(
    normal=[("dil_conv_5x5", 0), ("dil_conv_5x5", 1), ("dil_conv_3x3", 0), ("sep_conv_3x3", 2), ("sep_conv_5x5", 0), ("dil_conv_3x3", 1), ("sep_conv_5x5", 0), ("sep_conv_3x3", 3)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_5x5", 0), ("max_pool_3x3", 1), ("dil_conv_3x3", 2), ("sep_conv_5x5", 1), ("sep_conv_5x5", 3), ("dil_conv_3x3", 2), ("sep_conv_5x5", 0), ("sep_conv_5x5", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l1_1e4_l2_0 = Genotype(
    normal=[("dil_conv_5x5", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("dil_conv_5x5", 2), ("sep_conv_5x5", 0), ("dil_conv_3x3", 1), ("sep_conv_3x3", 1), ("max_pool_3x3", 0)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_3x3", 0), ("sep_conv_5x5", 1), ("max_pool_3x3", 0), ("sep_conv_5x5", 2), ("sep_conv_3x3", 3), ("max_pool_3x3", 0), ("max_pool_3x3", 0), ("sep_conv_3x3", 4)],
    reduce_concat=[2, 3, 4, 5],
)

l1_1e4_l2_3e4 = Genotype(
    normal=[("sep_conv_3x3", 0), ("skip_connect", 1), ("sep_conv_3x3", 0), ("dil_conv_5x5", 1), ("dil_conv_5x5", 3), ("sep_conv_3x3", 0), ("sep_conv_3x3", 0), ("sep_conv_5x5", 1)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("skip_connect", 0), ("sep_conv_3x3", 1), ("dil_conv_5x5", 2), ("sep_conv_3x3", 1), ("dil_conv_5x5", 2), ("sep_conv_5x5", 1), ("sep_conv_5x5", 1), ("sep_conv_5x5", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l1_6e5_l2_3e4 = Genotype(
    normal=[("sep_conv_3x3", 0), ("skip_connect", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 2), ("sep_conv_3x3", 0), ("sep_conv_5x5", 2)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("max_pool_3x3", 1), ("sep_conv_5x5", 0), ("dil_conv_5x5", 1), ("sep_conv_5x5", 0), ("avg_pool_3x3", 1), ("dil_conv_3x3", 2), ("sep_conv_3x3", 1), ("avg_pool_3x3", 0)],
    reduce_concat=[2, 3, 4, 5],
)

l1_0_l2_1e4 = Genotype(
    normal=[("skip_connect", 1), ("skip_connect", 0), ("sep_conv_3x3", 0), ("dil_conv_3x3", 2), ("sep_conv_5x5", 0), ("dil_conv_5x5", 2), ("max_pool_3x3", 0), ("avg_pool_3x3", 1)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_3x3", 0), ("skip_connect", 1), ("dil_conv_5x5", 2), ("sep_conv_5x5", 0), ("sep_conv_5x5", 1), ("sep_conv_5x5", 3), ("sep_conv_5x5", 2), ("dil_conv_5x5", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l1_0_l2_1e3 = Genotype(
    normal=[("skip_connect", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_5x5", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 3), ("max_pool_3x3", 1), ("sep_conv_3x3", 3)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_5x5", 0), ("skip_connect", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("dil_conv_3x3", 0), ("avg_pool_3x3", 1), ("max_pool_3x3", 2), ("avg_pool_3x3", 3)],
    reduce_concat=[2, 3, 4, 5],
)

half_l1_1e4_l2_3e4 = Genotype(
    normal=[("dil_conv_5x5", 0), ("dil_conv_5x5", 1), ("dil_conv_5x5", 1), ("dil_conv_3x3", 2), ("avg_pool_3x3", 1), ("sep_conv_3x3", 3), ("sep_conv_5x5", 0), ("sep_conv_5x5", 1)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_5x5", 0), ("max_pool_3x3", 1), ("dil_conv_3x3", 2), ("sep_conv_5x5", 0), ("sep_conv_5x5", 3), ("max_pool_3x3", 2), ("sep_conv_3x3", 1), ("sep_conv_3x3", 2)],
    reduce_concat=[2, 3, 4, 5],
)

l2_loss_2e01 = Genotype(
    normal=[("max_pool_3x3", 1), ("max_pool_3x3", 0), ("max_pool_3x3", 2), ("max_pool_3x3", 1), ("max_pool_3x3", 2), ("max_pool_3x3", 3), ("max_pool_3x3", 3), ("max_pool_3x3", 2)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("max_pool_3x3", 2), ("max_pool_3x3", 0), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l2_loss_9e04 = Genotype(
    normal=[("sep_conv_3x3", 0), ("skip_connect", 1), ("max_pool_3x3", 0), ("dil_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 3), ("sep_conv_5x5", 0), ("sep_conv_3x3", 3)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_5x5", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("dil_conv_5x5", 2), ("dil_conv_5x5", 2), ("sep_conv_3x3", 1)],
    reduce_concat=[2, 3, 4, 5],
)

l2_loss_7e03 = Genotype(
    normal=[("dil_conv_5x5", 1), ("dil_conv_5x5", 0), ("sep_conv_5x5", 2), ("max_pool_3x3", 1), ("sep_conv_5x5", 3), ("sep_conv_5x5", 2), ("max_pool_3x3", 3), ("max_pool_3x3", 4)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_3x3", 1), ("sep_conv_5x5", 0), ("max_pool_3x3", 2), ("sep_conv_5x5", 1), ("max_pool_3x3", 2), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l2_loss_23e04 = Genotype(
    normal=[("sep_conv_3x3", 1), ("dil_conv_5x5", 0), ("sep_conv_5x5", 2), ("sep_conv_3x3", 1), ("dil_conv_5x5", 3), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("dil_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("max_pool_3x3", 2), ("max_pool_3x3", 1), ("dil_conv_5x5", 3), ("dil_conv_5x5", 2), ("sep_conv_5x5", 1)],
    reduce_concat=[2, 3, 4, 5],
)

l2_loss_3e02 = Genotype(
    normal=[("dil_conv_5x5", 1), ("dil_conv_5x5", 0), ("max_pool_3x3", 2), ("max_pool_3x3", 1), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 3), ("max_pool_3x3", 4)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("max_pool_3x3", 2), ("max_pool_3x3", 0), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l2_loss_1e01 = Genotype(
    normal=[("max_pool_3x3", 1), ("max_pool_3x3", 0), ("max_pool_3x3", 2), ("max_pool_3x3", 1), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("max_pool_3x3", 1), ("max_pool_3x3", 0), ("max_pool_3x3", 2), ("max_pool_3x3", 1), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l2_loss_429e05 = Genotype(
    normal=[("dil_conv_5x5", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 2), ("sep_conv_3x3", 1), ("sep_conv_3x3", 3), ("max_pool_3x3", 2), ("sep_conv_5x5", 2), ("sep_conv_5x5", 4)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_5x5", 1), ("sep_conv_3x3", 0), ("sep_conv_5x5", 1), ("sep_conv_5x5", 0), ("max_pool_3x3", 3), ("dil_conv_5x5", 2), ("max_pool_3x3", 3), ("max_pool_3x3", 4)],
    reduce_concat=[2, 3, 4, 5],
)

l2_loss_13e04 = Genotype(
    normal=[("sep_conv_3x3", 1), ("dil_conv_5x5", 0), ("skip_connect", 1), ("dil_conv_3x3", 0), ("sep_conv_3x3", 1), ("dil_conv_3x3", 3), ("sep_conv_5x5", 0), ("avg_pool_3x3", 1)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("max_pool_3x3", 1), ("sep_conv_3x3", 0), ("max_pool_3x3", 2), ("max_pool_3x3", 1), ("dil_conv_5x5", 3), ("sep_conv_3x3", 0), ("sep_conv_3x3", 2), ("skip_connect", 1)],
    reduce_concat=[2, 3, 4, 5],
)

l2_loss_196e05 = Genotype(
    normal=[("sep_conv_3x3", 1), ("dil_conv_5x5", 0), ("sep_conv_5x5", 1), ("dil_conv_5x5", 2), ("sep_conv_3x3", 2), ("dil_conv_5x5", 3), ("sep_conv_3x3", 0), ("dil_conv_5x5", 1)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_5x5", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("max_pool_3x3", 2), ("sep_conv_5x5", 0), ("sep_conv_5x5", 1), ("dil_conv_5x5", 4)],
    reduce_concat=[2, 3, 4, 5],
)

l2_loss_8e02 = Genotype(
    normal=[("max_pool_3x3", 1), ("max_pool_3x3", 0), ("max_pool_3x3", 2), ("max_pool_3x3", 1), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("max_pool_3x3", 2), ("max_pool_3x3", 0), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l2_loss_1e02 = Genotype(
    normal=[("dil_conv_5x5", 1), ("dil_conv_5x5", 0), ("dil_conv_5x5", 2), ("dil_conv_5x5", 1), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 3), ("max_pool_3x3", 4)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_5x5", 0), ("max_pool_3x3", 1), ("max_pool_3x3", 2), ("max_pool_3x3", 1), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l2_loss_425e05 = Genotype(
    normal=[("dil_conv_5x5", 1), ("sep_conv_3x3", 0), ("dil_conv_5x5", 2), ("sep_conv_3x3", 1), ("dil_conv_5x5", 3), ("sep_conv_3x3", 2), ("sep_conv_5x5", 4), ("sep_conv_3x3", 1)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_5x5", 0), ("dil_conv_3x3", 1), ("sep_conv_5x5", 0), ("max_pool_3x3", 2), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 3), ("max_pool_3x3", 2)],
    reduce_concat=[2, 3, 4, 5],
)

l2_loss_14e04 = Genotype(
    normal=[("sep_conv_3x3", 0), ("skip_connect", 1), ("sep_conv_3x3", 1), ("sep_conv_5x5", 0), ("sep_conv_3x3", 1), ("dil_conv_5x5", 3), ("sep_conv_3x3", 0), ("max_pool_3x3", 4)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_5x5", 1), ("sep_conv_3x3", 0), ("skip_connect", 1), ("max_pool_3x3", 2), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_5x5", 1), ("sep_conv_3x3", 0)],
    reduce_concat=[2, 3, 4, 5],
)

l2_loss_191e05 = Genotype(
    normal=[("sep_conv_3x3", 0), ("dil_conv_5x5", 1), ("sep_conv_3x3", 1), ("sep_conv_5x5", 2), ("dil_conv_5x5", 2), ("sep_conv_5x5", 0), ("sep_conv_3x3", 2), ("sep_conv_3x3", 1)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("avg_pool_3x3", 1), ("sep_conv_5x5", 0), ("sep_conv_3x3", 0), ("sep_conv_5x5", 1), ("sep_conv_5x5", 1), ("sep_conv_5x5", 3), ("sep_conv_5x5", 2), ("dil_conv_3x3", 4)],
    reduce_concat=[2, 3, 4, 5],
)

l2_loss_3e03 = Genotype(
    normal=[("sep_conv_3x3", 1), ("dil_conv_5x5", 0), ("sep_conv_3x3", 2), ("sep_conv_5x5", 1), ("sep_conv_5x5", 3), ("sep_conv_5x5", 1), ("sep_conv_5x5", 0), ("sep_conv_5x5", 1)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_5x5", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 2), ("sep_conv_3x3", 0), ("sep_conv_5x5", 3), ("dil_conv_5x5", 2), ("max_pool_3x3", 2), ("max_pool_3x3", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l2_loss_6e02 = Genotype(
    normal=[("max_pool_3x3", 1), ("max_pool_3x3", 0), ("max_pool_3x3", 2), ("max_pool_3x3", 1), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("max_pool_3x3", 1), ("max_pool_3x3", 0), ("max_pool_3x3", 2), ("max_pool_3x3", 1), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l2_loss_7e04 = Genotype(
    normal=[("dil_conv_5x5", 0), ("sep_conv_3x3", 1), ("dil_conv_5x5", 1), ("skip_connect", 2), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_5x5", 0), ("sep_conv_3x3", 1)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_3x3", 1), ("sep_conv_5x5", 0), ("skip_connect", 1), ("sep_conv_5x5", 2), ("skip_connect", 1), ("dil_conv_5x5", 2), ("sep_conv_5x5", 1), ("dil_conv_5x5", 2)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_2e01_l2_3e04 = Genotype(
    normal=[("max_pool_3x3", 1), ("max_pool_3x3", 0), ("max_pool_3x3", 2), ("max_pool_3x3", 0), ("avg_pool_3x3", 2), ("max_pool_3x3", 0), ("avg_pool_3x3", 0), ("sep_conv_3x3", 2)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("avg_pool_3x3", 1), ("avg_pool_3x3", 0), ("avg_pool_3x3", 2), ("avg_pool_3x3", 1), ("max_pool_3x3", 0), ("skip_connect", 2), ("max_pool_3x3", 3), ("max_pool_3x3", 2)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_1e04_l2_3e04 = Genotype(
    normal=[("sep_conv_3x3", 1), ("sep_conv_5x5", 0), ("sep_conv_3x3", 1), ("dil_conv_3x3", 2), ("sep_conv_5x5", 2), ("sep_conv_3x3", 1), ("max_pool_3x3", 0), ("sep_conv_5x5", 2)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_5x5", 0), ("sep_conv_5x5", 2), ("sep_conv_5x5", 3), ("max_pool_3x3", 1), ("sep_conv_5x5", 1), ("skip_connect", 0)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_3e06_l2_3e04 = Genotype(
    normal=[("sep_conv_3x3", 0), ("skip_connect", 1), ("sep_conv_5x5", 0), ("skip_connect", 2), ("dil_conv_3x3", 2), ("sep_conv_5x5", 1), ("max_pool_3x3", 0), ("avg_pool_3x3", 1)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 1), ("sep_conv_3x3", 0), ("skip_connect", 1), ("sep_conv_5x5", 3), ("sep_conv_3x3", 1), ("dil_conv_5x5", 2)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_8e04_l2_3e04 = Genotype(
    normal=[("sep_conv_5x5", 1), ("dil_conv_5x5", 0), ("dil_conv_5x5", 1), ("dil_conv_5x5", 2), ("dil_conv_5x5", 1), ("dil_conv_3x3", 2), ("dil_conv_5x5", 2), ("sep_conv_5x5", 4)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("skip_connect", 1), ("max_pool_3x3", 0), ("max_pool_3x3", 2), ("max_pool_3x3", 1), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("avg_pool_3x3", 4), ("avg_pool_3x3", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_7e06_l2_3e04 = Genotype(
    normal=[("dil_conv_5x5", 0), ("dil_conv_5x5", 1), ("sep_conv_3x3", 0), ("dil_conv_5x5", 1), ("dil_conv_3x3", 1), ("sep_conv_3x3", 0), ("max_pool_3x3", 0), ("avg_pool_3x3", 3)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_3x3", 1), ("sep_conv_5x5", 0), ("sep_conv_3x3", 2), ("sep_conv_5x5", 0), ("sep_conv_5x5", 1), ("skip_connect", 3), ("sep_conv_5x5", 2), ("dil_conv_5x5", 0)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_4e06_l2_3e04 = Genotype(
    normal=[("sep_conv_5x5", 0), ("dil_conv_5x5", 1), ("skip_connect", 2), ("sep_conv_3x3", 0), ("sep_conv_3x3", 0), ("dil_conv_3x3", 1), ("sep_conv_5x5", 0), ("sep_conv_5x5", 1)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_5x5", 0), ("skip_connect", 1), ("skip_connect", 0), ("dil_conv_3x3", 1), ("skip_connect", 0), ("sep_conv_5x5", 3), ("dil_conv_3x3", 0), ("skip_connect", 1)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_4e03_l2_3e04 = Genotype(
    normal=[("dil_conv_5x5", 1), ("dil_conv_5x5", 0), ("max_pool_3x3", 2), ("dil_conv_3x3", 1), ("max_pool_3x3", 2), ("dil_conv_3x3", 3), ("max_pool_3x3", 3), ("max_pool_3x3", 4)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("skip_connect", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 2), ("sep_conv_3x3", 1), ("sep_conv_3x3", 3), ("sep_conv_3x3", 2), ("sep_conv_3x3", 4), ("sep_conv_3x3", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_1e02_l2_3e04 = Genotype(
    normal=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("max_pool_3x3", 2), ("max_pool_3x3", 0), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("avg_pool_3x3", 1), ("dil_conv_5x5", 0), ("avg_pool_3x3", 2), ("avg_pool_3x3", 1), ("avg_pool_3x3", 3), ("avg_pool_3x3", 2), ("avg_pool_3x3", 4), ("avg_pool_3x3", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_2e03_l2_3e04 = Genotype(
    normal=[("dil_conv_5x5", 0), ("dil_conv_3x3", 1), ("max_pool_3x3", 2), ("max_pool_3x3", 0), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_5x5", 0), ("avg_pool_3x3", 1), ("max_pool_3x3", 2), ("avg_pool_3x3", 0), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_2e04_l2_3e04 = Genotype(
    normal=[("sep_conv_5x5", 1), ("dil_conv_5x5", 0), ("sep_conv_3x3", 0), ("dil_conv_5x5", 2), ("dil_conv_5x5", 3), ("sep_conv_3x3", 1), ("sep_conv_5x5", 2), ("sep_conv_3x3", 3)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_5x5", 1), ("dil_conv_3x3", 0), ("max_pool_3x3", 2), ("avg_pool_3x3", 1), ("max_pool_3x3", 3), ("avg_pool_3x3", 2), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_8e03_l2_3e04 = Genotype(
    normal=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("max_pool_3x3", 2), ("dil_conv_5x5", 0), ("sep_conv_3x3", 3), ("sep_conv_3x3", 0), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("avg_pool_3x3", 2), ("dil_conv_5x5", 0), ("avg_pool_3x3", 3), ("avg_pool_3x3", 2), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_2e02_l2_3e04 = Genotype(
    normal=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("max_pool_3x3", 2), ("dil_conv_5x5", 0), ("dil_conv_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("max_pool_3x3", 0), ("dil_conv_5x5", 1), ("max_pool_3x3", 2), ("dil_conv_3x3", 0), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_2e01 = Genotype(
    normal=[("avg_pool_3x3", 0), ("skip_connect", 1), ("avg_pool_3x3", 2), ("avg_pool_3x3", 0), ("avg_pool_3x3", 1), ("skip_connect", 0), ("avg_pool_3x3", 3), ("max_pool_3x3", 4)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("max_pool_3x3", 1), ("skip_connect", 0), ("max_pool_3x3", 2), ("max_pool_3x3", 0), ("max_pool_3x3", 2), ("max_pool_3x3", 3), ("avg_pool_3x3", 1), ("skip_connect", 0)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_6e05 = Genotype(
    normal=[("skip_connect", 0), ("dil_conv_5x5", 1), ("skip_connect", 2), ("skip_connect", 0), ("sep_conv_5x5", 2), ("skip_connect", 3), ("sep_conv_5x5", 0), ("sep_conv_3x3", 3)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("skip_connect", 1), ("dil_conv_3x3", 0), ("max_pool_3x3", 1), ("dil_conv_5x5", 2), ("sep_conv_5x5", 0), ("sep_conv_3x3", 1), ("sep_conv_5x5", 0), ("sep_conv_3x3", 1)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_2e04 = Genotype(
    normal=[("sep_conv_3x3", 1), ("dil_conv_5x5", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_5x5", 3), ("dil_conv_3x3", 2), ("sep_conv_5x5", 2), ("max_pool_3x3", 0)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("max_pool_3x3", 1), ("max_pool_3x3", 0), ("skip_connect", 2), ("avg_pool_3x3", 1), ("avg_pool_3x3", 2), ("avg_pool_3x3", 3), ("skip_connect", 1), ("sep_conv_3x3", 4)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_1e03 = Genotype(
    normal=[("dil_conv_5x5", 1), ("sep_conv_3x3", 0), ("dil_conv_5x5", 2), ("dil_conv_5x5", 0), ("max_pool_3x3", 3), ("dil_conv_5x5", 1), ("dil_conv_3x3", 4), ("dil_conv_5x5", 3)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("skip_connect", 1), ("avg_pool_3x3", 0), ("dil_conv_5x5", 2), ("sep_conv_3x3", 0), ("max_pool_3x3", 3), ("sep_conv_3x3", 0), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_5e03 = Genotype(
    normal=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("max_pool_3x3", 2), ("max_pool_3x3", 1), ("max_pool_3x3", 3), ("dil_conv_5x5", 2), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("skip_connect", 1), ("sep_conv_3x3", 0), ("max_pool_3x3", 2), ("avg_pool_3x3", 1), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_1e02 = Genotype(
    normal=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("max_pool_3x3", 2), ("max_pool_3x3", 0), ("max_pool_3x3", 3), ("dil_conv_3x3", 2), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_3x3", 0), ("avg_pool_3x3", 1), ("sep_conv_3x3", 2), ("sep_conv_3x3", 0), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_3e03 = Genotype(
    normal=[("dil_conv_5x5", 1), ("dil_conv_5x5", 0), ("max_pool_3x3", 2), ("dil_conv_3x3", 1), ("max_pool_3x3", 2), ("dil_conv_3x3", 3), ("max_pool_3x3", 3), ("max_pool_3x3", 4)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("skip_connect", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 2), ("sep_conv_3x3", 0), ("sep_conv_3x3", 3), ("sep_conv_3x3", 2), ("sep_conv_3x3", 4), ("sep_conv_3x3", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_4e04 = Genotype(
    normal=[("sep_conv_5x5", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("max_pool_3x3", 2), ("sep_conv_5x5", 3), ("sep_conv_3x3", 2), ("sep_conv_3x3", 3), ("sep_conv_5x5", 2)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("max_pool_3x3", 1), ("max_pool_3x3", 0), ("max_pool_3x3", 2), ("avg_pool_3x3", 1), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_9e03 = Genotype(
    normal=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("max_pool_3x3", 2), ("max_pool_3x3", 0), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("avg_pool_3x3", 0), ("skip_connect", 1), ("avg_pool_3x3", 2), ("sep_conv_3x3", 0), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_2e01_l2_3e04_cifar100 = Genotype(
    normal=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("max_pool_3x3", 2), ("skip_connect", 1), ("max_pool_3x3", 3), ("avg_pool_3x3", 1), ("avg_pool_3x3", 4), ("max_pool_3x3", 3)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("avg_pool_3x3", 0), ("avg_pool_3x3", 3), ("avg_pool_3x3", 2), ("avg_pool_3x3", 3), ("avg_pool_3x3", 4)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_5e03_l2_3e04_cifar100 = Genotype(
    normal=[("max_pool_3x3", 1), ("max_pool_3x3", 0), ("max_pool_3x3", 2), ("avg_pool_3x3", 0), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_3x3", 0), ("max_pool_3x3", 1), ("max_pool_3x3", 2), ("sep_conv_3x3", 0), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_25e04_l2_3e04_cifar100 = Genotype(
    normal=[("max_pool_3x3", 1), ("max_pool_3x3", 0), ("max_pool_3x3", 2), ("max_pool_3x3", 1), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 3), ("max_pool_3x3", 4)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_3x3", 0), ("max_pool_3x3", 1), ("avg_pool_3x3", 2), ("max_pool_3x3", 1), ("avg_pool_3x3", 3), ("avg_pool_3x3", 1), ("avg_pool_3x3", 3), ("avg_pool_3x3", 4)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_17e04_l2_3e04_cifar100 = Genotype(
    normal=[("dil_conv_5x5", 1), ("sep_conv_5x5", 0), ("dil_conv_5x5", 1), ("max_pool_3x3", 2), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 3), ("max_pool_3x3", 4)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_3x3", 1), ("skip_connect", 0), ("max_pool_3x3", 2), ("avg_pool_3x3", 0), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_8e04_l2_3e04_cifar100 = Genotype(
    normal=[("max_pool_3x3", 1), ("dil_conv_5x5", 0), ("sep_conv_5x5", 0), ("sep_conv_3x3", 1), ("dil_conv_5x5", 3), ("dil_conv_5x5", 2), ("max_pool_3x3", 3), ("max_pool_3x3", 4)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_3x3", 0), ("sep_conv_5x5", 1), ("max_pool_3x3", 2), ("sep_conv_3x3", 1), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_4e04_l2_3e04_cifar100 = Genotype(
    normal=[("dil_conv_5x5", 1), ("dil_conv_5x5", 0), ("max_pool_3x3", 1), ("sep_conv_3x3", 2), ("sep_conv_3x3", 2), ("sep_conv_3x3", 1), ("sep_conv_5x5", 3), ("sep_conv_5x5", 1)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_5x5", 0), ("sep_conv_5x5", 1), ("max_pool_3x3", 2), ("avg_pool_3x3", 0), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 3), ("max_pool_3x3", 4)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_324e06_l2_3e04_cifar100 = Genotype(
    normal=[("sep_conv_5x5", 1), ("max_pool_3x3", 0), ("sep_conv_5x5", 1), ("dil_conv_5x5", 0), ("sep_conv_3x3", 2), ("dil_conv_3x3", 1), ("dil_conv_5x5", 4), ("sep_conv_5x5", 1)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_3x3", 1), ("max_pool_3x3", 0), ("sep_conv_5x5", 2), ("sep_conv_5x5", 0), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 3), ("max_pool_3x3", 4)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_319e06_l2_3e04_cifar100 = Genotype(
    normal=[("dil_conv_5x5", 1), ("dil_conv_5x5", 0), ("sep_conv_3x3", 2), ("sep_conv_3x3", 1), ("sep_conv_5x5", 2), ("dil_conv_5x5", 3), ("sep_conv_5x5", 1), ("sep_conv_5x5", 2)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_5x5", 0), ("dil_conv_5x5", 1), ("max_pool_3x3", 2), ("avg_pool_3x3", 1), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 3), ("max_pool_3x3", 4)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_30e05_l2_3e04_cifar100 = Genotype(
    normal=[("dil_conv_5x5", 1), ("sep_conv_5x5", 0), ("dil_conv_5x5", 1), ("dil_conv_5x5", 2), ("sep_conv_3x3", 1), ("sep_conv_5x5", 2), ("sep_conv_3x3", 2), ("sep_conv_5x5", 3)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_5x5", 0), ("max_pool_3x3", 1), ("max_pool_3x3", 2), ("avg_pool_3x3", 0), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_28e05_l2_3e04_cifar100 = Genotype(
    normal=[("sep_conv_5x5", 1), ("sep_conv_5x5", 0), ("dil_conv_5x5", 1), ("dil_conv_5x5", 2), ("sep_conv_3x3", 1), ("sep_conv_3x3", 3), ("sep_conv_5x5", 2), ("max_pool_3x3", 0)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_3x3", 1), ("sep_conv_5x5", 0), ("sep_conv_3x3", 2), ("sep_conv_5x5", 0), ("max_pool_3x3", 3), ("max_pool_3x3", 2), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_21e05_l2_3e04_cifar100 = Genotype(
    normal=[("sep_conv_5x5", 1), ("sep_conv_5x5", 0), ("sep_conv_5x5", 1), ("sep_conv_5x5", 0), ("sep_conv_3x3", 2), ("dil_conv_5x5", 1), ("sep_conv_5x5", 2), ("sep_conv_5x5", 4)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_5x5", 0), ("sep_conv_3x3", 1), ("dil_conv_5x5", 2), ("skip_connect", 1), ("sep_conv_3x3", 3), ("max_pool_3x3", 1), ("max_pool_3x3", 4), ("max_pool_3x3", 3)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_15e05_l2_3e04_cifar100 = Genotype(
    normal=[("sep_conv_5x5", 1), ("sep_conv_5x5", 0), ("sep_conv_5x5", 0), ("sep_conv_5x5", 2), ("sep_conv_3x3", 3), ("sep_conv_3x3", 2), ("sep_conv_3x3", 4), ("sep_conv_3x3", 1)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_3x3", 1), ("sep_conv_5x5", 0), ("max_pool_3x3", 2), ("sep_conv_5x5", 1), ("dil_conv_5x5", 2), ("dil_conv_5x5", 3), ("max_pool_3x3", 3), ("max_pool_3x3", 2)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_1e04_l2_3e04_cifar100 = Genotype(
    normal=[("sep_conv_5x5", 1), ("sep_conv_5x5", 0), ("dil_conv_5x5", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 2), ("sep_conv_5x5", 0), ("sep_conv_5x5", 2), ("sep_conv_3x3", 1)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_3x3", 1), ("sep_conv_5x5", 0), ("dil_conv_5x5", 2), ("sep_conv_5x5", 0), ("dil_conv_5x5", 2), ("sep_conv_5x5", 3), ("max_pool_3x3", 3), ("sep_conv_5x5", 2)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_59e06_l2_3e04_cifar100 = Genotype(
    normal=[("sep_conv_5x5", 1), ("skip_connect", 0), ("dil_conv_3x3", 2), ("max_pool_3x3", 0), ("sep_conv_3x3", 2), ("sep_conv_5x5", 1), ("max_pool_3x3", 0), ("dil_conv_3x3", 2)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("max_pool_3x3", 1), ("dil_conv_5x5", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 2), ("sep_conv_5x5", 1), ("sep_conv_5x5", 0), ("sep_conv_3x3", 0), ("max_pool_3x3", 4)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_55e06_l2_3e04_cifar100 = Genotype(
    normal=[("dil_conv_3x3", 0), ("skip_connect", 1), ("skip_connect", 1), ("sep_conv_5x5", 2), ("sep_conv_3x3", 1), ("sep_conv_5x5", 0), ("sep_conv_5x5", 2), ("sep_conv_5x5", 0)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_3x3", 1), ("sep_conv_5x5", 0), ("skip_connect", 1), ("dil_conv_5x5", 2), ("sep_conv_5x5", 0), ("sep_conv_5x5", 1), ("sep_conv_5x5", 0), ("max_pool_3x3", 4)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_51e06_l2_3e04_cifar100 = Genotype(
    normal=[("skip_connect", 1), ("dil_conv_5x5", 0), ("sep_conv_3x3", 2), ("sep_conv_5x5", 0), ("dil_conv_3x3", 0), ("dil_conv_5x5", 1), ("sep_conv_3x3", 2), ("sep_conv_5x5", 0)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_3x3", 0), ("skip_connect", 1), ("sep_conv_3x3", 1), ("max_pool_3x3", 2), ("sep_conv_5x5", 0), ("dil_conv_5x5", 3), ("sep_conv_3x3", 3), ("dil_conv_3x3", 0)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_489e07_l2_3e04_cifar100 = Genotype(
    normal=[("dil_conv_3x3", 0), ("skip_connect", 1), ("max_pool_3x3", 0), ("sep_conv_3x3", 1), ("dil_conv_3x3", 0), ("sep_conv_3x3", 3), ("dil_conv_5x5", 4), ("sep_conv_3x3", 1)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("sep_conv_5x5", 0), ("skip_connect", 1), ("sep_conv_3x3", 1), ("dil_conv_5x5", 2), ("sep_conv_5x5", 0), ("max_pool_3x3", 1), ("sep_conv_5x5", 0), ("dil_conv_5x5", 1)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_487e07_l2_3e04_cifar100 = Genotype(
    normal=[("skip_connect", 0), ("max_pool_3x3", 1), ("max_pool_3x3", 1), ("sep_conv_3x3", 2), ("sep_conv_5x5", 1), ("dil_conv_5x5", 3), ("sep_conv_3x3", 1), ("sep_conv_3x3", 3)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("dil_conv_5x5", 0), ("max_pool_3x3", 1), ("dil_conv_5x5", 2), ("max_pool_3x3", 1), ("sep_conv_3x3", 3), ("sep_conv_5x5", 0), ("sep_conv_3x3", 1), ("dil_conv_5x5", 4)],
    reduce_concat=[2, 3, 4, 5],
)

l1_loss_3e05_l2_3e04_cifar100 = Genotype(
    normal=[("dil_conv_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 1), ("skip_connect", 0), ("sep_conv_3x3", 2), ("sep_conv_3x3", 3), ("skip_connect", 1), ("max_pool_3x3", 0)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("dil_conv_5x5", 0), ("avg_pool_3x3", 1), ("dil_conv_5x5", 0), ("dil_conv_5x5", 2), ("sep_conv_5x5", 0), ("skip_connect", 1), ("sep_conv_3x3", 3), ("sep_conv_5x5", 0)],
    reduce_concat=[2, 3, 4, 5],
)

PUBLISHED: dict[str, Genotype] = {
    name: value for name, value in dict(globals()).items() if isinstance(value, Genotype)
}


class GenotypeError(ValueError):
    """A genotype could not be found or is malformed; the message is one line for the user."""


def genotype_to_dict(genotype: Genotype) -> dict[str, Any]:
    """Plain JSON-ready form: ``{"normal": [[op, input], ...], "normal_concat": [...], ...}``."""
    return {
        "normal": [[op, int(i)] for op, i in genotype.normal],
        "normal_concat": [int(i) for i in genotype.normal_concat],
        "reduce": [[op, int(i)] for op, i in genotype.reduce],
        "reduce_concat": [int(i) for i in genotype.reduce_concat],
    }


def _check_cell(edges: Any, concat: Any, which: str) -> tuple[list[tuple[str, int]], list[int]]:
    if not isinstance(edges, (list, tuple)) or not edges or len(edges) % 2:
        raise GenotypeError(f"genotype '{which}' must be a non-empty list of (op, input) pairs, two per node")
    cell = []
    for k, pair in enumerate(edges):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise GenotypeError(f"genotype '{which}' entry {k} is not an (op, input) pair: {pair!r}")
        op, index = pair
        if op not in KNOWN_OPS:
            raise GenotypeError(f"genotype '{which}' entry {k} names an unknown operation {op!r}")
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 2 + k // 2:
            raise GenotypeError(f"genotype '{which}' entry {k} has input {index!r}; node {k // 2} may read 0..{1 + k // 2}")
        cell.append((op, index))
    n_states = 2 + len(cell) // 2
    if not isinstance(concat, (list, tuple, range)) or not concat:
        raise GenotypeError(f"genotype '{which}_concat' must be a non-empty list of node indices")
    out = [int(i) for i in concat]
    if any(not 0 <= i < n_states for i in out):
        raise GenotypeError(f"genotype '{which}_concat' {out} has indices outside 0..{n_states - 1}")
    return cell, out


def genotype_from_dict(data: Any) -> Genotype:
    """Validate and build a Genotype from its JSON form (also accepts a Genotype)."""
    if isinstance(data, Genotype):
        data = genotype_to_dict(data)
    if not isinstance(data, dict) or not {"normal", "normal_concat", "reduce", "reduce_concat"} <= data.keys():
        raise GenotypeError("a genotype needs the keys normal, normal_concat, reduce and reduce_concat")
    normal, normal_concat = _check_cell(data["normal"], data["normal_concat"], "normal")
    reduce, reduce_concat = _check_cell(data["reduce"], data["reduce_concat"], "reduce")
    return Genotype(normal=normal, normal_concat=normal_concat, reduce=reduce, reduce_concat=reduce_concat)


def genotype_to_json(genotype: Genotype) -> str:
    return json.dumps(genotype_to_dict(genotype))


def genotype_from_json(text: str) -> Genotype:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise GenotypeError(f"not valid genotype JSON: {err}") from None
    return genotype_from_dict(data)


def save_genotype(genotype: Genotype, path: str | Path) -> None:
    Path(path).write_text(json.dumps(genotype_to_dict(genotype), indent=2) + "\n")


def same_cells(a: Genotype, b: Genotype) -> bool:
    """True when two genotypes build the same network (list/tuple and range differences ignored)."""
    return genotype_to_dict(a) == genotype_to_dict(b)


def _unknown(name: str, choices: list[str], where: str) -> GenotypeError:
    close = difflib.get_close_matches(name, choices, n=5, cutoff=0.5)
    hint = f"; closest: {', '.join(close)}" if close else f"; known: {', '.join(sorted(choices)[:8])} ..."
    return GenotypeError(f"unknown genotype '{name}'{where}{hint}")


def _from_mapping(mapping: dict[str, Any], key: str | None, path: Path) -> Genotype:
    if key is None:
        if len(mapping) == 1:
            return genotype_from_dict(next(iter(mapping.values())))
        names = ", ".join(sorted(mapping))
        raise GenotypeError(f"{path} holds several genotypes; pick one with {path}:NAME (one of {names})")
    if key not in mapping:
        raise _unknown(key, list(mapping), f" in {path}")
    return genotype_from_dict(mapping[key])


def _from_json_file(path: Path, key: str | None) -> Genotype:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise GenotypeError(f"cannot read genotype file {path}: {err}") from None
    if isinstance(data, dict) and "normal" in data:
        return genotype_from_dict(data)
    if isinstance(data, dict) and isinstance(data.get("genotype"), dict):
        return genotype_from_dict(data["genotype"])
    if isinstance(data, dict) and isinstance(data.get("genotypes"), dict):
        return _from_mapping(data["genotypes"], key, path)
    if isinstance(data, dict) and all(isinstance(v, dict) and "normal" in v for v in data.values()) and data:
        return _from_mapping(data, key, path)
    raise GenotypeError(f"{path} holds no genotype (expected a genotype, a result.json or a genotypes.json)")


def _from_run_folder(folder: Path, key: str | None) -> Genotype:
    for name in ("genotype.json", "result.json", "genotypes.json"):
        if (folder / name).is_file():
            return _from_json_file(folder / name, key)
    raise GenotypeError(f"run folder {folder} has no genotype.json, result.json or genotypes.json")


def resolve_genotype(spec: str | Path | Genotype) -> Genotype:
    """Turn a name, a genotype JSON file, a run folder or ``FILE:NAME`` into a Genotype.

    One resolver for every script, so ``--arch`` means the same everywhere. A run folder's
    ``log.txt`` also works (its folder is used). Names are looked up among the published genotypes;
    an unknown one fails with a one-line message listing the closest names.
    """
    if isinstance(spec, Genotype):
        return spec
    text = str(spec)
    path = Path(text)
    key = None
    if not path.exists() and ":" in text:
        head, _, tail = text.rpartition(":")
        if Path(head).exists():
            path, key = Path(head), tail
    if path.exists():
        if path.is_dir():
            return _from_run_folder(path, key)
        if path.name == "log.txt":
            return _from_run_folder(path.parent, key)
        return _from_json_file(path, key)
    if text in PUBLISHED:
        return PUBLISHED[text]
    if text.endswith(".json") or "/" in text:
        raise GenotypeError(f"genotype file or folder '{text}' does not exist")
    raise _unknown(text, list(PUBLISHED), "")


def genotype_label(spec: str | Path | Genotype) -> str:
    """A short name for run folders: the published name, FILE:NAME's NAME, or the file/folder stem."""
    if isinstance(spec, Genotype):
        return next((n for n, g in PUBLISHED.items() if same_cells(g, spec)), "custom")
    text = str(spec).rstrip("/")
    if text in PUBLISHED:
        return text
    path = Path(text)
    if not path.exists() and ":" in text:
        return text.rpartition(":")[2]
    if path.name == "log.txt":
        path = path.parent
    return path.stem if path.suffix == ".json" else path.name
