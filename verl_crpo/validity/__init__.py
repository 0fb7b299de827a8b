"""The reward's validity suite: honest responses in seven styles against programmatic hack families.

:mod:`~verl_crpo.validity.suite` loads the vignettes, splits them into a tuning and a held-out
part and counts the orderings that hold; :mod:`~verl_crpo.validity.hacks` generates each hack
family's response from a vignette's fields.
"""

from verl_crpo.validity.hacks import GENERATORS
from verl_crpo.validity.suite import (
    FAMILIES,
    HELD_OUT_FAMILIES,
    HONEST_STYLES,
    STYLE_FLOORS,
    Family,
    Tally,
    held_out_ids,
    load_vignettes,
    score_vignette,
    split_batch,
    validity_report,
)

__all__ = [
    "FAMILIES",
    "GENERATORS",
    "HELD_OUT_FAMILIES",
    "HONEST_STYLES",
    "STYLE_FLOORS",
    "Family",
    "Tally",
    "held_out_ids",
    "load_vignettes",
    "score_vignette",
    "split_batch",
    "validity_report",
]
