"""A grouped ("fused") forward of the PC-DARTS supernet: the same function, a fraction of the kernels.

Inside a search cell every mixed op runs 8 primitives on a 1/K channel slice (1 to 4 channels at the
sizes tests and demos use), so the reference forward launches thousands of tiny kernels. Edges that
leave the same state see the same input slice, so a cell runs in ``steps`` rounds instead of
``sum(2 + i)`` edges: round 0 takes every edge out of the two cell inputs (they share the stride),
round r every edge out of intermediate node r - 1. Within a round each primitive runs once for all
its E edges:

* depthwise convolutions as one conv with ``groups = E * C/K`` over the edges' heads side by side,
  pointwise convolutions as one block-diagonal grouped conv (the first pointwise convs of all sep
  and dil convs in one call), the edges' weights concatenated on the fly;
* non-affine BatchNorm as one ``F.batch_norm`` over the concatenated channels with the edges'
  running statistics concatenated and copied back, so every edge's buffers (and
  ``num_batches_tracked``) advance exactly as ``nn.BatchNorm2d`` would advance them; the mixing
  weights softmax(alpha) * beta ride on the last BatchNorm's affine weight;
* pools once per source state (they are parameter-free), skip_connect as identity or grouped
  FactorizedReduce; the bypassed channels of each node are summed apart from the processed ones
  and the node is shuffled once (the channel shuffle is a fixed permutation, hence linear).

On CPU, grouped 1x1 convs run as batched matmuls and depthwise convs use a faster backward
(``_CpuDepthwiseConv``): oneDNN is slow at both for a few channels per group.

The parameters stay where they are (the model's own ``nn.Parameter``s and buffers, the original
state_dict), are read at call time (so ``torch.func.functional_call`` works), and the outputs equal
the reference up to float rounding. The ``none`` op is left out of the sum: ``w * (0 * x)`` is zero
for finite x and its alpha still gets its gradient through the softmax. Only for a non-finite head
do the two differ: the reference edge output is NaN, the fused one inf or NaN; the loss is
non-finite either way and the search stops as diverged.

    >>> net = enable_fused(Network(16, 10, 8))   # net(x) now runs the fused forward
    >>> logits = fused_forward(net, x)            # or call it directly on any supernet
"""

from __future__ import annotations

import types
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from genotypes import PRIMITIVES
from model_search import Cell, MixedOp, Network, edge_softmax
from operations import DilConv, FactorizedReduce, Identity, SepConv, Zero, subsample_for_pointwise

__all__ = ["fused_forward", "fused_cell_forward", "enable_fused", "disable_fused", "is_fused", "check_fusable"]


# ---------------------------------------------------------------------------------------------- building blocks


# every value _kind returns: _round groups the primitives under these keys
_KINDS = ("sep", "dil", "pool", "fr", "identity", "none")


def _kind(op: nn.Module) -> str:
    """How a primitive is grouped: 'sep', 'dil', 'pool', 'fr', 'identity' or 'none'."""
    if isinstance(op, SepConv):
        return "sep"
    if isinstance(op, DilConv):
        return "dil"
    if isinstance(op, FactorizedReduce):
        return "fr"
    if isinstance(op, Identity):
        return "identity"
    if isinstance(op, Zero):
        return "none"
    if (isinstance(op, nn.Sequential) and len(op) == 2 and isinstance(op[0], (nn.MaxPool2d, nn.AvgPool2d))
            and isinstance(op[1], nn.BatchNorm2d)):
        return "pool"
    raise ValueError(f"fused forward: unsupported primitive {type(op).__name__} in a mixed op")


