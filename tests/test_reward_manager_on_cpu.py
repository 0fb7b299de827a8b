"""The `clinical` reward manager and `compute_score` run through verl's own reward-loop code.

Protects: the manager is found in verl's registry by name, decodes with a real tokenizer,
returns every objective in `reward_extra_info`, honours `reward.reward_kwargs`; the same
scoring works through verl's stock `naive` manager as a custom reward function; and the
whole path works inside Ray workers (where only the entry point can register us).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tensordict import TensorDict
from verl import DataProto
from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

from verl_crpo.rewards import OBJECTIVES, compute_score

CASE = (
    "A 62-year-old woman has had sudden painless loss of vision in the right eye for 1 hour. "
    "She has atrial fibrillation and takes no anticoagulant. Fundoscopy shows a cherry-red spot "
    "at the macula with a pale, swollen retina."
)
OPTIONS = {
    "A": "Central retinal vein occlusion",
    "B": "Retinal detachment",
    "C": "Central retinal artery occlusion",
    "D": "Acute angle-closure glaucoma",
}
GOOD = (
    "<dx>\nSudden painless monocular vision loss with a cherry-red spot and a pale, swollen retina in a "
    "woman with atrial fibrillation and no anticoagulant points to an embolus to the central retinal artery "
    "(C). Central retinal vein occlusion (A) would show retinal haemorrhages, not a pale retina. Retinal "
    "detachment (B) presents with flashes and a curtain, and does not cause a cherry-red spot. Acute "
    "angle-closure glaucoma (D) is painful with a red eye, which she does not have.\n</dx>\n<conclusion>\n"
    "The cherry-red spot with a pale retina in atrial fibrillation supports central retinal artery "
    "occlusion. Final answer: \\boxed{C}\n</conclusion>"
)
HEDGING = GOOD.replace("Final answer: \\boxed{C}", "Final answer: \\boxed{C} or \\boxed{A}")


def _row(index: int) -> dict:
    return {"question": CASE, "options": OPTIONS, "split": "test", "index": index}


def make_batch(tokenizer_dir: str, responses: list[str]) -> DataProto:
    """A DataProto laid out as verl's agent loop builds it: left-padded prompts, right-padded responses."""
    from verl.utils import hf_tokenizer

    tokenizer = hf_tokenizer(tokenizer_dir)
    prompt_ids = tokenizer.encode("Answer the clinical question.", add_special_tokens=False)
    encoded = [tokenizer.encode(text, add_special_tokens=False) for text in responses]
    width = max(map(len, encoded)) + 3  # trailing padding must be ignored
    responses_t = torch.full((len(encoded), width), tokenizer.pad_token_id, dtype=torch.long)
    response_mask = torch.zeros_like(responses_t)
    for i, ids in enumerate(encoded):
        responses_t[i, : len(ids)] = torch.tensor(ids)
        response_mask[i, : len(ids)] = 1
    prompts = torch.tensor([prompt_ids] * len(encoded))
    attention_mask = torch.cat([torch.ones_like(prompts), response_mask], dim=1)
    n = len(responses)
    return DataProto(
        batch=TensorDict(
            {"prompts": prompts, "responses": responses_t, "attention_mask": attention_mask}, batch_size=n
        ),
        non_tensor_batch={
            "data_source": np.array(["medqa"] * n, dtype=object),
            "reward_model": np.array([{"style": "rule", "ground_truth": "C"} for _ in range(n)], dtype=object),
            "extra_info": np.array([_row(i) for i in range(n)], dtype=object),
        },
    )


@pytest.fixture(scope="module")
def clinical_config(compose_verl_config, tiny_tokenizer_dir):
    return compose_verl_config(
        [
            f"actor_rollout_ref.model.path={tiny_tokenizer_dir}",
            "reward.reward_manager.name=clinical",
            "reward.num_workers=1",
            "+reward.reward_kwargs.weights.accuracy=5.0",
            "+reward.reward_kwargs.weights.format=1.0",
        ]
    )


