"""The errors a user can fix, at the bottom of the layers (every package may raise them; they import nothing).

- :class:`ConfigError`  a config value is wrong; the message starts with the dotted key (``grpo.G: ...``)
- :class:`DataError`    bad input data; the message names the file (or source) and the row
- :class:`RewardError`  the reward regressor returned a non-finite score (names the prompt and completion)

The entry points turn the first two into one line on stderr (``error: grpo.G: must be ...``) and exit 1.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A config value is wrong; the message starts with the dotted key."""

    def __init__(self, key: str, message: str):
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}")


class DataError(ValueError):
    """Bad input data; raised before any model loads, naming the file/source and row."""

    def __init__(self, message: str, source: str | None = None, row: int | None = None):
        self.source = source
        self.row = row
        where = ""
        if source is not None:
            where = f"{source}"
            if row is not None:
                where += f", row {row}"
            where += ": "
        super().__init__(where + message)


class RewardError(RuntimeError):
    """The reward regressor returned a non-finite score; the message names the prompt and completion."""