class _CpuDepthwiseConv(torch.autograd.Function):
    """A depthwise convolution whose backward takes the faster oneDNN paths on CPU.

    On CPU the stock backward of a depthwise conv is many times slower than its forward: the input
    gradient of a stride-1 conv is computed here as the forward conv with the flipped kernel, and the
    weight gradient in channels-last layout. Same values up to float rounding; differentiable twice.
    """

    @staticmethod
    def forward(ctx, x, weight, stride, padding, dilation, groups):  # noqa: ANN001, ANN205
        ctx.save_for_backward(x, weight)
        ctx.conf = (stride, padding, dilation, groups)
        # the node that consumes the weight gradient: an architecture step (autograd.grad w.r.t. the
        # alphas only) never runs it, and then the costly weight gradient is skipped, as aten's conv does.
        # Grad mode is off in forward, and torch 2.4's get_gradient_edge needs it on to find a leaf's accumulator.
        ctx.weight_node = None
        if weight.requires_grad:
            with torch.enable_grad():
                ctx.weight_node = torch.autograd.graph.get_gradient_edge(weight).node
        return F.conv2d(x, weight, None, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, grad):  # noqa: ANN001, ANN205
        x, weight = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.conf
        grad_x = grad_w = None
        kernel = weight.shape[2:]
        flipped_padding = [d * (k - 1) - p for d, k, p in zip(dilation, kernel, padding)]
        if ctx.needs_input_grad[0]:
            if all(s == 1 for s in stride) and min(flipped_padding) >= 0:
                grad_x = F.conv2d(grad, weight.flip(2, 3), None, 1, flipped_padding, dilation, groups)
            else:
                grad_x = torch.ops.aten.convolution_backward(
                    grad, x, weight, None, stride, padding, dilation, False, [0, 0], groups, [True, False, False]
                )[0]
        if ctx.needs_input_grad[1] and _will_run(ctx.weight_node):
            cl = torch.channels_last
            grad_w = torch.ops.aten.convolution_backward(
                grad.contiguous(memory_format=cl), x.contiguous(memory_format=cl), weight, None,
                stride, padding, dilation, False, [0, 0], groups, [False, True, False],
            )[1]
        return grad_x, grad_w, None, None, None, None


def _will_run(node: object) -> bool:
    """Whether the running backward pass will execute ``node`` (True when that cannot be known)."""
    try:
        return bool(torch._C._will_engine_execute_node(node))
    except (AttributeError, RuntimeError, TypeError):
        return True


def _conv(x: torch.Tensor, convs: Sequence[nn.Conv2d]) -> torch.Tensor:
    """The same convolution of several edges as one grouped conv over their inputs side by side."""
    first = convs[0]
    weight = torch.cat([m.weight for m in convs]) if len(convs) > 1 else first.weight
    groups = first.groups * len(convs)
    stride = first.stride
    if weight.shape[2:] == (1, 1) and first.padding == (0, 0):
        x, stride = subsample_for_pointwise(x, stride)
    # (under torch.compile the compiler makes its own kernels, and these eager-only paths would break its graph)
    if x.device.type == "cpu" and not torch.is_autocast_enabled("cpu") and not torch.compiler.is_compiling():
        if weight.shape[2:] == (1, 1) and first.padding == (0, 0):
            return _pointwise(x, weight, groups)
        if (weight.shape[1] == 1 and torch.backends.mkldnn.enabled and torch.backends.mkldnn.is_available()
                and torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad)):
            return _CpuDepthwiseConv.apply(x, weight, stride, first.padding, first.dilation, groups)
    return F.conv2d(x, weight, None, stride, first.padding, first.dilation, groups)


