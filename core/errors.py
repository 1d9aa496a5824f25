"""Exit codes shared by every command, and the one place that turns an unexpected exception into exit 3.

0 success, 1 a check refused, 2 bad input or usage, 3 an internal error (a bug: the traceback goes to a log
file, the user gets one line with its path).
"""

from __future__ import annotations

import os
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path

from core.paths import mlops_home

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3


class BadInput(Exception):
    """Bad input or usage: reported as one line, exit 2."""


class Refused(Exception):
    """A check refused (violation, blocked change, failed gate, drift, refused promotion): exit 1.

    `record` optionally carries what the command had produced (e.g. a failed job's status) for its --out file.
    """

    def __init__(self, message: str, record: object | None = None):
        super().__init__(message)
        self.record = record


def first_line(exc: BaseException) -> str:
    """An exception's message as one line: its first non-empty line, else its type name."""
    return next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)


def log_internal_error(exc: BaseException, command: list[str]) -> Path | None:
    """Write the traceback of an unexpected exception to `<MLOPS_HOME>/logs/` (the temp folder when that is not
    writable) and return the file's path; None when neither can be written."""
    name = f"error-{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{os.getpid()}.log"
    text = f"command: {' '.join(command)}\n\n" + "".join(traceback.format_exception(exc))
    for folder in (mlops_home() / "logs", Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            path.write_text(text)
            return path
        except OSError:
            continue
    return None


def internal_error_line(exc: BaseException, log: Path | None) -> str:
    where = f"the traceback is in {log}" if log else "no log file could be written"
    return f"internal error: {type(exc).__name__}: {first_line(exc)} (a bug; {where})"
