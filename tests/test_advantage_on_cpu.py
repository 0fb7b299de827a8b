"""Tests of the ``crpo`` advantage estimator against verl's own ``grpo`` and ``gdpo`` (CPU)."""

from __future__ import annotations

import ast
import inspect
import math
import pickle
import uuid

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from verl.protocol import DataProto
from verl.trainer.config import AlgoConfig
from verl.trainer.ppo import core_algos, ray_trainer
from verl.utils.torch_functional import masked_whiten

from verl_crpo.advantage import (
    CRPOConfig,
    compute_crpo_outcome_advantage,
    crpo_scalar_advantage,
    crpo_step_metrics,
    group_normalize,
    objective_scores,
    whiten_scalars,
)

WEIGHTS = {"accuracy": 10.0, "faithfulness": 1.0, "comprehensiveness": 1.0}
TOL = {"atol": 1e-6, "rtol": 1e-6}


def make_batch(seed: int = 0, num_groups: int = 40, max_group: int = 6, length: int = 16, singletons: bool = True):
    """Random groups of unequal size (some of one), left-aligned padding, three objectives.

    Accuracy is 0/1 (many constant groups), the others continuous or on a coarse grid.
    """
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1 if singletons else 2, max_group + 1, size=num_groups)
    uids = np.array([str(uuid.UUID(int=int(rng.integers(1 << 62)))) for _ in range(num_groups)], dtype=object)
    index = np.repeat(uids, sizes)
    order = rng.permutation(len(index))  # groups interleaved, as after verl's balancing
    index = index[order]
    bs = len(index)
    lengths = torch.from_numpy(rng.integers(1, length + 1, size=bs))
    mask = (torch.arange(length).unsqueeze(0) < lengths.unsqueeze(1)).to(torch.int64)
    non_tensor = {
        "accuracy": rng.integers(0, 2, size=bs).astype(np.float64),
        "faithfulness": rng.random(bs),
        "comprehensiveness": np.array([float(x) for x in rng.integers(0, 5, size=bs) / 4], dtype=object),
        "uid": index,
    }
    return index, mask, non_tensor


def algo_config(aggregation="decoupled", whiten=True, norm=True, weights=WEIGHTS, epsilon=1e-6):
    return OmegaConf.create(
        {
            "adv_estimator": "crpo",
            "norm_adv_by_std_in_grpo": norm,
            "crpo": {"weights": dict(weights), "aggregation": aggregation, "whiten": whiten, "epsilon": epsilon},
        }
    )


def crpo(mask, index, non_tensor, dtype=torch.float32, **cfg):
    adv, ret = compute_crpo_outcome_advantage(
        token_level_rewards=torch.zeros(mask.shape, dtype=dtype),
        response_mask=mask,
        index=index,
        config=algo_config(**cfg),
        non_tensor_batch=non_tensor,
    )
    assert adv is ret
    return adv


def weighted_sum_at_last_token(mask, non_tensor, weights=WEIGHTS):
    scores = torch.tensor(np.stack([np.asarray(non_tensor[k], dtype=np.float32) for k in weights]))
    total = torch.tensor(list(weights.values())) @ scores
    rewards = torch.zeros(mask.shape, dtype=torch.float32)
    rewards[torch.arange(mask.shape[0]), mask.sum(-1) - 1] = total
    return rewards


def verl_gdpo(mask, index, non_tensor, norm, weights=WEIGHTS):
    prompt_length = 3
    batch = {
        "prompts": torch.zeros(mask.shape[0], prompt_length, dtype=torch.int64),
        "attention_mask": torch.cat([torch.ones(mask.shape[0], prompt_length, dtype=torch.int64), mask], dim=1),
    }
    config = {"gdpo_reward_keys": list(weights), "gdpo_reward_weights": list(weights.values())}
    adv, _ = core_algos.compute_gdpo_outcome_advantage(
        token_level_rewards=torch.zeros(mask.shape),
        response_mask=mask,
        index=index,
        norm_adv_by_std_in_grpo=norm,
        config=config,
        non_tensor_batch=non_tensor,
        batch=batch,
    )
    return adv


# --- equality with verl's own estimators ---------------------------------------------------------


