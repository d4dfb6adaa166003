"""The silent traps of Spark (docs/national-scale.md, what differs): SQL that runs there without an
error and gives wrong numbers. Model and macro SQL may use these only inside a Postgres-only body: a
`postgres__` macro, or a `default__` one whose `spark__` form exists beside it. Also one construct
Spark refuses that only the opt-in parity test would otherwise meet: round() to a column's places."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DBT = Path(__file__).resolve().parents[1] / "dbt_project"

MACRO_BLOCK = re.compile(r"{%-?\s*macro\s+(\w+)\s*\(.*?{%-?\s*endmacro\s*-?%}", re.S)
JINJA_COMMENT = re.compile(r"{#.*?#}", re.S)
JINJA_TAG = re.compile(r"{{.*?}}|{%.*?%}", re.S)
SQL_COMMENT = re.compile(r"--[^\n]*")
STRING = re.compile(r"'(?:[^']|'')*'")

# (what, pattern, why): checked on SQL text (Jinja removed) and on SQL written as Jinja strings.
TRAPS = (
    ("bare numeric", re.compile(r"\bnumeric\b"), "decimal(10,0) on Spark: rounds to integers"),
    ("text type", re.compile(r"\btext\b"), "not a Spark type"),
    ("double precision", re.compile(r"\bdouble\s+precision\b"), "not a Spark type"),
    ("timestamp with time zone", re.compile(r"\bwith\s+time\s+zone\b|\btimestamptz\b"), "not a Spark type"),
    ("'-infinity'", re.compile(r"'-?infinity'", re.I), "NULL on Spark: a filter on it selects nothing"),
    ("::", re.compile(r"::"), "Postgres cast"),
)
# Checked on SQL outside string literals (a regular expression's [0-9] is not a subscript).
CODE_TRAPS = (
    ("~", re.compile(r"~"), "Postgres regex match; Jinja's ~ is outside the SQL text"),
    ("[ subscript", re.compile(r"[\w)\]]\s*\["), "0-based on Spark, 1-based on Postgres: use array_at()"),
)
JINJA_TRAPS = (
    ("dbt.type_float()", re.compile(r"\btype_float\s*\("), "a 4-byte float on Spark: use type_double()"),
)


def portable_parts(text: str) -> str:
    """The text that Spark can run: Postgres-only macro bodies removed."""
    text = JINJA_COMMENT.sub("", text)
    names = set(MACRO_BLOCK.findall(text))

    def keep(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("postgres__"):
            return ""
        if name.startswith("default__") and "spark__" + name.removeprefix("default__") in names:
            return ""
        return match.group(0)

    return MACRO_BLOCK.sub(keep, text)


def _call_arguments(code: str, start: int) -> list[str]:
    """Top-level arguments of the call whose '(' is at code[start]."""
    args, depth, begin = [], 0, start + 1
    for i in range(start, len(code)):
        if code[i] == "(":
            depth += 1
        elif code[i] == ")":
            depth -= 1
            if depth == 0:
                return [*args, code[begin:i]]
        elif code[i] == "," and depth == 1:
            args.append(code[begin:i])
            begin = i + 1
    return args


def column_scale_rounds(code: str) -> list[str]:
    """round(x, <not a literal>): Spark wants a constant scale (a Jinja value, blanked here, is one)."""
    found = []
    for match in re.finditer(r"\bround\s*\(", code):
        args = _call_arguments(code, match.end() - 1)
        if len(args) == 2 and not re.fullmatch(r"\s*-?\d*\s*", args[1]):
            found.append(f"round(..., {args[1].strip()}) (Spark refuses a scale that is not a constant)")
    return found


def traps_in(text: str) -> list[str]:
    text = portable_parts(text)
    found = [f"{what} ({why})" for what, rx, why in JINJA_TRAPS if rx.search(text)]
    tags = JINJA_TAG.findall(text)
    jinja_strings = " ".join(STRING.findall(" ".join(tags))) + " " + " ".join(
        re.findall(r'"(?:[^"\\]|\\.)*"', " ".join(tags)))
    sql = SQL_COMMENT.sub("", JINJA_TAG.sub(" ", text))
    for what, rx, why in TRAPS:
        if rx.search(sql) or rx.search(jinja_strings):
            found.append(f"{what} ({why})")
    code = STRING.sub("''", sql)
    found += [f"{what} ({why})" for what, rx, why in CODE_TRAPS if rx.search(code)]
    return found + column_scale_rounds(code)


def sql_files() -> list[Path]:
    """Models and macros: the data tests (dbt_project/tests) run on Postgres only."""
    return sorted([*(DBT / "models").rglob("*.sql"), *(DBT / "macros").rglob("*.sql")])


@pytest.mark.parametrize("path", sql_files(), ids=lambda p: str(p.relative_to(DBT)))
def test_no_silent_spark_trap_outside_postgres_bodies(path: Path) -> None:
    found = traps_in(path.read_text())
    assert not found, f"{path.relative_to(DBT)}: {found}"


@pytest.mark.parametrize("snippet, trap", [
    ("select cast(x as numeric) from t", "bare numeric"),
    ("select cast(x as text) from t", "text type"),
    ("select cast(x as double precision) from t", "double precision"),
    ("select cast(x as timestamp with time zone) from t", "timestamp with time zone"),
    ("select * from t where d > '-infinity'", "'-infinity'"),
    ("select x::date from t", "::"),
    ("select * from t where name ~ '^A'", "~"),
    ("select arr[1] from t", "[ subscript"),
    ("select (f(x))[2] from t", "[ subscript"),
    ("select cast(x as {{ dbt.type_float() }}) from t", "dbt.type_float()"),
    ("{{ my('cast(' ~ c ~ ' as numeric)') }}", "bare numeric"),
    ("{% macro spark__f() %}x{% endmacro %}{% macro default__f() %}a::int{% endmacro %}", None),
    ("{% macro default__g() %}a::int{% endmacro %}", "::"),
    ("{% macro postgres__h() %}cast(x as text){% endmacro %}", None),
    ("select * from t where code rlike '^[0-9]{4}' -- a ~ b", None),
    ("{{ 'int_' ~ name }} {#- x::y -#}", None),
    ("select round(att, shown_dp) from t", "round(..., shown_dp)"),
    ("select round(cast(f(a, b) as {{ t() }}), d.places) from t", "round(..., d.places)"),
    ("select round(round(x, 10), {{ places }}), round(f(a, b), 2), round(y) from t", None),
])
def test_the_guard_finds_each_trap(snippet: str, trap: str | None) -> None:
    found = traps_in(snippet)
    if trap is None:
        assert not found, found
    else:
        assert any(f.startswith(trap + " (") for f in found), (snippet, found)


def test_seed_column_types_name_a_type_per_engine() -> None:
    """A seed's `numeric` is decimal(10,0) on Spark too: Postgres-only type names go through target.type."""
    import yaml

    for path in sorted((DBT / "seeds").glob("*.yml")):
        for seed in yaml.safe_load(path.read_text()).get("seeds", []):
            for column, kind in (seed.get("config", {}).get("column_types") or {}).items():
                assert not re.fullmatch(r"numeric|text|double precision|timestamptz|timestamp with time zone|float",
                                        str(kind).strip()), f"{path.name}: {seed['name']}.{column}: {kind}"


