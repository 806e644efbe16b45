"""Leaf helpers every layer may use: exit codes, terminal-safe text, one-line forms of errors
(``text``) and a call waited for until a deadline (``threads``). Nothing here knows AzureML."""
