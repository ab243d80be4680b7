"""ASH-Net training objectives: ITC with hard negatives, spatio-temporal contrast, STUA, their weighted sum.

Notation: ``x_i, y_j`` are L2-normalised embeddings, ``s = min(exp(logit_scale), 100)`` is the
inverse temperature (CLIP's learnable scale, stored as a log and capped at 100), and
``l_ij = s x_i . y_j`` are the logits. Every contrastive loss here is the symmetric InfoNCE

    L = 1/2 [ CE_rows(l) + CE_rows(l^T) ],  CE_rows(l) = -1/B sum_i log softmax_j(l_ij)[j = i],

with the matching pair on the diagonal and the other items of the batch as negatives.

Distributed training: when ``torch.distributed`` is initialised, each process gathers the
embeddings of all processes *with gradient* (the functional collective ``all_gather_single``, the
``gather_features`` idea of open_clip), so the negatives span the global batch. A process's own rows
are its local items, and their positives sit at column ``rank * B + i``. Every process must hold the
same batch size ``B``. With DDP's gradient averaging this gives exactly the gradient of the loss of
the global batch.
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist
import torch.nn.functional as F

from .config import LossConfig

__all__ = [
    "info_nce",
    "itc_loss",
    "spatiotemporal_loss",
    "stua_loss",
    "compute_losses",
]

MAX_LOGIT_SCALE = 100.0


def _scale(logit_scale) -> torch.Tensor:
    """``min(exp(logit_scale), 100)``; ``logit_scale`` is the log inverse temperature (tensor or float)."""
    return torch.as_tensor(logit_scale, dtype=torch.float32).exp().clamp(max=MAX_LOGIT_SCALE)


def gather_with_grad(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """All processes' ``x`` concatenated along the batch (with gradient), and where this process's rows start.

    ``all_gather_single`` is torch's functional collective: its backward reduce-scatters the
    gradient, so each process receives the sum over processes of the gradient of its own rows.
    The group is looked up at each call and not kept, so ``destroy_process_group`` frees it.
    Without an initialised process group (or with one process) this is ``(x, 0)``.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x, 0
    from torch.distributed._functional_collectives import all_gather_single

    gathered = all_gather_single(x.contiguous(), 0, dist.group.WORLD)
    return gathered, dist.get_rank() * x.shape[0]


