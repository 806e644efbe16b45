"""The evidence: a loaded bundle or pasted text, its text documents, and redaction of what leaves it."""
