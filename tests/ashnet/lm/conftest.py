"""Fixtures for the language-model tests: a tiny random Llama with a tiny byte-level BPE tokenizer."""

import pytest
import torch


def save_tiny_llama(folder, context=256, seed=0):
    """A 2-layer, 32-wide Llama and a 400-token byte-level BPE tokenizer, saved in ``folder``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from ashnet.lm.text_tasks import text_tasks

    corpus = [f"Question: {e.question}\nAnswer: {e.answer}\n" for t in text_tasks() for e in t.train[:40]]
    corpus += ["Caption: a red circle\n", "what color is the shape? what shape is in the image?"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|end|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    bpe.train_from_iterator(corpus, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|end|>", pad_token="<|end|>")
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=context,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.eos_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory):
    """Directory of a tiny random Llama (context 256) that :func:`ashnet.lm.load_language_model` loads."""
    return save_tiny_llama(tmp_path_factory.mktemp("tiny_llama"))
