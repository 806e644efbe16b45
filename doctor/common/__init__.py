"""Leaf helpers every layer may use: exit codes and terminal-safe text. Nothing here knows AzureML."""
