"""Existing verl RL parquet to CRPO rows: ``verl-crpo prepare verl``.

Rows already in verl's RL layout often carry the case and its options only as prompt text, with the
gold letter in ``reward_model.ground_truth``. The reward needs ``extra_info.question`` and
``extra_info.options`` (DESIGN.md section 3); this module reads them back out of the prompt.

Pipeline:

1. The prompt's last user message is read by :func:`parse_prompt`: it finds the option block (the
   last one in the text, so a case line that merely looks like an option is not taken for one), in
   one of the common layouts: one option per line as ``A. text``, ``A) text``, ``(A) text`` or
   ``A: text``, or inline ``(A) text (B) text ...`` on one line; either may follow a header such as
   ``Options:`` or ``Answer Choices:``. The case text is what precedes the block, less a leading
   instruction (our own :data:`~verl_crpo.data.prompt.INSTRUCTION` or a line asking to answer the
   question) and the header; a format request after the block is ignored.
2. Each row gets ``extra_info.question`` and ``extra_info.options``; everything else (``data_source``,
   ``ability``, the prompt itself, other ``extra_info`` keys) is kept. The row must pass the reward's
   own check (:func:`verl_crpo.rewards.case.build_case`), the gold letter among the options.
3. A row that fails stops the run naming file and row, or, with ``skip_invalid``, is skipped and
   counted. Each input ``X.parquet`` is written to ``out_dir/X.parquet`` atomically.
"""

from __future__ import annotations

import collections
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verl_crpo.data.prepare import write_parquet_atomic
from verl_crpo.data.prompt import INSTRUCTION
from verl_crpo.files import refuse_existing
from verl_crpo.rewards.case import LETTERS, build_case

__all__ = ["FileSummary", "ParsedPrompt", "VerlPrepareResult", "parse_prompt", "prepare_verl"]

logger = logging.getLogger(__name__)

Track = Callable[[Iterable[Any], int, str], Iterable[Any]]

# The colon is required: "Which of the following options" ends a question, "Options:" heads a block.
_HEADER = re.compile(r"(?<!\S)(?:answer\s+choices|answer\s+options|choices|options)\s*:\s*\Z", re.IGNORECASE)
_LINE_OPTION = re.compile(r"^[ \t]*(?:\((?P<p>[A-J])\)|(?P<l>[A-J])(?P<mark>[.):]))[ \t]+(?P<text>\S.*?)[ \t]*$")
_INLINE_MARK = re.compile(r"\(([A-J])\)")
# A leading line that addresses the model rather than describing the case: an imperative about the question.
_INSTRUCTION_LINE = re.compile(
    r"^\s*(?:please\s+)?(?:answer|choose|select|pick|read|solve|think|analy[sz]e|consider|respond|below\s+is|"
    r"the\s+following|you\s+are|you\s+will|here\s+is)\b.*\b(?:question|options?|choices?|answer)\b",
    re.IGNORECASE,
)
# A format request on the same line as the last inline option ("... (D) Sarcoidosis. Put your answer ..."): it goes,
# with the full stop that ends the option.
_TRAILING_REQUEST = re.compile(
    r"[.!?]\s+(?:please\s+)?(?:put|give|answer|respond|return|output|write|enclose|think|provide|"
    r"select|choose|your\s+(?:final\s+)?answer)\b.*\Z",
    re.IGNORECASE,
)


class InvalidRow(ValueError):
    """A verl row whose prompt or gold letter cannot give a CRPO row (the message says why)."""


@dataclass(frozen=True)
class ParsedPrompt:
    """What :func:`parse_prompt` read from a prompt.

    Attributes:
        question: the case text without the options, the instruction and the option header.
        options: letter to option text, ``A`` onwards without gaps.
        layout: how the options were written, e.g. ``"A. per line"`` or ``"Answer Choices: (A) inline"``.
    """

    question: str
    options: dict[str, str]
    layout: str


@dataclass
class FileSummary:
    """What one output parquet holds.

    Attributes:
        rows: rows written.
        layouts: option layout (:attr:`ParsedPrompt.layout`) -> rows converted with it.
        skipped: rows skipped as invalid (``skip_invalid``).
        path: the parquet written.
    """

    rows: int = 0
    layouts: collections.Counter = field(default_factory=collections.Counter)
    skipped: int = 0
    path: str = ""


@dataclass
class VerlPrepareResult:
    """The outcome of :func:`prepare_verl`: input path -> its :class:`FileSummary`, and one
    ``"file:row N: reason"`` per skipped row."""

    files: dict[str, FileSummary]
    skips: list[str]


@dataclass(frozen=True)
class _Block:
    start: int  # offset of the block (its header included) in the text
    end: int
    options: dict[str, str]
    layout: str


