"""A rollout backend on transformers' ``generate``, for verl's agent loop on a CPU.

Two parts, registered like verl's vLLM backend (see :mod:`verl_crpo.cpu`):

- :class:`TransformersReplica` (``RolloutReplicaRegistry``) starts one :class:`TransformersServer`
  Ray actor per replica, named ``transformers_server_<replica rank>``. The agent loop calls its
  ``generate(prompt_ids, sampling_params, request_id)``; requests that arrive together are padded
  into one batch for ``model.generate``, and each response comes back with the log-probability of
  every sampled token (``log_softmax(logits / temperature)``, as verl's actor computes them).
- :class:`TransformersServerAdapter` (verl's ``_ROLLOUT_REGISTRY``, mode ``async``) lives in the
  FSDP actor worker; verl's naive checkpoint engine hands it the actor's weights after every
  update, and it forwards them (full tensors, on the CPU) to the server.

Sampling runs in float32 whatever ``rollout.dtype`` says: on a CPU bf16 is slower and makes the
rollout's log-probs drift from the actor's.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

import ray
import torch
from verl.workers.rollout.base import BaseRollout
from verl.workers.rollout.replica import RolloutReplica, TokenOutput

__all__ = ["ROLLOUT_NAME", "TransformersReplica", "TransformersServer", "TransformersServerAdapter", "server_name"]

logger = logging.getLogger(__name__)

ROLLOUT_NAME = "transformers"
# Requests of one agent-loop step reach the server within milliseconds of each other: waiting this
# long before generating turns them into one padded batch (one generate call instead of dozens).
_BATCH_WINDOW_S = 0.05


def server_name(replica_rank: int, suffix: str = "", kind: str = "") -> str:
    """The Ray actor name of replica ``replica_rank``'s server (``kind``: ``""``, ``"reward_"``, ``"teacher_"``)."""
    return f"{ROLLOUT_NAME}_server_{kind}{replica_rank}{suffix}"


