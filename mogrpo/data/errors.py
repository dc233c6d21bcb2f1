"""Errors for bad input data: the message names the file (or source) and the row."""

from __future__ import annotations


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
