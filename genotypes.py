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

``resolve_genotype_source`` returns where the genotype came from as well (logged and recorded by
train.py), since a sweep names its genotypes like the thesis cells bundled here. A pasted
``Genotype(normal=[...], normal_concat=range(2, 6), ...)`` string, as DARTS-family logs print it,
is read too, without evaluating it.
"""

from __future__ import annotations

import ast
import difflib
import json
import re
from collections import namedtuple
from pathlib import Path
from typing import Any, NamedTuple

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
        if not isinstance(op, str) or op not in KNOWN_OPS:
            raise GenotypeError(f"genotype '{which}' entry {k} names an unknown operation {op!r}")
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 2 + k // 2:
            raise GenotypeError(f"genotype '{which}' entry {k} has input {index!r}; node {k // 2} may read 0..{1 + k // 2}")
        cell.append((op, index))
    n_states = 2 + len(cell) // 2
    if not isinstance(concat, (list, tuple, range)) or not concat:
        raise GenotypeError(f"genotype '{which}_concat' must be a non-empty list of node indices")
    bad = [i for i in concat if not isinstance(i, int) or isinstance(i, bool)]
    if bad:  # 2.9 is not node 2, nor true node 1: nothing is rounded or cast
        raise GenotypeError(f"genotype '{which}_concat' {list(concat)!r} must hold integer node indices, "
                            f"not {bad[0]!r}")
    out = list(concat)
    # A reduction cell halves the map in its edges from inputs 0 and 1, which themselves keep the size before it:
    # concatenating one of them with the nodes failed at the first forward pass (a RuntimeError traceback).
    lowest = 2 if which == "reduce" else 0
    if any(not lowest <= i < n_states for i in out):
        why = " (a reduction cell's inputs 0 and 1 have the size before it)" if which == "reduce" else ""
        raise GenotypeError(f"genotype '{which}_concat' {out} has indices outside {lowest}..{n_states - 1}{why}")
    if len(set(out)) != len(out):  # a node concatenated twice silently widens every later cell
        raise GenotypeError(f"genotype '{which}_concat' {out} names a node more than once")
    return cell, out


def genotype_from_dict(data: Any) -> Genotype:
    """Validate and build a Genotype from its JSON form (also accepts a Genotype)."""
    if isinstance(data, Genotype):
        data = genotype_to_dict(data)
    if not isinstance(data, dict) or not set(Genotype._fields) <= data.keys():
        missing = f" (missing {', '.join(f for f in Genotype._fields if f not in data)})" \
            if isinstance(data, dict) else ""  # a hand-edited key ('normal_cells') is found at once
        raise GenotypeError(f"a genotype needs the keys normal, normal_concat, reduce and reduce_concat{missing}")
    extra = sorted(str(k) for k in data.keys() - set(Genotype._fields))
    if extra:  # a misspelt key ('reduce_contact') would otherwise be dropped without a word
        raise GenotypeError(f"a genotype has only the keys normal, normal_concat, reduce and reduce_concat, "
                            f"not {', '.join(extra)}")
    normal, normal_concat = _check_cell(data["normal"], data["normal_concat"], "normal")
    reduce, reduce_concat = _check_cell(data["reduce"], data["reduce_concat"], "reduce")
    return Genotype(normal=normal, normal_concat=normal_concat, reduce=reduce, reduce_concat=reduce_concat)


def save_genotype(genotype: Genotype, path: str | Path) -> None:
    """Write a genotype as the JSON that every tool reads back (genotype_to_dict), never as Python to run.

    Atomically: a crash while writing leaves the old file or none, never a truncated genotype.json that a
    test, a resume or a sweep would then have to call damaged.
    """
    from utils import write_json_atomic  # here, not at the top: genotypes.py is read without torch

    write_json_atomic(path, genotype_to_dict(genotype))


def same_cells(a: Genotype, b: Genotype) -> bool:
    """True when two genotypes build the same network (list/tuple and range differences ignored)."""
    return genotype_to_dict(a) == genotype_to_dict(b)


def _unknown(name: str, choices: list[str], where: str) -> GenotypeError:
    close = difflib.get_close_matches(name, choices, n=5, cutoff=0.5)
    hint = f"; closest: {', '.join(close)}" if close else f"; known: {', '.join(sorted(choices)[:8])} ..."
    return GenotypeError(f"unknown genotype '{name}'{where}{hint}")


def _names(mapping: dict[str, Any], limit: int = 20) -> str:
    names = sorted(mapping)
    more = f" ... ({len(names)} in all)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _entry(mapping: dict[str, Any], name: str, path: Path) -> Genotype:
    try:
        return genotype_from_dict(mapping[name])
    except GenotypeError as err:
        raise GenotypeError(f"{path}:{name}: {err}") from None


def _from_mapping(mapping: dict[str, Any], key: str | None, path: Path) -> tuple[Genotype, str]:
    """The genotype ``key`` names in a name -> genotype file, and its name."""
    if key is None:
        if len(mapping) == 1:
            name = next(iter(mapping))
            return _entry(mapping, name, path), name
        raise GenotypeError(f"{path} holds several genotypes; pick one with {path}:NAME (one of {_names(mapping)})")
    if key not in mapping:
        close = difflib.get_close_matches(key, list(mapping), n=3, cutoff=0.5)
        hint = f" (closest: {', '.join(close)})" if close else ""
        raise GenotypeError(f"{path} has no genotype '{key}'{hint}; it holds: {_names(mapping)}")
    return _entry(mapping, key, path), key


def _single(data: Any, key: str | None, path: Path) -> Genotype:
    """A file that holds one unnamed genotype: a name after its path would silently mean nothing."""
    if key is not None:
        raise GenotypeError(f"{path} holds one unnamed genotype, so '{key}' names nothing in it: "
                            f"give {path} without ':{key}'")
    return genotype_from_dict(data)


def genotype_mapping(data: Any) -> dict[str, Any] | None:
    """The name -> genotype mapping a genotypes.json's content holds (its "genotypes" object, or the file itself
    when every value is an object), else None (one genotype, or no genotype file).

    Entries are not checked here: one mis-keyed entry of a hand-edited file must not hide the others
    (FILE:NAME reads only NAME), and is reported by its name when it is read.
    """
    if not isinstance(data, dict) or "normal" in data or isinstance(data.get("genotype"), dict):
        return None  # one genotype, or a result.json
    if isinstance(data.get("genotypes"), dict):
        return data["genotypes"]
    if data and all(isinstance(v, dict) for v in data.values()):
        return data
    return None


# A sweep's genotypes.json of hundreds of genotypes is well under a megabyte; anything far larger is no genotype file
# (a data set or a log given by mistake) and is refused before it is read into memory.
MAX_GENOTYPE_FILE_BYTES = 64 * 2**20


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's object hook refusing a key given twice: json keeps the last one without a word, so a hand-edited
    genotype with two "normal" entries (or a genotypes.json with two entries of one name) would build the other."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise GenotypeError(f"the key {key!r} is given twice in one object")
        out[key] = value
    return out


def read_genotype_json(path: str | Path) -> Any:
    """The JSON content of a genotype, result or genotypes file; anything unreadable is one GenotypeError naming it.

    Shared by every reader of ``--arch``/``--archs`` files, so that a file json itself cannot take (nesting too deep,
    an integer of thousands of digits), a duplicated key or a huge file (``/dev/zero``) is one line, not a traceback, a
    silently dropped entry, or a read that never ends.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:  # read up to the cap only: a pipe (--arch <(...)) works, /dev/zero ends
            raw = f.read(MAX_GENOTYPE_FILE_BYTES + 1)
        if len(raw) > MAX_GENOTYPE_FILE_BYTES:
            raise GenotypeError(f"over {MAX_GENOTYPE_FILE_BYTES // 2**20} MiB, far more than any genotype file holds")
        return json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys)
    except (OSError, ValueError, RecursionError) as err:  # JSONDecodeError, UnicodeDecodeError, GenotypeError
        detail = "nested too deeply" if isinstance(err, RecursionError) else " ".join(str(err).split())
        raise GenotypeError(f"cannot read genotype file {path}: {detail}") from None


