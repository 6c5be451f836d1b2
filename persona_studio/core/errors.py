"""The one error type the GUI and CLI show to people (a plain message and a next step), and
the word a progress callback stops a long operation with."""


class UserFacingError(Exception):
    """An expected failure, phrased for a non-technical creator.

    `message` says what happened; `hint` says what to do next. Both are shown as is.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


class Stopped(Exception):
    """Raised by a long operation's progress callback to stop it there (the creator pressed
    Stop): an export, a copy of the project."""
