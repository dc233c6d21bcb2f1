"""A tqdm progress bar that also reads well when stderr goes to a file (a batch job's log).

On a terminal it is tqdm's usual bar, redrawn in place. Written to a file or a pipe, tqdm's in-place
redraws (``\\r``) would pile up on one ever-growing line; there the bar prints one plain line every
``1/lines`` of the way instead (``warm start:  25%|##5       | 10/40 [00:31<01:33, loss=2.41]``).
"""

from __future__ import annotations

import sys
from typing import IO, Any


class LineStream:
    """A file for tqdm that turns each in-place redraw into a line of its own."""

    def __init__(self, stream: IO[str]):
        self.stream = stream
        self.last = ""

    def write(self, text: str) -> int:
        line = str(text).replace("\r", "").rstrip()
        state = line.split(" [", 1)[0]  # "desc: 100%|####| 4/4" without the timings
        if line and state != self.last:  # closing redraws the last state once more: print it once
            self.stream.write(line + "\n")
            self.last = state
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def progress_bar(total: int, desc: str, enabled: bool = True, stream: IO[str] | None = None, lines: int = 20) -> Any:
    """A tqdm bar over ``total`` steps (disabled: a bar that prints nothing). Not a terminal: about
    ``lines`` lines in all, each on its own line."""
    from tqdm import tqdm

    stream = stream if stream is not None else sys.stderr
    if getattr(stream, "isatty", lambda: False)():
        return tqdm(total=total, desc=desc, disable=not enabled, file=stream, dynamic_ncols=True)
    return tqdm(
        total=total, desc=desc, disable=not enabled, file=LineStream(stream), ascii=True, ncols=100,
        mininterval=0, miniters=max(1, total // max(1, lines)),
    )  # fmt: skip
