"""Lint-only stand-ins for dbt's cross-database macros (sqlfluff jinja templater; never used by dbt)."""


def type_string() -> str:
    return "text"


def type_int() -> str:
    return "integer"


def type_bigint() -> str:
    return "bigint"


def type_numeric() -> str:
    return "numeric(28, 6)"


def type_float() -> str:
    return "float"


def type_timestamp() -> str:
    return "timestamp"


def dateadd(datepart: str, interval: object, from_date_or_timestamp: str) -> str:
    return f"{from_date_or_timestamp} + ((interval '1 {datepart}') * ({interval}))"


def datediff(first_date: str, second_date: str, datepart: str) -> str:
    return f"(({second_date})::date - ({first_date})::date)"


def date_trunc(datepart: str, date: str) -> str:
    return f"date_trunc('{datepart}', {date})"


def hash(field: str) -> str:  # noqa: A001 - mirrors dbt.hash
    return f"md5(cast({field} as text))"


def concat(fields: list[str]) -> str:
    return " || ".join(fields)


def safe_cast(field: str, type_: str) -> str:
    return f"cast({field} as {type_})"


def listagg(measure: str, delimiter_text: str = "','", order_by_clause: str | None = None,
            limit_num: int | None = None) -> str:
    return f"string_agg({measure}, {delimiter_text} {order_by_clause or ''})"


def position(substring_text: str, string_text: str) -> str:
    return f"position({substring_text} in {string_text})"


def listagg(measure: str, delimiter_text: str = "','", order_by_clause: str | None = None,
            limit_num: int | None = None) -> str:
    return f"string_agg({measure}, {delimiter_text}{' ' + order_by_clause if order_by_clause else ''})"
