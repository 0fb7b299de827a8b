"""The ``clinical`` reward manager for verl's reward loop.

Registered in verl's reward-loop registry, so a run selects it with
``reward.reward_manager.name=clinical``. It scores every response with
:func:`verl_crpo.rewards.compute_score` and returns each objective in ``reward_extra_info``,
where verl's trainer logs it and where the ``crpo`` advantage estimator finds it.

Its settings come from the run's ``reward.reward_kwargs`` (the same keys as
:class:`verl_crpo.rewards.RewardConfig`)::

    reward:
      reward_manager: {name: clinical}
      reward_kwargs:
        weights: ${algorithm.crpo.weights}   # stated once, shared with the estimator
        analysis_tag: dx
        conclusion_tag: conclusion
"""

from __future__ import annotations

import asyncio

from verl import DataProto
from verl.experimental.reward_loop.reward_manager import register
from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase

from verl_crpo.rewards import get_clinical_reward
from verl_crpo.validation import REWARD_MANAGER, check_reward_config, reward_kwargs

__all__ = ["ClinicalRewardManager"]


@register(REWARD_MANAGER)
class ClinicalRewardManager(RewardManagerBase):
    """Scores one response at a time with the clinical objectives.

    Args:
        config: The run's full config; reads ``reward.reward_kwargs`` (weights, tag names).
        tokenizer: The policy's tokenizer, used to decode responses.
        compute_score: Ignored: verl passes its default scorer when no custom function is set;
            ``clinical`` always uses :func:`verl_crpo.rewards.compute_score`.
        reward_router_address: Unused (no reward model involved); accepted for verl's loader.
        reward_model_tokenizer: Unused; accepted for verl's loader.

    Raises:
        ValueError: if ``reward.reward_kwargs`` is invalid (unknown objective, negative weight, ...)
            or a foreign ``reward.custom_reward_function`` is configured.
    """

    def __init__(self, config, tokenizer, compute_score=None, reward_router_address=None, reward_model_tokenizer=None):
        super().__init__(config, tokenizer, compute_score)
        check_reward_config(config)
        self.reward_fn = get_clinical_reward(**reward_kwargs(config))

    def _decode_and_score(self, data_item) -> dict[str, float]:
        response_ids = data_item.batch["responses"]
        valid_length = int(data_item.batch["attention_mask"][-response_ids.shape[-1] :].sum())
        response = self.tokenizer.decode(response_ids[:valid_length], skip_special_tokens=True)
        non_tensor = data_item.non_tensor_batch
        return self.reward_fn(
            data_source=non_tensor["data_source"],
            solution_str=response,
            ground_truth=non_tensor["reward_model"]["ground_truth"],
            extra_info=non_tensor.get("extra_info"),
        )

    async def run_single(self, data: DataProto) -> dict:
        """Score the last sequence of ``data``.

        Returns:
            ``{"reward_score": float, "reward_extra_info": dict[str, float]}``, the extra info
            holding ``score`` and every objective (each in [0, 1]) plus the reward's diagnostics.
        """
        # Multi-sequence outputs (multi-turn) are scored on their final sequence, as verl's naive manager does.
        data_item = data[-1:][0]
        # Decoding and scoring are CPU-bound: keep them off the event loop (the running one, which need not
        # be the loop that existed when the manager was built).
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(None, self._decode_and_score, data_item)
        return {"reward_score": result["score"], "reward_extra_info": dict(result)}