def read_genotype_mapping(path: str | Path) -> dict[str, Any] | None:
    """The name -> genotype mapping of a genotypes file such as a sweep's genotypes.json; None where the file holds
    one genotype or cannot be read (resolving it then says why)."""
    try:
        return genotype_mapping(read_genotype_json(path))
    except GenotypeError:
        return None


def _from_json_file(path: Path, key: str | None) -> tuple[Genotype, str | None]:
    """The genotype of a genotype, result or genotypes JSON file, and its name there (None if unnamed)."""
    data = read_genotype_json(path)
    if isinstance(data, dict) and "normal" in data:
        return _single(data, key, path), None
    if isinstance(data, dict) and isinstance(data.get("genotype"), dict):
        return _single(data["genotype"], key, path), None
    mapping = genotype_mapping(data)
    if mapping is not None:
        return _from_mapping(mapping, key, path)
    raise GenotypeError(f"{path} holds no genotype (expected a genotype, a result.json or a genotypes.json)")


def _from_run_folder(folder: Path, key: str | None) -> tuple[Genotype, str | None, Path]:
    """A run folder's genotype (its genotype.json or result.json; with a name, its genotypes.json first)."""
    files = ("genotype.json", "result.json", "genotypes.json")
    if key is not None:
        files = ("genotypes.json", *files[:2])
    for name in files:
        if (folder / name).is_file():
            genotype, entry = _from_json_file(folder / name, key)
            return genotype, entry, folder / name
    from utils import resume_command, run_folder_kind, run_state

    kind = run_folder_kind(folder)
    if kind in ("sweep", "search"):  # a sweep writes its genotypes.json at its end, a search its genotype.json
        # a search of a sweep goes on with its sweep's --resume (its own would leave the sweep without its result)
        sweep = folder if kind == "sweep" else folder.parent if (folder.parent / "sweep.json").is_file() else None
        resume = resume_command("multiobjective.py" if sweep else "train_search.py", sweep or folder)
        # its lock tells a run at work from a stopped one: a search at work was "a run folder with no genotype.json"
        state = run_state(folder, resume, f"if it was stopped, {resume} continues it")
        raise GenotypeError(f"{kind} folder {folder} has no {'genotypes.json' if sweep == folder else 'genotype.json'} "
                            f"yet: the {kind} writes it at its end ({state})")
    raise GenotypeError(f"run folder {folder} has no genotype.json, result.json or genotypes.json")


