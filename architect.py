"""The architecture step of DARTS / PC-DARTS: first order (default) or second order (unrolled).

The architecture parameters descend the loss on a held-out batch. First order treats the weights
as constants. Second order differentiates through one virtual SGD step of the weights,
w' = w - eta * (momentum * v + dL_train/dw + wd * w), and approximates the Hessian-vector product
by central finite differences, as DARTS does (eq. 7 of Liu et al. 2019).

    >>> architect = Architect(model, loss_fn, momentum=0.9, weight_decay=3e-4, arch_learning_rate=6e-4,
    ...                       arch_weight_decay=1e-3)
    >>> architect.step(x_train, y_train, x_valid, y_valid, eta=lr, network_optimizer=opt, unrolled=False)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import torch
from torch import nn
from torch.func import functional_call

__all__ = ["Architect", "LossFn"]

# loss_fn(logits, target, weights) -> scalar; ``weights`` are the tensors any weight penalty is taken over.
LossFn = Callable[[torch.Tensor, torch.Tensor, Sequence[torch.Tensor]], torch.Tensor]


class Architect:
    """Owns the Adam optimizer of the alphas and betas and performs one architecture step."""

    def __init__(
        self,
        model: nn.Module,
        loss_fn: LossFn,
        *,
        momentum: float,
        weight_decay: float,
        arch_learning_rate: float,
        arch_weight_decay: float,
        capturable: bool = False,
        fused: bool = False,
        arch_cost: Callable[[], torch.Tensor] | None = None,
        train_loss_fn: LossFn | None = None,
        grad_clip: float | None = None,
    ):
        self.model = model
        # PC-DARTS's ImageNet search clips the architecture gradients' norm at --grad_clip; its CIFAR search does not
        self.grad_clip = grad_clip
        self.loss_fn = loss_fn
        # The weight step's loss, which the unrolled step's virtual step and Hessian-vector product follow; a cost
        # objective weighs the held-out CE by cw but trains the weights on plain CE (default: loss_fn for both).
        self.train_loss_fn = loss_fn if train_loss_fn is None else train_loss_fn
        # nu * R(alpha, beta) / R_ref of a hardware-cost objective (cost.py): added to the held-out loss
        self.arch_cost = arch_cost
        self.network_momentum = momentum
        self.network_weight_decay = weight_decay
        self.optimizer = torch.optim.Adam(
            model.arch_parameters(), lr=arch_learning_rate, betas=(0.5, 0.999), weight_decay=arch_weight_decay,
            capturable=capturable,  # the step count on the device, for a step captured in a CUDA graph
            **({"fused": True} if fused else {}),  # one kernel for the whole update (bench/speed.py's fused_optim)
        )

    def _loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.loss_fn(self.model(x), y, list(self.model.weights()))

    def _train_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.train_loss_fn(self.model(x), y, list(self.model.weights()))

    def step(
        self,
        input_train: torch.Tensor,
        target_train: torch.Tensor,
        input_valid: torch.Tensor,
        target_valid: torch.Tensor,
        eta: float | torch.Tensor,
        network_optimizer: torch.optim.Optimizer,
        unrolled: bool = False,
    ) -> torch.Tensor:
        """One Adam step on the architecture parameters; returns the (detached) validation loss."""
        self.optimizer.zero_grad(set_to_none=True)
        if unrolled:
            loss = self._backward_step_unrolled(
                input_train, target_train, input_valid, target_valid, eta, network_optimizer
            )
        else:
            loss = self._loss(input_valid, target_valid)
            if self.arch_cost is not None:
                loss = loss + self.arch_cost()
            arch = self.model.arch_parameters()
            for p, g in zip(arch, torch.autograd.grad(loss, arch)):
                p.grad = g
        if self.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.model.arch_parameters(), self.grad_clip)
        self.optimizer.step()
        return loss.detach()

    def _unrolled_weights(
        self, input: torch.Tensor, target: torch.Tensor, eta: float | torch.Tensor,
        network_optimizer: torch.optim.Optimizer,
    ) -> list[torch.Tensor]:
        """w' = w - eta * (momentum buffer * momentum + grad + weight decay * w), detached."""
        weights = list(self.model.weights())
        loss = self._train_loss(input, target)
        grads = torch.autograd.grad(loss, weights)
        unrolled = []
        for w, g in zip(weights, grads):
            state = network_optimizer.state.get(w, {})
            buf = state.get("momentum_buffer")
            moment = buf * self.network_momentum if buf is not None else torch.zeros_like(w)
            unrolled.append((w - eta * (moment + g + self.network_weight_decay * w)).detach())
        return unrolled

    def _backward_step_unrolled(
        self,
        input_train: torch.Tensor,
        target_train: torch.Tensor,
        input_valid: torch.Tensor,
        target_valid: torch.Tensor,
        eta: float | torch.Tensor,
        network_optimizer: torch.optim.Optimizer,
    ) -> torch.Tensor:
        model = self.model
        names = [n for n, _ in model.named_weights()]
        virtual = self._unrolled_weights(input_train, target_train, eta, network_optimizer)
        unrolled = [w.requires_grad_() for w in virtual]
        # The virtual model is a copy in DARTS: its BatchNorm statistics must not touch ours.
        buffers = {n: b.clone() for n, b in model.named_buffers()}
        arch = model.arch_parameters()
        logits = functional_call(model, {**dict(zip(names, unrolled)), **buffers}, (input_valid,))
        loss = self.loss_fn(logits, target_valid, unrolled)
        if self.arch_cost is not None:  # depends on the alphas and betas only: no implicit term
            loss = loss + self.arch_cost()
        grads = torch.autograd.grad(loss, [*arch, *unrolled])
        dalpha, vector = grads[: len(arch)], grads[len(arch):]
        implicit = self._hessian_vector_product(vector, input_train, target_train)
        for p, g, ig in zip(arch, dalpha, implicit):
            p.grad = g - eta * ig
        return loss

    def _hessian_vector_product(
        self, vector: Sequence[torch.Tensor], input: torch.Tensor, target: torch.Tensor, r: float = 1e-2
    ) -> list[torch.Tensor]:
        """(d/dalpha dL_train/dw) . v by central differences at w +- R v, R = r / |v|.

        The two gradients run outside autocast: they differ by O(R), far below bf16's rounding of each, and under
        --amp bf16 their difference was rounding noise larger than the term itself.
        """
        weights = list(self.model.weights())
        arch = self.model.arch_parameters()
        R = r / torch.cat([v.reshape(-1) for v in vector]).norm()
        saved = [w.detach().clone() for w in weights]
        full_precision = partial(torch.autocast, weights[0].device.type, enabled=False)
        with torch.no_grad():
            torch._foreach_add_(weights, [v * R for v in vector])
        with full_precision():
            grads_p = torch.autograd.grad(self._train_loss(input, target), arch)
        with torch.no_grad():
            torch._foreach_sub_(weights, [v * (2 * R) for v in vector])
        with full_precision():
            grads_n = torch.autograd.grad(self._train_loss(input, target), arch)
        with torch.no_grad():
            torch._foreach_copy_(weights, saved)  # exact restore: +R-2R+R drifts by rounding
        return [(p - n) / (2 * R) for p, n in zip(grads_p, grads_n)]
