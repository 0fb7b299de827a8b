"""Shared fixtures: a tiny tokenizer built locally and verl's composed trainer config.

Nothing is downloaded: the tokenizer is trained here on a few clinical sentences.
"""

from __future__ import annotations

import pytest

_TRAINING_TEXT = [
    "<dx> A 54-year-old man has crushing chest pain, diaphoresis and ST elevation in II, III and aVF. "
    "Option B is unlikely because the pain is not pleuritic. </dx>",
    "<conclusion> The findings support an inferior myocardial infarction. Final answer: \\boxed{C} </conclusion>",
]


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory) -> str:
    """A byte-level BPE tokenizer (decodes any text exactly) saved in Hugging Face format."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>", "<|pad|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(_TRAINING_TEXT * 4, trainer)
    path = tmp_path_factory.mktemp("tiny_tokenizer")
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|endoftext|>", pad_token="<|pad|>").save_pretrained(
        path
    )
    return str(path)


@pytest.fixture(scope="session")
def compose_verl_config():
    """Compose verl's own ``ppo_trainer`` config with hydra overrides, as main_ppo would."""
    from hydra import compose, initialize_config_module

    def compose_config(overrides: list[str]):
        with initialize_config_module(config_module="verl.trainer.config", version_base=None):
            return compose(config_name="ppo_trainer", overrides=overrides)

    return compose_config