def _score_with_worker(config, batch: DataProto) -> list[dict]:
    worker = RewardLoopWorker(config)
    # verl's managers bind the worker's event loop at construction (a Ray actor keeps one loop).
    return worker.loop.run_until_complete(worker.compute_score_batch(batch))


class TestClinicalManagerInRewardLoop:
    def test_scores_match_compute_score_and_carry_every_objective(self, clinical_config, tiny_tokenizer_dir):
        outputs = _score_with_worker(clinical_config, make_batch(tiny_tokenizer_dir, [GOOD, HEDGING]))
        weights = {"accuracy": 5.0, "format": 1.0}
        for output, text in zip(outputs, [GOOD, HEDGING], strict=True):
            expected = compute_score("medqa", text, "C", _row(0), weights=weights)
            assert output["reward_score"] == pytest.approx(expected["score"])
            assert set(OBJECTIVES) <= set(output["reward_extra_info"])
            assert output["reward_extra_info"] == pytest.approx(expected)

    def test_accuracy_rewards_the_single_gold_answer_only(self, clinical_config, tiny_tokenizer_dir):
        good, hedging = _score_with_worker(clinical_config, make_batch(tiny_tokenizer_dir, [GOOD, HEDGING]))
        # The well-argued single answer is correct; hedging between C and A is never accurate.
        assert good["reward_extra_info"]["accuracy"] == 1.0
        assert hedging["reward_extra_info"]["accuracy"] == 0.0
        assert good["reward_score"] > hedging["reward_score"]

    def test_reward_kwargs_weights_reach_the_score(self, clinical_config, tiny_tokenizer_dir):
        (output,) = _score_with_worker(clinical_config, make_batch(tiny_tokenizer_dir, [GOOD]))
        info = output["reward_extra_info"]
        # Objectives the weights do not name weigh 0 (as in algorithm.crpo.weights): score = 5 * accuracy + 1 * format
        expected = 5 * info["accuracy"] + info["format"]
        assert output["reward_score"] == pytest.approx(expected)

    def test_bad_weights_fail_when_the_manager_is_built(self, compose_verl_config, tiny_tokenizer_dir):
        config = compose_verl_config(
            [
                f"actor_rollout_ref.model.path={tiny_tokenizer_dir}",
                "reward.reward_manager.name=clinical",
                "+reward.reward_kwargs.weights.accuracy=-1",
            ]
        )
        with pytest.raises(ValueError, match="accuracy"):
            RewardLoopWorker(config)

    def test_a_foreign_custom_reward_function_is_refused(self, compose_verl_config, tiny_tokenizer_dir):
        config = compose_verl_config(
            [
                f"actor_rollout_ref.model.path={tiny_tokenizer_dir}",
                "reward.reward_manager.name=clinical",
                "reward.custom_reward_function.path=pkg://verl.utils.reward_score.gsm8k",
            ]
        )
        with pytest.raises(ValueError, match="custom_reward_function"):
            RewardLoopWorker(config)

    def test_bad_data_is_reported_with_its_row(self, clinical_config, tiny_tokenizer_dir):
        batch = make_batch(tiny_tokenizer_dir, [GOOD])
        batch.non_tensor_batch["reward_model"][0] = {"style": "rule", "ground_truth": "Z"}
        with pytest.raises(ValueError, match=r"row 0: ground truth 'Z' is not one of the option letters A, B, C"):
            _score_with_worker(clinical_config, batch)


