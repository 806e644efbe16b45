"""Parsed facts for rules: Kubernetes objects, error JSON, tracebacks, server log lines. Views parse; rules decide."""
