"""Training: image-text training, STUA pre-training, and the loop, schedule and runtime they share."""

from .image_text import train
from .stua import pretrain_stua

__all__ = ["train", "pretrain_stua"]