# --------------------------------------------------------------------------- Genotype(...) strings

_GENOTYPE_STRING = re.compile(r"^\s*(?:genotype\s*=\s*)?(?:genotypes\.)?Genotype\s*\(", re.IGNORECASE)
_MAX_RANGE = 64  # a concat range longer than any cell has nodes is a typo, not a cell


def is_genotype_string(text: str | Path) -> bool:
    """True for ``Genotype(normal=[...], ...)`` as DARTS-family logs print it (``genotype =`` before it is fine)."""
    return isinstance(text, str) and bool(_GENOTYPE_STRING.match(text))


def _literal(node: ast.AST) -> Any:
    """The value of an allowed node: lists, tuples, str and int constants, and range(...) of ints."""
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(e) for e in node.elts]
    if isinstance(node, ast.Constant) and type(node.value) in (str, int):
        return node.value
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range"
            and not node.keywords and 1 <= len(node.args) <= 3):
        bounds = [_literal(a) for a in node.args]
        if all(type(b) is int for b in bounds):
            try:  # range(2, 6, 0) is a ValueError, and a length past sys.maxsize an OverflowError
                span = range(*bounds)
                fits = len(span) <= _MAX_RANGE
            except (ValueError, OverflowError):
                fits = False
            if fits:
                return list(span)
    try:
        found = repr(ast.unparse(node)[:60])
    except RecursionError:  # 1+1+...+1 some hundred times: parsed, but too deep to write back
        found = f"an expression nested too deeply ({type(node).__name__})"
    raise GenotypeError(f"a Genotype(...) string may hold only lists, tuples, quoted op names, integers and "
                        f"range(a, b); found {found}")


