"""--channels_last on CPUs without AVX-512: gradients equal the contiguous ones, and nothing corrupts the heap.

oneDNN's AVX2 weight-gradient kernel of a 1x1 stride-2 convolution on a channels_last input with fewer than 8
input channels writes out of bounds (FactorizedReduce, skip_connect at stride 2). ``ONEDNN_MAX_CPU_ISA=AVX2``
makes any x86 CPU pick that kernel, so each case runs in a subprocess with it set before torch loads: with one
thread the bug aborts the process, with two it gives wrong gradients.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import textwrap

import pytest
from conftest import ROOT

SCRIPT = textwrap.dedent(
    """
    import copy, json, sys
    import torch
    import torch.nn.functional as F
    from fused_search import enable_fused
    from genotypes import DARTS_V2
    from model import NetworkCIFAR
    from model_search import Network
    from operations import FactorizedReduce

    torch.set_num_threads(int(sys.argv[1]))
    torch.manual_seed(0)

    def worst_gap(net, make_input, steps):
        twin = copy.deepcopy(net).to(memory_format=torch.channels_last)
        gap = 0.0
        for _ in range(steps):
            x, y = make_input()
            for m in (net, twin):
                m.zero_grad(set_to_none=True)
            for m, inp in ((net, x), (twin, x.contiguous(memory_format=torch.channels_last))):
                out = m(inp)
                logits = out[0] if isinstance(out, tuple) else out
                (F.cross_entropy(logits, y) if y.dtype == torch.int64 else (logits * y).sum()).backward()
            pairs = [(p.grad, q.grad) for p, q in zip(net.parameters(), twin.parameters()) if p.grad is not None]
            scale = max(a.abs().max().item() for a, _ in pairs)  # some gradients are zero but for rounding
            gap = max(gap, max((a - b).abs().max().item() for a, b in pairs) / scale)
        return gap

    def images():
        return torch.randn(8, 3, 8, 8), torch.randint(0, 10, (8,))

    gaps = {}
    reduce = FactorizedReduce(2, 2)
    gaps["factorized_reduce"] = worst_gap(reduce, lambda: (torch.randn(8, 2, 8, 8), torch.randn(8, 2, 4, 4)), 100)
    gaps["supernet"] = worst_gap(Network(4, 10, 3), images, 2)
    gaps["supernet_fused"] = worst_gap(enable_fused(Network(4, 10, 3)), images, 2)
    gaps["eval_network"] = worst_gap(NetworkCIFAR(2, 10, 3, False, DARTS_V2), images, 4)
    print(json.dumps(gaps))
    """
)


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="oneDNN's AVX2 kernels are x86 only")
@pytest.mark.parametrize("threads", [1, 2])
def test_channels_last_gradients_match_contiguous_under_avx2(threads: int) -> None:
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(threads)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, f"exit {proc.returncode} (heap corruption?): {proc.stderr[-2000:]}"
    gaps = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(gaps) == {"factorized_reduce", "supernet", "supernet_fused", "eval_network"}
    for name, gap in gaps.items():
        assert gap < 1e-3, f"{name}: channels_last gradients off by {gap:.3g} of the largest gradient"
