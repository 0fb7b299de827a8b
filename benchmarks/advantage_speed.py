"""Speed and memory of the ``crpo`` advantage estimator next to verl's ``grpo``, ``grpo_vectorized`` and ``gdpo``.

Inputs are what verl passes: ``response_mask`` int64 with left-aligned valid tokens of random
length (1..``--length``), ``uid`` uuid strings in an object array, groups of ``--group-size``, one
float64 array per objective in ``non_tensor_batch`` (``gdpo`` also gets ``prompts`` and
``attention_mask``).

Time: one fresh process per batch size builds the inputs, makes ``--warmup`` untimed calls of each
estimator, then ``--repeats`` rounds in which every estimator is called once (round-robin, so that
load from other processes on a shared machine hits all estimators alike); the median is reported.

Memory: one more fresh process per (size, estimator) makes a single call. On CPU the column is the
process's peak resident set size during the call (``VmHWM``, reset to the current RSS just before
the call through ``/proc/self/clear_refs``) minus its RSS before the call: the extra memory the
call needed at its worst, output and temporaries included. On CUDA it is
``torch.cuda.max_memory_allocated`` minus the memory allocated before the call.

``grpo`` and ``grpo_vectorized`` get the weighted objective total at the last valid token of
``token_level_rewards`` (their cost does not depend on which scalar); ``gdpo`` and ``crpo`` get the
objectives. Ratios are relative to ``grpo_vectorized`` at the same size.

Usage:
    python benchmarks/advantage_speed.py                       # 2,560 and 20,480 samples x 4,096 tokens
    python benchmarks/advantage_speed.py --skip-slow --repeats 3
    python benchmarks/advantage_speed.py --device cuda
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import uuid

CASES = {
    "grpo": "verl grpo (loop), weighted total",
    "grpo_vectorized": "verl grpo_vectorized, weighted total",
    "gdpo": "verl gdpo, K objectives",
    "crpo_decoupled": "crpo decoupled + whiten",
    "crpo_sum": "crpo sum, no whiten",
}
SLOW_CASES = ("grpo", "gdpo")  # Python loops over samples in verl
WEIGHTS = (10.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
PROMPT_LENGTH = 16  # gdpo only reads prompts.size(1) and the response part of the attention mask


def build_inputs(batch_size: int, length: int, objectives: int, group_size: int, device: str, seed: int = 0):
    import numpy as np
    import torch

    rng = np.random.default_rng(seed)
    names = ["accuracy", "faithfulness", "comprehensiveness", "format", "o5", "o6", "o7", "o8"][:objectives]
    weights = dict(zip(names, WEIGHTS, strict=False))
    groups = -(-batch_size // group_size)
    uids = np.array([str(uuid.UUID(int=int(rng.integers(1 << 62)))) for _ in range(groups)], dtype=object)
    index = np.repeat(uids, group_size)[:batch_size]
    lengths = torch.from_numpy(rng.integers(1, length + 1, size=batch_size)).to(device)
    mask = (torch.arange(length, device=device).unsqueeze(0) < lengths.unsqueeze(1)).to(torch.int64)
    non_tensor = {"uid": index}
    for k, name in enumerate(names):
        non_tensor[name] = rng.integers(0, 2, size=batch_size).astype(np.float64) if k == 0 else rng.random(batch_size)
    total = sum(w * torch.from_numpy(non_tensor[n]).float() for n, w in weights.items()).to(device)
    return names, weights, index, mask, lengths, non_tensor, total


def make_calls(args: argparse.Namespace, cases: list[str]) -> dict:
    """Build the inputs once and return ``{case: zero-argument call}`` for the requested cases."""
    import torch
    from omegaconf import OmegaConf
    from verl.trainer.ppo import core_algos

    from verl_crpo import advantage  # registers "crpo"

    device = args.device
    names, weights, index, mask, lengths, non_tensor, total = build_inputs(
        args.batch_size, args.length, args.objectives, args.group_size, device
    )
    zeros = torch.zeros(mask.shape, dtype=torch.float32, device=device)
    calls = {}
    if {"grpo", "grpo_vectorized"} & set(cases):
        rewards = torch.zeros(mask.shape, dtype=torch.float32, device=device)
        rewards[torch.arange(args.batch_size, device=device), lengths - 1] = total
        for case in ("grpo", "grpo_vectorized"):
            fn = core_algos.get_adv_estimator_fn(case)
            calls[case] = lambda fn=fn: fn(token_level_rewards=rewards, response_mask=mask, index=index)
    if "gdpo" in cases:
        batch = {
            "prompts": torch.zeros(args.batch_size, PROMPT_LENGTH, dtype=torch.int64, device=device),
            "attention_mask": torch.cat(
                [torch.ones(args.batch_size, PROMPT_LENGTH, dtype=torch.int64, device=device), mask], dim=1
            ),
        }
        gdpo_config = {"gdpo_reward_keys": names, "gdpo_reward_weights": list(weights.values())}
        calls["gdpo"] = lambda: core_algos.compute_gdpo_outcome_advantage(
            token_level_rewards=zeros,
            response_mask=mask,
            index=index,
            config=gdpo_config,
            non_tensor_batch=non_tensor,
            batch=batch,
        )
    crpo = core_algos.get_adv_estimator_fn("crpo")
    if crpo is not advantage.compute_crpo_outcome_advantage:
        raise RuntimeError("verl's registry does not hold verl_crpo's crpo estimator")
    for case, (aggregation, whiten) in {"crpo_decoupled": ("decoupled", True), "crpo_sum": ("sum", False)}.items():
        config = OmegaConf.create(
            {
                "norm_adv_by_std_in_grpo": True,
                "crpo": {"weights": weights, "aggregation": aggregation, "whiten": whiten},
            }
        )
        calls[case] = lambda config=config: crpo(
            token_level_rewards=zeros, response_mask=mask, index=index, config=config, non_tensor_batch=non_tensor
        )
    return {case: calls[case] for case in cases}


def child(args: argparse.Namespace) -> dict:
    """One fresh process. Timing: all cases, interleaved. Memory: exactly one case."""
    import numpy as np
    import torch

    torch.manual_seed(0)
    if args.threads:
        torch.set_num_threads(args.threads)
    cases = args.child_cases
    calls = make_calls(args, cases)
    cuda = args.device.startswith("cuda")

    def run(call):
        out = call()
        if cuda:
            torch.cuda.synchronize()
        del out

    if args.child_mode == "memory":
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        base_rss = _reset_peak_rss()
        run(calls[cases[0]])
        if cuda:
            return {"peak_mb": (torch.cuda.max_memory_allocated() - base) / 2**20}
        return {"peak_mb": (_peak_rss() - base_rss) / 2**20}

    for call in calls.values():
        for _ in range(args.warmup):
            run(call)
    # Round-robin, so that a neighbour's load on a shared machine hits every case alike.
    times = {case: [] for case in cases}
    for _ in range(args.repeats):
        for case, call in calls.items():
            start = time.perf_counter()
            run(call)
            times[case].append(time.perf_counter() - start)
    return {
        case: {"median_ms": float(np.median(t)) * 1e3, "times_ms": [x * 1e3 for x in t]} for case, t in times.items()
    }


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak_rss() -> int:
    """Reset the kernel's peak-RSS mark to the current RSS (Linux >= 4.0); return the RSS in bytes.

    Without the reset, ``ru_maxrss`` keeps the peak of building the inputs and hides a call's
    memory below it; where the reset is unavailable, fall back to that (under-counting) measure.
    """
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return _status_kib("VmRSS") * 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _peak_rss() -> int:
    try:
        return _status_kib("VmHWM") * 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def spawn(args: argparse.Namespace, size: int, mode: str, cases: list[str]) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child-mode", mode, "--batch-size", str(size)]
    cmd += ["--child-cases", *cases]
    for flag in ("length", "objectives", "group_size", "repeats", "warmup", "device", "threads"):
        cmd += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"{mode} run of {cases} at {size} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[2560, 20480], help="batch sizes (samples)")
    parser.add_argument("--length", type=int, default=4096, help="response length in tokens (default 4096)")
    parser.add_argument("--objectives", type=int, default=3, help="number of objectives K (1-8, default 3)")
    parser.add_argument("--group-size", type=int, default=5, help="samples per uid group (default 5)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per case; the median is reported")
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls before timing")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch CPU threads per case (default 0: torch's default)"
    )
    parser.add_argument(
        "--cases", nargs="+", choices=list(CASES), default=list(CASES), help="estimators to run (default all)"
    )
    parser.add_argument(
        "--skip-slow",
        action="store_true",
        help=f"skip verl's loop-based {' and '.join(SLOW_CASES)} above --slow-limit samples",
    )
    parser.add_argument("--slow-limit", type=int, default=5000, help="size above which --skip-slow applies")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--no-memory", action="store_true", help="skip the per-case memory runs")
    parser.add_argument("--child-mode", choices=["time", "memory"], help=argparse.SUPPRESS)
    parser.add_argument("--child-cases", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child_mode:
        print(json.dumps(child(args)))
        return
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            parser.error("--device cuda: CUDA is not available")

    results = []
    for size in args.sizes:
        cases = [c for c in args.cases if not (args.skip_slow and c in SLOW_CASES and size > args.slow_limit)]
        timed = spawn(args, size, "time", cases)
        for case in args.cases:
            if case not in cases:
                results.append({"size": size, "case": case, "skipped": True})
                continue
            row = {"size": size, "case": case, **timed[case]}
            if not args.no_memory:
                row.update(spawn(args, size, "memory", [case]))
            results.append(row)
            print(f"  {size:>6} {case:<16} {row['median_ms']:10.1f} ms", file=sys.stderr, flush=True)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"\n{args.objectives} objectives, group size {args.group_size}, {args.length} tokens, device {args.device}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}, "
        f"median of {args.repeats} after {args.warmup} warm-up"
    )
    mem_label = "peak MiB (CUDA alloc)" if args.device.startswith("cuda") else "peak RSS +MiB"
    print(f"{'samples':>8}  {'estimator':<38} {'median ms':>10} {'x grpo_vec':>10} {mem_label:>22}")
    for size in args.sizes:
        base = next((r["median_ms"] for r in results if r["size"] == size and r["case"] == "grpo_vectorized"), None)
        for r in (r for r in results if r["size"] == size):
            if r.get("skipped"):
                print(f"{size:>8}  {CASES[r['case']]:<38} {'skipped':>10}")
                continue
            ratio = f"{r['median_ms'] / base:.2f}" if base else "-"
            peak = f"{r['peak_mb']:.0f}" if "peak_mb" in r else "-"
            print(f"{size:>8}  {CASES[r['case']]:<38} {r['median_ms']:>10.1f} {ratio:>10} {peak:>22}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