# A window with no PARTITION BY runs in one task on Spark, whatever the cluster (issue 15 item 5).
# Allowed only over rows whose number does not grow with patients or events: model -> what it numbers.
SINGLE_PARTITION_WINDOWS = {
    "int_equity_people": "the cohort financial years (one row each)",
    "int_sdid_patients": "the practices (one row each)",
    "int_sdid_bootstrap": "the bootstrap groups (measures x areas x cohort years)",
}


def unpartitioned_windows(sql: str) -> int:
    """How many `over (...)` clauses of the SQL (Jinja removed) have no PARTITION BY."""
    code = STRING.sub("''", SQL_COMMENT.sub("", JINJA_TAG.sub(" ", JINJA_COMMENT.sub("", sql))))
    count = 0
    for match in re.finditer(r"\bover\s*\(", code, re.I):
        args = _call_arguments(code, match.end() - 1)
        if not re.search(r"\bpartition\s+by\b", ",".join(args), re.I):
            count += 1
    return count


def test_windows_without_a_partition_only_over_bounded_rows() -> None:
    found = {p.stem: n for p in (DBT / "models").rglob("*.sql") if (n := unpartitioned_windows(p.read_text()))}
    assert set(found) == set(SINGLE_PARTITION_WINDOWS), found
    assert all(n == 1 for n in found.values()), found


@pytest.mark.parametrize("snippet, count", [
    ("select row_number() over (order by a) from t", 1),
    ("select row_number() over (partition by p order by a), lead(x) over () from t", 1),
    ("select sum(x) over (\n    partition by p\n    order by d\n) from t", 0),
    ("select 'over (order by a)' from t -- over (order by b)", 0),
])
def test_the_window_guard_counts(snippet: str, count: int) -> None:
    assert unpartitioned_windows(snippet) == count


@pytest.mark.parametrize("plan, shape, count", [
    ("(4) Window\nInput [2]: [a#1, b#2]\nArguments: [row_number() windowspecdefinition(a#1 ASC NULLS FIRST)], "
     "[a#1 ASC NULLS FIRST]\n", "unpartitioned window", 1),
    ("(5) Window\nInput [2]: [a#1, b#2]\nArguments: [count(1) windowspecdefinition(a#1)], [a#1]\n",
     "unpartitioned window", 0),
    ("(5) Window\nInput [2]: [a#1, b#2]\nArguments: [rank(b#2)], [a#1], [b#2 ASC NULLS FIRST]\n",
     "unpartitioned window", 0),
    ("(7) Exchange\nInput [2]: [min#1, max#2]\nArguments: SinglePartition, ENSURE_REQUIREMENTS\n",
     "single-partition exchange", 1),
    ("(8) BroadcastNestedLoopJoin\nJoin type: Cross\n(9) CartesianProduct\nJoin condition: None\n",
     "cartesian product", 1),
])
def test_spark_plan_shapes_are_counted(plan: str, shape: str, count: int) -> None:
    """What benchmarks/bench_scale.py reports about the heaviest models' Spark plans (docs/scale.md)."""
    from spw.spark.plans import plan_findings

    assert plan_findings(plan)[shape] == count