@pytest.mark.parametrize("norm", [True, False])
def test_sum_without_whitening_equals_verl_grpo_on_weighted_sum(norm):
    index, mask, non_tensor = make_batch(seed=1)
    expected, _ = core_algos.compute_grpo_outcome_advantage(
        weighted_sum_at_last_token(mask, non_tensor), mask, index, norm_adv_by_std_in_grpo=norm
    )
    got = crpo(mask, index, non_tensor, aggregation="sum", whiten=False, norm=norm)
    torch.testing.assert_close(got, expected, **TOL)


@pytest.mark.parametrize("norm", [True, False])
def test_decoupled_with_whitening_equals_verl_gdpo(norm):
    index, mask, non_tensor = make_batch(seed=2)
    got = crpo(mask, index, non_tensor, aggregation="decoupled", whiten=True, norm=norm)
    torch.testing.assert_close(got, verl_gdpo(mask, index, non_tensor, norm), **TOL)


@pytest.mark.parametrize("norm", [True, False])
def test_decoupled_without_whitening_is_weighted_sum_of_per_objective_grpo(norm):
    index, mask, non_tensor = make_batch(seed=3)
    expected = sum(
        w
        * core_algos.compute_grpo_outcome_advantage(
            weighted_sum_at_last_token(mask, non_tensor, {k: 1.0}), mask, index, norm_adv_by_std_in_grpo=norm
        )[0]
        for k, w in WEIGHTS.items()
    )
    torch.testing.assert_close(crpo(mask, index, non_tensor, whiten=False, norm=norm), expected, **TOL)


def test_sum_with_whitening_equals_masked_whiten_of_verl_grpo():
    index, mask, non_tensor = make_batch(seed=4)
    grpo, _ = core_algos.compute_grpo_outcome_advantage(weighted_sum_at_last_token(mask, non_tensor), mask, index)
    expected = masked_whiten(grpo, mask) * mask
    torch.testing.assert_close(crpo(mask, index, non_tensor, aggregation="sum", whiten=True), expected, **TOL)


def test_whiten_scalars_matches_masked_whiten_on_float_mask():
    # Float masks take another counting path (float64 sums) than int/bool masks.
    _, mask, _ = make_batch(seed=5)
    scalars = torch.randn(mask.shape[0], generator=torch.Generator().manual_seed(0))
    mask = mask.float()
    expected = masked_whiten(scalars.unsqueeze(-1) * mask, mask) * mask
    got = whiten_scalars(scalars, mask.sum(-1, dtype=torch.float64)).unsqueeze(-1) * mask
    torch.testing.assert_close(got, expected, **TOL)


# --- through verl's registry and trainer code ------------------------------------------------------


def test_registry_call_as_verl_generic_branch_plus_non_tensor_batch():
    index, mask, non_tensor = make_batch(seed=6)
    fn = core_algos.get_adv_estimator_fn("crpo")
    assert fn is compute_crpo_outcome_advantage
    config = algo_config()
    adv, ret = fn(
        token_level_rewards=torch.zeros(mask.shape),
        response_mask=mask,
        config=config,
        index=index,
        non_tensor_batch=non_tensor,
        reward_baselines=torch.zeros(mask.shape[0]),  # ignored, as the docstring says
        batch={"prompts": None},
    )
    torch.testing.assert_close(adv, verl_gdpo(mask, index, non_tensor, norm=True), **TOL)
    assert ret is adv


def verl_own_compute_advantage():
    """verl 0.9.1's ``ray_trainer.compute_advantage`` exactly as shipped.

    verl_crpo's trainer integration replaces the module attribute (so that ``crpo`` gets the
    objectives); this test is about what stock verl does, so compile verl's own source of the
    function against the module's globals instead of taking the attribute.
    """
    source = inspect.getsource(ray_trainer)
    node = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == "compute_advantage")
    namespace = dict(vars(ray_trainer))
    exec(compile(ast.Module(body=[node], type_ignores=[]), ray_trainer.__file__, "exec"), namespace)
    return namespace["compute_advantage"]


