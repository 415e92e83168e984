"""Start a block from trained dense weights: choose K and L so that the block approximates the dense 1x1
conv (+ BatchNorm) it replaces.

The fit is least squares on the structure, output by output, in two steps: each K filter takes the dense
weights of the inputs its group reads (the best K-only fit); then each L filter is fitted, by least
squares over the K outputs its group reads, to what K missed (the residual dense matrix). Inputs are
treated as white (weight space, no data needed), so the fit is exact whenever the dense weight has the
block's structure, and L can only lower the error (L = 0 is one of its choices). A joint fit (alternating
K and L) would be lower still; it is left out for its cost on B0's widest layers.

The block's BatchNorms are set to the identity in eval mode, with the dense layer's shift on the last
one, so that the converted network computes nearly what the dense one did before any fine-tuning; in
training mode they normalise with batch statistics as usual.
"""

from __future__ import annotations

import torch

from .layer import InterleavedGroupedPointwise


def _fit_rows(design: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Least-squares rows x with x @ design ~= targets (design: c x n, targets: r x n) -> r x c."""
    return torch.linalg.lstsq(design.T, targets.T).solution.T


def _identity_norm(norm: torch.nn.BatchNorm2d, shift: torch.Tensor) -> None:
    """BN that, in eval mode, adds ``shift`` and nothing else."""
    norm.running_mean.zero_()
    norm.running_var.fill_(1.0 - norm.eps)
    norm.weight.fill_(1.0)
    norm.bias.copy_(shift)


@torch.no_grad()
def fit_dense(block: InterleavedGroupedPointwise, weight: torch.Tensor,
              bias: torch.Tensor | None = None) -> float:
    """Set ``block`` to approximate ``x -> weight @ x + bias`` (weight: Fc x Ic, the dense conv with its
    BatchNorm folded in) and return the relative error ||W_block - W||_F / ||W||_F of the fused block."""
    plan, k, l = block.plan, block.k, block.l
    fc, ic = plan.out_channels, plan.in_channels
    target = weight.reshape(fc, ic).to(k.weight)
    shift = torch.zeros(fc).to(k.weight) if bias is None else bias.to(k.weight)
    if l is None and block.output_order.tolist() != list(range(fc)):  # V1 without L: outputs are permuted K
        inverse = torch.empty_like(block.output_order)
        inverse[block.output_order] = torch.arange(fc, device=inverse.device)
        target, shift = target[inverse], shift[inverse]

    rows = torch.zeros(fc, plan.k.inputs_per_group).to(k.weight)
    for g in range(plan.k.groups):
        reads = [plan.k.sources[e] for e in plan.k.group_positions(g)]
        filters = list(plan.k.group_outputs(g))
        design = torch.eye(ic).to(k.weight)[reads]  # c x Ic: the group's inputs
        rows[filters] = _fit_rows(design, target[filters])
    k.weight.copy_(rows[:, :, None, None])
    if l is not None:
        dense_k = k.dense_weight(plan.k.sources, ic)  # Fc x Ic
        residual = target - dense_k
        rows = torch.zeros(fc, plan.l.inputs_per_group).to(k.weight)
        for g in range(plan.l.groups):
            filters = list(plan.l.group_outputs(g))
            rows[filters] = _fit_rows(dense_k[list(plan.l_group_k_channels(g))], residual[filters])
        l.weight.copy_(rows[:, :, None, None])

    last_norm, last_conv = (block.l_norm, l) if l is not None else (block.k_norm, k)
    for norm, conv in ((block.k_norm, k), (block.l_norm, l)):
        if conv is not None:
            if norm is not None:
                _identity_norm(norm, shift if norm is last_norm else torch.zeros_like(shift))
            if conv.bias is not None:
                conv.bias.copy_(shift if conv is last_conv and norm is None else torch.zeros_like(shift))
    was_training = block.training
    fused = block.eval().fuse()
    block.train(was_training)
    conv = fused[0] if isinstance(fused, torch.nn.Sequential) else fused
    got = conv.weight.reshape(fc, ic)
    want = weight.reshape(fc, ic).to(got)
    return float(torch.linalg.norm(got - want) / torch.linalg.norm(want).clamp_min(1e-30))
