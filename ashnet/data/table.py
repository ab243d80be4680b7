"""The in-memory image-text table: ``ImageRecord``, ``BadRow``, ``PairTable`` and its split names."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

SPLITS = ("train", "val", "test")
# The language of the main ``caption`` column (English in the built-in data and in COCO).
MAIN_LANGUAGE = "en"


@dataclass
class ImageRecord:
    """One image and every caption that describes it.

    Attributes
    ----------
    path : Path
        Image file (absolute, or relative to the working directory when the pairs file was).
    captions : list of str
        English (or main-language) captions, in file order; never empty.
    split : str
        One of ``"train"``, ``"val"``, ``"test"``.
    extra : dict of str to list of str
        Captions in other languages, keyed by language code (``caption_<lang>`` columns);
        a language with no caption for this image is absent.
    member : (int, int) or None
        For an image inside a WebDataset tar shard (``path``): its ``(offset, size)`` in bytes.
    """

    path: Path
    captions: list[str]
    split: str
    extra: dict[str, list[str]] = field(default_factory=dict)
    member: tuple[int, int] | None = None

    @property
    def name(self) -> str:
        """How messages name the image: its path, or ``shard.tar:offset`` for a shard member."""
        return str(self.path) if self.member is None else f"{self.path}:{self.member[0]}"

    def captions_in(self, language: str) -> list[str]:
        """The captions in ``language``: the main ones for :data:`MAIN_LANGUAGE`, else ``extra``'s."""
        return self.captions if language == MAIN_LANGUAGE else self.extra.get(language, [])


@dataclass(frozen=True)
class BadRow:
    """A row that was skipped (or made loading fail), with where it is and why.

    Attributes
    ----------
    where : str
        ``"file:line"`` for CSV/TSV/JSON-lines; ``"file:images[i]"`` or
        ``"file:annotations[i]"`` style for COCO/Karpathy JSON.
    reason : str
        What is wrong with the row.
    """

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass
class PairTable:
    """Images with grouped captions, plus the rows that could not be used.

    Attributes
    ----------
    images : list of ImageRecord
        One record per distinct image, in order of first appearance.
    bad_rows : list of BadRow
        Rows of the source file that were skipped.
    ignored_columns : list of str
        Columns (JSON-lines keys) of the source file that were not read, in file order.
    """

    images: list[ImageRecord]
    bad_rows: list[BadRow] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def n_captions(self) -> int:
        """Number of (main-language) captions over all images."""
        return sum(len(record.captions) for record in self.images)

    @property
    def languages(self) -> list[str]:
        """Sorted language codes of the extra captions present in the table."""
        return sorted({lang for record in self.images for lang in record.extra})

    def split(self, name: str) -> PairTable:
        """Return the images of one split (``"train"``, ``"val"`` or ``"test"``).

        The returned table shares the records and keeps the source file's ``bad_rows`` and
        ``ignored_columns``.
        Rows that had no split in the file are in ``"train"``.
        """
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; expected one of {', '.join(SPLITS)}")
        return PairTable([r for r in self.images if r.split == name], self.bad_rows, self.ignored_columns)

    def in_languages(self, languages) -> PairTable:
        """The images with their captions in ``languages`` pooled as their captions.

        ``"en"`` (:data:`MAIN_LANGUAGE`) stands for the main captions, any other code for the
        ``caption_<code>`` ones; an image keeps its main captions first, then each language's in
        the order given. Images with no caption in any of ``languages`` are left out. Training on
        the result draws among every language's captions of an image.
        """
        languages = list(dict.fromkeys(languages))
        if not languages:
            raise ValueError("give at least one language")
        images = []
        for record in self.images:
            captions = [c for lang in languages for c in record.captions_in(lang)]
            if captions:
                images.append(ImageRecord(record.path, captions, record.split, record.extra, record.member))
        return PairTable(images, self.bad_rows, self.ignored_columns)
