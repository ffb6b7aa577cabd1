"""Issue 15's goals for ``run.py`` and how a run is judged and printed: a row per scenario
(ratio to the ceiling, p50/p99, CPU per request, peak RSS, verdict) and, for several worker
counts, the scaling rows (the rate of N workers against the first count of the same round).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Target = dict[str, float]

#: Issue 15's goals, by (database, workers): a ratio to the ceiling of the same run, a p99.
#: A configuration not listed here has no goal of its own (its rows say "-").
GOALS: dict[tuple[str, int], dict[str, Target]] = {
    ("sqlite", 1): {
        "unifiedorder": {"min_ratio": 0.20, "max_p99_ms": 25.0},
        "orderquery": {"min_ratio": 0.30},
    },
    ("postgresql", 2): {"unifiedorder": {"min_ratio": 0.06, "max_p99_ms": 60.0}},
}
#: SQLite, 2 workers against 1 in the same sitting (``--workers 1,2``): unifiedorder's rate.
SCALING_GOAL: dict[str, Any] = {
    "database": "sqlite",
    "workers": (1, 2),
    "min_speedup": 1.5,
    "max_p99_ms": 40.0,
}


def summarize(
    name: str, result: dict[str, Any], ceiling_rps: float | None, target: Target | None
) -> dict[str, Any]:
    pct = result["latency_ms"]["percentiles"]
    row: dict[str, Any] = {
        "scenario": name,
        "rps": result["rps"],
        "p50_ms": pct["50"],
        "p99_ms": pct["99"],
        "ratio": (result["rps"] / ceiling_rps) if ceiling_rps else None,
        "errors": result["errors"],
        "cpu_us_per_req": result.get("cpu_us_per_req"),
        "rss_mb": (result.get("rss") or {}).get("max_mb"),
        "requests": result["requests"],
        "wraps": result["wraps"],
        "target": None,
        "verdict": None,
        "reasons": [],
        "wrk": result,
    }
    if target is not None:
        reasons = []
        if row["ratio"] is None or row["ratio"] < target["min_ratio"]:
            reasons.append(f"ratio below {target['min_ratio']:.2f}")
        if "max_p99_ms" in target and row["p99_ms"] > target["max_p99_ms"]:
            reasons.append(f"p99 above {target['max_p99_ms']:g} ms")
        if row["errors"]:
            reasons.append(f"{row['errors']} bad answers or socket errors")
        row["target"] = target
        row["verdict"] = "MISS" if reasons else "PASS"
        row["reasons"] = reasons
    if result["first_bad"]:
        row["first_bad"] = result["first_bad"]
    return row


def target_text(target: Mapping[str, float] | None) -> str:
    if not target:
        return "-"
    text = f">= {target['min_ratio']:.2f}x ceiling"
    if "max_p99_ms" in target:
        text += f", p99 <= {target['max_p99_ms']:g} ms"
    return text


def print_table(rows: list[dict[str, Any]], meta: Mapping[str, Any]) -> None:
    print()
    print(
        f"wxpay-local bench  {meta['started_at']}  {meta['database']}  workers={meta['workers']}  "
        f"wrk -t{meta['threads']} -c{meta['connections']} -d{meta['duration']}s  "
        f"cpus={meta['cpus']}  load before={meta['loadavg_before']} "
        f"after={meta.get('loadavg_after')}"
    )
    head = (
        f"{'scenario':<13} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>7} "
        f"{'cpu us/req':>10} {'rss MB':>6} {'errors':>6}  {'goal':<32} verdict"
    )
    print(head)
    print("-" * len(head))
    for row in rows:
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.3f}"
        cpu = "-" if not row.get("cpu_us_per_req") else f"{row['cpu_us_per_req']:.0f}"
        rss = "-" if row.get("rss_mb") is None else f"{row['rss_mb']:.0f}"
        verdict = row["verdict"] or "-"
        if row["reasons"]:
            verdict += " (" + "; ".join(row["reasons"]) + ")"
        print(
            f"{row['scenario']:<13} {row['rps']:>9.1f} {row['p50_ms']:>8.2f} "
            f"{row['p99_ms']:>8.2f} {ratio:>7} {cpu:>10} {rss:>6} {row['errors']:>6}  "
            f"{target_text(row['target']):<32} {verdict}"
        )
        if row["wraps"] and row["scenario"] == "unifiedorder":
            print(
                f"{'':<13} note: the body pool wrapped {row['wraps']} time(s): later requests "
                "re-entered existing orders (raise --pool)"
            )
        if row.get("first_bad"):
            print(f"{'':<13} first bad answer: {row['first_bad'][:200]}")
    print()


# the run ------------------------------------------------------------------------------------


def _row(run: Mapping[str, Any], scenario: str) -> Mapping[str, Any]:
    return next(r for r in run["rows"] if r["scenario"] == scenario)


def scaling(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every configuration against the first worker count of the same round: unifiedorder's
    rate and p99, orderquery's rate; the verdict where issue 15 sets a goal (SQLite 2 / 1)."""
    found = []
    base_workers = runs[0]["meta"]["workers"]
    for run in runs:
        if run["meta"]["workers"] == base_workers:
            base = run
            continue
        uo, base_uo = _row(run, "unifiedorder"), _row(base, "unifiedorder")
        oq, base_oq = _row(run, "orderquery"), _row(base, "orderquery")
        row: dict[str, Any] = {
            "workers": (base_workers, run["meta"]["workers"]),
            "database": run["meta"]["database"],
            "unifiedorder_speedup": uo["rps"] / base_uo["rps"] if base_uo["rps"] else None,
            "unifiedorder_p99_ms": uo["p99_ms"],
            "orderquery_speedup": oq["rps"] / base_oq["rps"] if base_oq["rps"] else None,
            "verdict": None,
            "reasons": [],
        }
        goal = SCALING_GOAL
        if (row["database"], row["workers"]) == (goal["database"], goal["workers"]):
            if row["unifiedorder_speedup"] is None or (
                row["unifiedorder_speedup"] < goal["min_speedup"]
            ):
                row["reasons"].append(f"speed-up below {goal['min_speedup']:g}x")
            if uo["p99_ms"] > goal["max_p99_ms"]:
                row["reasons"].append(f"p99 above {goal['max_p99_ms']:g} ms")
            if uo["errors"] or base_uo["errors"]:
                row["reasons"].append("bad answers or socket errors")
            row["verdict"] = "MISS" if row["reasons"] else "PASS"
        found.append(row)
    return found


def print_scaling(rows: list[dict[str, Any]]) -> None:
    goal = SCALING_GOAL
    print(
        f"scaling (same sitting; goal on {goal['database']} {goal['workers'][1]} / "
        f"{goal['workers'][0]} workers: unifiedorder >= {goal['min_speedup']:g}x, "
        f"p99 <= {goal['max_p99_ms']:g} ms)"
    )
    head = f"{'workers':<9} {'unifiedorder x':>14} {'its p99 ms':>10} {'orderquery x':>12}  verdict"
    print(head)
    print("-" * len(head))
    for row in rows:
        a, b = row["workers"]
        verdict = row["verdict"] or "-"
        if row["reasons"]:
            verdict += " (" + "; ".join(row["reasons"]) + ")"
        uo = row["unifiedorder_speedup"]
        oq = row["orderquery_speedup"]
        print(
            f"{f'{b} / {a}':<9} {'-' if uo is None else f'{uo:.2f}':>14} "
            f"{row['unifiedorder_p99_ms']:>10.2f} {'-' if oq is None else f'{oq:.2f}':>12}  "
            f"{verdict}"
        )
    print()