class TransformersServer:
    """Serves one replica: a Hugging Face causal LM on the CPU, batched ``generate``, weight updates.

    Args:
        config: verl's ``RolloutConfig`` (``prompt_length``, ``response_length``).
        model_config: verl's ``HFModelConfig`` (or its DictConfig) naming the model.
        replica_rank: this replica's rank.
    """

    def __init__(self, config, model_config, replica_rank: int):
        from transformers import AutoModelForCausalLM
        from verl.utils.config import omega_conf_to_dataclass
        from verl.workers.config import HFModelConfig

        self.config = omega_conf_to_dataclass(config)
        self.model_config = omega_conf_to_dataclass(model_config, dataclass_type=HFModelConfig)
        self.replica_rank = replica_rank
        threads = int(os.environ.get("VERL_CRPO_ROLLOUT_THREADS", "0"))
        if threads > 0:
            torch.set_num_threads(threads)
        if getattr(self.config, "seed", None) is not None:
            torch.manual_seed(int(self.config.seed) + replica_rank)  # rollout.seed: sampling repeats run to run
        self.model = AutoModelForCausalLM.from_pretrained(
            self.model_config.local_path, dtype=torch.float32, attn_implementation="sdpa"
        ).eval()
        tokenizer = self.model_config.tokenizer
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        stop = [tokenizer.eos_token_id, *(self.model.generation_config.eos_token_id or [])]
        self.stop_ids = sorted({int(t) for t in stop if t is not None})
        self.global_steps = None
        self._pending: list[tuple[list[int], dict[str, Any], int, asyncio.Future]] = []
        self._drainer: asyncio.Task | None = None
        self._lock = asyncio.Lock()

    async def ready(self) -> bool:
        return True

    async def generate(
        self,
        prompt_ids: list[int],
        sampling_params: dict[str, Any],
        request_id: str,
        image_data: Any = None,
        video_data: Any = None,
        **kwargs: Any,
    ) -> TokenOutput:
        """Sample one response to ``prompt_ids``; returns its token ids and their log-probs."""
        if image_data or video_data or kwargs.get("audio_data"):
            raise ValueError("the transformers rollout serves text only: drop image/video/audio inputs from the data")
        max_tokens = min(
            self.config.response_length, self.config.prompt_length + self.config.response_length - len(prompt_ids)
        )
        future = asyncio.get_running_loop().create_future()
        self._pending.append((list(prompt_ids), dict(sampling_params), max(1, max_tokens), future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        token_ids, log_probs = await future
        return TokenOutput(
            token_ids=token_ids,
            log_probs=log_probs if sampling_params.get("logprobs") else None,
            stop_reason="completed",
            extra_fields={"global_steps": self.global_steps},
        )

    async def _drain(self) -> None:
        while self._pending:
            await asyncio.sleep(_BATCH_WINDOW_S)
            batch, self._pending = self._pending, []
            groups: dict[tuple, list] = {}
            for request in batch:
                params = request[1]
                key = (
                    float(params.get("temperature", 1.0)),
                    float(params.get("top_p", 1.0)),
                    int(params.get("top_k", -1)),
                )
                groups.setdefault(key, []).append(request)
            for (temperature, top_p, top_k), requests in groups.items():
                async with self._lock:
                    try:
                        results = await asyncio.to_thread(self._generate_batch, requests, temperature, top_p, top_k)
                    except Exception as error:  # hand the error to every waiting request
                        for *_, future in requests:
                            if not future.done():
                                future.set_exception(error)
                        continue
                for (*_, future), result in zip(requests, results, strict=True):
                    if not future.done():
                        future.set_result(result)

    @torch.no_grad()
    def _generate_batch(self, requests, temperature: float, top_p: float, top_k: int):
        start = time.perf_counter()
        width = max(len(prompt) for prompt, *_ in requests)
        input_ids = torch.full((len(requests), width), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(requests), width), dtype=torch.long)
        for row, (prompt, *_) in enumerate(requests):
            input_ids[row, width - len(prompt) :] = torch.tensor(prompt)
            attention_mask[row, width - len(prompt) :] = 1
        greedy = temperature <= 0
        output = self.model.generate(
            input_ids=input_ids,
            attention_mask=attention_mask,
            max_new_tokens=max(max_tokens for _, _, max_tokens, _ in requests),
            do_sample=not greedy,
            temperature=None if greedy else temperature,
            top_p=None if greedy else top_p,
            top_k=None if greedy or top_k <= 0 else top_k,
            eos_token_id=self.stop_ids,
            pad_token_id=self.pad_id,
            return_dict_in_generate=True,
            output_logits=True,
        )
        new_tokens = output.sequences[:, width:]
        logits = torch.stack(output.logits, dim=1).float()
        if not greedy:
            logits = logits / temperature
        log_probs = torch.log_softmax(logits, dim=-1).gather(-1, new_tokens.unsqueeze(-1)).squeeze(-1)
        results = []
        stop = torch.tensor(self.stop_ids)
        for row, (_, _, max_tokens, _) in enumerate(requests):
            tokens = new_tokens[row, :max_tokens]
            ends = torch.isin(tokens, stop).nonzero()
            length = int(ends[0]) + 1 if len(ends) else len(tokens)  # the stop token is part of the response
            results.append((tokens[:length].tolist(), log_probs[row, :length].tolist()))
        logger.debug("generated %d responses in %.2fs", len(requests), time.perf_counter() - start)
        return results

    async def update_weights(self, state_dict: dict[str, torch.Tensor], global_steps: int | None = None) -> None:
        """Load the actor's weights (full tensors keyed by Hugging Face names)."""
        async with self._lock:
            result = self.model.load_state_dict(state_dict, strict=False)
            unexpected = [name for name in result.unexpected_keys if name]
            if unexpected:
                raise ValueError(f"the transformers rollout got weights its model does not have: {unexpected[:5]}")
            if global_steps is not None:
                self.global_steps = global_steps

    async def set_global_steps(self, global_steps: int) -> None:
        self.global_steps = global_steps

    # Memory management and profiling of GPU engines: nothing to do for a model in host memory.
    async def wake_up(self, *args, **kwargs) -> None:
        return None

    async def sleep(self, *args, **kwargs) -> None:
        return None

    async def clear_kv_cache(self) -> None:
        return None

    async def release_kv_cache(self) -> None:
        return None

    async def resume_kv_cache(self) -> None:
        return None

    async def abort_all_requests(self, reject_request: bool = False) -> None:
        return None

    async def resume_generation(self) -> None:
        return None

    async def start_profile(self, **kwargs) -> None:
        return None

    async def stop_profile(self) -> None:
        return None


class TransformersReplica(RolloutReplica):
    """A rollout replica served by one :class:`TransformersServer` actor (no HTTP endpoint)."""

    def rollout_worker_use_gpu(self) -> bool:
        return False

    async def launch_servers(self):
        kind = "reward_" if self.is_reward_model else "teacher_" if self.is_teacher_model else ""
        name = (
            server_name(self.replica_rank, self.name_suffix)
            if not kind
            else f"{ROLLOUT_NAME}_server_{kind}{self.replica_rank}{self.name_suffix}"
        )
        server = (
            ray.remote(TransformersServer)
            .options(name=name, num_cpus=0, max_concurrency=self.max_concurrency)
            .remote(config=self.config, model_config=self.model_config, replica_rank=self.replica_rank)
        )
        await server.ready.remote()
        self.servers = [server]
        self._server_handle = server
        # verl keys its router by this string; there is no HTTP server behind it.
        self._server_address = name


class TransformersServerAdapter(BaseRollout):
    """The rollout's side in the actor worker: forwards the actor's weights to the replica's server."""

    def __init__(self, config, model_config, device_mesh, replica_rank: int = -1, **kwargs):
        super().__init__(config, model_config, device_mesh)
        rollout_world_size = (
            self.config.tensor_model_parallel_size
            * self.config.data_parallel_size
            * self.config.pipeline_model_parallel_size
        )
        rank = int(os.environ.get("RANK", "0"))
        self.replica_rank = rank // rollout_world_size if replica_rank == -1 else replica_rank
        self.is_leader = rank % rollout_world_size == 0
        self._server = None

    def _server_handle(self):
        if self._server is None:
            self._server = ray.get_actor(server_name(self.replica_rank))
        return self._server

    async def resume(self, tags: list[str]):
        return None

    async def release(self):
        return None

    @torch.no_grad()
    async def update_weights(
        self, weights, global_steps: int | None = None, wire_format: str = "named_tensors", **kwargs
    ):
        """Gather the actor's weights on the CPU and load them into the server.

        Raises:
            ValueError: for delta or LoRA-adapter updates, which this backend does not take.
        """
        from verl.workers.rollout.utils import ensure_async_iterator

        if wire_format != "named_tensors":
            raise ValueError(
                f"the transformers rollout takes full named tensors, not wire_format={wire_format!r}: "
                "use actor_rollout_ref.rollout.checkpoint_engine.backend=naive"
            )
        if kwargs.get("peft_config") is not None:
            raise ValueError(
                "the transformers rollout cannot load LoRA adapters: set actor_rollout_ref.model.lora.merge=True"
            )
        state = {}
        async for name, tensor in ensure_async_iterator(weights):
            if hasattr(tensor, "full_tensor"):
                tensor = tensor.full_tensor()
            if self.is_leader:
                state[name] = tensor.detach().to("cpu", copy=True)
        if self.is_leader:
            await self._server_handle().update_weights.remote(state, global_steps)
