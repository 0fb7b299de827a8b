"""Evaluation: generate answers for a benchmark split, score every objective, compare runs.

Modules: :mod:`~verl_crpo.evaluation.runs` (run files and their items),
:mod:`~verl_crpo.evaluation.generate` (answers from a model), :mod:`~verl_crpo.evaluation.proxies`
(rule-based proxies of the paper's judged metrics), :mod:`~verl_crpo.evaluation.stats` (bootstrap
intervals), :mod:`~verl_crpo.evaluation.report` (tables, figure, JSON) and
:mod:`~verl_crpo.evaluation.judge` (the optional LLM judge).
"""