def parse_genotype_string(text: str) -> Genotype:
    """``Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=range(2, 6), ...)`` read without eval.

    The text is parsed into a syntax tree and only the Genotype call, lists, tuples, string and
    integer constants and ``range`` are read; anything else (a name, an attribute, another call)
    is refused, so no code in the string ever runs.
    """
    body = _GENOTYPE_STRING.sub("Genotype(", text, count=1).strip()
    try:
        node = ast.parse(body, mode="eval").body
    except SyntaxError as err:
        raise GenotypeError(f"not a readable Genotype(...) string: {err.msg} at column {err.offset}") from None
    except (RecursionError, MemoryError):  # 1+1+...+1 a hundred thousand times: too deep a tree for the parser
        raise GenotypeError("not a readable Genotype(...) string: nested too deeply") from None
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Genotype"):
        raise GenotypeError("not a Genotype(...) string: give Genotype(normal=[...], normal_concat=..., "
                            "reduce=[...], reduce_concat=...)")
    if len(node.args) > len(Genotype._fields):
        raise GenotypeError(f"Genotype(...) takes {len(Genotype._fields)} fields, got {len(node.args)}")
    fields = dict(zip(Genotype._fields, (_literal(a) for a in node.args)))
    for keyword in node.keywords:
        if keyword.arg is None:
            raise GenotypeError("Genotype(...) takes its fields as name=value, not **{...}")
        if keyword.arg not in Genotype._fields or keyword.arg in fields:
            raise GenotypeError(f"Genotype(...) has fields {', '.join(Genotype._fields)}: "
                                f"{keyword.arg}= is unknown or given twice")
        fields[keyword.arg] = _literal(keyword.value)
    return genotype_from_dict(fields)


# --------------------------------------------------------------------------- the resolver

# How a sweep names its Pareto-optimal genotypes (pareto.sweep_name): the thesis cells bundled here use them too.
_SWEEP_NAME = re.compile(r"^l[12]_loss_")


class ResolvedGenotype(NamedTuple):
    """A genotype and where it came from, in words, for logs and result.json."""

    genotype: Genotype
    source: str
    published: str | None = None  # the name, when a bare name was taken from the published genotypes
    stale: str | None = None  # why the sweep's genotypes.json it came from may not be the sweep's front (stale_front)

    @property
    def note(self) -> str:
        """One line for the log: the source, and for a sweep-like published name, how to pick a sweep's own."""
        if self.published and _SWEEP_NAME.match(self.published):
            return (f"{self.source}; to train a sweep's genotype of that name use "
                    f"--arch SWEEP/genotypes.json:{self.published}")
        return f"{self.source} ({self.stale})" if self.stale else self.source