def _pointwise(x: torch.Tensor, weight: torch.Tensor, groups: int) -> torch.Tensor:
    """A grouped stride-1 1x1 convolution as one batched matmul: on CPU several times faster than oneDNN's
    grouped conv when each group has only a few channels (forward and backward)."""
    n, _, h, w = x.shape
    c_out, c_in = weight.shape[:2]
    y = torch.matmul(weight.view(groups, c_out // groups, c_in), x.reshape(n, groups, c_in, h * w))
    return y.view(n, c_out, h, w)


def _batch_norm(
    x: torch.Tensor, bns: Sequence[nn.BatchNorm2d], scale: torch.Tensor | None = None
) -> torch.Tensor:
    """Several BatchNorm2d modules over their channels side by side, updating each one's buffers.

    Per-channel statistics make one call over the concatenation exact; the concatenated running
    statistics are updated by the kernel itself and copied back, so the buffers advance exactly as
    each module's own forward would advance them. ``scale`` (one value per channel) multiplies the
    output inside the same kernel: the mixing weights of the ops ride on BatchNorm's affine weight.
    """
    first = bns[0]
    training = first.training
    if any(bn.training is not training for bn in bns):
        raise ValueError("fused forward: the BatchNorms of one cell are in different train/eval modes")
    running = first.track_running_stats
    rm = rv = None
    if running:
        rm = torch.cat([bn.running_mean for bn in bns])
        rv = torch.cat([bn.running_var for bn in bns])
    weight = bias = None
    if first.affine:
        weight = torch.cat([bn.weight for bn in bns])
        bias = torch.cat([bn.bias for bn in bns])
        if scale is not None:
            weight, bias = weight * scale, bias * scale
    elif scale is not None:
        weight = scale
    out = F.batch_norm(x, rm, rv, weight, bias, training or not running, first.momentum, first.eps)
    if training and running:
        with torch.no_grad():
            sizes = [bn.num_features for bn in bns]
            torch._foreach_copy_([bn.running_mean for bn in bns], list(rm.split(sizes)))
            torch._foreach_copy_([bn.running_var for bn in bns], list(rv.split(sizes)))
            torch._foreach_add_([bn.num_batches_tracked for bn in bns], 1)
    return out


def _cat(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.cat(list(tensors), 1) if len(tensors) > 1 else tensors[0]


def _per_edge(per_source: torch.Tensor, nodes: int) -> torch.Tensor:
    """(B, sources, c, H, W) -> (B, nodes * sources * c, H, W): each node's copy of its sources, node-major.

    One copy forward and one sum backward, where a list repeated in a cat would cost an add per edge.
    """
    n, n_src, c, h, w = per_source.shape
    if nodes == 1:
        return per_source.view(n, n_src * c, h, w)
    return per_source.unsqueeze(1).expand(n, nodes, n_src, c, h, w).reshape(n, nodes * n_src * c, h, w)


def _round(heads: torch.Tensor, mixed: Sequence[MixedOp], coef: torch.Tensor) -> torch.Tensor:
    """sum over primitives and sources of coef * op(head) for the E edges of one round.

    ``heads`` (B, sources, C/K, H, W) are the distinct source slices; the edges are node-major with
    one edge per source in each node; ``coef`` (E, primitives) is softmax(alpha) times the edge's
    normalised beta. Returns (B, nodes, C/K, H', W').
    """
    n, n_src, c = heads.shape[:3]
    nodes = len(mixed) // n_src
    ops = [m._ops for m in mixed]
    by_kind: dict[str, list[int]] = {k: [] for k in _KINDS}
    for p, op in enumerate(ops[0]):
        by_kind[_kind(op)].append(p)
    sep, dil, pools, frs = by_kind["sep"], by_kind["dil"], by_kind["pool"], by_kind["fr"]
    columns = coef.unbind(1)
    flat_heads = heads.view(n, n_src * c, *heads.shape[3:])
    blocks: list[torch.Tensor] = []
    bns: list[nn.BatchNorm2d] = []
    order: list[int] = []
    for p in pools:  # parameter-free and channel-wise: once per source, then BatchNorm per edge
        pooled = ops[0][p][0](flat_heads)
        blocks.append(_per_edge(pooled.view(n, n_src, c, *pooled.shape[2:]), nodes))
        bns += [op[p][1] for op in ops]
        order.append(p)
    if sep or dil or frs:
        relu = _per_edge(F.relu(heads), nodes)
    for p in frs:
        reduces = [op[p] for op in ops]
        a = _conv(relu, [r.conv_1 for r in reduces])
        b = _conv(relu[:, :, 1:, 1:], [r.conv_2 for r in reduces])
        _, _, h, w = a.shape
        e = len(reduces)  # interleave per edge: [conv_1 of edge 0, conv_2 of edge 0, conv_1 of edge 1, ...]
        blocks.append(torch.stack([a.reshape(n, e, -1, h, w), b.reshape(n, e, -1, h, w)], 2).reshape(n, -1, h, w))
        bns += [r.bn for r in reduces]
        order.append(p)
    convs = sep + dil
    if convs:
        seqs = {p: [op[p].op for op in ops] for p in convs}
        dw = [_conv(relu, [s[1] for s in seqs[p]]) for p in convs]
        pw = _conv(_cat(dw), [s[2] for p in convs for s in seqs[p]])
        width = pw.shape[1] // len(convs)
        pw_sep, pw_dil = pw.split([width * len(sep), width * len(dil)], 1)
        if sep:
            mid = F.relu(_batch_norm(pw_sep, [s[3] for p in sep for s in seqs[p]])).split(width, 1)
            dw2 = [_conv(m, [s[5] for s in seqs[p]]) for m, p in zip(mid, sep)]
            blocks.append(_conv(_cat(dw2), [s[6] for p in sep for s in seqs[p]]))
            bns += [s[7] for p in sep for s in seqs[p]]
        if dil:
            blocks.append(pw_dil)
            bns += [s[3] for p in dil for s in seqs[p]]
        order += convs
    out = None
    if blocks:
        # the mixing weights ride on BatchNorm's affine weight; then one sum over primitives and sources
        scale = torch.stack([columns[p] for p in order]).unsqueeze(2).expand(-1, -1, c).reshape(-1)
        z = _batch_norm(_cat(blocks), bns, scale)
        out = z.view(n, len(order), nodes, n_src, c, *z.shape[2:]).sum((1, 3))
    for p in by_kind["identity"]:
        part = heads.unsqueeze(1) * columns[p].to(heads.dtype).view(1, nodes, n_src, 1, 1, 1)
        part = part.sum(2) if n_src > 1 else part.squeeze(2)
        out = part if out is None else out + part
    if out is None:  # nothing but `none` ops: zeros of the (possibly strided) output shape
        zero = ops[0][by_kind["none"][0]](flat_heads[:, :c])
        out = zero.unsqueeze(1).expand(-1, nodes, -1, -1, -1)
    return out


def _node(heads: list[torch.Tensor], tails: list[torch.Tensor], k: int) -> torch.Tensor:
    """channel_shuffle(cat([sum(heads), sum(tails)]), k) in one copy: shuffled channel i*k + g is channel
    g*(C/k) + i. With k = 1 (DARTS's mixed op) nothing bypasses: the node is the sum of its heads."""
    head = sum(heads[1:], heads[0])
    if k == 1:
        return head
    tail = sum(tails[1:], tails[0])
    n, c, h, w = head.shape
    parts = [head.unsqueeze(2), tail.view(n, k - 1, c, h, w).transpose(1, 2)]
    return torch.cat(parts, 2).view(n, c * k, h, w)


# ---------------------------------------------------------------------------------------------- cell and network


def fused_cell_forward(
    cell: Cell, s0: torch.Tensor, s1: torch.Tensor, weights: torch.Tensor, edge_weights: torch.Tensor
) -> torch.Tensor:
    """``cell(s0, s1, weights, edge_weights)`` computed round by round, one grouped kernel per primitive.

    Node i is shuffle(cat(sum_e beta_e * ops_e(head_e), sum_e beta_e * tail_e)): the shuffle is a fixed
    channel permutation, so the heads and the bypassed tails are summed apart and shuffled once per node.
    """
    steps = cell._steps
    states = [cell.preprocess0(s0), cell.preprocess1(s1)]
    offsets = [2 * i + i * (i - 1) // 2 for i in range(steps)]
    k = cell._ops[0].k
    C = states[0].shape[1]
    c = C // k
    rows = (weights * edge_weights.unsqueeze(1).to(weights.dtype)).unbind(0)  # per edge: alpha-softmax * beta
    betas = edge_weights.unbind(0)
    parts: list[list[torch.Tensor]] = [[] for _ in range(steps)]  # per node: its heads' contributions
    tails: list[list[torch.Tensor]] = [[] for _ in range(steps)]  # per node: its weighted bypassed channels
    for r in range(steps):
        if r == 0:
            sources, targets = [0, 1], list(range(steps))
        else:
            sources, targets = [r + 1], list(range(r, steps))
            i = r - 1  # node r - 1 is complete: build it and make it a state
            states.append(_node(parts[i], tails[i], k))
        edges = [offsets[i] + j for i in targets for j in sources]
        mixed = [cell._ops[e] for e in edges]
        split = [states[j].split([c, C - c], 1) for j in sources]
        heads = torch.stack([h for h, _ in split], 1)
        out = _round(heads, mixed, torch.stack([rows[e] for e in edges]))
        for i, part in zip(targets, out.unbind(1)):
            parts[i].append(part)
        if k == 1:
            continue
        tail = torch.stack([t for _, t in split], 1)
        if out.shape[-2:] != heads.shape[-2:]:  # strided edges max-pool the bypassed channels
            tail = mixed[0].mp(tail.flatten(1, 2)).view(*tail.shape[:3], *out.shape[-2:])
        beta = torch.stack([betas[e] for e in edges]).to(tail.dtype).view(1, len(targets), len(sources), 1, 1, 1)
        weighted = tail.unsqueeze(1) * beta
        weighted = weighted.sum(2) if len(sources) > 1 else weighted.squeeze(2)
        for i, t in zip(targets, weighted.unbind(1)):
            tails[i].append(t)
    i = steps - 1
    states.append(_node(parts[i], tails[i], k))
    return torch.cat(states[-cell._multiplier:], dim=1)


def _arch_weights(net: Network, alphas: torch.Tensor, betas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(alpha) and the per-node softmax of the betas, in fp32 at least (also under autocast)."""
    dtype = torch.promote_types(alphas.dtype, torch.float32)
    return F.softmax(alphas.to(dtype), dim=-1), edge_softmax(betas.to(dtype), net._steps)


def fused_forward(net: Network, x: torch.Tensor) -> torch.Tensor:
    """The logits of ``net(x)`` for a ``model_search.Network`` (or NetworkImageNet), via fused cells."""
    s0, s1 = net._stem_forward(x)
    normal = _arch_weights(net, net.alphas_normal, net.betas_normal)
    reduce = _arch_weights(net, net.alphas_reduce, net.betas_reduce)
    for cell in net.cells:
        weights, edge_weights = reduce if cell.reduction else normal
        s0, s1 = s1, fused_cell_forward(cell, s0, s1, weights, edge_weights)
    out = net.global_pooling(s1)
    return net.classifier(out.flatten(1))


# ---------------------------------------------------------------------------------------------- switching it on


def _signature(op: nn.Module) -> list[tuple]:
    """What must agree between edges grouped into one kernel: module types and hyperparameters."""
    sig = []
    for m in op.modules():
        entry: tuple = (type(m).__name__, m.extra_repr())
        if isinstance(m, nn.AvgPool2d):
            entry += (m.count_include_pad, m.ceil_mode, m.divisor_override)
        if isinstance(m, nn.Conv2d):
            entry += (m.padding_mode, m.bias is None)
        sig.append(entry)
    return sig


def check_fusable(net: nn.Module) -> None:
    """Raise ValueError unless every cell of ``net`` has the structure the fused forward groups over."""
    if not isinstance(net, Network):
        raise ValueError(f"fused forward: expected a model_search.Network, got {type(net).__name__}")
    bn_settings = set()
    for n_cell, cell in enumerate(net.cells):
        steps = cell._steps
        if not isinstance(cell, Cell) or len(cell._ops) != sum(2 + i for i in range(steps)):
            raise ValueError(f"fused forward: cell {n_cell} is not a search cell of {steps} steps")
        offsets = [2 * i + i * (i - 1) // 2 for i in range(steps)]
        rounds = [[offsets[i] + j for i in range(steps) for j in (0, 1)]]
        rounds += [[offsets[i] + r + 1 for i in range(r, steps)] for r in range(1, steps)]
        for edges in rounds:
            mixed = [cell._ops[e] for e in edges]
            if not all(isinstance(m, MixedOp) and len(m._ops) == len(PRIMITIVES) for m in mixed):
                raise ValueError(f"fused forward: cell {n_cell} holds an edge that is not a MixedOp of the primitives")
            if len({m.k for m in mixed}) != 1 or {m.k for m in mixed} != {cell._ops[0].k}:
                raise ValueError(f"fused forward: cell {n_cell} mixes partial-channel factors K")
            for p in range(len(PRIMITIVES)):
                kinds = {_kind(m._ops[p]) for m in mixed}
                signatures = {repr(_signature(m._ops[p])) for m in mixed}
                if len(kinds) != 1 or len(signatures) != 1:
                    raise ValueError(
                        f"fused forward: cell {n_cell}, primitive {PRIMITIVES[p]} differs between edges of one source"
                    )
        for m in cell._ops.modules():
            if isinstance(m, nn.BatchNorm2d):
                if m.momentum is None:
                    raise ValueError("fused forward: BatchNorm momentum=None (cumulative average) is not supported")
                bn_settings.add((m.momentum, m.eps, m.affine, m.track_running_stats))
    if len(bn_settings) > 1:
        raise ValueError(f"fused forward: the mixed ops' BatchNorms differ in momentum/eps/affine: {bn_settings}")


def _fused_method(self: Network, input: torch.Tensor) -> torch.Tensor:
    return fused_forward(self, input)


def enable_fused(net: Network) -> Network:
    """Make ``net(x)`` (and hence the architect and the training loop) run the fused forward.

    Only this instance changes: its ``forward`` is rebound, parameters, buffers, state_dict and
    ``genotype()`` are untouched, ``copy.deepcopy`` keeps it fused, ``disable_fused`` undoes it.
    Module hooks on cells and mixed ops no longer fire (the fused forward does not call them).
    """
    check_fusable(net)
    net.forward = types.MethodType(_fused_method, net)
    return net


def disable_fused(net: Network) -> Network:
    """Back to the class's own (reference) forward."""
    net.__dict__.pop("forward", None)
    return net


def is_fused(net: nn.Module) -> bool:
    """Whether a supernet runs the fused forward (enable_fused) or its class's reference one."""
    fwd = net.__dict__.get("forward")
    return isinstance(fwd, types.MethodType) and fwd.__func__ is _fused_method
