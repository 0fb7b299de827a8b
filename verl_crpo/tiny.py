"""A tiny Qwen2 model and its tokenizer, built locally and deterministically (nothing downloaded).

:func:`build_tiny_model` trains a byte-level BPE tokenizer on generated clinical cases and their
reference responses (the CRPO tags and the chat markers are single added tokens), gives it a
ChatML chat template like Qwen's, and initialises a Qwen2 causal LM from a fixed seed. The result
is saved in Hugging Face format under a directory named after a hash of the spec, and reused when
it is already there.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["CHAT_TEMPLATE", "TinyModelSpec", "build_tiny_model", "default_cache_dir"]

logger = logging.getLogger(__name__)

# Qwen2's ChatML template, reduced to what the demo uses (no tools); generation prompts open an assistant turn.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# Whole tags as single tokens: the format is then a few tokens to learn instead of a dozen bytes.
_ADDED = ["<dx>", "</dx>", "<conclusion>", "</conclusion>", "\\boxed{"]


@dataclass(frozen=True)
class TinyModelSpec:
    """What to build. The defaults (~230k parameters) learned the CRPO format in about a minute of
    CPU fine-tuning in our experiments, and answered above chance after about four.

    Attributes:
        vocab_size: BPE vocabulary size before the special and added tokens.
        hidden_size, num_layers, num_heads, num_kv_heads, intermediate_size: the Qwen2 shape.
        max_position_embeddings: longest sequence (prompt + response) in tokens.
        corpus_cases: how many generated cases (prompt and reference response) train the tokenizer.
        seed: seeds the case generator and the weight initialisation.
    """

    vocab_size: int = 1600
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2
    intermediate_size: int = 256
    max_position_embeddings: int = 1024
    corpus_cases: int = 2000
    seed: int = 0

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


def default_cache_dir() -> Path:
    """``$VERL_CRPO_CACHE`` or ``~/.cache/verl_crpo``."""
    return Path(os.environ.get("VERL_CRPO_CACHE") or Path.home() / ".cache" / "verl_crpo")


def _train_tokenizer(spec: TinyModelSpec):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from verl_crpo.data import generate_cases, prompt_messages, reference_response

    corpus = []
    for case in generate_cases(spec.corpus_cases, seed=spec.seed):
        corpus.append(prompt_messages(case)[0]["content"])
        corpus.append(reference_response(case))
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=spec.vocab_size,
        special_tokens=_SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token=None
    )
    fast.add_tokens(_ADDED)
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_tiny_model(spec: TinyModelSpec | None = None, cache_dir: str | os.PathLike | None = None) -> str:
    """Build (or reuse) the tiny model and tokenizer; return the directory, in Hugging Face format.

    Args:
        spec: what to build (default :class:`TinyModelSpec`).
        cache_dir: parent directory (default :func:`default_cache_dir`); the model goes to
            ``<cache_dir>/tiny-qwen2-<hash of spec>``.
    """
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    spec = spec or TinyModelSpec()
    target = Path(cache_dir or default_cache_dir()) / f"tiny-qwen2-{spec.digest()}"
    if (target / "config.json").exists() and (target / "tokenizer.json").exists():
        logger.info("reusing the tiny model in %s", target)
        return str(target)
    tokenizer = _train_tokenizer(spec)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.num_heads,
        num_key_value_heads=spec.num_kv_heads,
        intermediate_size=spec.intermediate_size,
        max_position_embeddings=spec.max_position_embeddings,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        torch_dtype="float32",
    )
    torch.manual_seed(spec.seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=[tokenizer.eos_token_id, tokenizer.pad_token_id], pad_token_id=tokenizer.pad_token_id
    )
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    os.replace(tmp, target) if not target.exists() else None
    logger.info("built the tiny model (%d parameters) in %s", model.num_parameters(), target)
    return str(target)
