"""Image-caption data: file readers, the PairTable, the torch dataset, the OpenMoji and scenes builders."""

from ashnet.data.dataset import CaptionIndex, ImageTextDataset, caption_index
from ashnet.data.easy_vqa import build_easy_vqa
from ashnet.data.formats import load_pairs
from ashnet.data.images import load_image, open_image
from ashnet.data.openmoji import build_openmoji, load_manifest
from ashnet.data.scenes import build_scenes
from ashnet.data.table import MAIN_LANGUAGE, SPLITS, BadRow, ImageRecord, PairTable
from ashnet.data.tasks import TASKS, TaskData, TaskExample, load_task

__all__ = [
    "MAIN_LANGUAGE",
    "SPLITS",
    "BadRow",
    "CaptionIndex",
    "ImageRecord",
    "ImageTextDataset",
    "PairTable",
    "build_openmoji",
    "build_scenes",
    "build_easy_vqa",
    "load_task",
    "TASKS",
    "TaskData",
    "TaskExample",
    "caption_index",
    "load_image",
    "load_manifest",
    "load_pairs",
    "open_image",
]
