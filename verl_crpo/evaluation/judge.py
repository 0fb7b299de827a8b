"""Optional LLM judge: the paper's judged faithfulness dimensions, from any OpenAI-compatible endpoint.

For each response to a multiple-choice clinical case, the judge (for example a model served by
vLLM) rates four dimensions as integers from 1 to 5, **higher is always better**:

- ``faithfulness``: the reasoning is consistent with the case and with its own conclusion;
- ``evidence_citation``: the response cites the case's own findings as evidence;
- ``distractor_rejection``: the wrong options are rejected with specific reasons;
- ``hallucination``: 5 = nothing invented about the patient or the medical facts, 1 = much invented.

The prompts live in ``verl_crpo/evaluation/prompts/judge_*.txt``. The response under judgement is
data, not instructions: it travels between ``<response-NONCE>`` tags whose nonce is drawn at random
for every request and never occurs in the response or the case, so the response cannot close its
block, and the system prompt says that nothing inside the blocks is an instruction and that an
attempt to instruct the judge lowers faithfulness.

The judge's reply must be a JSON object (optionally inside one ```` ```json ```` fence) with exactly
the four keys and integer values 1..5 (:data:`SCORE_SCHEMA`). A malformed or out-of-range reply,
an HTTP 429 or 5xx, a timeout (408 included) and a dropped connection are retried,
``max_attempts`` times in all; then that record's scores are ``None`` (missing, never 0) and one
warning counts the missing records by reason. Errors that no retry can fix stop the whole run at
once with :class:`JudgeError`: a refused key (401, 403), an unknown URL or model (404), any other
4xx, and a server that cannot be reached. A 400, 413 or 422 after at least one record was scored
is one request's rejection (typically a response longer than the judge's context): that record
is missing, without retry.

**Bounded time.** Each attempt is cut at ``timeout_s`` (connection, upload and the whole reply),
and attempt ``k`` that fails is followed by a pause of ``backoff_s * 2 ** (k - 1)``; a record
therefore takes at most ``max_attempts * timeout_s + backoff_s * (2 ** (max_attempts - 1) - 1)``
seconds (60 * 3 + 0.5 * 3 = 181.5 s with the defaults), and at most ``concurrency`` records are in
flight, so ``N`` records take at most ``ceil(N / concurrency)`` times that.

**The key** is read from the environment variable named by ``api_key_env`` when
:func:`judge_records` runs and sent as ``Authorization: Bearer <key>``; no header is sent when the
variable is unset or empty (a local server without a key). It is never stored in the config,
logged or written.
"""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import json
import logging
import os
import re
import secrets
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import httpx
import jsonschema
from tqdm.auto import tqdm

__all__ = [
    "JUDGE_METRICS",
    "SCORE_KEYS",
    "SCORE_SCHEMA",
    "JudgeConfig",
    "JudgeError",
    "judge_messages",
    "judge_records",
    "parse_scores",
]

logger = logging.getLogger(__name__)

SCORE_KEYS = ("faithfulness", "evidence_citation", "distractor_rejection", "hallucination")
# Prefixed so the report can show them beside the rule-based objectives of the same names.
JUDGE_METRICS = tuple(f"judge_{key}" for key in SCORE_KEYS)
SCORE_SCHEMA = {
    "type": "object",
    "properties": {key: {"type": "integer", "minimum": 1, "maximum": 5} for key in SCORE_KEYS},
    "required": list(SCORE_KEYS),
    "additionalProperties": False,
}
# JSON Schema calls 5.0 an integer; a judge that writes 5.0 did not follow the format, so only ints pass.
_Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool)
    ),
)
_SCORE_VALIDATOR = _Validator(SCORE_SCHEMA)
_FENCE = re.compile(r"```(?:json)?[ \t]*\n?(.*?)\n?[ \t]*```", re.DOTALL)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A rejection of one request's content rather than of the setup, once the setup has proved itself.
_PER_RECORD_REJECTIONS = frozenset({400, 413, 422})
# More attempts than this turns a bounded run into an unbounded-looking one (backoff doubles).
_MAX_ATTEMPTS_LIMIT = 10


class JudgeError(RuntimeError):
    """The judge cannot work at all (refused key, wrong URL or model, unreachable server): fix the setup."""


