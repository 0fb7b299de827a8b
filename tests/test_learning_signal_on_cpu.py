"""The learning-signal study: its pools, its use of verl's estimators, and the finding README states."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage

from verl_crpo.cli import main
from verl_crpo.data import generate_cases
from verl_crpo.rewards import OBJECTIVES
from verl_crpo.study import FAST, check_findings, study_markdown, write_study
from verl_crpo.study.candidates import candidate_pool
from verl_crpo.study.training import Arm, score_pools, train

ACC, FMT, FAITH, COMP = (OBJECTIVES.index(n) for n in ("accuracy", "format", "faithfulness", "comprehensiveness"))
RECIPE = {"accuracy": 10.0, "faithfulness": 1.0, "comprehensiveness": 1.0}


@pytest.fixture(scope="module")
def fast_study(tmp_path_factory):
    """`verl-crpo study --fast` run once, as CI runs it; its JSON."""
    out = tmp_path_factory.mktemp("study")
    code = main(["study", "--fast", "--out", str(out)])
    return code, out, json.loads((out / "study.json").read_text())


@pytest.fixture(scope="module")
def pools():
    cases = generate_cases(12, seed=3)
    return cases, score_pools(cases, seed=3)


class TestFinding:
    def test_documented_ordering_holds_over_seeds(self, fast_study):
        # The regression guard of README's reading: crpo beats the accuracy-only baseline on
        # faithfulness and comprehensiveness by > 2 std over seeds, keeps accuracy, and (where it
        # does not help) trails grpo on the weighted total on comprehensiveness.
        code, _, result = fast_study
        assert check_findings(result) == []
        assert code == 0

    def test_json_holds_every_arm_objective_and_trajectory(self, fast_study):
        _, out, result = fast_study
        arms = ["grpo_accuracy_only", "grpo_total", "crpo_decoupled"]
        assert result["settings"]["arms"] == arms
        assert set(result) == {*arms, "thresholds", "sweep", "settings"}
        for arm in arms:
            finals = result[arm]
            assert set(finals) == {*OBJECTIVES, "trajectory", "steps_to_threshold"}
            for name in OBJECTIVES:
                assert set(finals[name]) == {"mean", "std"}
                curve = result[arm]["trajectory"][name]
                assert len(curve["mean"]) == len(curve["std"]) == FAST.steps + 1
                assert curve["mean"][-1] == pytest.approx(finals[name]["mean"], abs=1e-4)
        # Every arm starts from the same uniform policy over the same pools.
        starts = {arm: result[arm]["trajectory"]["accuracy"]["mean"][0] for arm in arms}
        assert len(set(starts.values())) == 1
        assert {p.name for p in out.iterdir()} == {"study.json", "study.md", "trajectories.png"}
        assert (out / "trajectories.png").read_bytes()[:4] == b"\x89PNG"

    def test_broken_ordering_is_reported(self, fast_study):
        _, _, result = fast_study
        swapped = json.loads(json.dumps(result))
        swapped["crpo_decoupled"], swapped["grpo_accuracy_only"] = (
            result["grpo_accuracy_only"],
            result["crpo_decoupled"],
        )
        assert any(line.startswith("faithfulness: crpo_decoupled") for line in check_findings(swapped))
        lower = json.loads(json.dumps(result))
        lower["crpo_decoupled"]["accuracy"]["mean"] -= 0.05
        assert [line.split(":")[0] for line in check_findings(lower)] == ["accuracy"]

    def test_outputs_are_not_overwritten(self, fast_study, tmp_path):
        _, out, result = fast_study
        before = (out / "study.json").read_bytes()
        assert main(["study", "--fast", "--out", str(out)]) == 2  # refused before running
        with pytest.raises(ValueError, match="--overwrite"):
            write_study(result, out_dir=out)
        assert (out / "study.json").read_bytes() == before
        written = write_study(result, json_path=tmp_path / "s.json")
        assert json.loads((tmp_path / "s.json").read_text()) == result and written == [str(tmp_path / "s.json")]
        assert "| crpo_decoupled |" in study_markdown(result)


class TestPools:
    def test_pool_axes_move_the_objectives_they_are_built_for(self, pools):
        # The pools are only useful if the reward sees their axes: a check that the study's
        # candidates differ along the objectives, per case, averaged.
        cases, scores = pools
        meta = [candidate_pool(case, seed=3 + i) for i, case in enumerate(cases)]

        def mean(objective, keep):
            return np.mean(
                [scores[c, k, objective] for c, pool in enumerate(meta) for k, x in enumerate(pool) if keep(x)]
            )

        full = lambda x: x.shape == "full"  # noqa: E731
        assert mean(ACC, lambda x: x.correct and full(x)) == 1.0
        assert mean(ACC, lambda x: not x.correct) == 0.0
        assert mean(FMT, lambda x: x.shape == "malformed") == 0.0
        assert (
            mean(COMP, lambda x: full(x) and x.rejection == "specific")
            > mean(COMP, lambda x: full(x) and x.rejection == "generic") + 0.4
        )
        assert mean(FAITH, lambda x: full(x) and not x.invented) > mean(FAITH, lambda x: full(x) and x.invented) + 0.2
        assert mean(FAITH, lambda x: full(x) and x.grounding == "cited") > mean(
            FAITH, lambda x: full(x) and x.grounding == "vague"
        )

    def test_pools_are_deterministic(self, pools):
        cases, scores = pools
        assert np.array_equal(score_pools(cases[:2], seed=3), scores[:2])
        assert [c.response for c in candidate_pool(cases[0], seed=3)] == [
            c.response for c in candidate_pool(cases[0], seed=3)
        ]


class TestTraining:
    def test_grpo_arm_is_verls_grpo_on_the_weighted_total(self, pools):
        _, scores = pools
        flat = scores[:, :5].reshape(-1, len(OBJECTIVES))
        index = np.repeat([f"case-{c}" for c in range(scores.shape[0])], 5).astype(object)
        total = sum(flat[:, OBJECTIVES.index(n)] * w for n, w in RECIPE.items())
        expected, _ = compute_grpo_outcome_advantage(
            torch.tensor(total, dtype=torch.float32).unsqueeze(-1), torch.ones(len(flat), 1), index
        )
        got = Arm("t", "grpo", RECIPE).advantages(flat, index)
        torch.testing.assert_close(torch.from_numpy(got).float(), expected[:, 0])
        # Our crpo with aggregation sum and no whitening is that same estimator (DESIGN.md section 4).
        crpo_sum = Arm("s", "crpo", RECIPE, aggregation="sum", whiten=False).advantages(flat, index)
        torch.testing.assert_close(torch.from_numpy(crpo_sum).float(), expected[:, 0], atol=1e-5, rtol=1e-5)

    def test_same_seed_same_first_draws_and_reproducible(self, pools):
        _, scores = pools
        arm = Arm("c", "crpo", RECIPE)
        first = train(scores, arm, steps=5, seed=1)
        assert np.array_equal(first, train(scores, arm, steps=5, seed=1))
        assert not np.array_equal(first, train(scores, arm, steps=5, seed=2))

    def test_without_std_decoupled_equals_sum(self, pools):
        # Centering is linear: without the std division, normalising each objective and adding
        # equals normalising the weighted total. The sweep's identical rows come from this.
        _, scores = pools
        a = train(scores, Arm("d", "crpo", RECIPE, norm_by_std=False), steps=10, seed=0)
        b = train(scores, Arm("s", "crpo", RECIPE, aggregation="sum", norm_by_std=False), steps=10, seed=0)
        np.testing.assert_allclose(a, b, atol=1e-6)

    @pytest.mark.parametrize(
        "kwargs, match",
        [({"steps": -1}, "steps"), ({"steps": 1, "group_size": 1}, "group_size"), ({"steps": 1, "lr": 0}, "lr")],
    )
    def test_bad_settings_are_refused(self, pools, kwargs, match):
        with pytest.raises(ValueError, match=match):
            train(pools[1], Arm("a", "grpo", {"accuracy": 1.0}), **kwargs)

    def test_bad_arm_is_refused(self):
        with pytest.raises(ValueError, match="grpo' or our 'crpo"):
            Arm("x", "gae", RECIPE)
        with pytest.raises(ValueError, match="unknown objective"):
            Arm("x", "grpo", {"kindness": 1.0})