def _check_pair(a: torch.Tensor, b: torch.Tensor, names: str) -> None:
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        raise TypeError(f"{names} must be tensors")
    if a.dim() != 2 or a.shape != b.shape:
        raise ValueError(
            f"{names} must both be [B, E] with the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if a.shape[0] < 1:
        raise ValueError(f"{names} are empty (batch of 0)")


def _rows_loss(local: torch.Tensor, others: torch.Tensor, offset: int, scale, beta: float) -> torch.Tensor:
    """Mean over local rows of ``-log softmax`` at the positive, with importance-weighted negatives."""
    cos = local @ others.T  # [B, B_global]
    labels = torch.arange(local.shape[0], device=local.device) + offset
    logits = scale * cos
    if beta:
        positive = F.one_hot(labels, others.shape[0]).bool()
        hard = (beta * cos).detach().masked_fill(positive, float("-inf"))
        n_neg = others.shape[0] - 1
        log_w = hard - (torch.logsumexp(hard, dim=1, keepdim=True) - math.log(n_neg))
        logits = logits + log_w.masked_fill(positive, 0.0)
    return F.cross_entropy(logits, labels)


def info_nce(a: torch.Tensor, b: torch.Tensor, logit_scale, hard_negative_beta: float = 0.0) -> torch.Tensor:
    """Symmetric InfoNCE between paired rows of ``a`` and ``b`` (``[B, E]``, L2-normalised).

    With hard-negative emphasis (Robinson et al., 2021, "Contrastive Learning with Hard Negative
    Samples"), each negative ``j`` of anchor ``i`` is weighted by
    ``w_ij = exp(beta c_ij) / mean_{k != i} exp(beta c_ik)`` (``c`` the cosine similarity; weights
    have mean 1 over the negatives and are detached), and

        L_i = -log [ e^{l_ii} / (e^{l_ii} + sum_{j != i} w_ij e^{l_ij}) ],

    so negatives that look like the positive count more. ``beta = 0`` gives ``w = 1``: plain
    InfoNCE. The weights are computed from cosines, not logits, so ``beta`` does not change meaning
    as the temperature is learnt. Negatives span the global batch under ``torch.distributed``.
    """
    _check_pair(a, b, "the two embeddings")
    if hard_negative_beta < 0:
        raise ValueError(f"hard_negative_beta must be >= 0, got {hard_negative_beta}")
    s = _scale(logit_scale).to(a.device)
    a_all, offset = gather_with_grad(a)
    b_all, _ = gather_with_grad(b)
    if a_all.shape[0] < 2 and hard_negative_beta:
        raise ValueError("hard-negative weighting needs a batch of at least 2")
    return 0.5 * (
        _rows_loss(a, b_all, offset, s, hard_negative_beta)
        + _rows_loss(b, a_all, offset, s, hard_negative_beta)
    )


def itc_loss(
    image: torch.Tensor, text: torch.Tensor, logit_scale, hard_negative_beta: float = 0.0
) -> torch.Tensor:
    """Image-text contrast: :func:`info_nce` of image and text embeddings ``[B, E]`` of matching pairs."""
    return info_nce(image, text, logit_scale, hard_negative_beta)


def spatiotemporal_loss(
    step_embeddings: torch.Tensor,
    logit_scale,
    windows: int = 2,
    second_view: torch.Tensor | None = None,
) -> torch.Tensor:
    """Spatio-temporal contrast: views of the same image across time are positives, other images negatives.

    ``step_embeddings [T, B, E]`` holds, per step, the projection of that step's own spikes
    (:attr:`ashnet.models.ImageEmbedding.step_embeddings`; not a running mean, so disjoint windows
    share no step). ``windows`` mode (``second_view=None``): the ``T`` steps are split into
    ``windows`` contiguous, non-overlapping windows ``W_1..W_K``; each view is the normalised mean
    ``v_k = normalize(mean_{t in W_k} e_t)``, and the loss is the mean :func:`info_nce` over all
    window pairs ``k < k'``. ``encodings`` mode: ``second_view [T, B, E]`` holds the step
    embeddings of a second pass with an independent Poisson encoding; the views are the time means
    of the two passes and the loss is their :func:`info_nce`. ``logit_scale`` is the log inverse
    temperature (``log(1 / loss.st.temperature)`` in training).
    """
    if step_embeddings is None:
        raise ValueError("spatio-temporal contrast needs step embeddings: the model's SNN branch is off")
    if step_embeddings.dim() != 3:
        raise ValueError(f"step_embeddings must be [T, B, E], got {tuple(step_embeddings.shape)}")
    if second_view is not None:
        if second_view.shape != step_embeddings.shape:
            raise ValueError(
                f"second_view {tuple(second_view.shape)} must match {tuple(step_embeddings.shape)}"
            )
        views = [F.normalize(v.mean(0), dim=-1) for v in (step_embeddings, second_view)]
    else:
        T = step_embeddings.shape[0]
        if not isinstance(windows, int) or windows < 2 or windows > T:
            raise ValueError(
                f"windows must be an int in [2, T={T}] (the number of time steps), got {windows!r}"
            )
        views = [F.normalize(w.mean(0), dim=-1) for w in torch.tensor_split(step_embeddings, windows)]
    pairs = [(i, j) for i in range(len(views)) for j in range(i + 1, len(views))]
    return sum(info_nce(views[i], views[j], logit_scale) for i, j in pairs) / len(pairs)


def stua_loss(stua_emb, text_emb: torch.Tensor, logit_scale) -> torch.Tensor:
    """STUA: :func:`info_nce` between the spiking encoder's text embedding and the text embedding.

    ``stua_emb``: ``[B, E]`` (or the :class:`~ashnet.models.ImageEmbedding` from ``model.embed_stua``),
    the abstract encoder's embedding of caption tokens fed through the STUA adapter; ``text_emb``:
    ``[B, E]``, the text encoder's embedding of the same captions (``model.embed_text``). Both
    sides learn: the spiking path (adapter, abstract encoder, abstract projection) *and* the text
    projection ``text_proj``, so STUA aligns the spiking encoder to the very text space that ITC
    later matches images against (with a detached target it would align to the random initial
    projection, which ITC then moves away from). The other captions of the batch are the negatives.
    """
    emb = getattr(stua_emb, "embedding", stua_emb)
    return info_nce(emb, text_emb, logit_scale)


def compute_losses(model, concrete, text, cfg: LossConfig) -> dict[str, torch.Tensor]:
    """The enabled objectives for one batch, and their weighted sum.

    Parameters
    ----------
    model
        An :class:`~ashnet.models.ASHNet`.
    concrete
        :class:`~ashnet.models.ConcreteOutput` of the images (``model.encode_concrete``), or ``None``
        for captions alone (then only STUA is computed: ``ashnet pretrain-stua``).
    text
        :class:`~ashnet.models.TextFeatures` of the matching captions.
    cfg
        :class:`~ashnet.config.LossConfig` (the ``loss`` section of the run config).

    Returns
    -------
    dict
        ``itc``, ``st``, ``stua`` and ``total = sum_k weight_k L_k``. A disabled objective, one
        that needs the SNN branch of a model without it (``st``, ``stua``), or one that needs images
        when ``concrete`` is ``None`` is a detached zero and adds nothing.
    """
    text_emb = model.embed_text(text)
    zero = text_emb.new_zeros(())
    losses = {"itc": zero, "st": zero, "stua": zero}
    if concrete is not None and (cfg.itc.enabled or (cfg.st.enabled and model.has_snn)):
        image = model.embed_image(concrete)
        if cfg.itc.enabled:
            beta = cfg.itc.hard_negative_beta
            losses["itc"] = itc_loss(image.embedding, text_emb, model.logit_scale, beta)
            if cfg.itc.per_head and image.branches is not None:
                heads = sum(itc_loss(e, text_emb, model.logit_scale, beta) for e in image.branches) / 2
                losses["itc"] = losses["itc"] + cfg.itc.per_head * heads
        if cfg.st.enabled and model.has_snn:
            second = None
            if cfg.st.mode == "encodings":
                if model.cfg.abstract.encoding != "poisson":
                    raise ValueError("loss.st.mode 'encodings' needs model.abstract.encoding: poisson")
                second = model.embed_image(concrete).step_embeddings
            losses["st"] = spatiotemporal_loss(
                image.step_embeddings, -math.log(cfg.st.temperature), cfg.st.windows, second
            )
    if cfg.stua.enabled and model.has_snn:
        losses["stua"] = stua_loss(model.embed_stua(text), text_emb, model.logit_scale)
    weights = {"itc": cfg.itc.weight, "st": cfg.st.weight, "stua": cfg.stua.weight}
    losses["total"] = sum(weights[k] * v for k, v in losses.items())
    return losses
