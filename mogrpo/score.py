"""`python -m mogrpo.score`: add the reward regressor's per-aspect scores to a CSV / JSONL file.

    python -m mogrpo.score input=pairs.csv reward_model.checkpoint=DIR [output=scored.jsonl] \
        [prompt_column=prompt] [response_column=response] [columns.safety=my_safety_col] \
        [allow_empty_response=true] [batch_size=32]

Every row comes back unchanged plus one column per aspect (``score_<aspect>`` unless renamed with
``columns.<aspect>``), in the input's format or the one ``output``'s extension names. The file is
read and checked (columns present, prompts and responses non-empty) before the model loads.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from mogrpo.configs import ScoreConfig
from mogrpo.data.reader import read_local
from mogrpo.errors import ConfigError, DataError
from mogrpo.utils.cli import CONF_DIR, console_entry, run_reporting_user_errors

log = logging.getLogger(__name__)

FORMATS = {".csv": "csv", ".jsonl": "jsonl"}


def file_format(path: Path) -> str:
    """``csv`` or ``jsonl`` from the file extension; DataError otherwise."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(f"unsupported extension {path.suffix!r}; use one of {sorted(FORMATS)}", source=str(path))
    return fmt


def read_rows(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows of a CSV or JSONL file and its column names (in file order).

    The scored file is written back as it was read: every CSV cell keeps its text (``0.10`` stays ``0.10``)
    and every JSON line its own keys (:func:`mogrpo.data.reader.read_local` with ``text_csv``)."""
    file_format(path)
    if not path.is_file():
        raise DataError("file not found", source=str(path))
    table = read_local(path, text_csv=True)
    return table.rows, table.columns


def write_rows(path: Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> Path:
    """Write rows as CSV or JSONL (by extension), via a temp file renamed into place."""
    fmt = file_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        if fmt == "csv":
            writer = csv.DictWriter(f, fieldnames=list(columns))
            writer.writeheader()
            writer.writerows(rows)
        else:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path


def check_rows(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    path: Path,
    prompt_column: str,
    response_column: str,
    allow_empty_response: bool = False,
) -> None:
    """DataError naming the file (and row, 1-based, header not counted) for a missing column or empty text."""
    for col, key in ((prompt_column, "prompt_column"), (response_column, "response_column")):
        if col not in columns:
            raise DataError(f"no column {col!r} ({key}); columns are {list(columns)}", source=str(path))
    if not rows:
        raise DataError("no rows to score", source=str(path))
    for i, row in enumerate(rows, start=1):
        prompt, response = row.get(prompt_column), row.get(response_column)
        if not isinstance(prompt, str) or not prompt.strip():
            raise DataError(f"empty or missing prompt in column {prompt_column!r}", source=str(path), row=i)
        if response is None and allow_empty_response:
            continue
        if not isinstance(response, str):
            raise DataError(
                f"response in column {response_column!r} is {type(response).__name__}, not text",
                source=str(path),
                row=i,
            )
        if not response.strip() and not allow_empty_response:
            raise DataError(
                f"empty response in column {response_column!r} (allow_empty_response=true scores it)",
                source=str(path),
                row=i,
            )


def output_columns(aspects: Sequence[str], columns: Mapping[str, str | None] | None) -> dict[str, str]:
    """aspect -> output column: ``columns[aspect]`` if given, else ``score_<aspect>``.

    ConfigError for a renamed aspect the regressor does not score, or two aspects sharing a column.
    """
    columns = dict(columns or {})
    unknown = [a for a, c in columns.items() if c is not None and a not in aspects]
    if unknown:
        raise ConfigError(f"columns.{unknown[0]}", f"the regressor scores no aspect {unknown[0]!r}; its aspects: {list(aspects)}")
    out = {a: str(columns[a]) if columns.get(a) is not None else f"score_{a}" for a in aspects}
    if len(set(out.values())) != len(out):
        raise ConfigError("columns", f"two aspects would write the same column: {out}")
    return out


def default_output(input_path: Path) -> Path:
    return input_path.with_name(f"{input_path.stem}.scored{input_path.suffix}")


def score_file(
    input: str | Path,
    checkpoint: str | Path,
    output: str | Path | None = None,
    prompt_column: str = "prompt",
    response_column: str = "response",
    columns: Mapping[str, str | None] | None = None,
    batch_size: int = 32,
    allow_empty_response: bool = False,
    device: str = "cpu",
) -> Path:
    """Score every (prompt, response) row of ``input`` and write the rows plus one column per aspect.

    Returns the output path (default ``<input stem>.scored<ext>``).
    """
    from tqdm.auto import tqdm

    from mogrpo.models.regressor import MultiAspectRegressor

    input_path = Path(input)
    out_path = Path(output) if output else default_output(input_path)
    file_format(out_path)
    if batch_size < 1:
        raise ConfigError("batch_size", f"must be >= 1, got {batch_size}")
    rows, in_columns = read_rows(input_path)
    check_rows(rows, in_columns, input_path, prompt_column, response_column, allow_empty_response)

    try:
        regressor = MultiAspectRegressor.load(checkpoint, device=device)
    except FileNotFoundError as err:
        raise ConfigError("reward_model.checkpoint", str(err)) from err
    names = output_columns(regressor.aspects, columns)
    clash = [c for c in names.values() if c in in_columns]
    if clash:
        log.warning("overwriting existing column(s) %s of %s", clash, input_path)

    prompts = [row[prompt_column] for row in rows]
    responses = [row[response_column] or "" for row in rows]
    for start in tqdm(range(0, len(rows), batch_size), desc="scoring", unit="batch"):
        end = start + batch_size
        scores = regressor.score(prompts[start:end], responses[start:end], batch_size=batch_size)
        for row, values in zip(rows[start:end], scores.tolist()):
            for aspect, value in zip(regressor.aspects, values):
                row[names[aspect]] = round(float(value), 6)
    out_columns = list(in_columns) + [c for c in names.values() if c not in in_columns]
    write_rows(out_path, rows, out_columns)
    log.info("wrote %d scored rows to %s", len(rows), out_path)
    return out_path


def score(cfg: DictConfig) -> Path:
    """The ``score`` config's file scored (:func:`score_file`); a bad setting is a ConfigError naming it."""
    settings = ScoreConfig.of(cfg)
    return score_file(
        input=settings.input,
        checkpoint=settings.checkpoint,
        output=settings.output,
        prompt_column=settings.prompt_column,
        response_column=settings.response_column,
        columns=settings.columns,
        batch_size=settings.batch_size,
        allow_empty_response=settings.allow_empty_response,
        device=settings.device,
    )


@console_entry("score")  # a key Hydra cannot place: one ConfigError line before the app runs
@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="score")
def main(cfg: DictConfig) -> None:
    run_reporting_user_errors(score, cfg)


if __name__ == "__main__":
    main()
