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

# plan shapes that pair every row with every row, or put all rows through one task: counted in the
# operator details of `explain formatted`
NOT_SCALABLE = {
    "cartesian product": re.compile(r"\) CartesianProduct\n"),
    "nested-loop join": re.compile(r"\) BroadcastNestedLoopJoin\n"),
    # a global aggregate's partial results (one row per task) also meet in one partition: harmless
    "single-partition exchange": re.compile(r"\) Exchange\nInput [^\n]*\nArguments: SinglePartition"),
}
WINDOW_ARGUMENTS = re.compile(r"\) Window\nInput [^\n]*\nArguments: ([^\n]*)")
def compiled_sql(model: str) -> str:
    """The model's compiled SELECT from the Spark build's target folder."""
    found = sorted((session.spark_dir() / "target" / "compiled").rglob(f"{model}.sql"))
    if not found:
        raise SystemExit(f"{model}: no compiled SQL under {session.spark_dir() / 'target' / 'compiled'}")
    return found[0].read_text()


def top_level_lists(text: str) -> list[str]:
    """The bracketed lists at the top level of an operator's arguments."""
    lists, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
            if depth == 1:
                start = i + 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                lists.append(text[start:i])
    return lists


def unpartitioned_windows(plan: str) -> int:
    """Windows with no partition key (they sort every row in one task). Spark prints a Window's
    arguments as [functions], [partition keys], [ordering] and leaves an empty list out, so a window
    without keys shows its ordering (ASC/DESC) second."""
    count = 0
    for args in WINDOW_ARGUMENTS.findall(plan):
        lists = top_level_lists(args)
        if (len(lists) == 3 and not lists[1].strip()) or (len(lists) == 2 and re.search(r" (ASC|DESC)\b", lists[1])):
            count += 1
    return count


def plan_findings(plan: str) -> dict[str, int]:
    """How often each non-scalable shape occurs in a formatted physical plan."""
    found = {name: len(pattern.findall(plan)) for name, pattern in NOT_SCALABLE.items()}
    found["unpartitioned window"] = unpartitioned_windows(plan)
    return found


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