def _header_before(text: str, start: int) -> tuple[int, str]:
    """Move ``start`` back over an ``Options:``-style header just before it; return it and the header's name."""
    match = _HEADER.search(text[:start].rstrip(" \t\n"))
    if not match:
        return start, ""
    words = " ".join(match.group(0).rstrip(": \t").split())
    return match.start(), words[:1].upper() + words[1:] + ": "


def _line_blocks(text: str) -> list[_Block]:
    blocks, run, offset = [], [], 0
    for line in text.splitlines(keepends=True):
        match = _LINE_OPTION.match(line.rstrip("\n"))
        letter = (match.group("p") or match.group("l")) if match else None
        if letter is not None and len(run) < len(LETTERS) and letter == LETTERS[len(run)]:
            run.append((offset, offset + len(line.rstrip("\n")), match))
        elif not line.strip() and run:
            pass  # blank lines between options
        else:
            if len(run) >= 2:
                blocks.append(run)
            run = [(offset, offset + len(line.rstrip("\n")), match)] if letter == "A" else []
        offset += len(line)
    if len(run) >= 2:
        blocks.append(run)
    found = []
    for run in blocks:
        first = run[0][2]
        style = "(A)" if first.group("p") else f"A{first.group('mark')}"
        start, header = _header_before(text, run[0][0])
        options = {m.group("p") or m.group("l"): m.group("text").strip() for _, _, m in run}
        found.append(_Block(start, run[-1][1], options, f"{header}{style} per line"))
    return found


def _inline_blocks(text: str) -> list[_Block]:
    found, offset = [], 0
    for line in text.splitlines(keepends=True):
        marks = list(_INLINE_MARK.finditer(line))
        # The last "(A)" followed on its line by "(B)", "(C)", ...: a case sentence may use "(A)" before it.
        for first in reversed([i for i, m in enumerate(marks) if m.group(1) == "A"]):
            chain = [marks[first]]
            for mark in marks[first + 1 :]:
                if len(chain) < len(LETTERS) and mark.group(1) == LETTERS[len(chain)]:
                    chain.append(mark)
            if len(chain) < 2:
                continue
            ends = [m.start() for m in chain[1:]] + [len(line.rstrip("\n"))]
            options = {m.group(1): line[m.end() : end].strip() for m, end in zip(chain, ends, strict=True)}
            last = chain[-1].group(1)
            options[last] = _TRAILING_REQUEST.sub("", options[last]).strip()
            start, header = _header_before(text, offset + chain[0].start())
            found.append(_Block(start, offset + len(line.rstrip("\n")), options, f"{header}(A) inline"))
            break
        offset += len(line)
    return found


def _strip_instruction(text: str) -> str:
    text = text.strip()
    if text.startswith(INSTRUCTION):
        return text[len(INSTRUCTION) :].strip()
    lines = text.split("\n")
    while len(lines) > 1 and _INSTRUCTION_LINE.match(lines[0]):
        lines.pop(0)
    return "\n".join(lines).strip()


def parse_prompt(text: str) -> ParsedPrompt:
    """Read the case text and the options out of a user message.

    The option block is the last one in ``text`` (one per line, or inline on one line); the case text
    is what precedes it, without a leading instruction and the block's header.

    Raises:
        InvalidRow: no block of at least two options lettered ``A``, ``B``, ... is found, an option is
            empty, or no case text precedes the block.

    Example:
        >>> parsed = parse_prompt("Answer the question.\\nFever and cough. Diagnosis?\\nA. Asthma\\nB. Pneumonia")
        >>> parsed.question, parsed.options, parsed.layout
        ('Fever and cough. Diagnosis?', {'A': 'Asthma', 'B': 'Pneumonia'}, 'A. per line')
        >>> parse_prompt("Fever. Diagnosis? Answer Choices: (A) Flu (B) Sepsis").options
        {'A': 'Flu', 'B': 'Sepsis'}
    """
    blocks = _line_blocks(text) + _inline_blocks(text)
    if not blocks:
        raise InvalidRow(
            "no options found in the prompt: expected lines 'A. text' / 'A) text' / '(A) text' or "
            "'(A) text (B) text' on one line, lettered A, B, C, ... without gaps"
        )
    block = max(blocks, key=lambda b: (b.end, -b.start))
    empty = [letter for letter, option in block.options.items() if not option]
    if empty:
        raise InvalidRow(f"option {empty[0]} has no text in the prompt")
    question = _strip_instruction(text[: block.start])
    if not question:
        raise InvalidRow("no case text before the options in the prompt")
    return ParsedPrompt(question, block.options, block.layout)