class TestComputeScoreThroughNaiveManager:
    def test_custom_reward_function_path(self, compose_verl_config, tiny_tokenizer_dir):
        config = compose_verl_config(
            [
                f"actor_rollout_ref.model.path={tiny_tokenizer_dir}",
                "reward.reward_manager.name=naive",
                "reward.custom_reward_function.path=pkg://verl_crpo.rewards",
                "reward.custom_reward_function.name=compute_score",
                "+reward.custom_reward_function.reward_kwargs.weights.accuracy=2.0",
            ]
        )
        good, hedging = _score_with_worker(config, make_batch(tiny_tokenizer_dir, [GOOD, HEDGING]))
        expected = compute_score("medqa", GOOD, "C", _row(0), weights={"accuracy": 2.0})
        assert good["reward_score"] == pytest.approx(expected["score"])
        assert set(OBJECTIVES) <= set(good["reward_extra_info"])
        assert hedging["reward_extra_info"]["accuracy"] == 0.0


class TestInsideRayWorkers:
    def test_reward_loop_manager_scores_with_clinical_in_ray_workers(self, clinical_config, tiny_tokenizer_dir):
        """Ray workers are fresh processes: only the `verl.plugins` entry point can register `clinical` there."""
        import ray
        from verl.experimental.reward_loop.reward_loop import RewardLoopManager

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            batch = make_batch(tiny_tokenizer_dir, [GOOD, HEDGING])
            output = RewardLoopManager(clinical_config).compute_rm_score(batch)
        finally:
            ray.shutdown()
        assert output.batch["rm_scores"].shape == batch.batch["responses"].shape
        assert set(OBJECTIVES) <= set(output.meta_info["reward_extra_keys"])
        np.testing.assert_array_equal(output.non_tensor_batch["accuracy"], [1.0, 0.0])
        # The score sits on the last valid response token, as verl's rm_scores contract requires.
        last = batch.batch["attention_mask"][:, batch.batch["prompts"].shape[1] :].sum(-1) - 1
        totals = output.batch["rm_scores"].sum(-1)
        torch.testing.assert_close(output.batch["rm_scores"][torch.arange(2), last], totals)


class TestRewardConfigFailsFastInTheDriver:
    """Whatever the estimator (the GRPO baseline too), a broken reward config stops main_ppo before Ray starts."""

    @pytest.mark.parametrize(
        ("overrides", "message"),
        [
            # clinical reads reward.reward_kwargs: a misspelt objective is named with the key to fix.
            (
                ["reward.reward_manager.name=clinical", "+reward.reward_kwargs.weights.acuracy=1"],
                "reward.reward_kwargs",
            ),
            # a tag must be a simple identifier.
            (["reward.reward_manager.name=clinical", "+reward.reward_kwargs.analysis_tag='<dx>'"], "tag"),
            # with the naive manager verl hands our function custom_reward_function.reward_kwargs.
            (
                [
                    "reward.custom_reward_function.path=pkg://verl_crpo.rewards",
                    "+reward.custom_reward_function.reward_kwargs.weights.accuracy=-2",
                ],
                "custom_reward_function.reward_kwargs",
            ),
            # clinical would silently ignore a foreign scoring function.
            (
                ["reward.reward_manager.name=clinical", "reward.custom_reward_function.path=/tmp/my_reward.py"],
                "would be ignored",
            ),
        ],
    )
    def test_refusals_name_the_key(self, compose_verl_config, overrides, message):
        from verl_crpo.validation import check_reward_config

        config = compose_verl_config(["algorithm.adv_estimator=grpo", *overrides])
        with pytest.raises(ValueError, match=message):
            check_reward_config(config)

    def test_other_rewards_are_not_checked(self, compose_verl_config):
        from verl_crpo.validation import check_reward_config

        check_reward_config(compose_verl_config(["+reward.reward_kwargs.weights.anything=-1"]))

    def test_main_ppo_grpo_run_with_a_bad_clinical_weight_exits_before_ray(self):
        import subprocess
        import sys

        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "verl.trainer.main_ppo",
                "algorithm.adv_estimator=grpo",
                "reward.reward_manager.name=clinical",
                "+reward.reward_kwargs.weights.accuracy=-1",
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert out.returncode != 0
        assert "reward.reward_kwargs" in out.stderr and "accuracy" in out.stderr
        assert "ray init kwargs" not in out.stdout  # main_ppo prints this just before ray.init
