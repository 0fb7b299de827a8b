"""The built-in demo sample: hand-written clinical vignettes, each with one model-style response.

The vignettes are our own (not MedQA or MedMCQA items). Each response shows one quality the
reward must tell apart: grounded and complete, correct without distractor reasoning, hedging,
invented patient data, copied case text, a wrong answer well argued, no tags.
"""

from __future__ import annotations

import json
from importlib import resources

__all__ = ["load_demo_samples"]


def load_demo_samples() -> list[dict]:
    """Read ``verl_crpo/samples/clinical_demo.json``.

    Returns:
        One dict per item: ``label``, ``data_source``, ``ground_truth``, ``extra_info``
        (``question``, ``options``, ``split``, ``index``) and ``response``.

    Example:
        >>> samples = load_demo_samples()
        >>> sorted(samples[0]) == ["data_source", "extra_info", "ground_truth", "label", "response"]
        True
    """
    text = resources.files("verl_crpo").joinpath("samples", "clinical_demo.json").read_text(encoding="utf-8")
    return json.loads(text)