def test_verl_compute_advantage_explains_missing_objective_scores():
    _, mask, non_tensor = make_batch(seed=7)
    data = DataProto.from_dict(
        tensors={"token_level_rewards": torch.zeros(mask.shape), "response_mask": mask},
        non_tensors=non_tensor,
    )
    with pytest.raises(ValueError, match=r"per-objective scores.*adv_estimator=crpo.*trainer\.use_v1=true"):
        verl_own_compute_advantage()(data, "crpo", config=algo_config())


# --- edge cases -------------------------------------------------------------------------------------


def test_groups_of_one_follow_verl_grpo_mean_zero_std_one():
    # Every sample alone: decoupled advantage is sum_k w_k r_k / (1 + eps), as in verl's grpo.
    mask = torch.ones(3, 2, dtype=torch.int64)
    non_tensor = {"accuracy": np.array([1.0, 0.0, 1.0]), "faithfulness": np.array([0.5, 0.25, 0.0])}
    weights = {"accuracy": 10.0, "faithfulness": 1.0}
    got = crpo(mask, ["a", "b", "c"], non_tensor, whiten=False, weights=weights)
    expected = torch.tensor([10.5, 0.25, 10.0]) / (1 + 1e-6)
    torch.testing.assert_close(got, expected.unsqueeze(-1).expand(3, 2), **TOL)


def test_objective_constant_within_group_contributes_exactly_zero():
    # 0.1 three times: the float32 group mean is not exactly 0.1, verl's grpo would then divide
    # rounding noise by eps; a constant objective must give exactly 0 instead.
    scores = torch.tensor([[0.1, 0.1, 0.1, 1.0, 0.0], [0.7, 0.7, 0.7, 0.7, 0.7]])
    out = group_normalize(scores, [5, 5, 5, 9, 9], epsilon=1e-6, norm_by_std=True)
    assert torch.equal(out[0, :3], torch.zeros(3))
    assert torch.equal(out[1], torch.zeros(5))
    torch.testing.assert_close(out[0, 3:], torch.tensor([0.5, -0.5]) / (math.sqrt(0.5) + 1e-6))


def test_single_objective_decoupled_is_weight_times_grpo_and_sum_is_grpo_of_weighted_score():
    index, mask, non_tensor = make_batch(seed=8)
    weights = {"faithfulness": 2.5}
    grpo_of_score, _ = core_algos.compute_grpo_outcome_advantage(
        weighted_sum_at_last_token(mask, non_tensor, {"faithfulness": 1.0}), mask, index
    )
    grpo_of_weighted, _ = core_algos.compute_grpo_outcome_advantage(
        weighted_sum_at_last_token(mask, non_tensor, weights), mask, index
    )
    decoupled = crpo(mask, index, non_tensor, aggregation="decoupled", whiten=False, weights=weights)
    torch.testing.assert_close(decoupled, 2.5 * grpo_of_score, **TOL)
    summed = crpo(mask, index, non_tensor, aggregation="sum", whiten=False, weights=weights)
    torch.testing.assert_close(summed, grpo_of_weighted, **TOL)


def test_padding_tokens_get_zero_and_valid_tokens_share_the_sample_advantage():
    index, mask, non_tensor = make_batch(seed=9)
    adv = crpo(mask, index, non_tensor)
    assert torch.equal(adv[mask == 0], torch.zeros(int((mask == 0).sum())))
    first = adv[:, :1].expand_as(adv)
    assert torch.equal(adv[mask == 1], first[mask == 1])


@pytest.mark.parametrize(
    ("rewards_dtype", "mask_dtype", "out_dtype"),
    [
        (torch.float32, torch.int64, torch.float32),
        (torch.bfloat16, torch.int64, torch.bfloat16),
        (torch.bfloat16, torch.bool, torch.bfloat16),
        (torch.bfloat16, torch.float32, torch.float32),  # verl's grpo promotes with the mask too
    ],
)
def test_dtype_follows_verl_grpo_and_math_is_float32(rewards_dtype, mask_dtype, out_dtype):
    index, mask, non_tensor = make_batch(seed=10)
    reference = crpo(mask, index, non_tensor)
    got = crpo(mask.to(mask_dtype), index, non_tensor, dtype=rewards_dtype)
    assert got.dtype == out_dtype
    torch.testing.assert_close(got, reference.to(out_dtype), atol=0, rtol=0)
    grpo_dtype = core_algos.compute_grpo_outcome_advantage(
        torch.zeros(mask.shape, dtype=rewards_dtype), mask.to(mask_dtype), index
    )[0].dtype
    assert got.dtype == grpo_dtype


