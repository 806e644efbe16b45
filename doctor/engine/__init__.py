"""The rule engine: the rule base, plugins, the guarded runner, ranking and the verdict."""
