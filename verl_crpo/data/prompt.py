"""The one prompt template: what every prompt we build asks of the model.

Benchmark preparation (:mod:`verl_crpo.data.prepare`), the synthetic cases of the CPU demo
(:mod:`verl_crpo.data.cases`) and anything that evaluates a model on our rows build their prompt
here, so a model is trained and judged on the same wording. The instruction asks for the
response format of DESIGN.md section 3: ``<dx>`` analysis, ``<conclusion>`` ending in
``\\boxed{letter}``.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["INSTRUCTION", "prompt_messages", "prompt_text"]

INSTRUCTION = (
    "Analyse the case inside <dx></dx>: cite its findings and weigh every option. "
    "Then give your decision inside <conclusion></conclusion>, ending with Final answer: \\boxed{letter}."
)


def prompt_text(question: str, options: Mapping[str, str]) -> str:
    """The user turn: the instruction, the case text, then one ``"X. text"`` line per option in the given order.

    Example:
        >>> print(prompt_text("Fever and cough. Diagnosis?", {"A": "Asthma", "B": "Pneumonia"}).split("\\n", 1)[1])
        Fever and cough. Diagnosis?
        A. Asthma
        B. Pneumonia
    """
    lines = "\n".join(f"{letter}. {text}" for letter, text in options.items())
    return f"{INSTRUCTION}\n{question}\n{lines}"


def prompt_messages(question: str, options: Mapping[str, str]) -> list[dict[str, str]]:
    """The chat messages of a prompt (verl's ``prompt`` column): one user turn from :func:`prompt_text`.

    Example:
        >>> messages = prompt_messages("Fever. Diagnosis?", {"A": "Asthma", "B": "Pneumonia"})
        >>> [m["role"] for m in messages], messages[0]["content"].startswith(INSTRUCTION)
        (['user'], True)
    """
    return [{"role": "user", "content": prompt_text(question, options)}]
