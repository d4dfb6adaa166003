"""numpy reference implementations of the published estimators (methods §3, §4, §4b, §4c)."""