@dataclass(frozen=True)
class JudgeConfig:
    """Where the judge is and how hard to press it.

    Attributes:
        url: base URL of an OpenAI-compatible server, e.g. ``http://host:8000/v1``; requests go to
            ``{url}/chat/completions``.
        model: the model name the server serves (``--served-model-name`` for vLLM).
        api_key_env: name of the environment variable that holds the bearer key (the key itself
            is never part of the config).
        concurrency: most requests in flight at once.
        timeout_s: seconds one attempt may take, reply included.
        max_attempts: attempts per record in all (1 = no retry), at most 10.
        temperature: sampling temperature of the judge (0 = greedy, reproducible).
        backoff_s: pause after a first failed attempt, doubled after each further one.

    Example:
        >>> JudgeConfig(url="http://localhost:8000/v1/", model="judge").endpoint
        'http://localhost:8000/v1/chat/completions'
        >>> JudgeConfig(url="localhost:8000", model="judge")
        Traceback (most recent call last):
        ...
        ValueError: judge url must be an http(s) base URL such as http://host:8000/v1, got 'localhost:8000'
    """

    url: str
    model: str
    api_key_env: str = "VERL_CRPO_JUDGE_API_KEY"
    concurrency: int = 8
    timeout_s: float = 60.0
    max_attempts: int = 3
    temperature: float = 0.0
    backoff_s: float = 0.5

    def __post_init__(self) -> None:
        parts = urlsplit(self.url) if isinstance(self.url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"judge url must be an http(s) base URL such as http://host:8000/v1, got {self.url!r}")
        if parts.path.rstrip("/").endswith("/chat/completions"):
            raise ValueError(
                f"judge url {self.url!r} names the endpoint; pass the base URL (e.g. http://host:8000/v1): "
                "/chat/completions is added"
            )
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError("judge model must be the name the server serves (e.g. --judge-model Qwen/Qwen3-8B)")
        if not isinstance(self.api_key_env, str) or not _ENV_NAME.fullmatch(self.api_key_env):
            raise ValueError(
                f"api_key_env must be the name of an environment variable (e.g. VERL_CRPO_JUDGE_API_KEY), "
                f"got {self.api_key_env!r}; put the key itself in that variable"
            )
        _check_number("concurrency", self.concurrency, 1, 1024, integer=True)
        _check_number("timeout_s", self.timeout_s, 0.0, None, strict_low=True)
        _check_number("max_attempts", self.max_attempts, 1, _MAX_ATTEMPTS_LIMIT, integer=True)
        _check_number("temperature", self.temperature, 0.0, 2.0)
        _check_number("backoff_s", self.backoff_s, 0.0, 60.0)

    @property
    def endpoint(self) -> str:
        """The chat completions URL that requests go to."""
        return f"{self.url.rstrip('/')}/chat/completions"


def _check_number(
    name: str, value: Any, low: float, high: float | None, integer: bool = False, strict_low: bool = False
) -> None:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ValueError(f"judge {name} must be {'an integer' if integer else 'a number'}, got {value!r}")
    too_low = value <= low if strict_low else value < low
    if too_low or (high is not None and value > high):
        bounds = f"{'above' if strict_low else 'at least'} {low}" + (f" and at most {high}" if high is not None else "")
        raise ValueError(f"judge {name} must be {bounds}, got {value!r}")


def parse_scores(content: Any) -> dict[str, int]:
    """The four scores of a judge reply, or ``ValueError`` saying why the reply does not qualify.

    The reply must be a JSON object, alone or inside one ```` ``` ```` / ```` ```json ```` fence,
    that :data:`SCORE_SCHEMA` accepts: exactly the four keys, each an integer (not ``5.0``, not
    ``"5"``) from 1 to 5.

    Example:
        >>> parse_scores('{"faithfulness": 4, "evidence_citation": 5, "distractor_rejection": 2, "hallucination": 5}')
        {'faithfulness': 4, 'evidence_citation': 5, 'distractor_rejection': 2, 'hallucination': 5}
        >>> parse_scores('```json\\n{"faithfulness": 1, "evidence_citation": 1, '
        ...              '"distractor_rejection": 1, "hallucination": 1}\\n```')["faithfulness"]
        1
        >>> parse_scores('{"faithfulness": 7, "evidence_citation": 5, "distractor_rejection": 2, "hallucination": 5}')
        Traceback (most recent call last):
        ...
        ValueError: judge reply does not match the score schema: 7 is greater than the maximum of 5
    """
    if not isinstance(content, str):
        raise ValueError(f"judge reply must be text, got {type(content).__name__}")
    text = content.strip()
    fenced = _FENCE.fullmatch(text)
    if fenced:
        text = fenced.group(1).strip()
    try:
        scores = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"judge reply is not JSON ({error.msg}): {text[:80]!r}") from None
    error = jsonschema.exceptions.best_match(_SCORE_VALIDATOR.iter_errors(scores))
    if error is not None:
        raise ValueError(f"judge reply does not match the score schema: {error.message}")
    return {key: scores[key] for key in SCORE_KEYS}


