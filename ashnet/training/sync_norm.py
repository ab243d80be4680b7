"""BatchNorm statistics over the global batch of all processes, on every backend (gloo and NCCL).

Under ``torchrun`` each process sees ``1/world_size`` of the global batch, so a plain BatchNorm
normalises with per-shard statistics and the run differs from one process with the same global
batch. :func:`sync_batch_norms` makes every BatchNorm of a module normalise with the statistics of
the global batch while training: each process sums its count, sum and sum of squares per channel,
one all-reduce adds them up, and the mean and (biased) variance follow. The all-reduce is
differentiable (its backward all-reduces the gradient), so the gradient is that of the global
batch too. ``torch.nn.SyncBatchNorm`` does the same, but only on CUDA; this works on CPU (gloo).

The sums are accumulated in float64, so ``E[x^2] - E[x]^2`` loses nothing to cancellation at
float32 precision. The modules keep their class (a subclass is swapped in), parameters, buffers
and state-dict keys, so checkpoints load into the plain model; in eval mode, or without a
process group of more than one process, they are plain BatchNorms.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["sync_batch_norms", "all_reduce_sum"]


class _AllReduceSum(torch.autograd.Function):
    """``sum over processes of x``; the gradient of each input is the sum over processes of the
    output gradients (every output depends on every input with slope 1)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad


def all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    """The sum of ``x`` over all processes, differentiable (``x`` itself without a process group)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    return _AllReduceSum.apply(x)


class _GlobalBatchNorm:
    """Mixin placed before a ``_BatchNorm`` subclass: training statistics over all processes."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # In eval mode nothing is communicated, as in nn.SyncBatchNorm: evaluation runs on the main
        # process alone (a norm without running statistics then uses its own batch's).
        if not self.training or not (dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        self._check_input_dim(x)
        dims = [0, *range(2, x.dim())]
        x64 = x.double()
        count = x64.new_tensor([x.numel() / x.shape[1]])
        local = torch.cat([count, x64.sum(dims), (x64 * x64).sum(dims)])
        total = all_reduce_sum(local)
        n, channels = total[0], x.shape[1]
        mean = total[1 : 1 + channels] / n
        var = (total[1 + channels :] / n - mean * mean).clamp(min=0)
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), var.detach(), float(n))
        shape = (1, channels) + (1,) * (x.dim() - 2)
        scale = torch.rsqrt(var + self.eps)
        y = (x64 - mean.view(shape)) * scale.view(shape)
        y = y.to(x.dtype)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y

    @torch.no_grad()
    def _update_running_stats(self, mean: torch.Tensor, var: torch.Tensor, n: float) -> None:
        """As ``nn.BatchNorm``: exponential (``momentum=None``: cumulative) averages, unbiased variance."""
        self.num_batches_tracked.add_(1)
        momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
        unbiased = var * (n / max(n - 1.0, 1.0))
        self.running_mean.mul_(1 - momentum).add_(momentum * mean.to(self.running_mean.dtype))
        self.running_var.mul_(1 - momentum).add_(momentum * unbiased.to(self.running_var.dtype))


_SYNCED: dict[type, type] = {}


def _synced_class(cls: type) -> type:
    if cls not in _SYNCED:
        _SYNCED[cls] = type(f"Global{cls.__name__}", (_GlobalBatchNorm, cls), {"__module__": __name__})
    return _SYNCED[cls]


def sync_batch_norms(module: nn.Module) -> int:
    """Make every BatchNorm (1d/2d/3d) inside ``module`` use global-batch statistics when training
    under a process group; return how many there are. Idempotent; works in place."""
    count = 0
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and not isinstance(m, nn.SyncBatchNorm):
            if not isinstance(m, _GlobalBatchNorm):
                m.__class__ = _synced_class(type(m))
            count += 1
    return count
