"""verl-crpo: CRPO (Clinical-Objective Relative Policy Optimization) for verl.

Importing this package is cheap: the verl-facing pieces are registered by
:mod:`verl_crpo.plugin`, which verl loads through its ``verl.plugins`` entry point.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