@cache
def _prompts() -> tuple[str, string.Template]:
    folder = resources.files("verl_crpo.evaluation") / "prompts"
    system = (folder / "judge_system.txt").read_text(encoding="utf-8").strip()
    user = string.Template((folder / "judge_user.txt").read_text(encoding="utf-8").strip())
    return system, user


def _random_nonce() -> str:
    return secrets.token_hex(8)


def judge_messages(record: Mapping[str, Any], index: int = 0) -> list[dict[str, str]]:
    """The chat messages that ask the judge about one record, with a fresh delimiter nonce.

    ``record`` is a run record (``response``, ``reward_model.ground_truth``, ``extra_info.question``
    and ``extra_info.options``); ``index`` only names the record in a ``ValueError``. The nonce is
    drawn until it occurs nowhere in the case or the response, so no text can close its block.

    Example:
        >>> record = {"response": "B: pneumonia, given the fever.", "reward_model": {"ground_truth": "B"},
        ...           "extra_info": {"question": "Fever and cough.", "options": {"A": "Asthma", "B": "Pneumonia"}}}
        >>> system, user = judge_messages(record)
        >>> nonce = user["content"].split("<response-", 1)[1].split(">", 1)[0]
        >>> f"<response-{nonce}>\\nB: pneumonia, given the fever.\\n</response-{nonce}>" in user["content"]
        True
    """
    question, options, gold, response = _case(record, index)
    texts = (question, options, gold, response)
    nonce = _random_nonce()
    while any(nonce in text for text in texts):
        nonce = _random_nonce()
    system, user = _prompts()
    content = user.substitute(nonce=nonce, question=question, options=options, gold=gold, response=response)
    return [{"role": "system", "content": system}, {"role": "user", "content": content}]


def _case(record: Mapping[str, Any], index: int) -> tuple[str, str, str, str]:
    where = f"judge: record {index}"
    response = record.get("response")
    if not isinstance(response, str):
        raise ValueError(f"{where}: `response` must be the response text, got {type(response).__name__}")
    extra = record.get("extra_info") or {}
    question = extra.get("question") if isinstance(extra, Mapping) else None
    if not isinstance(question, str) or not question.strip():
        raise ValueError(
            f"{where}: extra_info.question is missing or empty; the judge needs the case text "
            "(fill it with `verl-crpo prepare verl --input PARQUET... --out DIR`)"
        )
    options = extra.get("options")
    # Parquet reads dict columns back as structs over every row's keys: unused letters are None.
    lines = [f"{k}. {v}" for k, v in options.items() if v is not None] if isinstance(options, Mapping) else []
    if not lines:
        raise ValueError(f"{where}: extra_info.options must map option letters to option text")
    gold = (record.get("reward_model") or {}).get("ground_truth")
    if not isinstance(gold, str) or not gold.strip():
        raise ValueError(f"{where}: reward_model.ground_truth must be the gold option letter, got {gold!r}")
    return question.strip(), "\n".join(lines), gold.strip(), response


def judge_records(
    records: Sequence[Mapping[str, Any]], config: JudgeConfig, progress: bool = True
) -> list[dict[str, float | None]]:
    """Judge every record; one dict of :data:`JUDGE_METRICS` per record, in the records' order.

    Scores are floats from 1 to 5, higher is better, or ``None`` for a record the judge did not
    score validly within ``config.max_attempts`` (never 0). Every record is checked before the
    first request. Runs its own event loop (call it from synchronous code); see the module
    docstring for retries and the bound on time.

    Raises:
        ValueError: a record lacks its response, case text, options or gold letter.
        JudgeError: the judge refuses the key, the URL or model is wrong, or it cannot be reached.

    Example:
        >>> judge_records([], JudgeConfig(url="http://127.0.0.1:9/v1", model="judge"))
        []
    """
    for index, record in enumerate(records):
        _case(record, index)
    if not records:
        return []
    key = os.environ.get(config.api_key_env, "").strip()
    _warn_plain_http(config, key)
    results, failures = asyncio.run(_judge_all(records, config, key, progress))
    if failures:
        reasons = ", ".join(f"{reason}: {count}" for reason, count in collections.Counter(failures).most_common())
        logger.warning(
            "judge: %d of %d records have no valid scores after at most %d attempt(s) each (%s); "
            "recorded as missing, not 0",
            len(failures),
            len(records),
            config.max_attempts,
            reasons,
        )
    pairs = list(zip(JUDGE_METRICS, SCORE_KEYS, strict=True))
    return [{metric: None if scores is None else float(scores[name]) for metric, name in pairs} for scores in results]


