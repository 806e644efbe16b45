"""Remove secrets from evidence before anything is analysed, written or rendered.

Covers the Azure forms (storage account keys, connection strings, SAS signatures, bearer and JWT
tokens, scoring keys, App Insights keys) and generic ``password=``/``secret:`` pairs, in free text
as well as in JSON values. Environment variables and ConfigMap keys whose *names* say they hold a
secret have their values replaced whatever the value looks like.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "[REDACTED]"

# (pattern, replacement, phrases one of which the text must contain for the pattern to apply).
# The phrases are checked with ``in`` on the lower-cased text first: most log text holds none of
# them, and a plain substring test is a hundred times cheaper than the regex.
_PAIR_KEYS = ("token", "primarykey", "secondarykey", "apikey", "api_key", "accountkey", "account_key", "access_key",
              "accesskey", "scoring_key", "scoringkey", "auth_key", "authkey", "sas")
_TEXT_PATTERNS: list[tuple[re.Pattern, str, tuple[str, ...]]] = [
    # Storage connection strings and their parts: AccountKey=..., SharedAccessSignature=...
    (
        re.compile(r"(?i)\b(AccountKey|SharedAccessKey|SharedAccessSignature)=[^;\s\"']+"),
        r"\1=" + MASK,
        ("accountkey=", "sharedaccesskey=", "sharedaccesssignature="),
    ),
    # SAS query strings: sig=... (URL-encoded base64)
    (re.compile(r"(?i)([?&]sig=)[^&\s\"'<>]+"), r"\1" + MASK, ("sig=",)),
    # Authorization headers and bearer tokens
    (re.compile(r"(?i)\b(Bearer|Basic)\s+[A-Za-z0-9\-._~+/]{12,}=*"), r"\1 " + MASK, ("bearer", "basic")),
    # JSON Web Tokens (AAD tokens, service-account tokens)
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), MASK, ("eyj",)),
    # App Insights / InstrumentationKey in connection strings
    (re.compile(r"(?i)\b(InstrumentationKey)=[0-9a-f-]{20,}"), r"\1=" + MASK, ("instrumentationkey=",)),
    # password/secret pairs in text, JSON or YAML: the value goes whatever it looks like.
    (
        re.compile(
            r"""(?ix)
            ((?:password|passwd|pwd|secret)[a-z0-9_]*["']?\s*[:=]\s*["']?)
            (?!\[REDACTED\])([^\s"',;}]+)"""
        ),
        r"\1" + MASK,
        ("password", "passwd", "pwd", "secret"),
    ),
    # key/token pairs: only a value that looks generated (a digit, or 16+ characters), so that
    # prose such as "failed to fetch oauth token: unexpected status: 401" stays readable.
    (
        re.compile(
            r"""(?ix)
            ((?:token|primarykey|secondarykey|apikey|api_key|accountkey|account_key|access_key|
                accesskey|scoring_key|scoringkey|auth_key|authkey|sas)[a-z0-9_]*["']?\s*[:=]\s*["']?)
            (?!\[REDACTED\])((?=[^\s"',;}]*\d)[^\s"',;}]{6,}|[^\s"',;}]{16,})"""
        ),
        r"\1" + MASK,
        _PAIR_KEYS,
    ),
    # A bare storage account key: 86 base64 characters and '=='
    (re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{86}==(?![A-Za-z0-9+/=])"), MASK, ("==",)),
]

_SECRET_NAME = re.compile(
    r"(?i)(password|passwd|secret|token|(^|_)key$|accountkey|account_key|apikey|api_key|connection_?string|"
    r"connstr|(^|_)sas(_|$)|credential|instrumentation_?key|primary_?key|secondary_?key|app_insights_key)"
)


def redact_text(text: str) -> str:
    lower = text.lower()
    for pattern, repl, phrases in _TEXT_PATTERNS:
        if any(p in lower for p in phrases):
            text = pattern.sub(repl, text)
    return text


# Fields that name a secret rather than hold one: keep them, they are evidence.
_NAMING_SUFFIXES = ("name", "ref", "namespace", "path", "type", "keys")


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name)) and not name.lower().endswith(_NAMING_SUFFIXES)


def redact_object(obj: Any) -> Any:
    """Redact a JSON-like structure in place and return it."""
    if isinstance(obj, dict):
        # Kubernetes env entries: {"name": "AZUREML_STORAGE_KEY", "value": "..."}
        name = obj.get("name")
        if isinstance(name, str) and isinstance(obj.get("value"), str) and is_secret_name(name):
            obj["value"] = MASK
        for key, value in list(obj.items()):
            if isinstance(value, str):
                obj[key] = MASK if (is_secret_name(key) and value and key != "name") else redact_text(value)
            else:
                redact_object(value)
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            if isinstance(value, str):
                obj[i] = redact_text(value)
            else:
                redact_object(value)
    return obj
