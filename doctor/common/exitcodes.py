"""Exit codes of the ``aml-doctor`` command. Scripts and CI pipelines may rely on them."""

import enum


class ExitCode(enum.IntEnum):
    #: Nothing was found at or above ``--fail-on``.
    OK = 0
    #: Findings at or above ``--fail-on``.
    FINDINGS = 1
    #: A usage error, or input that cannot be read (a missing or damaged bundle, a bad config).
    USAGE_ERROR = 2
    #: Live collection failed as a whole (no cluster, storage or workspace could be reached).
    COLLECTION_ERROR = 3
    #: A bug in aml-doctor itself. Please report it.
    INTERNAL_ERROR = 4
    #: The evidence holds error text that no rule explains (verdict ``unrecognised``), or shows
    #: neither a failure nor health. Never read as "no problem found".
    UNRECOGNISED = 5
    #: The report could not be written: the disk is full (ENOSPC), the reader of the pipe went
    #: away (EPIPE), or another I/O error on stdout or the ``-o`` file.
    OUTPUT_ERROR = 6
    #: Interrupted (Ctrl-C).
    INTERRUPTED = 130
