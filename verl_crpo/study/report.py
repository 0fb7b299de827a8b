"""The learning-signal study's outputs: a markdown report, two figures and the JSON.

:func:`write_study` writes ``study.json``, ``study.md``, ``trajectories.png`` (every objective's
expected value per step, one panel per objective, mean and a +-1 std band over seeds per arm)
and, when the sweep ran, ``sweep.png`` (final accuracy against final faithfulness and
comprehensiveness for each setting), each atomically, refusing existing files unless
``overwrite``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from verl_crpo.files import atomic_write, atomic_write_text, refuse_existing

__all__ = ["output_paths", "study_markdown", "write_study"]


def _cell(value: dict) -> str:
    return f"{value['mean']:.3f} ± {value['std']:.3f}"


def _steps(value: dict) -> str:
    if value["median"] is None:
        return f"not reached ({value['reached']})"
    return f"{value['median']:.0f} ({value['reached']})"


def study_markdown(result: dict) -> str:
    """Markdown tables: final values, steps to threshold and (when run) the sweep.

    Example:
        >>> r = {"a": {"accuracy": {"mean": 0.9, "std": 0.01},
        ...            "steps_to_threshold": {"accuracy": {"median": 12.0, "reached": "3/3"}}},
        ...      "thresholds": {"accuracy": 0.6}, "sweep": [], "settings": {"objectives": ["accuracy"], "arms": ["a"],
        ...      "cases": 1, "seeds": 3, "steps": 20, "group_size": 5, "candidates_per_case": 40}}
        >>> print(study_markdown(r).splitlines()[4])
        | a | 0.900 ± 0.010 |
    """
    names = result["settings"]["objectives"]
    s = result["settings"]
    lines = [
        f"Final expected value after {s['steps']} steps (mean ± std over {s['seeds']} seeds; "
        f"{s['cases']} cases x {s['candidates_per_case']} candidates, groups of {s['group_size']}):",
        "",
        "| arm | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    arms = result["settings"]["arms"]
    lines += [f"| {arm} | " + " | ".join(_cell(result[arm][n]) for n in names) + " |" for arm in arms]
    lines += [
        "",
        "Steps to reach the threshold (median over the seeds that reached it; seeds reaching it):",
        "",
        "| arm | " + " | ".join(f"{n} ≥ {result['thresholds'][n]:.3f}" for n in names) + " |",
        "|---|" + "---|" * len(names),
    ]
    lines += [
        f"| {arm} | " + " | ".join(_steps(result[arm]["steps_to_threshold"][n]) for n in names) + " |" for arm in arms
    ]
    if result["sweep"]:
        lines += [
            "",
            "Sweep (crpo; faithfulness and comprehensiveness weigh 1):",
            "",
            "| accuracy weight | aggregation | norm_adv_by_std_in_grpo | whiten | " + " | ".join(names) + " |",
            "|---|---|---|---|" + "---|" * len(names),
        ]
        lines += [
            f"| {e['weights']['accuracy']:g} | {e['aggregation']} | {str(e['norm_adv_by_std_in_grpo']).lower()} | "
            f"{str(e['whiten']).lower()} | " + " | ".join(_cell(e["final"][n]) for n in names) + " |"
            for e in result["sweep"]
        ]
    return "\n".join(lines) + "\n"


def _plot_trajectories(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = result["settings"]["objectives"]
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.6), sharex=True)
    for ax, name in zip(axes, names, strict=True):
        for arm in result["settings"]["arms"]:
            curves = result[arm]["trajectory"]
            mean, std = curves[name]["mean"], curves[name]["std"]
            steps = range(len(mean))
            ax.plot(steps, mean, label=arm)
            ax.fill_between(
                steps,
                [m - s for m, s in zip(mean, std, strict=True)],
                [m + s for m, s in zip(mean, std, strict=True)],
                alpha=0.2,
            )
        ax.axhline(result["thresholds"][name], color="grey", lw=0.8, ls=":")
        ax.set_title(name)
        ax.set_xlabel("step")
    axes[0].set_ylabel("expected value under the policy")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)


def _plot_sweep(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharex=True)
    markers = {"decoupled": "o", "sum": "s"}
    colours = {10.0: "tab:red", 3.0: "tab:orange", 1.0: "tab:blue"}
    for ax, name in zip(axes, ("faithfulness", "comprehensiveness"), strict=True):
        for e in result["sweep"]:
            weight = e["weights"]["accuracy"]
            colour = colours.get(weight, "black")
            filled = e["norm_adv_by_std_in_grpo"]
            ax.scatter(
                e["final"]["accuracy"]["mean"],
                e["final"][name]["mean"],
                marker=markers[e["aggregation"]],
                facecolors=colour if filled else "none",
                edgecolors=colour,
                s=70 if e["whiten"] else 25,
                label=f"acc w={weight:g}, {e['aggregation']}, {'std' if filled else 'no std'}"
                + ("" if e["whiten"] else ", no whiten"),
            )
        ax.set_xlabel("final accuracy")
        ax.set_ylabel(f"final {name}")
    axes[1].legend(fontsize=6, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle("crpo settings: the accuracy / reasoning trade-off (mean over seeds; small markers: whiten false)")
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)


def output_paths(out_dir: str | os.PathLike | None, json_path: str | os.PathLike | None, sweep: bool) -> list[Path]:
    """The files :func:`write_study` writes for these arguments (``sweep.png`` only when the sweep ran).

    Example:
        >>> [p.name for p in output_paths("out", None, sweep=False)]
        ['study.json', 'study.md', 'trajectories.png']
    """
    targets = []
    if out_dir is not None:
        out = Path(out_dir)
        targets += [out / "study.json", out / "study.md", out / "trajectories.png"]
        targets += [out / "sweep.png"] if sweep else []
    if json_path is not None:
        targets.append(Path(json_path))
    return targets


def write_study(
    result: dict,
    out_dir: str | os.PathLike | None = None,
    json_path: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> list[str]:
    """Write the study's files (see the module docstring); return the paths written.

    Raises:
        ValueError: if an output exists and ``overwrite`` is false (nothing is written then).
    """
    targets = output_paths(out_dir, json_path, sweep=bool(result["sweep"]))
    refuse_existing(targets, overwrite)
    text = json.dumps(result, indent=1)
    written = []
    for target in targets:
        if target.suffix == ".json":
            written.append(atomic_write_text(target, text))
        elif target.name == "study.md":
            written.append(atomic_write_text(target, "# Learning-signal study\n\n" + study_markdown(result)))
        elif target.name == "trajectories.png":
            written.append(atomic_write(target, lambda tmp: _plot_trajectories(result, tmp)))
        else:
            written.append(atomic_write(target, lambda tmp: _plot_sweep(result, tmp)))
    return written
