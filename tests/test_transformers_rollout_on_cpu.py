"""The transformers rollout server, driven directly (no Ray): batching, log-probs, weight updates."""

from __future__ import annotations

import asyncio

import pytest
import torch

from verl_crpo.cpu.rollout import TransformersServer
from verl_crpo.data import generate_cases, prompt_messages


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from verl_crpo.tiny import TinyModelSpec, build_tiny_model

    # A smaller vocabulary and corpus than the demo's: same code path, faster to build.
    spec = TinyModelSpec(vocab_size=600, corpus_cases=200)
    return build_tiny_model(spec, tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def server(model_dir, compose_verl_config):
    config = compose_verl_config(
        [
            f"actor_rollout_ref.model.path={model_dir}",
            "actor_rollout_ref.rollout.name=transformers",
            "actor_rollout_ref.rollout.prompt_length=192",
            "actor_rollout_ref.rollout.response_length=24",
        ]
    )
    return TransformersServer(config.actor_rollout_ref.rollout, config.actor_rollout_ref.model, replica_rank=0)


@pytest.fixture(scope="module")
def prompts(server):
    tokenizer = server.model_config.tokenizer
    return [
        tokenizer.apply_chat_template(prompt_messages(case), add_generation_prompt=True, tokenize=False)
        for case in generate_cases(3, seed=5)
    ], tokenizer


def _generate_all(server, prompt_ids, params):
    async def go():
        return await asyncio.gather(
            *(server.generate(ids, dict(params), request_id=str(i)) for i, ids in enumerate(prompt_ids))
        )

    return asyncio.run(go())


def _ids(prompts):
    texts, tokenizer = prompts
    return [tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]


def test_concurrent_requests_get_their_own_responses_with_log_probs(server, prompts):
    prompt_ids = _ids(prompts)
    outputs = _generate_all(server, prompt_ids, {"temperature": 1.0, "top_p": 1.0, "top_k": -1, "logprobs": True})
    for ids, output in zip(prompt_ids, outputs, strict=True):
        assert 1 <= len(output.token_ids) <= 24  # rollout.response_length
        assert len(output.log_probs) == len(output.token_ids)
        # The log-probs are the model's own for these tokens (teacher-forced, unpadded, temperature 1).
        with torch.no_grad():
            logits = server.model(torch.tensor([ids + output.token_ids])).logits[0, len(ids) - 1 : -1]
        expected = torch.log_softmax(logits, -1).gather(-1, torch.tensor(output.token_ids)[:, None])[:, 0]
        torch.testing.assert_close(torch.tensor(output.log_probs), expected, atol=2e-4, rtol=0)


def test_greedy_is_deterministic_and_log_probs_are_optional(server, prompts):
    prompt_ids = _ids(prompts)
    params = {"temperature": 0.0, "top_p": 1.0, "top_k": -1, "logprobs": False}
    first, second = _generate_all(server, prompt_ids, params), _generate_all(server, prompt_ids, params)
    assert [o.token_ids for o in first] == [o.token_ids for o in second]
    assert all(o.log_probs is None for o in first)


def test_weight_update_changes_what_is_generated(server, prompts):
    prompt_ids = _ids(prompts)[:1]
    params = {"temperature": 0.0, "top_p": 1.0, "top_k": -1, "logprobs": True}
    before = _generate_all(server, prompt_ids, params)[0]
    original = {name: t.clone() for name, t in server.model.state_dict().items()}
    try:
        perturbed = {name: t + 0.5 * torch.randn_like(t) for name, t in original.items()}
        asyncio.run(server.update_weights(perturbed, global_steps=3))
        after = _generate_all(server, prompt_ids, params)[0]
        assert after.extra_fields["global_steps"] == 3
        assert (after.token_ids, after.log_probs) != (before.token_ids, before.log_probs)
    finally:
        asyncio.run(server.update_weights(original))


def test_unknown_weights_are_refused(server):
    with pytest.raises(ValueError, match="does not have"):
        asyncio.run(server.update_weights({"not.a.weight": torch.zeros(1)}))


def test_images_are_refused_with_the_reason(server):
    with pytest.raises(ValueError, match="text only"):
        asyncio.run(server.generate([1, 2], {"temperature": 1.0}, "r", image_data=["img"]))
