"""``compute_score``: the clinical reward as verl's ``custom_reward_function``, and its config.

The returned dict always has the same keys (verl takes the key set from the first sample), all
floats: ``score`` (the weighted sum of the objectives), the four objectives in [0, 1], and these
diagnostics:

* ``num_answers``: how many ``\\boxed`` the response holds (every one counts as an answer).
* ``structure_ok``: 1.0 when the analysis/conclusion structure is recognisable.
* ``findings_cited``: distinct case findings the analysis cites (misread units left out).
* ``copied_fraction``: share of the analysis copied verbatim from the case text, in [0, 1].
* ``invented_findings``: statements about the patient the case does not support.
* ``misread_findings``: analysis units that assert a finding the case denies or deny one it reports.
* ``options_addressed``: options the analysis weighs rightly with a distinctive reason (the gold
  one not rejected, the others not supported; none left open).
* ``consistency``: the consistency term of faithfulness, in [0, 1].
* ``grader_directed``: 1.0 when the response addresses the grader ("full marks").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from verl_crpo.rewards.case import build_case
from verl_crpo.rewards.objectives import consistency, objective_rewards, options_addressed
from verl_crpo.rewards.parsing import parse_response
from verl_crpo.rewards.reading import read
from verl_crpo.weights import validate_weights

__all__ = [
    "DEFAULT_WEIGHTS",
    "DIAGNOSTICS",
    "OBJECTIVES",
    "ClinicalReward",
    "RewardConfig",
    "compute_score",
    "get_clinical_reward",
]

logger = logging.getLogger(__name__)

OBJECTIVES = ("accuracy", "format", "faithfulness", "comprehensiveness")
# A plain dict as the public contract shows (JSON/OmegaConf friendly); RewardConfig copies it.
DEFAULT_WEIGHTS = {"accuracy": 10.0, "faithfulness": 1.0, "comprehensiveness": 1.0, "format": 0.0}
DIAGNOSTICS = (
    "num_answers",
    "structure_ok",
    "findings_cited",
    "copied_fraction",
    "invented_findings",
    "misread_findings",
    "options_addressed",
    "consistency",
    "grader_directed",
)
_CONFIG_KEYS = ("weights", "analysis_tag", "conclusion_tag")
_TAG = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")


@dataclass(frozen=True)
class RewardConfig:
    """How the clinical reward combines its objectives and which tags it expects.

    Attributes:
        weights: read-only mapping over :data:`OBJECTIVES`, finite and non-negative, at least one
            positive. A mapping you pass is the whole weighting: objectives it leaves out weigh 0
            (the same reading as ``algorithm.crpo.weights``). Default :data:`DEFAULT_WEIGHTS`.
        analysis_tag: name of the analysis tag (``dx`` gives ``<dx>...</dx>``).
        conclusion_tag: name of the conclusion tag.

    Example:
        >>> RewardConfig(weights={"accuracy": 1.0}).weights["faithfulness"]
        0.0
        >>> RewardConfig(weights={"acuracy": 1.0})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: unknown objective 'acuracy' in weights; use names from ('accuracy', 'format', ...
    """

    weights: Mapping[str, float] = field(default_factory=lambda: MappingProxyType(dict(DEFAULT_WEIGHTS)))
    analysis_tag: str = "dx"
    conclusion_tag: str = "conclusion"

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", _validate_weights(self.weights))
        for name in ("analysis_tag", "conclusion_tag"):
            tag = getattr(self, name)
            if not isinstance(tag, str) or not _TAG.fullmatch(tag):
                raise ValueError(
                    f"{name} must be a simple identifier (a letter, then letters, digits or _, 32 at most) "
                    f"such as 'dx' or 'think', got {tag!r}"
                )
        if self.analysis_tag == self.conclusion_tag:
            raise ValueError(f"analysis_tag and conclusion_tag must differ, both are {self.analysis_tag!r}")

    def __hash__(self) -> int:
        return hash((tuple(self.weights.items()), self.analysis_tag, self.conclusion_tag))

    def __reduce__(self):
        return (RewardConfig, (dict(self.weights), self.analysis_tag, self.conclusion_tag))

    @classmethod
    def from_kwargs(cls, **reward_kwargs: Any) -> RewardConfig:
        """Build from verl's ``reward_kwargs``: reads weights / analysis_tag / conclusion_tag.

        Other keys are ignored (verl passes extras such as ``reward_router_address``); a
        ``None`` value means the default.

        Raises:
            ValueError: unknown objective names, negative, non-finite or non-numeric weights,
                weights that are not a mapping or all zero, tag names that are not identifiers.

        Example:
            >>> RewardConfig.from_kwargs(weights={"accuracy": 1, "format": 0.5}, analysis_tag="think",
            ...                          conclusion_tag="answer", reward_router_address=None).weights["format"]
            0.5
        """
        given = {key: reward_kwargs[key] for key in _CONFIG_KEYS if reward_kwargs.get(key) is not None}
        return cls(**given)


def _validate_weights(weights: Any) -> Mapping[str, float]:
    # Objectives the mapping leaves out weigh 0, as in algorithm.crpo.weights.
    return MappingProxyType({**dict.fromkeys(OBJECTIVES, 0.0), **validate_weights(weights, "weights", OBJECTIVES)})


_DEFAULT_CONFIG = RewardConfig()


_CONFIG_CACHE: dict[tuple, RewardConfig] = {}
_CONFIG_CACHE_LIMIT = 256


def _config_from(base: RewardConfig, kwargs: Mapping[str, Any]) -> RewardConfig:
    """``base`` with the config keys in ``kwargs`` applied; validated once per distinct value."""
    overrides = {key: kwargs[key] for key in _CONFIG_KEYS if kwargs.get(key) is not None}
    if not overrides:
        return base
    try:
        # Types are part of the key: True == 1.0 must not find 1.0's validated config.
        key = (base, *((name, type(value), _frozen(value)) for name, value in sorted(overrides.items())))
        hash(key)
    except TypeError:
        key = None
    config = _CONFIG_CACHE.get(key) if key is not None else None
    if config is None:
        fields = {"weights": base.weights, "analysis_tag": base.analysis_tag, "conclusion_tag": base.conclusion_tag}
        config = RewardConfig(**{**fields, **overrides})
        if key is not None and len(_CONFIG_CACHE) < _CONFIG_CACHE_LIMIT:
            _CONFIG_CACHE[key] = config
    return config


def _frozen(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple((name, type(item), item) for name, item in value.items())
    return value


def score_with(
    config: RewardConfig, data_source: Any, solution_str: str, ground_truth: Any, extra_info: Any = None
) -> dict[str, float]:
    """Score one response with an already validated ``config`` (see :func:`compute_score`)."""
    case = build_case(data_source, ground_truth, extra_info, need_question=config.weights["faithfulness"] > 0)
    parsed = parse_response(solution_str, config.analysis_tag, config.conclusion_tag)
    a = read(parsed, case)
    objectives = objective_rewards(a)
    result = {"score": sum(config.weights[name] * value for name, value in objectives.items())}
    result.update(objectives)
    result.update(
        num_answers=float(parsed.num_boxes),
        structure_ok=float(parsed.structure_ok),
        findings_cited=float(len(a.findings_cited)),
        copied_fraction=float(a.copied_fraction),
        invented_findings=float(a.invented),
        misread_findings=float(a.misread),
        options_addressed=float(options_addressed(a)) if parsed.structure_ok else 0.0,
        consistency=float(consistency(a)),
        grader_directed=float(a.grader_directed),
    )
    return result


def compute_score(
    data_source: Any, solution_str: str, ground_truth: Any, extra_info: Any = None, **kwargs: Any
) -> dict[str, float]:
    """Score one clinical response; usable as verl's ``custom_reward_function``.

    Args:
        data_source: the row's data source (``medqa``, ...), named in data errors.
        solution_str: the decoded response (untrusted: any string is scored, none crashes).
        ground_truth: the correct option letter.
        extra_info: the row's ``extra_info`` with ``question`` and ``options``.
        **kwargs: ``weights``, ``analysis_tag``, ``conclusion_tag`` (verl's ``reward_kwargs``);
            anything else verl passes is ignored.

    Returns:
        Floats: ``score`` (sum of weight times objective), ``accuracy``, ``format``,
        ``faithfulness``, ``comprehensiveness`` (each in [0, 1]) and the diagnostics listed in
        the module docstring; the same keys for every input.

    Raises:
        ValueError: malformed data (ground truth, options, question) or reward kwargs.

    Example:
        >>> info = {"question": "A 30-year-old man has fever, productive cough and right basal crackles.",
        ...         "options": {"A": "Asthma", "B": "Pneumonia"}, "index": 0}
        >>> response = ("<dx>Fever, productive cough and basal crackles point to pneumonia. Asthma is unlikely: "
        ...             "it causes episodic reversible bronchospasm.</dx><conclusion>Fever with crackles: pneumonia. "
        ...             "Final answer: \\\\boxed{B}</conclusion>")
        >>> r = compute_score("medqa", response, "B", info, reward_router_address=None)
        >>> r["accuracy"], r["format"], r["comprehensiveness"]
        (1.0, 1.0, 1.0)
        >>> r["score"] == 10 * r["accuracy"] + 1 * r["faithfulness"] + 1 * r["comprehensiveness"]
        True
        >>> compute_score("medqa", response, "B", info, weights={"accuracy": 1.0})["score"]
        1.0
    """
    return score_with(_config_from(_DEFAULT_CONFIG, kwargs), data_source, solution_str, ground_truth, extra_info)


@dataclass(frozen=True)
class ClinicalReward:
    """A configured, picklable clinical reward; call it like :func:`compute_score`.

    Config keys passed at call time override the stored config for that call (validated and
    cached), so verl's ``partial(fn, **reward_kwargs)`` wrapping works either way.
    """

    config: RewardConfig = _DEFAULT_CONFIG

    def __call__(
        self, data_source: Any, solution_str: str, ground_truth: Any, extra_info: Any = None, **kwargs: Any
    ) -> dict[str, float]:
        return score_with(_config_from(self.config, kwargs), data_source, solution_str, ground_truth, extra_info)


def get_clinical_reward(**reward_kwargs: Any) -> ClinicalReward:
    """Validate ``reward_kwargs`` once and return a picklable reward with ``compute_score``'s signature.

    A frozen dataclass rather than a closure: closures cannot cross the process boundary to
    verl's reward workers.

    Example:
        >>> import pickle
        >>> reward = get_clinical_reward(weights={"accuracy": 1.0}, analysis_tag="think", conclusion_tag="answer")
        >>> pickle.loads(pickle.dumps(reward)) == reward
        True
    """
    return ClinicalReward(RewardConfig.from_kwargs(**reward_kwargs))
