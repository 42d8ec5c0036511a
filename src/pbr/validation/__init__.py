"""Delivery validation: every file is typed by polars (pbr_parse_* checks) and validated with its
source's Great Expectations suite (expectations/<source>.json) on pandas.

Two outcomes, never mixed up: a row failure quarantines the row (file, line, column, expectation,
reason) and the rest of the file loads; a file failure (unreadable, wrong or missing columns, empty,
a row count that fell too far against the previous delivery) stops the refresh before anything is
written. Results keep counts and line numbers only, never values."""

from .core import ExpectationOutcome, FileValidation, period_end_of, validate_file
from .suites import load_suite, suite_root

__all__ = ["ExpectationOutcome", "FileValidation", "period_end_of", "validate_file", "load_suite", "suite_root"]
