"""The end-to-end demo: tiny model, synthetic cases, cold start, then each arm through ``main_ppo``.

Pipeline (:func:`run_demo`):

1. :func:`verl_crpo.tiny.build_tiny_model` builds (or reuses) the tiny Qwen2 and its tokenizer.
2. :mod:`verl_crpo.data` generates disjoint sets of cases: cold-start chats, RL prompts, validation prompts.
3. :func:`verl_crpo.coldstart.cold_start` fine-tunes on a mixture of answer habits
   (:data:`DEFAULT_HABITS`: complete analyses, bare answers, analyses that ignore the distractors,
   analyses that cite nothing), so that RL starts with room to learn; cached.
4. For each arm (:data:`ARMS`; by default the paper's baseline, GRPO on accuracy alone, then CRPO),
   from the same cold start, seed, data and steps: ``python -m verl.trainer.main_ppo`` runs the
   ``recipes/cpu_tiny`` recipe under ``VERL_PLATFORM=cpu`` in a child process (its own session,
   killed with its Ray processes on timeout), validating greedily before training and after every
   step; verl's file logger writes every metric as JSON lines.
5. :func:`summarize` turns each arm's logged metrics into ``summary.json``; :func:`plot_curves`
   draws one PNG per objective with every arm's curve.

Progress goes to an ``on_event(stage, done, total)`` callback; the CLI draws it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verl_crpo.coldstart import ColdStartConfig, cold_start
from verl_crpo.data import DATA_SOURCE, generate_cases, write_rl_parquet
from verl_crpo.data.cases import HABITS, reference_response
from verl_crpo.tiny import TinyModelSpec, build_tiny_model, default_cache_dir

__all__ = [
    "ARMS",
    "DEFAULT_ARMS",
    "DEFAULT_HABITS",
    "DEMO_OBJECTIVES",
    "Arm",
    "DemoConfig",
    "find_recipe_dir",
    "main_ppo_command",
    "plot_curves",
    "run_demo",
    "summarize",
    "weight_overrides",
]

logger = logging.getLogger(__name__)

DEMO_OBJECTIVES = ("accuracy", "faithfulness", "comprehensiveness", "format")
RECIPE_NAME = "cpu_tiny"
# Case seeds: one per set, so cold-start, RL and validation cases never coincide by construction.
_SEEDS = {"sft": 1, "train": 2, "val": 3}


@dataclass(frozen=True)
class Arm:
    """One arm of the comparison: an estimator and the objective weights of its reward.

    ``weights``: ``(objective, weight)`` pairs that replace the recipe's (``None``: the recipe's own,
    accuracy 10, faithfulness 1, comprehensiveness 1).
    """

    estimator: str
    weights: tuple[tuple[str, float], ...] | None
    description: str


ARMS: dict[str, Arm] = {
    "grpo_accuracy_only": Arm(
        "grpo",
        (("accuracy", 1.0), ("faithfulness", 0.0), ("comprehensiveness", 0.0)),
        "the paper's baseline: GRPO on accuracy alone (recipes/crpo/config/grpo_accuracy_baseline.yaml)",
    ),
    "crpo": Arm("crpo", None, "CRPO on the recipe's weights"),
    "grpo_total": Arm("grpo", None, "GRPO on CRPO's weighted reward: what the estimator alone adds"),
}
DEFAULT_ARMS = ("grpo_accuracy_only", "crpo")
# The cold start's mixture of answer habits (verl_crpo.data.cases.HABITS). Our choice, so that
# faithfulness and comprehensiveness start well below their maximum while the format is right:
# a complete analysis scores 1.0 on both, a bare answer about 0.25 and 0.0, an analysis of the
# answer alone 1.0 and about 0.2, one that weighs every option but cites nothing about 0.8 and 1.0.
DEFAULT_HABITS = (("complete", 0.2), ("answer_only", 0.3), ("no_distractors", 0.2), ("uncited", 0.3))

Event = Callable[[str, int, int], None]


@dataclass(frozen=True)
class DemoConfig:
    """Settings of one demo run.

    Attributes:
        arms: the arms to run, in order (names of :data:`ARMS`), each from the same cold start.
        steps: RL steps through ``main_ppo``, per arm.
        seed: the RL data order and rollout sampling seed (``data.seed``, ``actor_rollout_ref.rollout.seed``).
        out_dir: where the data, ``summary.json`` and curves go; each arm's logs go to ``<out_dir>/<arm>``.
        cold_start: the supervised warm-up (see :class:`~verl_crpo.coldstart.ColdStartConfig`).
        habits: the cold start's mixture of answer habits, ``(habit, weight)`` pairs (:data:`DEFAULT_HABITS`).
        sft_cases, train_cases, val_cases: how many cases each set holds.
        model: the tiny model's shape.
        cache_dir: where the tiny model and cold-started checkpoints are cached.
        timeout_s: each arm's ``main_ppo`` run is killed (with its Ray processes) after this long.
        overrides: extra hydra overrides for ``main_ppo``.
    """

    arms: tuple[str, ...] = DEFAULT_ARMS
    steps: int = 15
    seed: int = 0
    out_dir: str = "crpo_demo"
    cold_start: ColdStartConfig = field(default_factory=lambda: ColdStartConfig(steps=600))
    habits: tuple[tuple[str, float], ...] = DEFAULT_HABITS
    sft_cases: int = 2000
    train_cases: int = 256
    val_cases: int = 32
    model: TinyModelSpec = field(default_factory=TinyModelSpec)
    cache_dir: str | None = None
    timeout_s: float = 1200.0
    overrides: tuple[str, ...] = ()

    def __post_init__(self):
        unknown = [arm for arm in self.arms if arm not in ARMS]
        if not self.arms or unknown or len(set(self.arms)) != len(self.arms):
            raise ValueError(f"arms must be distinct names among {tuple(ARMS)}, got {self.arms!r}")
        bad = [(h, w) for h, w in self.habits if h not in HABITS or not w >= 0]
        if bad or not sum(w for _, w in self.habits) > 0:
            raise ValueError(
                f"habits must be (habit, weight >= 0) pairs with habits among {HABITS}, got {self.habits!r}"
            )
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")


def find_recipe_dir() -> Path:
    """The ``recipes/cpu_tiny/config`` folder of this checkout.

    Raises:
        ValueError: when verl-crpo is not installed from a checkout (the recipes are not packaged).
    """
    candidate = Path(__file__).resolve().parents[1] / "recipes" / RECIPE_NAME / "config"
    if not (candidate / f"{RECIPE_NAME}.yaml").exists():
        raise ValueError(
            f"recipe {RECIPE_NAME} not found at {candidate}: install verl-crpo from a checkout "
            "(pip install -e /path/to/verl-crpo) so that its recipes/ folder is present"
        )
    return candidate


def main_ppo_command(
    model_dir: str,
    train_file: str,
    val_file: str,
    estimator: str,
    steps: int,
    out_dir: str,
    overrides: Sequence[str] = (),
    name: str | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The ``main_ppo`` command line and environment of one CPU run of the ``cpu_tiny`` recipe.

    Returns:
        ``(argv, env)``: ``env`` is this process's environment plus ``VERL_PLATFORM=cpu`` (the CPU
        backend's switch) and ``VERL_FILE_LOGGER_PATH=<out_dir>/metrics.jsonl``.
    """
    argv = [
        sys.executable,
        "-m",
        "verl.trainer.main_ppo",
        f"--config-path={find_recipe_dir()}",
        f"--config-name={RECIPE_NAME}",
        f"algorithm.adv_estimator={estimator}",
        f"actor_rollout_ref.model.path={model_dir}",
        f"data.train_files={train_file}",
        f"data.val_files={val_file}",
        f"trainer.total_training_steps={steps}",
        f"trainer.default_local_dir={Path(out_dir) / 'checkpoints'}",
        f"trainer.experiment_name={name or estimator}_cpu_tiny",
        f"hydra.run.dir={Path(out_dir) / 'hydra'}",  # not ./outputs of whatever folder we run from
        *overrides,
    ]
    env = {
        **os.environ,
        "VERL_PLATFORM": "cpu",
        "VERL_FILE_LOGGER_PATH": str(Path(out_dir) / "metrics.jsonl"),
        "RAY_DEDUP_LOGS": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    return argv, env


class _MemoryWatch(threading.Thread):
    """Samples the resident memory of a process tree (this process, the child and all its descendants)."""

    def __init__(self, root_pid: int, interval_s: float = 0.5):
        super().__init__(daemon=True)
        self.root_pid, self.interval_s = root_pid, interval_s
        self.peak_bytes = 0
        self._halt = threading.Event()

    def run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._halt.is_set():
            total = 0
            try:
                procs = [me, *me.children(recursive=True)]
            except psutil.Error:
                procs = [me]
            for proc in procs:
                with contextlib.suppress(psutil.Error):  # a process that just exited
                    total += proc.memory_info().rss
            self.peak_bytes = max(self.peak_bytes, total)
            self._halt.wait(self.interval_s)

    def stop(self) -> float:
        self._halt.set()
        self.join(timeout=5)
        return self.peak_bytes / 2**30


def _read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:  # a line being written
            continue
    return records


def _cold_start_dir(config: DemoConfig, cache: Path) -> Path:
    import hashlib

    key = json.dumps(
        [config.model.digest(), dataclasses.asdict(config.cold_start), config.sft_cases, _SEEDS["sft"], config.habits],
        sort_keys=True,
    )
    return cache / f"coldstart-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def habit_responses(cases: Sequence, habits: Sequence[tuple[str, float]], seed: int) -> list[str]:
    """One reference response per case, its habit drawn from the ``(habit, weight)`` mixture (seeded)."""
    import random

    rng = random.Random(seed)
    names = [habit for habit, _ in habits]
    drawn = rng.choices(names, [weight for _, weight in habits], k=len(cases))
    return [reference_response(case, habit) for case, habit in zip(cases, drawn, strict=True)]


def _cold_started(config: DemoConfig, base_model: str, cache: Path, event: Event) -> Path:
    sft_dir = _cold_start_dir(config, cache)
    total = config.cold_start.steps
    if (sft_dir / "config.json").exists():
        logger.info("reusing the cold-started model in %s", sft_dir)
        event("cold start", total, total)
        return sft_dir
    cases = generate_cases(config.sft_cases, seed=_SEEDS["sft"])
    responses = habit_responses(cases, config.habits, config.cold_start.seed)
    tmp = sft_dir.with_name(sft_dir.name + f".tmp{os.getpid()}")
    cold_start(
        base_model,
        str(tmp),
        cases,
        config.cold_start,
        on_step=lambda step, loss: event("cold start", step, total),
        responses=responses,
    )
    os.replace(tmp, sft_dir)
    return sft_dir


def weight_overrides(name: str) -> list[str]:
    """The hydra overrides that give arm ``name`` its reward weights (none for the recipe's own)."""
    return [f"algorithm.crpo.weights.{objective}={weight}" for objective, weight in ARMS[name].weights or ()]


def _arm_overrides(name: str, config: DemoConfig) -> list[str]:
    return [
        "trainer.val_before_train=true",
        "trainer.test_freq=1",
        # The trained actor, in Hugging Face format, for `verl-crpo generate` / `evaluate`.
        f"trainer.save_freq={config.steps}",
        "trainer.resume_mode=disable",
        "actor_rollout_ref.actor.checkpoint.save_contents=[hf_model]",
        f"data.seed={config.seed}",
        f"actor_rollout_ref.rollout.seed={config.seed}",
        *weight_overrides(name),
        *config.overrides,
    ]


def _run_main_ppo(argv: list[str], env: dict[str, str], out: Path, config: DemoConfig, stage: str, event: Event):
    """Run one arm's main_ppo; returns the peak memory (GB) of the whole process tree."""
    log_path, metrics_path = out / "main_ppo.log", out / "metrics.jsonl"
    event(stage, 0, config.steps)
    watch = _MemoryWatch(os.getpid())
    watch.start()
    with open(log_path, "wb") as log:
        child = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + config.timeout_s
        try:
            while child.poll() is None:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"main_ppo did not finish within {config.timeout_s:.0f}s (killed); see {log_path}"
                    )
                steps_done = sum(1 for r in _read_metrics(metrics_path) if "timing_s/step" in r["data"])
                event(stage, min(steps_done, config.steps), config.steps)
                time.sleep(1.0)
        finally:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)  # the session holds main_ppo and the Ray cluster it started
                child.wait()
            peak_gb = watch.stop()
    if child.returncode != 0:
        raise RuntimeError(f"main_ppo exited with status {child.returncode}; see {log_path}")
    event(stage, config.steps, config.steps)
    return peak_gb


