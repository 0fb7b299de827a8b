"""The learning-signal study (issue: evidence that CRPO does what it promises).

Same as ``verl-crpo study``; see :mod:`verl_crpo.study` for the method.

Usage:
    python benchmarks/learning_signal.py --out docs/study          # full study (about 1 minute on 2 cores)
    python benchmarks/learning_signal.py --fast --json /tmp/study.json
"""

import sys

from verl_crpo.cli import main

if __name__ == "__main__":
    sys.exit(main(["study", *sys.argv[1:]]))