def test_uid_strings_ints_and_tensors_group_identically():
    index, mask, non_tensor = make_batch(seed=11)
    _, as_ints = np.unique(index, return_inverse=True)
    by_string = crpo(mask, index, non_tensor)
    # Sparse and negative integer labels: as_torch_index keeps them as they are.
    sparse = as_ints.astype(np.int64) * 1000 - 7
    torch.testing.assert_close(crpo(mask, sparse, non_tensor), by_string, atol=0, rtol=0)
    torch.testing.assert_close(crpo(mask, torch.from_numpy(sparse), non_tensor), by_string, atol=0, rtol=0)
    torch.testing.assert_close(crpo(mask, list(index), non_tensor), by_string, atol=0, rtol=0)


def test_single_token_or_empty_batch_whitens_to_zero_instead_of_failing():
    non_tensor = {"accuracy": np.array([1.0, 0.0])}
    one_token = torch.tensor([[1, 0], [0, 0]])
    for mask in (one_token, torch.zeros(2, 2, dtype=torch.int64)):
        adv = crpo(mask, ["a", "a"], non_tensor, weights={"accuracy": 1.0})
        assert torch.equal(adv, torch.zeros(2, 2))
        assert torch.isfinite(adv).all()


def test_sum_components_add_up_to_the_grpo_advantage():
    index, mask, non_tensor = make_batch(seed=12)
    cfg = CRPOConfig(weights=WEIGHTS, aggregation="sum", whiten=False)
    scores = objective_scores(non_tensor, cfg.names, mask.shape[0], "cpu")
    scalars, normalized = crpo_scalar_advantage(scores, index, mask, cfg)
    torch.testing.assert_close(torch.tensor(list(WEIGHTS.values())) @ normalized, scalars, atol=1e-5, rtol=1e-5)


# --- configuration errors ----------------------------------------------------------------------------


def test_from_algorithm_config_accepts_dictconfig_dict_and_algoconfig():
    section = {"weights": {"accuracy": 10, "format": 0}, "aggregation": "sum", "whiten": False, "epsilon": 1e-4}
    expected = CRPOConfig(
        weights={"accuracy": 10.0, "format": 0.0}, aggregation="sum", whiten=False, epsilon=1e-4, norm_by_std=False
    )
    plain = {"crpo": section, "norm_adv_by_std_in_grpo": False}
    assert CRPOConfig.from_algorithm_config(plain) == expected
    assert CRPOConfig.from_algorithm_config(OmegaConf.create(plain)) == expected
    algo = AlgoConfig(norm_adv_by_std_in_grpo=False)
    algo.crpo = section  # AlgoConfig has no crpo field; BaseConfig allows adding one
    assert CRPOConfig.from_algorithm_config(algo) == expected
    defaults = CRPOConfig.from_algorithm_config({"crpo": {"weights": {"accuracy": 1.0}}})
    assert (defaults.aggregation, defaults.whiten, defaults.epsilon, defaults.norm_by_std) == (
        "decoupled",
        True,
        1e-6,
        True,
    )
    assert expected.names == ("accuracy", "format")
    with pytest.raises(TypeError):
        expected.weights["accuracy"] = 1.0  # read-only


def test_config_pickles_and_hashes():
    # The config crosses process boundaries (Ray, multiprocessing) and may key a cache.
    cfg = CRPOConfig(weights=WEIGHTS, aggregation="sum", epsilon=1e-5)
    clone = pickle.loads(pickle.dumps(cfg))
    assert clone == cfg
    assert hash(clone) == hash(cfg)
    assert list(clone.weights) == list(WEIGHTS)  # order kept: it is the objectives' order


