"""Errors in an export that no retry can fix: the same file fails the same way on every try.

The DAG tasks fail these at once instead of retrying them (jobs/orchestrate.py); every message names the
file, relative to the landing folder, and the line where one is known.
"""

from __future__ import annotations


class LandingError(Exception):
    """An export that cannot be loaded as delivered: a retry would read the same bytes again."""


class MissingExportError(LandingError, FileNotFoundError):
    """The silo has not delivered the file for the date."""


class ContractError(LandingError, ValueError):
    """The file as a whole does not match its contract: its header, or most of its lines, are wrong."""


class RedeliveredExportError(LandingError, ValueError):
    """A file of the same name as one already loaded for the date, with other content: refused, not loaded over
    the rows already there (MARKETOFONE_ACCEPT_REDELIVERY=1 replaces them)."""
