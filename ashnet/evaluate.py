"""Evaluation: image-text retrieval recall (COCO/Flickr protocol), zero-shot classification, firing rates,
per caption language."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from neuro.monitor import Monitor

__all__ = [
    "Evaluation",
    "Embeddings",
    "recall_at_k",
    "embed_table",
    "zero_shot_accuracy",
    "zero_shot_labels",
    "evaluate",
    "evaluate_languages",
    "ZERO_SHOT_TEMPLATES",
]

KS = (1, 5, 10)
# Zero-shot prompts per caption language, each saying "an emoji of X" as that language would.
# Urdu avoids a genitive postposition, which would have to agree with the loanword's gender.
# Languages not listed are prompted with the bare class name.
ZERO_SHOT_TEMPLATES = {"en": "an emoji of {}", "ja": "{}の絵文字", "sw": "emoji ya {}", "ur": "ایموجی: {}"}


@dataclass
class Embeddings:
    """L2-normalised embeddings of a table: ``images [n_images, E]``, ``texts [n_texts, E]`` (every caption),
    ``text_image [n_texts]`` (the image each caption belongs to), and the firing rates (0..1) of the
    image path: per spiking layer, and over all of them (``None`` without a spiking branch), as
    :class:`neuro.Monitor` defines them (spikes over neuron-steps, over every image)."""

    images: torch.Tensor
    texts: torch.Tensor
    text_image: torch.Tensor
    layer_firing_rates: dict[str, float] = field(default_factory=dict)
    firing_rate: float | None = None


@dataclass
class Evaluation:
    """Retrieval results in percent; ``firing_rate``: spikes per neuron per step over every spiking layer
    of the image path (total spikes over total neuron-steps, as :meth:`neuro.Monitor.firing_rate`),
    in percent (None: no SNN); ``layer_firing_rates``: the same per layer; ``zero_shot_classes``: what
    the zero-shot classes were (``"concept"`` or ``"caption"``, see :func:`zero_shot_labels`)."""

    i2t: dict[str, float]
    t2i: dict[str, float]
    n_images: int
    n_texts: int
    firing_rate: float | None
    layer_firing_rates: dict[str, float] = field(default_factory=dict)
    zero_shot: float | None = None
    zero_shot_classes: str | None = None

    def to_json(self) -> dict:
        """The ``ashnet eval --json`` object: i2t, t2i, n_images, n_texts, firing_rate."""
        return {
            "i2t": self.i2t,
            "t2i": self.t2i,
            "n_images": self.n_images,
            "n_texts": self.n_texts,
            "firing_rate": self.firing_rate,
        }


def recall_at_k(
    similarity: torch.Tensor, text_image: torch.Tensor, ks: tuple[int, ...] = KS, chunk: int = 1024
) -> dict[str, dict[str, float]]:
    """Retrieval recall in percent with several captions per image (the COCO/Flickr protocol).

    Parameters
    ----------
    similarity
        ``[n_images, n_texts]`` scores, higher is closer.
    text_image
        ``[n_texts]``: the image each text describes; every image must own at least one text.

    Returns
    -------
    ``{"i2t": {"r1", "r5", ...}, "t2i": {...}}``. Image to text: an image scores a hit at k when any of
    its captions is among its k best texts. Text to image: a caption scores a hit at k when its own
    image is among its k best images. Ties are broken by index order.
    """
    n_images, n_texts = similarity.shape
    if text_image.shape != (n_texts,):
        raise ValueError(f"text_image must have shape [{n_texts}], got {list(text_image.shape)}")
    owned = torch.bincount(text_image, minlength=n_images)
    if len(owned) != n_images or bool((owned == 0).any()):
        raise ValueError("every image needs at least one caption and captions must name existing images")
    image_ids = torch.arange(n_images)
    i2t_rank = torch.cat(
        [
            (
                text_image[similarity[s : s + chunk].argsort(dim=1, descending=True, stable=True)]
                == image_ids[s : s + chunk, None]
            )
            .int()
            .argmax(dim=1)
            for s in range(0, n_images, chunk)
        ]
    )
    sim_t = similarity.t()
    t2i_rank = torch.cat(
        [
            (
                sim_t[s : s + chunk].argsort(dim=1, descending=True, stable=True)
                == text_image[s : s + chunk, None]
            )
            .int()
            .argmax(dim=1)
            for s in range(0, n_texts, chunk)
        ]
    )
    return {
        "i2t": {f"r{k}": 100.0 * float((i2t_rank < k).float().mean()) for k in ks},
        "t2i": {f"r{k}": 100.0 * float((t2i_rank < k).float().mean()) for k in ks},
    }


@torch.no_grad()
def embed_texts(model, captions: list[str], batch_size: int, device: torch.device) -> torch.Tensor:
    """Text embeddings ``[len(captions), E]`` in batches."""
    return torch.cat(
        [
            model.encode_text(captions[s : s + batch_size]).float().cpu()
            for s in range(0, len(captions), batch_size)
        ]
    )


@torch.no_grad()
def embed_images(
    model, table, image_size: int, batch_size: int, device, progress: bool = True
) -> tuple[torch.Tensor, dict[str, float], float | None]:
    """Image embeddings ``[n_images, E]`` of ``table``, firing rates per spiking layer and overall."""
    from .data import ImageTextDataset

    model.eval()
    loader = torch.utils.data.DataLoader(
        ImageTextDataset(table, image_size=image_size), batch_size=batch_size
    )
    monitor = Monitor(model, record_spikes=False) if model.spiking else None
    images = []
    try:
        for batch, _, _ in tqdm(loader, desc="embed images", disable=not progress, leave=False):
            images.append(model.encode_image(batch.to(device)).embedding.float().cpu())
    finally:
        if monitor is not None:
            monitor.remove()
    if monitor is None:
        return torch.cat(images), {}, None
    rates = {name: rate for name, rate in monitor.firing_rates().items() if rate == rate}  # NaN: not run
    return torch.cat(images), rates, float(monitor.firing_rate())


@torch.no_grad()
def embed_table(model, table, image_size: int, batch_size: int, device, progress: bool = True) -> Embeddings:
    """Embed every image and every caption of ``table``, recording firing rates of the image path."""
    from .data import caption_index

    images, rates, firing_rate = embed_images(model, table, image_size, batch_size, device, progress)
    index = caption_index(table)
    texts = embed_texts(model, index.texts, batch_size, device)
    return Embeddings(images, texts, index.text_image, rates, firing_rate)


@torch.no_grad()
def zero_shot_accuracy(
    model,
    image_embeddings: torch.Tensor,
    labels: list[str],
    template: str = "an emoji of {}",
    batch_size: int = 256,
) -> float:
    """Zero-shot classification accuracy in percent.

    The classes are the distinct ``labels``; each becomes the prompt ``template.format(label)``. An image
    is correct when its own label's prompt is the closest of all prompts.
    """
    if len(labels) != len(image_embeddings):
        raise ValueError(f"{len(labels)} labels for {len(image_embeddings)} images")
    classes = sorted(set(labels))
    device = next(model.parameters()).device
    prompts = embed_texts(model, [template.format(c) for c in classes], batch_size, device)
    predicted = (image_embeddings @ prompts.t()).argmax(dim=1)
    truth = torch.tensor([classes.index(label) for label in labels])
    return 100.0 * float((predicted == truth).float().mean())


def zero_shot_labels(table, language: str = "en") -> tuple[list[str], str]:
    """Class names for zero-shot classification of ``table``'s images in ``language``, and what they are.

    Emoji data sets (OpenMoji, Twemoji: files named by code points) get the name of each emoji's
    concept in the language (:func:`ashnet.data.openmoji.concept_name`: English from the ``emoji``
    package, other languages from CLDR), a class that the skin-tone, gender and family variants of
    one concept share: ``("concept", ...)``. Other tables, and emoji tables with a concept that has
    no name in the language (or no CLDR installed), get each image's first caption in the language,
    which is prompted image-to-text retrieval rather than classification into shared classes:
    ``("caption", ...)``.
    """
    from .data.openmoji import concept_name, emoji_of_file

    emojis = [emoji_of_file(r.path) for r in table.images]
    if all(e is not None for e in emojis):
        try:
            names = [concept_name(e, language) for e in emojis]
        except FileNotFoundError:  # no CLDR annotations on this machine: no names but English ones
            names = [None]
        if None not in names:
            return names, "concept"
    return [r.captions_in(language)[0] for r in table.images], "caption"


def evaluate(
    model,
    table,
    image_size: int,
    batch_size: int = 256,
    zero_shot_labels: list[str] | None = None,
    template: str = "an emoji of {}",
    progress: bool = True,
) -> Evaluation:
    """Retrieval recall (and optionally zero-shot accuracy) of ``model`` on every image of ``table``.

    ``zero_shot_labels``: one class name per image, turned into prompts with ``template``; None skips
    zero-shot classification.
    """
    if not table.images:
        raise ValueError("nothing to evaluate: the table has no images (check --split)")
    device = next(model.parameters()).device
    emb = embed_table(model, table, image_size, batch_size, device, progress)
    return _scores(model, emb, zero_shot_labels, template, batch_size)


def _scores(model, emb: Embeddings, labels: list[str] | None, template: str, batch_size: int) -> Evaluation:
    recall = recall_at_k(emb.images @ emb.texts.t(), emb.text_image)
    return Evaluation(
        i2t=recall["i2t"],
        t2i=recall["t2i"],
        n_images=len(emb.images),
        n_texts=len(emb.texts),
        firing_rate=None if emb.firing_rate is None else 100.0 * emb.firing_rate,
        layer_firing_rates={name: 100.0 * r for name, r in emb.layer_firing_rates.items()},
        zero_shot=None
        if labels is None
        else zero_shot_accuracy(model, emb.images, labels, template, batch_size),
    )


def evaluate_languages(
    model,
    table,
    languages: list[str],
    image_size: int,
    batch_size: int = 256,
    zero_shot: bool = False,
    template: str | None = None,
    progress: bool = True,
) -> dict[str, Evaluation]:
    """:func:`evaluate` once per caption language, the images embedded once.

    For each language (``"en"``: the main captions, another code: ``caption_<code>``) the images
    with a caption in it are ranked against those captions. With ``zero_shot`` the classes are
    :func:`zero_shot_labels` in the language (emoji concepts named in it, else each image's first
    caption in it; ``Evaluation.zero_shot_classes`` says which), prompted with ``template`` or else
    that language's :data:`ZERO_SHOT_TEMPLATES` entry (the bare name where there is none).

    Raises
    ------
    ValueError
        The table has no images, or none has a caption in one of ``languages`` (named).
    """
    from .data import MAIN_LANGUAGE, PairTable, caption_index

    if not table.images:
        raise ValueError("nothing to evaluate: the table has no images (check --split)")
    empty = [lang for lang in languages if not any(r.captions_in(lang) for r in table.images)]
    if empty:
        raise ValueError(f"no captions in {empty}; the table has {[MAIN_LANGUAGE, *table.languages]}")
    device = next(model.parameters()).device
    images, rates, firing_rate = embed_images(model, table, image_size, batch_size, device, progress)
    results = {}
    for lang in languages:
        keep = [i for i, r in enumerate(table.images) if r.captions_in(lang)]
        part = PairTable([table.images[i] for i in keep])
        index = caption_index(part, lang)
        texts = embed_texts(model, index.texts, batch_size, device)
        emb = Embeddings(images[keep], texts, index.text_image, rates, firing_rate)
        labels, classes = zero_shot_labels(part, lang) if zero_shot else (None, None)
        prompt = template if template is not None else ZERO_SHOT_TEMPLATES.get(lang, "{}")
        results[lang] = _scores(model, emb, labels, prompt, batch_size)
        results[lang].zero_shot_classes = classes
    return results
