"""Registration through verl's `verl.plugins` entry point, proven in fresh processes.

verl swallows plugin import errors, so these tests never import verl_crpo themselves
before checking: each runs a new interpreter that does only what verl's users do.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

REGISTRIES = (
    "from verl.trainer.ppo.core_algos import ADV_ESTIMATOR_REGISTRY as E; "
    "from verl.experimental.reward_loop.reward_manager.registry import REWARD_MANAGER as R; "
)


def _python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
    )


def test_plain_import_verl_registers_estimator_and_reward_manager():
    result = _python("import verl; " + REGISTRIES + "print(E['crpo'].__module__, R['clinical'].__module__)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["verl_crpo.advantage", "verl_crpo.reward_manager"]


def test_check_command_reports_registration():
    result = subprocess.run(["verl-crpo", "check"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    # The registered objects by their qualified names (the header says "verl-crpo" anyway).
    assert "verl_crpo.advantage.compute_crpo_outcome_advantage" in result.stdout
    assert "verl_crpo.reward_manager.ClinicalRewardManager" in result.stdout


def test_check_command_fails_loudly_when_verl_skips_the_plugin():
    result = subprocess.run(
        ["verl-crpo", "check"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "VERL_USE_EXTERNAL_PLUGINS": "none"},
    )
    assert result.returncode == 1
    assert "did not load the verl-crpo plugin" in result.stdout
    assert "VERL_USE_EXTERNAL_PLUGINS" in result.stdout


def test_registration_is_idempotent():
    # Importing the plugin again (as VERL_USE_EXTERNAL_MODULES would) must not trip verl's duplicate checks.
    result = _python(
        "import importlib, verl, verl_crpo.plugin as p; "
        "importlib.import_module('verl_crpo.plugin'); print(p.registered())",
        VERL_USE_EXTERNAL_MODULES="verl_crpo.plugin",
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.timeout(300)
def test_ray_worker_finds_the_registrations():
    code = (
        "import ray, verl\n"
        "ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)\n"
        "@ray.remote\n"
        "def registered():\n"
        "    import verl\n" + "    " + REGISTRIES + "\n"
        "    return 'crpo' in E, 'clinical' in R\n"
        "print(ray.get(registered.remote()))\n"
        "ray.shutdown()\n"
    )
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "(True, True)"
