"""One weight validator: the reward, the estimator and the driver's config check accept and refuse alike."""

from __future__ import annotations

import math

import numpy as np
import pytest
from omegaconf import OmegaConf

from verl_crpo.advantage import CRPOConfig
from verl_crpo.rewards import RewardConfig
from verl_crpo.validation import check_crpo_config


@pytest.mark.parametrize(
    "weights",
    [
        {"accuracy": 10, "faithfulness": 1.0},  # ints and floats
        {"accuracy": np.float32(1.0)},  # numpy scalars (drifted before: the reward refused them)
        {"accuracy": np.int64(2), "format": 0.0},  # a zero weight beside a positive one
    ],
)
def test_accepted_alike(weights):
    assert dict(RewardConfig(weights=weights).weights)["accuracy"] == float(weights["accuracy"])
    assert CRPOConfig(weights=weights).weights["accuracy"] == float(weights["accuracy"])


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"accuracy": -1.0}, "must be finite and >= 0"),
        ({"accuracy": math.nan}, "must be finite and >= 0"),
        ({"accuracy": True}, "must be a number"),
        ({"accuracy": np.bool_(True)}, "must be a number"),
        ({"accuracy": "10"}, "must be a number"),
        ({"accuracy": 0.0}, "at least one weight must be positive"),
        ([10.0], "must be a mapping"),
        ({}, "is empty"),
    ],
)
def test_refused_alike_with_the_same_reason(weights, message):
    with pytest.raises(ValueError, match=message):
        RewardConfig(weights=weights)
    with pytest.raises(ValueError, match=message):
        CRPOConfig(weights=weights)


def test_the_driver_check_reads_numpy_reward_weights_like_the_reward():
    # Reward weights equal to the estimator's, one as a numpy scalar: no "differ" warning.
    config = OmegaConf.create(
        {
            "algorithm": {"adv_estimator": "crpo", "crpo": {"weights": {"accuracy": 1.0}}},
            "reward": {"reward_manager": {"name": "clinical"}, "reward_kwargs": {"weights": {"accuracy": 1.0}}},
            "actor_rollout_ref": {"rollout": {"n": 5}},
            "trainer": {"use_v1": True, "v1": {"trainer_mode": "sync"}},
        }
    )
    assert not [w for w in check_crpo_config(config) if "differ" in w]
