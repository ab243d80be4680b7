"""The torch view of a PairTable: ``ImageTextDataset`` for training and the caption index for retrieval."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.data import Dataset

from ashnet.data.images import load_image
from ashnet.data.table import PairTable


class ImageTextDataset(Dataset):
    """Images of a :class:`PairTable` with one of their captions.

    Item ``i`` is ``(image, caption, i)``: ``image`` is a float tensor ``[3, S, S]`` in [0, 1]
    (transparency on white), ``caption`` is a random caption of image ``i`` when ``train``
    (drawn with torch's generator, so seeding torch makes it repeatable), else its first one.
    The default collate turns a batch into ``(images [B, 3, S, S], tuple of B captions, indices [B])``.

    Parameters
    ----------
    table : PairTable
        Images with their captions, e.g. ``load_pairs(path).split("train")``.
    image_size : int
        Side ``S`` of the square images.
    train : bool
        Draw a random caption per item instead of the first.

    Raises
    ------
    ValueError
        If the table has no images or ``image_size`` is not a positive int. Loading an item
        raises ``ValueError`` naming the file when the image is corrupt, empty or too large.
    """

    def __init__(self, table: PairTable, image_size: int = 64, train: bool = False):
        if not isinstance(table, PairTable):
            raise TypeError(f"table must be a PairTable, got {type(table).__name__}")
        if not table.images:
            raise ValueError("the table has no images (is the split empty?)")
        if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
            raise ValueError(f"image_size must be a positive int, got {image_size!r}")
        self.table = table
        self.image_size = image_size
        self.train = train

    def __len__(self) -> int:
        return len(self.table.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, str, int]:
        record = self.table.images[index]
        image = load_image(record.path, self.image_size, record.member)
        if self.train and len(record.captions) > 1:
            caption = record.captions[int(torch.randint(len(record.captions), ()))]
        else:
            caption = record.captions[0]
        return image, caption, index


@dataclass(frozen=True)
class CaptionIndex:
    """Every caption of a table, image by image, for retrieval with several captions per image.

    Attributes
    ----------
    texts : list of str
        All captions, grouped by image in table order.
    text_image : torch.Tensor
        Long tensor ``[n_texts]``: the image index each caption belongs to.
    """

    texts: list[str]
    text_image: torch.Tensor


def caption_index(table: PairTable, language: str | None = None) -> CaptionIndex:
    """Flatten a table's captions for retrieval (COCO/Flickr protocol).

    Image-to-text retrieval counts a hit when any caption of the image is retrieved;
    text-to-image retrieval ranks images for each caption, whose true image is ``text_image``.

    Parameters
    ----------
    table : PairTable
        The images (usually one split).
    language : str, optional
        Use the ``caption_<language>`` captions instead of the main ones (``"en"``: the main
        ones); images without a caption in that language contribute no texts.
    """
    texts: list[str] = []
    owners: list[int] = []
    for i, record in enumerate(table.images):
        captions = record.captions if language is None else record.captions_in(language)
        texts.extend(captions)
        owners.extend([i] * len(captions))
    if not texts:
        raise ValueError(f"the table has no captions{'' if language is None else f' in {language!r}'}")
    return CaptionIndex(texts, torch.tensor(owners, dtype=torch.long))
