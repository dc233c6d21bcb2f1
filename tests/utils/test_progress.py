"""The progress bar (mogrpo/utils/progress.py): one plain line per update when the output is a file."""

from __future__ import annotations

import io

from mogrpo.utils.progress import LineStream, progress_bar


def test_a_file_gets_plain_lines_not_carriage_returns():
    out = io.StringIO()
    bar = progress_bar(8, "warm start", stream=out, lines=4)
    for _ in range(8):
        bar.set_postfix(loss="1.000", refresh=False)
        bar.update(1)
    bar.close()
    text = out.getvalue()
    lines = text.splitlines()
    assert "\r" not in text and lines[-1].startswith("warm start: 100%") and "8/8" in lines[-1]
    assert "loss=1.000" in lines[-1]
    assert 4 <= len(lines) <= 6 and len(set(lines)) == len(lines)  # every 2 steps, the last state once


def test_disabled_prints_nothing_and_the_line_stream_skips_redraws():
    out = io.StringIO()
    bar = progress_bar(3, "x", enabled=False, stream=out)
    bar.update(3)
    bar.close()
    assert out.getvalue() == ""
    stream = LineStream(out)
    stream.write("\ra 1/2   ")
    stream.write("\ra 1/2")
    stream.write("\n")
    assert out.getvalue() == "a 1/2\n"
