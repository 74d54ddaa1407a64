"""The held-out evaluation set, its metrics and threshold calibration."""

from evaluation.evaluate import DEFAULT_EVAL_FILE, EvalItem, Report, evaluate, format_report, load_eval

__all__ = ["DEFAULT_EVAL_FILE", "EvalItem", "Report", "evaluate", "format_report", "load_eval"]