def _last_user_message(prompt: Any) -> str:
    if isinstance(prompt, str):
        return prompt
    messages = [m for m in (prompt if prompt is not None else []) if isinstance(m, Mapping)]
    users = [m.get("content") for m in messages if m.get("role") == "user"]
    if not users or not isinstance(users[-1], str):
        raise InvalidRow("the prompt has no user message with text; expected chat messages with a 'user' turn")
    return users[-1]


def _convert(row: dict[str, Any], position: int) -> tuple[dict[str, Any], str]:
    parsed = parse_prompt(_last_user_message(row.get("prompt")))
    reward_model = row.get("reward_model") or {}
    gold = reward_model.get("ground_truth") if isinstance(reward_model, Mapping) else None
    if isinstance(gold, str) and gold.strip().upper() not in parsed.options:
        raise InvalidRow(
            f"gold letter {gold!r} is not among the options {', '.join(parsed.options)} found in the prompt"
        )
    extra_info = dict(row.get("extra_info") or {})
    extra_info.update(question=parsed.question, options=parsed.options)
    index = extra_info.get("index", position)
    try:
        build_case(row.get("data_source"), gold, {**extra_info, "index": index}, need_question=True)
    except ValueError as error:
        raise InvalidRow(str(error)) from None
    return {**row, "extra_info": extra_info}, parsed.layout


def _read_rows(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as error:  # pyarrow raises several types for a file that is not parquet
        raise ValueError(f"cannot read {path} as parquet ({error}); pass verl RL parquet files with --input") from None
    if "prompt" not in table.column_names:
        raise ValueError(f"{path} has no 'prompt' column; it is not a verl RL parquet")
    return table.to_pylist()


def _outputs(inputs: Sequence[str | os.PathLike], out: Path, overwrite: bool) -> list[tuple[Path, Path]]:
    pairs, seen = [], {}
    for raw in inputs:
        path = Path(raw).expanduser()
        if not path.is_file():
            raise ValueError(f"input file not found: {path}; pass verl RL parquet files with --input")
        target = out / path.name
        if target.name in seen:
            raise ValueError(f"{seen[target.name]} and {path} would both be written to {target}; rename one")
        seen[target.name] = path
        if target.resolve() == path.resolve():
            raise ValueError(f"{target} is the input itself; pass another --out folder")
        refuse_existing([target], overwrite)
        pairs.append((path, target))
    return pairs


def prepare_verl(
    inputs: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    overwrite: bool = False,
    skip_invalid: bool = False,
    track: Track | None = None,
) -> VerlPrepareResult:
    """Fill in ``extra_info.question`` and ``extra_info.options`` of verl RL rows from their prompts.

    Args:
        inputs: verl RL parquet files; each is written to ``out_dir`` under its own name.
        out_dir: output folder (created if missing).
        overwrite: replace existing outputs (otherwise an existing one is an error).
        skip_invalid: skip and count invalid rows instead of stopping at the first.
        track: wraps each file's rows, e.g. with a progress bar: ``track(rows, total, label)``.

    Raises:
        ValueError: a missing or unreadable input, an existing output, or an invalid row (naming file
            and row, counted from 0) without ``skip_invalid``.
    """
    if not inputs:
        raise ValueError("no input files; pass verl RL parquet files with --input")
    out = Path(out_dir).expanduser()
    pairs = _outputs(inputs, out, overwrite)
    track = track or (lambda rows, total, label: rows)
    converted: dict[str, list[dict[str, Any]]] = {}
    summaries: dict[str, FileSummary] = {}
    skips: list[str] = []
    for path, _ in pairs:
        rows = _read_rows(path)
        summary, kept = FileSummary(), []
        for position, row in enumerate(track(rows, len(rows), str(path))):
            try:
                new, layout = _convert(row, position)
            except InvalidRow as error:
                message = f"{path}:row {position}: {error}"
                if not skip_invalid:
                    raise ValueError(f"{message}; fix or remove the row, or pass --skip-invalid") from None
                logger.debug("skipped %s", message)  # the caller gets every skip in the result
                skips.append(message)
                summary.skipped += 1
                continue
            kept.append(new)
            summary.rows += 1
            summary.layouts[layout] += 1
        if not kept:
            raise ValueError(f"{path}: no valid row to write ({summary.skipped} skipped)")
        converted[str(path)], summaries[str(path)] = kept, summary
    out.mkdir(parents=True, exist_ok=True)
    for path, target in pairs:
        summaries[str(path)].path = write_parquet_atomic(converted[str(path)], target)
        logger.info("wrote %d rows to %s", summaries[str(path)].rows, target)
    return VerlPrepareResult(summaries, skips)