@pytest.mark.parametrize(
    ("algorithm", "match"),
    [
        ({}, r"algorithm\.crpo is missing.*\+algorithm\.crpo\.weights\.accuracy=10\.0"),
        (AlgoConfig(), r"algorithm\.crpo is missing"),
        ({"crpo": {"aggregation": "sum"}}, r"algorithm\.crpo\.weights is missing.*\+algorithm\.crpo\.weights"),
        ({"crpo": {"weights": {}}}, r"algorithm\.crpo\.weights is empty"),
        ({"crpo": {"weights": [10.0, 1.0]}}, r"algorithm\.crpo\.weights must be a mapping"),
        ({"crpo": {"weights": {"a": 1.0}, "aggregation": "mean"}}, r"aggregation must be one of decoupled, sum"),
        ({"crpo": {"weights": {"a": -1.0}}}, r"weights\.a must be finite and >= 0"),
        ({"crpo": {"weights": {"a": float("nan")}}}, r"weights\.a must be finite"),
        ({"crpo": {"weights": {"a": float("inf")}}}, r"weights\.a must be finite"),
        ({"crpo": {"weights": {"a": "ten"}}}, r"weights\.a must be a number"),
        ({"crpo": {"weights": {"a": True}}}, r"weights\.a must be a number"),
        ({"crpo": {"weights": {"a": 0.0, "b": 0}}}, r"weights are all zero"),
        ({"crpo": {"weights": {"a": 1.0}, "epsilon": 0.0}}, r"epsilon must be a finite number > 0"),
        ({"crpo": {"weights": {"a": 1.0}, "epsilon": -1e-6}}, r"epsilon must be a finite number > 0"),
        ({"crpo": {"weights": {"a": 1.0}, "epsilon": float("inf")}}, r"epsilon must be a finite number > 0"),
        ({"crpo": {"weights": {"a": 1.0}, "whiten": "yes"}}, r"whiten must be true or false"),
        ({"crpo": {"weights": {"a": 1.0}, "whiten": 1}}, r"whiten must be true or false"),
        ({"crpo": {"weights": {"a": 1.0}}, "norm_adv_by_std_in_grpo": "no"}, r"norm_adv_by_std_in_grpo must be"),
        ({"crpo": {"weights": {"a": 1.0}, "aggregate": "sum"}}, r"unknown key\(s\) under algorithm\.crpo: aggregate"),
        ({"crpo": "decoupled"}, r"algorithm\.crpo must be a mapping"),
    ],
)
def test_invalid_algorithm_config_says_what_to_change(algorithm, match):
    with pytest.raises(ValueError, match=match):
        CRPOConfig.from_algorithm_config(algorithm)


def test_estimator_without_config_or_scores_says_what_to_change():
    mask = torch.ones(2, 2, dtype=torch.int64)
    with pytest.raises(ValueError, match=r"needs the algorithm config.*algorithm\.crpo\.weights"):
        compute_crpo_outcome_advantage(torch.zeros(2, 2), mask, ["a", "a"], config=None, non_tensor_batch={})
    with pytest.raises(ValueError, match=r"per-objective scores.*trainer integration"):
        compute_crpo_outcome_advantage(torch.zeros(2, 2), mask, ["a", "a"], config=algo_config())
    with pytest.raises(ValueError, match=r"index has 3 group labels for 2 samples"):
        compute_crpo_outcome_advantage(
            torch.zeros(2, 2), mask, ["a", "a", "b"], config=algo_config(), non_tensor_batch={}
        )


@pytest.mark.parametrize(
    ("values", "match"),
    [
        (None, r"objective 'accuracy' is missing.*available: \['faithfulness'\]"),
        (np.array([1.0, 0.0]), r"objective 'accuracy' must hold one score per sample \(3\)"),
        (np.array([[1.0, 0.0, 1.0]]), r"objective 'accuracy' must hold one score per sample"),
        (np.array([1.0, "high", 0.0], dtype=object), r"objective 'accuracy' holds a non-numeric score at sample 1"),
        (np.array([1.0, 0.0, None], dtype=object), r"objective 'accuracy' holds a non-numeric score at sample 2"),
        (np.array(["1.0", "0", "1"]), r"objective 'accuracy' holds a non-numeric score at sample 0"),
        (np.array([1.0, np.nan, 0.0]), r"objective 'accuracy' has a non-finite score at sample 1: nan"),
        (np.array([1.0, 0.0, -np.inf], dtype=object), r"objective 'accuracy' has a non-finite score at sample 2"),
    ],
)
def test_bad_objective_scores_name_the_objective_and_sample(values, match):
    batch = {"faithfulness": np.zeros(3)}
    if values is not None:
        batch["accuracy"] = values
    with pytest.raises(ValueError, match=match):
        objective_scores(batch, ["faithfulness", "accuracy"], 3, "cpu")