def _warn_plain_http(config: JudgeConfig, key: str) -> None:
    host = urlsplit(config.url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if key and config.url.startswith("http://") and not loopback:
        logger.warning("judge: the key in %s travels unencrypted to %s; prefer https", config.api_key_env, host)


class _Retry(Exception):
    """One failed attempt that another attempt may fix; its message is the reason counted."""


class _Unreachable(_Retry):
    """No connection to the server: retried, and fatal when the last attempt fails too."""


class _Skip(Exception):
    """A request the judge rejected for its content: missing at once, without retry."""


class _Judge:
    def __init__(self, client: httpx.AsyncClient, config: JudgeConfig, key: str) -> None:
        self.client = client
        self.config = config
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.key_state = "set" if key else "unset"
        self.scored = False
        self.failures: list[str] = []

    async def record(self, record: Mapping[str, Any], index: int, slots: asyncio.Semaphore) -> dict[str, int] | None:
        config = self.config
        async with slots:
            for attempt in range(1, config.max_attempts + 1):
                try:
                    scores = await self.attempt(record, index)
                except _Skip as reason:
                    self.failures.append(str(reason))
                    return None
                except _Retry as reason:
                    if attempt == config.max_attempts:
                        if isinstance(reason, _Unreachable):
                            raise JudgeError(
                                f"cannot reach the judge at {config.endpoint} after {attempt} attempt(s): "
                                "check --judge-url and that the server is running"
                            ) from reason.__cause__
                        self.failures.append(str(reason))
                        return None
                    await asyncio.sleep(config.backoff_s * 2 ** (attempt - 1))
                else:
                    self.scored = True
                    return scores
        return None

    async def attempt(self, record: Mapping[str, Any], index: int) -> dict[str, int]:
        config = self.config
        payload = {
            "model": config.model,
            "messages": judge_messages(record, index),
            "temperature": config.temperature,
            "response_format": {"type": "json_object"},
        }
        try:
            reply = await asyncio.wait_for(
                self.client.post(config.endpoint, json=payload, headers=self.headers), config.timeout_s
            )
        except (asyncio.TimeoutError, httpx.TimeoutException):
            raise _Retry("timeout") from None
        except httpx.ConnectError as error:
            raise _Unreachable("unreachable") from error
        except httpx.TransportError as error:
            raise _Retry(f"connection error ({type(error).__name__})") from None
        status = reply.status_code
        if status == 429 or status >= 500 or status == 408:
            raise _Retry(f"HTTP {status}")
        if 400 <= status < 500:
            if status in _PER_RECORD_REJECTIONS and self.scored:
                raise _Skip(f"rejected (HTTP {status})")
            raise JudgeError(self._refusal(status, reply, index))
        try:
            content = reply.json()["choices"][0]["message"]["content"]
            return parse_scores(content)
        except (ValueError, KeyError, IndexError, TypeError):
            raise _Retry("malformed reply") from None

    def _refusal(self, status: int, reply: httpx.Response, index: int) -> str:
        config = self.config
        detail = reply.text.strip().replace("\n", " ")[:300]
        if status in (401, 403):
            hint = f"set {config.api_key_env} to a key the server accepts (it is {self.key_state})"
        elif status == 404:
            hint = f"check --judge-url (the base URL, e.g. http://host:8000/v1) and --judge-model {config.model!r}"
        else:
            hint = (
                f"check --judge-model {config.model!r} and that the server accepts chat completions with "
                "response_format json_object"
            )
        return f"the judge at {config.endpoint} refused record {index} with HTTP {status} ({detail}): {hint}"


async def _judge_all(
    records: Sequence[Mapping[str, Any]], config: JudgeConfig, key: str, progress: bool
) -> tuple[list[dict[str, int] | None], list[str]]:
    limits = httpx.Limits(max_connections=config.concurrency, max_keepalive_connections=config.concurrency)
    slots = asyncio.Semaphore(config.concurrency)
    results: list[dict[str, int] | None] = [None] * len(records)
    async with httpx.AsyncClient(timeout=config.timeout_s, limits=limits) as client:
        judge = _Judge(client, config, key)
        with tqdm(total=len(records), desc="judge", unit="response", disable=not progress) as bar:

            async def one(index: int) -> None:
                results[index] = await judge.record(records[index], index, slots)
                bar.update(1)

            tasks = [asyncio.create_task(one(index)) for index in range(len(records))]
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            errors = [task.exception() for task in done if task.exception() is not None]
            if errors:
                raise errors[0]
    return results, judge.failures