def _run_arm(name: str, config: DemoConfig, sft_dir: Path, data: tuple[str, str], out: Path, event: Event) -> dict:
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.jsonl").unlink(missing_ok=True)
    checkpoints = out / "checkpoints"
    shutil.rmtree(checkpoints, ignore_errors=True)  # a stale one would be resumed or mistaken for this run's
    arm = ARMS[name]
    argv, env = main_ppo_command(
        str(sft_dir), *data, arm.estimator, config.steps, str(out), _arm_overrides(name, config), name=name
    )
    peak_gb = _run_main_ppo(argv, env, out, config, f"rl:{name}", event)
    summary = summarize(_read_metrics(out / "metrics.jsonl"), arm.estimator)
    summary["description"] = arm.description
    summary["weights"] = dict(arm.weights) if arm.weights else "recipe"
    summary["wall_s"] = round(time.perf_counter() - start, 1)
    summary["peak_rss_gb"] = round(peak_gb, 2)
    summary["files"] = {
        "log": str(out / "main_ppo.log"),
        "metrics": str(out / "metrics.jsonl"),
        "model": _export_trained_model(checkpoints, config.steps, out / "model"),
    }
    return summary


def run_demo(config: DemoConfig, on_event: Event | None = None) -> dict[str, Any]:
    """Run the whole pipeline; write ``summary.json`` and the curves into ``config.out_dir``.

    Returns:
        ``{"arms": {name: summary}, "seed", "steps", "habits", "wall_s", "peak_rss_gb", "files"}``,
        each arm's summary as :func:`summarize` returns it plus its ``description``, ``weights``,
        ``wall_s``, ``peak_rss_gb`` and ``files`` (log, metrics, exported model).

    Raises:
        RuntimeError: if ``main_ppo`` fails or times out; the message names its log file.
    """
    event = on_event or (lambda stage, done, total: None)
    start = time.perf_counter()
    out = Path(config.out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(config.cache_dir or default_cache_dir())

    event("model", 0, 1)
    base_model = build_tiny_model(config.model, cache)
    event("model", 1, 1)
    sft_dir = _cold_started(config, base_model, cache, event)

    train_file = write_rl_parquet(
        generate_cases(config.train_cases, seed=_SEEDS["train"]), out / "train.parquet", "train"
    )
    val_file = write_rl_parquet(generate_cases(config.val_cases, seed=_SEEDS["val"]), out / "val.parquet", "test")
    arms = {name: _run_arm(name, config, sft_dir, (train_file, val_file), out / name, event) for name in config.arms}
    summary = {
        "arms": arms,
        "seed": config.seed,
        "steps": config.steps,
        "habits": dict(config.habits),
        "wall_s": round(time.perf_counter() - start, 1),
        "peak_rss_gb": max(arm["peak_rss_gb"] for arm in arms.values()),
        "files": {"cold_start_model": str(sft_dir)},
    }
    summary["files"]["curves"] = plot_curves(summary, out)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _export_trained_model(checkpoints: Path, steps: int, target: Path) -> str | None:
    """Copy the last checkpoint's Hugging Face folder to ``target``; None (logged) if main_ppo saved none."""
    source = checkpoints / f"global_step_{steps}" / "actor" / "huggingface"
    if not (source / "config.json").exists():
        logger.warning("main_ppo saved no Hugging Face model in %s; nothing to evaluate", source)
        return None
    staging = target.with_name(f".{target.name}.tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)
    return str(target)


def _objectives(data: dict[str, Any], data_source: str = DATA_SOURCE) -> dict[str, float | None]:
    found = {}
    for name in DEMO_OBJECTIVES:
        value = data.get(f"val-aux/{data_source}/{name}/mean@1")
        found[name] = None if value is None else float(value)
    return found


def summarize(records: Sequence[dict[str, Any]], estimator: str) -> dict[str, Any]:
    """Per-step figures from verl's logged metrics (file logger records ``{"step", "data"}``).

    ``objectives`` are the greedy validation means after the step (``val-aux/<source>/<objective>/mean@1``,
    logged for every estimator); ``reward_mean`` is the training batch's mean total reward
    (``critic/score/mean``); ``adv_abs_mean`` is ``critic/advantages/abs_mean`` (logged by the CPU
    backend); ``timing_adv_s`` and ``step_s`` are verl's ``timing_s/adv`` and ``timing_s/step``. When the
    trainer logged them (``objectives/<name>/...`` or ``crpo/<name>/...``), a step also carries the training
    batch's ``train_objectives`` and each objective's ``constant_group_frac`` (groups where it gave no
    signal). ``before`` holds the validation before the first step.

    Example:
        >>> records = [{"step": 0, "data": {"val-aux/synthetic_clinical/accuracy/mean@1": 0.25}},
        ...            {"step": 1, "data": {"timing_s/step": 3.0, "timing_s/adv": 0.02, "critic/score/mean": 5.0}}]
        >>> s = summarize(records, "crpo")
        >>> s["before"]["accuracy"], s["steps"][0]["step"], s["steps"][0]["reward_mean"]
        (0.25, 1, 5.0)
    """
    steps, before = [], None
    for record in sorted(records, key=lambda r: r["step"]):
        data = record["data"]
        if "timing_s/step" not in data:
            if any(key.startswith("val-aux/") for key in data):
                before = _objectives(data)
            continue
        row = {
            "step": int(record["step"]),
            "reward_mean": data.get("critic/score/mean"),
            "objectives": _objectives(data),
            "adv_abs_mean": data.get("critic/advantages/abs_mean"),
            "timing_adv_s": data.get("timing_s/adv"),
            "step_s": data.get("timing_s/step"),
        }
        train = {n: data[f"objectives/{n}/mean"] for n in DEMO_OBJECTIVES if f"objectives/{n}/mean" in data}
        if train:
            row["train_objectives"] = train
        constant = {}
        for name in DEMO_OBJECTIVES:
            for key in (f"objectives/{name}/constant_group_frac", f"crpo/{name}/constant_group_frac"):
                if key in data:
                    constant[name] = data[key]
                    break
        if constant:
            row["constant_group_frac"] = constant
        steps.append(row)
    return {"estimator": estimator, "before": before, "steps": steps}


def plot_curves(summary: dict[str, Any], out_dir: str | os.PathLike) -> list[str]:
    """One PNG per objective (greedy validation; step 0 is before training) plus the training reward,
    each with one curve per arm of ``summary["arms"]``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    paths = []
    for name in (*DEMO_OBJECTIVES, "reward_mean"):
        fig, ax = plt.subplots(figsize=(5, 3.2))
        drawn = False
        for arm, run in summary["arms"].items():
            points = _series(run, name)
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=arm)
                drawn = True
        if not drawn:
            plt.close(fig)
            continue
        ax.set_xlabel("step")
        ax.set_ylabel(name)
        ax.set_title("training reward (mean)" if name == "reward_mean" else f"{name} (greedy validation)")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = out / f"{name}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(str(path))
    return paths


def _series(run: dict[str, Any], name: str) -> list[tuple[int, float]]:
    if name == "reward_mean":
        return [(s["step"], s["reward_mean"]) for s in run["steps"] if s["reward_mean"] is not None]
    before = (run.get("before") or {}).get(name)
    points = [] if before is None else [(0, before)]
    return points + [(s["step"], s["objectives"][name]) for s in run["steps"] if s["objectives"][name] is not None]