def stale_front(file: Path) -> str | None:
    """Why a sweep's genotypes.json may not be its front, else None.

    A sweep writes genotypes.json at its end; a completed sweep resumed for more searches keeps the old file until
    its new end, so a file beside a sweep.json that records the sweep unfinished ("complete": false) is the front of
    the earlier end: still at work, or stopped before the new end. Older sweep.json files (no "complete") pass.
    """
    state_file = file.parent / "sweep.json"
    if file.name != "genotypes.json" or not state_file.is_file():
        return None
    try:
        state = json.loads(state_file.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None  # the tools that read sweep.json say what is wrong with it
    if not isinstance(state, dict) or state.get("complete") is not False:
        return None
    from utils import resume_command, run_is_live

    folder = file.parent
    live, resume = run_is_live(folder), resume_command("multiobjective.py", folder)
    how = ("still at work" if live else f"stopped before its new end ({resume} continues it)" if live is False
           else f"unfinished (if it was stopped, {resume} continues it)")
    return f"{file} is the front of the sweep's earlier end; the sweep was resumed since and is {how}"


def _exists(path: Path) -> bool:
    """Path.exists, with a name too long for the file system (a pasted genotype, a typo) as 'no such file'."""
    try:
        return path.exists()
    except OSError:
        return False


def resolve_genotype_source(spec: str | Path | Genotype) -> ResolvedGenotype:
    """Turn a name, a genotype JSON file, a run folder, ``FILE:NAME`` or a Genotype(...) string into a Genotype.

    One resolver for every script, so ``--arch`` means the same everywhere. A run folder's
    ``log.txt`` also works (its folder is used). A bare name is looked up among the published
    genotypes; an unknown one fails with a one-line message listing the closest names, and a
    ``FILE:NAME`` whose file holds no NAME with the names it does hold. The source says which.
    """
    if isinstance(spec, Genotype):
        return ResolvedGenotype(spec, "a genotype given directly")
    text = str(spec)
    if is_genotype_string(text):
        return ResolvedGenotype(parse_genotype_string(text), "a Genotype(...) string given on the command line")
    path = Path(text)
    key = None
    if not _exists(path) and ":" in text:
        head, _, tail = text.rpartition(":")
        if head and _exists(Path(head)):  # ":NAME" named no file: Path("") is the working folder
            path, key = Path(head), tail
    if _exists(path):
        if path.is_dir() or path.name == "log.txt":
            folder = path if path.is_dir() else path.parent
            genotype, entry, file = _from_run_folder(folder, key)
        else:
            (genotype, entry), file = _from_json_file(path, key), path
        where = str(file.absolute())
        return ResolvedGenotype(genotype, f"{where}:{entry}" if entry else where, stale=stale_front(file))
    if text in PUBLISHED:
        return ResolvedGenotype(PUBLISHED[text], f"published genotype {text} from genotypes.py", published=text)
    if text.endswith(".json") or "/" in text:
        raise GenotypeError(f"genotype file or folder '{text}' does not exist")
    raise _unknown(text, list(PUBLISHED), "")


def resolve_genotype(spec: str | Path | Genotype) -> Genotype:
    """The Genotype a spec names (see ``resolve_genotype_source``, which also says where it came from)."""
    return resolve_genotype_source(spec).genotype


def genotype_label(spec: str | Path | Genotype) -> str:
    """A short name for run folders: the published name, FILE:NAME's NAME, or the file/folder stem (a run
    folder's own log.txt, genotype.json or result.json is named by its folder: not "eval-result-...", also when
    given as ./result.json from inside it; "." and ".." are named by the folder they are)."""
    if isinstance(spec, str) and is_genotype_string(spec):
        spec = parse_genotype_string(spec)
    if isinstance(spec, Genotype):
        return next((n for n, g in PUBLISHED.items() if same_cells(g, spec)), "custom")
    text = str(spec).rstrip("/")
    if text in PUBLISHED:
        return text
    path = Path(text)
    if not _exists(path) and ":" in text:
        return text.rpartition(":")[2]
    run_file = path.name in ("log.txt", "genotype.json", "result.json")
    if (path.name in ("", "..") or run_file and path.parent.name in ("", "..")) and _exists(path):
        path = path.resolve()  # '.', '..', or a run's file given from inside its folder: the folder's own name
    if run_file and path.parent.name not in ("", ".", ".."):
        path = path.parent
    return path.stem if path.suffix == ".json" else path.name
