"""``calibration.md``: the reward model's held-out figures as a person reads them.

One table per source family (R², Spearman, AUROC on absolute labels; pairwise accuracy on
preference pairs), then the aggregate ranking checks (:mod:`mogrpo.metrics.ranking`), the figures
that decide what GRPO will teach the policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mogrpo.utils.formatting import fmt, fmt_pct, markdown_table

CALIBRATION_MD = "calibration.md"


def source_rows(sources: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for fam, entry in sources.items():
        for aspect, m in (entry.get("aspects") or {}).items():
            rows.append([fam, aspect, "absolute", str(m.get("n", "")), fmt(m.get("r2")), fmt(m.get("spearman")),
                         fmt(m.get("auroc")), "–"])  # fmt: skip
        for aspect, m in (entry.get("pairs") or {}).items():
            rows.append([fam, aspect, "pairs", str(m.get("n", "")), "–", "–", "–", fmt_pct(m.get("accuracy"))])
    return rows


def ranking_rows(ranking: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for check, r in ranking.items():
        if not r.get("n"):
            rows.append([check, "0", "–", "–", r.get("reason", "no pairs")])
            continue
        heads = ", ".join(f"{a} {fmt_pct(v)}" for a, v in (r.get("aspects") or {}).items())
        by = ", ".join(f"{s} {fmt_pct(v['aggregate'])} (n={v['n']})" for s, v in (r.get("sources") or {}).items())
        rows.append([check, str(r["n"]), fmt_pct(r.get("aggregate")), heads, by])
    return rows


def render(report: Mapping[str, Any]) -> str:
    parts = [f"# Reward model calibration ({report.get('split', 'test')} split, held out)", ""]
    if report.get("weights"):
        parts += ["Aspect weights of the aggregate R = Σ w_k r_k: "
                  + ", ".join(f"{a} {w:g}" for a, w in report["weights"].items()), ""]  # fmt: skip
    if report.get("ranking"):
        parts += ["## Does the aggregate rank the right answer first?", "",
                  markdown_table(["check", "pairs", "aggregate", "per head", "per source"],
                                 ranking_rows(report["ranking"])), ""]  # fmt: skip
    if report.get("sources"):
        parts += ["## Per source", "",
                  markdown_table(["source", "aspect", "labels", "n", "R²", "Spearman", "AUROC", "pair acc."],
                                 source_rows(report["sources"])), ""]  # fmt: skip
    return "\n".join(parts)


def write_calibration_markdown(report: Mapping[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.write_text(render(report), encoding="utf-8")
    return path
