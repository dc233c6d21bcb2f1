"""``DataError`` (bad input data, naming the file and row): defined in :mod:`mogrpo.errors`, re-exported here."""

from mogrpo.errors import DataError

__all__ = ["DataError"]
