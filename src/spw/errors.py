"""Expected failures: the CLI prints their message as one sentence, without a traceback."""


class SpwError(Exception):
    """An expected, user-actionable failure."""
