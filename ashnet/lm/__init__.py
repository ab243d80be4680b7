"""The language-model side: SmolLM2 loader, vision prefix, MetaICL/MetaVL training and evaluation."""

from .generate import generate_answers, kshot_accuracy
from .loader import LanguageModel, load_language_model
from .prefix import Projector, VisionPrefixLM
from .prompts import exact_match, normalize_answer
from .text_tasks import Example
from .train import METHODS, LMRunConfig, attach, load_lm_run, pretrain_icl

__all__ = [
    "Example",
    "LanguageModel",
    "LMRunConfig",
    "METHODS",
    "Projector",
    "VisionPrefixLM",
    "attach",
    "exact_match",
    "generate_answers",
    "kshot_accuracy",
    "load_language_model",
    "load_lm_run",
    "normalize_answer",
    "pretrain_icl",
]
