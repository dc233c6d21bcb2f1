"""The paper's benchmarks as evaluation sections (``eval.safetybench``, ``eval.helpsteer2``): hub datasets or a
local file in the same schema, off by default; offline without a local file they are skipped with the reason."""

from __future__ import annotations

from dataclasses import dataclass

from mogrpo.configs.base import Config, check_bool, check_int, check_str, option


@dataclass(frozen=True)
class HubBenchmarkConfig(Config):
    """A benchmark loaded with ``datasets`` from the hub (``hub``, ``subset``, ``split``) or from ``path``."""

    enabled: bool = option(False, "run this section")
    hub: str = option("", "the `datasets` hub id")
    subset: str | None = option(None, "the hub dataset's config name (null = its default)")
    split: str = option("test", "the `datasets` split")
    path: str | None = option(None, "a local .json / .jsonl / .csv / .parquet file in the hub's schema instead "
                              "of the hub (null = the hub)")
    limit: int | None = option(None, "at most this many items, the first ones (null = all)")
    on_validation: bool = option(False, "run it with eval.split=validation too (off: for reporting, never tuning)")

    def __post_init__(self):
        check_bool("enabled", self.enabled)
        check_str("hub", self.hub)
        check_str("subset", self.subset, none=True)
        check_str("split", self.split)
        check_str("path", self.path, none=True)
        check_int("limit", self.limit, low=1, none=True)
        check_bool("on_validation", self.on_validation)


def safetybench_default() -> HubBenchmarkConfig:
    # the dev set: the English questions with their answers (the test set's answers are not public)
    return HubBenchmarkConfig(hub="thu-coai/SafetyBench", subset="dev", split="en")


def helpsteer2_default() -> HubBenchmarkConfig:
    # the validation prompts: the reward data's helpsteer2 source trains on the train split
    return HubBenchmarkConfig(hub="nvidia/HelpSteer2", split="validation", limit=200)
