"""Errors a user can cause, and the closest-match suggestions that go with them."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """Bad input: a misspelt name, a value of the wrong type or range, a bad file.

    The CLI prints the message on one line and exits with status 2, without a traceback.
    The message names what was wrong (the field, file or line) and what was expected.
    """


class ConfigError(UserError, ValueError):
    """A configuration value that does not parse or is out of range."""


def closest(value: str, choices: Iterable[str]) -> str | None:
    """The choice most like ``value``, or None when none is reasonably close."""
    matches = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.5)
    return matches[0] if matches else None


def unknown(kind: str, value: str, choices: Iterable[str]) -> UserError:
    """``unknown kata 'nope' (valid: a, b); did you mean 'a'?`` as a :class:`UserError`."""
    choices = sorted(choices)
    hint = closest(value, choices)
    message = f"unknown {kind} {value!r} (valid: {', '.join(choices) or 'none'})"
    if hint is not None:
        message += f"; did you mean {hint!r}?"
    return UserError(message)
