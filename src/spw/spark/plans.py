"""`python -m spw.spark.plans --out DIR MODEL...` (spark venv): Spark's physical plan of models that a
Spark build compiled, read against the tables that build wrote, and the plan shapes that do not scale
out: a cartesian product (or a nested-loop join without an equality key) and an exchange into a single
partition (a window or sort with no partition key runs on one core whatever the cluster's size)."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from pathlib import Path

from spw.spark import session

# plan operators that put all rows of a join or a window through one task, or every pair of rows
NOT_SCALABLE = {
    "cartesian product": re.compile(r"CartesianProduct"),
    "nested-loop join": re.compile(r"BroadcastNestedLoopJoin"),
    "single-partition exchange": re.compile(r"Exchange SinglePartition"),
}


def compiled_sql(model: str) -> str:
    """The model's compiled SELECT from the Spark build's target folder."""
    found = sorted((session.spark_dir() / "target" / "compiled").rglob(f"{model}.sql"))
    if not found:
        raise SystemExit(f"{model}: no compiled SQL under {session.spark_dir() / 'target' / 'compiled'}")
    return found[0].read_text()


def plan_findings(plan: str) -> dict[str, int]:
    """How often each non-scalable shape occurs in a formatted physical plan."""
    return {name: len(pattern.findall(plan)) for name, pattern in NOT_SCALABLE.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="folder for <model>.txt plans and plans.json")
    parser.add_argument("models", nargs="+")
    opts = parser.parse_args(argv)
    spark = session.start()
    opts.out.mkdir(parents=True, exist_ok=True)
    summary = {}
    for model in opts.models:
        plan = spark.sql(f"explain formatted {compiled_sql(model)}").collect()[0][0]
        (opts.out / f"{model}.txt").write_text(plan)
        summary[model] = {"joins": len(re.findall(r"\b\w*Join\b", plan.split("\n\n")[0])),
                          **plan_findings(plan)}
        print(model, summary[model], flush=True)
    (opts.out / "plans.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
