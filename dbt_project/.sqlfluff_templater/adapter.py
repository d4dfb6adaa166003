"""Lint-only stand-in for dbt's `adapter.dispatch`: resolves postgres__/default__ macros of the project."""

from jinja2 import pass_context


@pass_context
def dispatch(context, macro_name: str, macro_namespace: str | None = None):  # noqa: ANN001, ANN201
    for prefix in ("postgres__", "default__"):
        macro = context.get(prefix + macro_name)
        if macro is not None:
            return macro
    raise KeyError(macro_name)