def test_objective_scores_accept_numbers_of_every_kind():
    # Reward functions return Python floats, bools (pass/fail) or 0-d numpy / torch values.
    batch = {"a": np.array([1, True, np.float32(0.5), torch.tensor(0.25)], dtype=object), "b": [0, 1, 2, 3]}
    got = objective_scores(batch, ["a", "b"], 4, "cpu")
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, torch.tensor([[1.0, 1.0, 0.5, 0.25], [0.0, 1.0, 2.0, 3.0]]))


# --- metrics ------------------------------------------------------------------------------------------


def test_step_metrics_on_a_hand_computed_batch():
    # Groups: g0 = samples 0-2, g1 = samples 3-4, g2 = sample 5 (a single sample: not counted as a group).
    # accuracy  g0 [1, 1, 1] constant, g1 [1, 0] -> N = +-0.5 (no std division), g2 [0] -> N = 0.
    # format    g0 [1, 0, 0] -> mean 1/3, N = [2/3, -1/3, -1/3]; g1 [1, 1] constant; g2 [1] -> N = 1.
    cfg = CRPOConfig(weights={"accuracy": 10.0, "format": 1.0}, whiten=False, norm_by_std=False)
    scores = torch.tensor([[1.0, 1.0, 1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 1.0, 1.0, 1.0]])
    index = ["g0", "g0", "g0", "g1", "g1", "g2"]
    scalars, normalized = crpo_scalar_advantage(scores, index, None, cfg)
    torch.testing.assert_close(scalars, torch.tensor([2 / 3, -1 / 3, -1 / 3, 5.0, -5.0, 1.0]))
    metrics = crpo_step_metrics(scores, normalized, index, cfg)
    accuracy_mag = 10 * (0.5 + 0.5) / 6  # mean |w N| over the 6 samples
    format_mag = (2 / 3 + 1 / 3 + 1 / 3 + 1) / 6
    expected = {
        "crpo/accuracy/mean": 4 / 6,
        "crpo/accuracy/constant_group_frac": 1 / 2,  # g0 of {g0, g1}
        "crpo/accuracy/adv_share": accuracy_mag / (accuracy_mag + format_mag),
        "crpo/format/mean": 4 / 6,
        "crpo/format/constant_group_frac": 1 / 2,  # g1 of {g0, g1}
        "crpo/format/adv_share": format_mag / (accuracy_mag + format_mag),
        "crpo/no_signal_group_frac": 0.0,  # g0 moves with format, g1 with accuracy
    }
    assert metrics.keys() == expected.keys()
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, abs=1e-6), key


def test_step_metrics_sum_aggregation_and_no_signal_groups():
    # sum: N_k = r_k - mean_g(r_k) (norm off); both groups of two; g1 all-constant -> no signal.
    cfg = CRPOConfig(weights={"accuracy": 3.0, "format": 1.0}, aggregation="sum", whiten=False, norm_by_std=False)
    scores = torch.tensor([[1.0, 0.0, 1.0, 1.0], [0.0, 1.0, 1.0, 1.0]])
    index = [0, 0, 1, 1]
    scalars, normalized = crpo_scalar_advantage(scores, index, None, cfg)
    torch.testing.assert_close(scalars, torch.tensor([1.0, -1.0, 0.0, 0.0]))  # totals 3, 1 -> +-1
    metrics = crpo_step_metrics(scores, normalized, index, cfg)
    # |3 * +-0.5| = 1.5 on 2 of 4 samples vs |1 * -+0.5| = 0.5 on 2 of 4: shares 0.75 / 0.25.
    assert metrics["crpo/accuracy/adv_share"] == pytest.approx(0.75)
    assert metrics["crpo/format/adv_share"] == pytest.approx(0.25)
    assert metrics["crpo/no_signal_group_frac"] == pytest.approx(0.5)
