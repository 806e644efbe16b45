"""Command layer: one module per command, and the options, output and errors they share."""
