"""The benchmark behind ``headroom bench``: real files as tool calls, compressed and checked.

- :mod:`~headroom.benchmark.corpus` turns files into tool-call cases with a question;
- :mod:`~headroom.benchmark.json_targets` / :mod:`~headroom.benchmark.log_targets` decide what
  must survive; :mod:`~headroom.benchmark.fidelity` checks it in any engine's output;
- :mod:`~headroom.benchmark.runner` runs ``headroom.compress`` and measures it;
- :mod:`~headroom.benchmark.report` prints tables, JSON and the progress bar.
"""

from __future__ import annotations

from headroom.benchmark.corpus import BenchCase, default_samples_dir, load_cases
from headroom.benchmark.fidelity import FidelityReport, Target, check_fidelity
from headroom.benchmark.report import ProgressBar, format_cases, format_summary, summarize, to_json
from headroom.benchmark.runner import CaseResult, measure_engine_output, run_bench, run_case

__all__ = [
    "BenchCase",
    "CaseResult",
    "FidelityReport",
    "ProgressBar",
    "Target",
    "check_fidelity",
    "default_samples_dir",
    "format_cases",
    "format_summary",
    "load_cases",
    "measure_engine_output",
    "run_bench",
    "run_case",
    "summarize",
    "to_json",
]
