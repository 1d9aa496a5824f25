"""Exit codes shared by every command: 0 success, 1 a check refused, 2 bad input or usage."""

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2


class BadInput(Exception):
    """Bad input or usage: reported as one line, exit 2."""


class Refused(Exception):
    """A check refused (violation, blocked change, failed gate, drift, refused promotion): exit 1.

    `record` optionally carries what the command had produced (e.g. a failed job's status) for its --out file.
    """

    def __init__(self, message: str, record: object | None = None):
        super().__init__(message)
        self.record = record
