"""The secret shapes redaction recognises: one named rule per context or shape.

A rule finds the *span* of a secret, never rewrites text itself: :mod:`aml_doctor.evidence.redact` merges
the spans every rule found and replaces each with a token. Rules fall in two families:

- context: a credential word in a key, header, flag or parameter name (``AccountKey=``,
  ``"password": "..."``, ``Authorization: Bearer ...``, ``--client-secret ...``, ``?sig=...``),
  then whatever value follows, in plain, URL-encoded (once or twice) or JSON-escaped (once or
  twice) form;
- shape: a value whose form alone says it is a credential (a JWT, an 88-character storage key, a
  private key block, provider token prefixes from public leak-detection rule sets: gitleaks
  ``config/gitleaks.toml``, detect-secrets ``detect_secrets/plugins``, trufflehog ``pkg/detectors``).

Every pattern runs in time linear in its input, which ``tests/test_redact_linear.py`` measures:
every repetition is bounded, and a repetition that can be tried from many places in one run of
characters is guarded by a look-behind, so each start position costs a bounded number of steps.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Callable

# ---------------------------------------------------------------------------------- fragments
# A quote, raw or escaped: ", ', ` or \" \\\" (JSON escaped once or twice), &quot;, \u0022, %22.
Q = r"""(?:\\{0,7}["'`]|&quot;|&\#34;|\\u0022|%22|%2522)"""
# Between a name and its value: = : => := and their URL-encoded and \u-escaped forms.
SEP = r"""[ \t]{0,4}(?:=>|:=|[:=]|%3[dD]|%253[dD]|\\u003[dD])[ \t]{0,24}"""
# One character of a value. A value ends at white space, a quote, a backslash (the start of an
# escaped quote), a delimiter of the surrounding syntax (, ; < > ( ) [ ] { } |), an encoded
# delimiter (%26 %22 %20 %3B %2C %3C, or their double-encoded %25.. forms), and at an ``&`` that
# starts the next query parameter or an HTML entity. Tokens already written (``<redacted:..>``,
# ``&lt;redacted:..&gt;``, ``\u003credacted``) therefore never read as values.
_PLAIN = r"""[^\s"'`\\&%;,<>()\[\]{}|=:]"""
_PERCENT = r"""%(?!2[026cC]|3[aAbBcCdDeE]|25(?:2[026cC]|3[aAbBcCdDeE]))[0-9A-Fa-f]{2}"""
_AMP = r"""&(?![A-Za-z_][A-Za-z0-9_.-]{0,40}=|amp;|quot;|lt;|gt;|apos;|\#)"""
UNIT = rf"""(?:{_PLAIN}|{_PERCENT}|{_AMP})"""
# ``=`` and ``:`` (and their encoded forms) end a value except as base64 padding at its end, so
# ``conn: acrPass=...`` reads as two pairs and a rejected pair never hides the next one.
VALUE = rf"""(?P<v>{UNIT}{{1,1024}}(?:={{1,3}}|(?:%(?:25)?3[dD]){{1,3}})?)"""
# A name as far as it goes, taken atomically: the look-ahead captures it and the back-reference
# consumes exactly that, so a failed separator never makes the engine retry shorter names
# (the ``tokentoken...`` ReDoS of issue 13). This is how Python before 3.11 spells ``{0,32}+``.
NAME_TAIL = r"""(?=(?P<t>[A-Za-z0-9_.\-]{0,32}))(?P=t)"""
# Authorization schemes that put a space between the scheme and the credential.
SCHEME = r"""(?:(?:Bearer|Basic|SharedAccessSignature|Digest|Negotiate|NTLM|Token|ApiKey|HMAC-SHA256|MAC)[ \t]{1,3}|SharedKey(?:Lite)?[ \t]{1,3}[A-Za-z0-9]{1,64}:)?"""

# ---------------------------------------------------------------------------------- names
# Credential words as they appear inside names, lower-cased. A name holds a secret when one of
# its parts (split at _ - . and camelCase) is a strong word, or when the parts run together
# contain a strong compound. A weak word (``key``, ``token``, ``auth``) needs a value that looks
# generated, so ``token: unexpected status`` and ``key: AZUREML_MODEL_DIR`` stay readable.
STRONG_PARTS = frozenset({
    "password", "passwd", "pwd", "pass", "passphrase", "secret", "secrets", "credential", "credentials",
    "sig", "signature", "sas", "authorization", "connectionstring", "connstr", "apikey", "privatekey",
})
STRONG_COMPOUNDS = (
    "password", "passwd", "secret", "credential", "connectionstring", "connstring", "connstr",
    "accountkey", "accesskey", "sharedaccesskey", "sharedaccesssignature", "sharedkey", "apikey",
    "primarykey", "secondarykey", "scoringkey", "authkey", "subscriptionkey", "masterkey", "signingkey",
    "privatekey", "secretkey", "clientsecret", "instrumentationkey", "appinsightskey", "sastoken",
    "accesstoken", "refreshtoken", "idtoken", "authtoken", "bearertoken", "sessiontoken", "apitoken",
    "functionkey", "functionskey", "hostkey", "storagekey", "encryptionkey", "acrpass", "dockerpass",
)
WEAK_PARTS = frozenset({"key", "keys", "token", "tokens", "auth", "code", "pat"})
# A name that ends in one of these *names* a secret (``secretName``, ``secretKeyRef``,
# ``key_vault_uri``) rather than holding one: its value is evidence and stays.
NAMING_SUFFIXES = frozenset({
    "name", "names", "ref", "namespace", "path", "type", "kind", "id", "file", "dir", "mode", "version",
    "length", "size", "count", "enabled", "expiry", "expires", "expiration", "time", "header", "source",
    "vault", "store", "uri", "url", "endpoint", "format", "policy", "provider", "label", "prefix", "rotation",
    "created", "updated", "at", "ttl", "field", "hint", "scope", "method", "required", "status", "env",
})
# A "code" these words qualify identifies an error or a request, not a login: ``reference_code``
# (the managed endpoint's 424 body: "reference_code": "<guid>"), ``error_code``, ``status_code``.
CODE_IDENTIFIERS = frozenset({
    "reference", "error", "status", "exit", "return", "response", "result", "request", "correlation",
    "operation", "reason", "http", "country", "region", "language", "currency", "zip", "postal",
})
_CAMEL = re.compile(r"[A-Z]{2,}(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
# Words the names are looked for by (the patterns start at one of these).
# Stems of names that hold a secret whatever its length, and of names (``key``, ``token``) whose
# values count only when generated, so at least 8 characters: the engine, not Python, then
# passes over ``key: app`` and the million pairs of ``key:key:key:...``.
STRONG_STEMS = r"(?:pass|pwd|secret|cred|sig|conn|sas|api_?key|api-key)"
WEAK_STEMS = r"(?:token|key|auth|code)"
_STRONG_PHRASES = ("pass", "pwd", "secret", "cred", "sig", "conn", "sas", "apikey", "api_key", "api-key")
_WEAK_PHRASES = ("token", "key", "auth", "code")
WEAK_VALUE = VALUE.replace("{1,1024}", "{8,1024}")


def name_parts(name: str) -> list[str]:
    parts: list[str] = []
    for chunk in re.split(r"[_.\-\s]+", name):
        parts += [p.lower() for p in _CAMEL.findall(chunk)]
    return [p for p in parts if p]


# Endings that still mean "the secret itself": ACR_PASSWORD2, clientSecretValue, key_b64.
VALUE_SUFFIXES = frozenset({"value", "val", "string", "str", "b64", "base64", "raw", "data", "text", "content", "enc", "encoded"})


@functools.lru_cache(maxsize=4096)
def name_strength(name: str) -> str:
    """"strong", "weak" or "" for a key, header, flag or variable name.

    The credential word must end the name (after digits and words like ``value``): ``acrPass``,
    ``AZURE_STORAGE_KEY``, ``X-Api-Key`` hold secrets; ``AuthorizationFailed``, ``secretName``,
    ``key_vault_uri``, ``tokenExpiry`` are about one."""
    parts = name_parts(name)
    while len(parts) > 1 and (parts[-1].isdigit() or parts[-1] in VALUE_SUFFIXES):
        parts.pop()
    if not parts:
        return ""
    if parts == ["auth"]:  # docker config.json: {"auths": {"host": {"auth": "base64(user:pass)"}}}
        return "strong"
    last, joined = parts[-1], "".join(parts)
    if last in STRONG_PARTS or any(joined.endswith(c) for c in STRONG_COMPOUNDS):
        return "strong"
    if last == "code" and len(parts) > 1 and parts[-2] in CODE_IDENTIFIERS:
        return ""
    if last in WEAK_PARTS:
        return "weak"
    return ""


_NAME_SET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


def full_name(text: str, start: int, end: int) -> str:
    """The whole identifier around text[start:end] (the stem a pattern matched), at most 64 chars."""
    i, limit = start, max(0, start - 64)
    while i > limit and text[i - 1] in _NAME_SET:
        i -= 1
    return text[i:end].lstrip("-.")


# ---------------------------------------------------------------------------------- values
_PLACEHOLDER = re.compile(
    r"""(?ix)^(?:|null|none|nil|true|false|undefined|\*+|x+|\.+|-+|<[^>]*>|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|
    \{\{.*\}\}|%\(?[A-Za-z_]+\)?s?|redacted|\[redacted\]|changeme|required|optional|string|str|bytes|secret|password)$"""
)
_HEX = re.compile(r"[0-9a-fA-F]+")
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


_AUTH_SCHEME = re.compile(r"(?i)^(?:Bearer|Basic|Token)\s+")


def is_placeholder(value: str) -> bool:
    """Empty, a word such as ``null`` or ``changeme``, a template (``${VAR}``, ``{{ x }}``), or
    one or two characters (an f-string's ``f``, a flag's argument): not a secret to hide. An
    authorization scheme before one (``Bearer <redacted>``, as pasted once already redacted) is one too."""
    value = _AUTH_SCHEME.sub("", value.strip("\"'`"))
    return len(value) < 3 or bool(_PLACEHOLDER.match(value))


@functools.lru_cache(maxsize=4096)
def looks_generated(value: str) -> bool:
    """A value shaped like a key, token or password someone generated, not a word or a path.

    Used where only the context is weak (``key:``, ``token=``, prose next to a credential word):
    at least 8 characters, no path or URL, and either letters mixed with digits or a long
    mixed-case run (base64 without digits is rare but exists)."""
    v = value.strip("\"'`")
    if len(v) < 8 or "://" in v or v.startswith(("/", "./", "~")) or is_placeholder(v):
        return False
    if "/" in v and all(re.fullmatch(r"[a-z0-9._\-]{0,24}", seg) for seg in v.split("/")):
        return False  # a path: 8911/v1/token/msi/xds
    has_digit = any(c.isdigit() for c in v)
    has_lower = any(c.islower() for c in v)
    has_upper = any(c.isupper() for c in v)
    if _HEX.fullmatch(v) and len(v) in (32, 40, 64, 128) or _GUID.fullmatch(v):
        return True
    if has_digit and (has_lower or has_upper):
        # Kubernetes names and versions (scorer-7c9d5b6f8d, 1.0.83, 2019-07-07) are not keys.
        if re.fullmatch(r"[a-z0-9]+(?:[-.][a-z0-9]+)*", v) and not re.search(r"[0-9a-f]{16}", v):
            return len(v) >= 24 and sum(c.isdigit() for c in v) >= 4 and "-" not in v and "." not in v
        return not re.fullmatch(r"[0-9.:\-T+Z]+", v)
    return len(v) >= 20 and has_lower and has_upper and not re.fullmatch(r"[A-Za-z]+(?:[-_.][A-Za-z]+)*", v)


# ---------------------------------------------------------------------------------- rules
# Byte -> b"a" for an ASCII letter or digit, b" " for anything else. In UTF-8 every byte of a
# non-ASCII character is 0x80 or above, so a run of b"a" is a run of ASCII letters and digits.
_ALNUM_BYTES = bytes(ord("a") if i < 128 and chr(i).isalnum() else ord(" ") for i in range(256))


def has_alnum_run(text: str, n: int) -> bool:
    """Whether ``text`` holds ``n`` ASCII letters and digits in a row: encode, translate and
    find, each in C, a few milliseconds for megabytes a regex scans in a tenth of a second."""
    return b"a" * n in text.encode("utf-8", "surrogatepass").translate(_ALNUM_BYTES)


Span = tuple[int, int, str]  # (start, end, kind) of a secret in the text
Pick = Callable[[re.Match, str], list[Span]]


@dataclass(frozen=True)
class Rule:
    """``phrases``: the lower-cased text must hold one of them for the pattern to be tried (a
    substring test is a hundred times cheaper than a regex scan, and most log text holds none).
    ``pick`` turns a match into secret spans; by default the group ``v`` is the secret."""

    name: str
    kind: str
    pattern: re.Pattern
    phrases: tuple[str, ...]
    pick: Pick | None = None
    # The secret may run over many lines (a PEM block): scan from the phrase to the end.
    multiline: bool = False
    # Every match holds a run of at least this many ASCII letters and digits: a text without one
    # is skipped after a check at C speed (has_alnum_run), not scanned by the pattern.
    alnum_run: int = 0

    def spans(self, text: str, lower: str | None = None, positions: dict[str, list[int]] | None = None) -> list[Span]:
        out: list[Span] = []
        for start, end in self.windows(text, lower, positions):
            pos = start
            while pos < end:
                m = self.pattern.search(text, pos, end)
                if m is None:
                    break
                found = self.pick(m, text) if self.pick is not None else (
                    [(m.start("v"), m.end("v"), self.kind)] if m.group("v") else [])
                out += found
                # A rejected match (``connect: acrPass=...`` is no credential name) may hold the
                # next one in its value: look again from there, never from before it.
                value = m.start("v") if "v" in m.re.groupindex and m.group("v") is not None else m.end()
                pos = m.end() if found else max(value, m.start() + 1)
        return out

    def windows(self, text: str, lower: str | None = None,
                positions: dict[str, list[int]] | None = None) -> list[tuple[int, int]]:
        """The stretches of ``text`` worth scanning: the line holding a phrase and the line after
        it (a value may follow on the next line), merged. Most lines of a log hold no phrase,
        so the regex sees a small part of the text. Each ``find`` starts past the last window,
        so the phrases are looked for in one pass whatever their number: linear time.

        ``positions``: where each phrase starts in ``lower``, in order, from a scan already made
        (every occurrence); the same windows come from them without a ``find`` per phrase."""
        if not self.phrases:
            return [(0, len(text))]
        lower = text.lower() if lower is None else lower
        if len(lower) != len(text):  # a few characters lower-case to two ('İ'): positions differ
            return [(0, len(text))]
        found: list[tuple[int, int]] = []
        for phrase in self.phrases:
            if positions is not None:
                at = iter(positions.get(phrase, ()))

                def find(_phrase: str, start: int = 0, _at=at) -> int:
                    for i in _at:  # the first occurrence at or after start, as str.find gives
                        if i >= start:
                            return i
                    return -1
            else:
                find = lower.find
            i = find(phrase)
            while i >= 0:
                start = lower.rfind("\n", 0, i) + 1
                if self.multiline:
                    found.append((start, len(text)))
                    break
                end = lower.find("\n", i + len(phrase))
                end = len(text) if end < 0 else lower.find("\n", end + 1)
                end = len(text) if end < 0 else end
                found.append((start, end))
                i = find(phrase, end)
        found.sort()
        merged: list[tuple[int, int]] = []
        for start, end in found:
            if merged and start <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return merged


def kind_of(name: str) -> str:
    joined = "".join(name_parts(name))
    for word, kind in (
        ("connectionstring", "connection-string"), ("connstr", "connection-string"),
        ("instrumentationkey", "app-insights-key"), ("appinsights", "app-insights-key"),
        ("accountkey", "account-key"), ("storagekey", "account-key"), ("sharedaccesskey", "account-key"),
        ("sharedkey", "shared-key"), ("sharedaccesssignature", "sas"), ("sig", "sas"), ("sas", "sas"),
        ("clientsecret", "client-secret"), ("authorization", "authorization"), ("auth", "auth"),
        ("token", "token"), ("pass", "password"), ("pwd", "password"), ("secret", "secret"),
        ("credential", "credential"), ("key", "key"), ("code", "key"),
    ):
        if word in joined:
            return kind
    return "secret"


def _pick_named(m: re.Match, text: str) -> list[Span]:
    """key=value, "key": "value", header: value, ?param=value: the name decides."""
    name = full_name(text, m.start("n"), m.end("n"))
    name_start = m.end("n") - len(name)
    if text[max(0, name_start - 3):name_start] == "://":
        return []  # https://__token__:secret@host is URL userinfo, redacted by its own rule
    found = m.groupdict()
    group = "v" if found.get("v") is not None else "w"
    value = found.get(group)
    if value is None:
        return []
    decided = _decide_named(name, value, bool(found.get("s")))
    return [(m.start(group) + decided[0], m.end(group), decided[1])] if decided else []


@functools.lru_cache(maxsize=4096)
def _decide_named(name: str, value: str, scheme: bool) -> tuple[int, str] | None:
    """(characters of the value to keep, kind), or None when the pair holds no secret. Cached:
    logs repeat their pairs, and adversarial input repeats one pair a million times."""
    strength = name_strength(name)
    if not strength or is_placeholder(value):
        return None
    if strength == "weak" and not scheme and not looks_generated(value):
        return None
    if scheme and not looks_generated(value) and not re.search(r"[.=:/+_\-]", value):
        return None  # "the Authorization: Bearer header" is prose
    skip = _scheme_prefix(value) if not scheme else 0  # 'Bearer x' quoted whole: keep the scheme
    return (skip, kind_of(name)) if skip < len(value) else None


_SCHEME_PREFIX = re.compile(r"(?:Bearer|Basic|SharedAccessSignature|Token|ApiKey)[ \t]{1,3}|SharedKey(?:Lite)?[ \t]{1,3}[A-Za-z0-9]{1,64}:")


def _scheme_prefix(value: str) -> int:
    m = _SCHEME_PREFIX.match(value)
    return m.end() if m else 0


def _pick_spaced(m: re.Match, text: str) -> list[Span]:
    """``password Hunter2Pass`` with only a space: the value must look generated."""
    if not looks_generated(m.group("v")):
        return []
    return [(m.start("v"), m.end("v"), "password")]


_LOGIN = re.compile(r"(?i)\b(?:login|logon|sqlcmd|mysql|mongo|redis-cli)\b")
_PORT_LIKE = re.compile(r"[0-9:/.\-a-z]*")


def _pick_flag(m: re.Match, text: str) -> list[Span]:
    flag = m.group("n")
    value = m.group("v")
    if is_placeholder(value) or value.startswith("-"):
        return []
    if flag in ("-p", "-P"):
        # docker login -p, az login --service-principal -p, mysql -p: a password. Elsewhere -p is
        # a port (docker run -p 8080:80) or a path, and only a generated-looking value goes.
        line_start = text.rfind("\n", 0, m.start()) + 1
        if _LOGIN.search(text, line_start, m.start()) or looks_generated(value):
            return [(m.start("v"), m.end("v"), "password")]
        return []
    strength = name_strength(flag.lstrip("-"))
    if not strength or (strength == "weak" and not looks_generated(value)):
        return []
    if re.fullmatch(r"[a-z]{1,5}", value):
        return []  # docker's own "WARNING! Using --password via the CLI is insecure"
    return [(m.start("v"), m.end("v"), kind_of(flag))]


def _pick_generated(kind: str, digits: int = 0) -> Pick:
    def pick(m: re.Match, text: str) -> list[Span]:
        v = m.group("v")
        if looks_generated(v) and sum(c.isdigit() for c in v) >= digits:
            return [(m.start("v"), m.end("v"), kind)]
        return []

    return pick


def _pick_generated_pair(kind: str) -> Pick:
    """Both values of a pair when either looks generated: get_keys() prints two random keys, and
    a list of two names (['CUDAExecutionProvider', 'CPUExecutionProvider'], mlflow#5308) is not one."""
    def pick(m: re.Match, text: str) -> list[Span]:
        if not (looks_generated(m.group("v")) or looks_generated(m.group("w"))):
            return []
        return [(m.start(g), m.end(g), kind) for g in ("v", "w")]

    return pick


def _pick_name_value_pair(m: re.Match, text: str) -> list[Span]:
    """{"name": "password", "value": "..."}: az acr credential show, Kubernetes env in text form."""
    strength = name_strength(m.group("n"))
    value = m.group("v")
    if not strength or is_placeholder(value) or (strength == "weak" and not looks_generated(value)):
        return []
    return [(m.start("v"), m.end("v"), kind_of(m.group("n")))]


_SCHEME_WORD = re.compile(r"[A-Za-z]+")


def _pick_scheme(m: re.Match, text: str) -> list[Span]:
    """Bearer/Basic/SharedKey credentials; prose such as "Basic authentication failed" stays."""
    import base64
    import binascii

    value = m.group("v")
    scheme = _SCHEME_WORD.match(m.group(0)).group(0).lower()
    if scheme == "basic":
        try:
            ok = b":" in base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
        except (binascii.Error, ValueError):
            ok = False
    else:
        ok = "." in value or ":" in value or "=" in value
    if scheme.startswith("sharedkey") and ":" in value:
        # SharedKey <account>:<signature>: the account name is evidence, the signature the secret.
        return [(m.start("v") + value.index(":") + 1, m.end("v"), "shared-key")]
    if ok or looks_generated(value):
        return [(m.start("v"), m.end("v"), "authorization")]
    return []


def _pick_mixed(m: re.Match, text: str) -> list[Span]:
    v = m.group("v")
    if any(c.islower() for c in v) and any(c.isupper() for c in v) and sum(c.isdigit() for c in v) >= 2:
        return [(m.start("v"), m.end("v"), "key")]
    return []


def _pick_login_line(m: re.Match, text: str) -> list[Span]:
    line_start = text.rfind("\n", 0, m.start()) + 1
    if _LOGIN.search(text, line_start, m.start()) and not is_placeholder(m.group("v")):
        return [(m.start("v"), m.end("v"), "password")]
    return []


_B64 = r"[A-Za-z0-9+/]"
_TOK = r"[A-Za-z0-9_\-]"

RULES: tuple[Rule, ...] = (
    # ---- context: a credential word in a name, then a separator and the value.
    Rule(
        "named-value",
        "secret",
        re.compile(rf"(?i)(?P<n>{STRONG_STEMS}{NAME_TAIL}){Q}?{SEP}{Q}?(?P<s>{SCHEME}){VALUE}"),
        _STRONG_PHRASES,
        _pick_named,
    ),
    Rule(
        "named-value",
        "secret",
        re.compile(rf"(?i)(?P<n>{WEAK_STEMS}{NAME_TAIL}){Q}?{SEP}{Q}?(?P<s>{SCHEME}){WEAK_VALUE}"),
        _WEAK_PHRASES,
        _pick_named,
    ),
    # "password": "two words" or 'a b': a quoted value runs to its closing quote.
    Rule(
        "named-quoted-value",
        "secret",
        re.compile(
            rf"""(?i)(?P<n>{STRONG_STEMS}{NAME_TAIL})["']?{SEP}(?:"(?=(?P<a>[^"\\\n]{{1,512}}))(?P<v>(?P=a))"|'(?=(?P<b>[^'\\\n]{{1,512}}))(?P<w>(?P=b))')"""
        ),
        _STRONG_PHRASES,
        _pick_named,
    ),
    Rule(
        "named-quoted-value",
        "secret",
        re.compile(
            rf"""(?i)(?P<n>{WEAK_STEMS}{NAME_TAIL})["']?{SEP}(?:"(?=(?P<a>[^"\\\n]{{8,512}}))(?P<v>(?P=a))"|'(?=(?P<b>[^'\\\n]{{8,512}}))(?P<w>(?P=b))')"""
        ),
        _WEAK_PHRASES,
        _pick_named,
    ),
    # password Hunter2Pass: the word, blanks, then a generated-looking value.
    Rule(
        "password-spaced",
        "password",
        re.compile(rf"(?i)(?<![A-Za-z])(?:password|passwd|pwd|passphrase)[ \t]{{1,3}}(?:is[ \t]{{1,3}})?{Q}?{VALUE}"),
        ("pass", "pwd"),
        _pick_spaced,
    ),
    # CLI flags: -p, --password, --account-key, --sas-token, --client-secret, --token, ...
    Rule(
        "cli-flag",
        "secret",
        re.compile(rf"(?<![\w\-])(?P<n>-[pP]|--[A-Za-z][A-Za-z0-9\-]{{0,40}})(?:=|[ \t]{{1,3}}){Q}?(?!-){VALUE}"),
        ("-p", "--"),  # the flag's own start, lower-cased: every match holds one
        _pick_flag,
    ),
    # {"name": "password2", "value": "..."} (az acr credential show, env lists printed as JSON)
    Rule(
        "name-value-pair",
        "password",
        re.compile(
            rf"(?i)(?<![A-Za-z])name{Q}?{SEP}{Q}?(?P<n>[A-Za-z0-9_.\-]{{1,64}}){Q}?[ \t]{{0,4}},[ \t\n]{{0,8}}{Q}?value{Q}?{SEP}{Q}?{VALUE}"
        ),
        ("name",),
        _pick_name_value_pair,
    ),
    # Authorization schemes anywhere: Bearer <token>, Basic <b64>, SharedKey account:signature.
    Rule(
        "auth-scheme",
        "authorization",
        re.compile(rf"(?<![A-Za-z])(?:Bearer|Basic|SharedKey(?:Lite)?|SharedAccessSignature)[ \t]{{1,3}}(?P<v>[A-Za-z0-9\-._~+/:=%&]{{8,4096}})"),
        ("bearer", "basic", "sharedkey", "sharedaccesssignature"),
        _pick_scheme,
    ),
    # URL userinfo: scheme://user:password@host, raw or URL-encoded once.
    Rule(
        "url-userinfo",
        "url-password",
        re.compile(r"://[^\s/:@?#\"'<>\\]{0,128}:(?P<v>[^\s/@?#\"'<>\\]{1,256})@"),
        ("://",),
    ),
    Rule(
        "url-userinfo-encoded",
        "url-password",
        re.compile(r"(?i)%3A%2F%2F[^\s%/@\"'<>\\]{0,128}%3A(?P<v>[^\s/@\"'<>\\]{1,256}?)(?:%40|@)"),
        ("%3a%2f%2f",),
    ),
    # get_keys() printed: ('Kp4n...', 'Xy7V...'), scoring keys as a Python tuple or list.
    Rule(
        "key-tuple",
        "key",
        re.compile(rf"[(\[][ \t]{{0,4}}{Q}(?P<v>[A-Za-z0-9+/=_\-]{{20,128}}){Q}[ \t]{{0,4}},[ \t]{{0,4}}{Q}(?P<w>[A-Za-z0-9+/=_\-]{{20,128}}){Q}[ \t]{{0,4}}[)\]]"),
        ("'", '"'),
        _pick_generated_pair("key"),
    ),
    # A generated-looking token within a few words after a credential word, in prose.
    Rule(
        "near-credential-word",
        "key",
        re.compile(
            r"(?i)(?:key|secret|token|password|passwd|pwd|credential|signature)s?\b[^\n]{0,24}?(?<![A-Za-z0-9+/=_\-%])"
            r"(?P<v>[A-Za-z0-9+/_\-]{16,200}={0,2})(?![A-Za-z0-9+/=_\-])"
        ),
        ("key", "secret", "token", "pass", "pwd", "credential", "signature"),
        # Prose is full of CamelCase names with a digit (WebServiceInput0): a key has several.
        _pick_generated("key", digits=3),
    ),
    # An ARM operation-status URL (mfeOperationsStatus, behind a v2 deployment's AzureAsyncOperationUri)
    # is signed by its query: t (time), c (a base64 certificate), s (signature), h (hash). Keep the
    # URL, drop those four (Azure/azure-sdk-for-python#33598 shows them; docs/v2.md).
    Rule(
        "mfe-operation-signature",
        "signed-url",
        re.compile(r"(?i)mfeOperationsStatus/[^\s?\"'<>]*\?(?P<q>[^\s\"'<>]+)"),
        ("mfeoperationsstatus",),
        lambda m, text: [(m.start("q") + p.start(2), m.start("q") + p.end(2), "signed-url")
                         for p in re.finditer(r"(?:^|&)(c|s|h|t)=([^&]+)", m.group("q"))],
    ),
    # ---- shape: forms that are secrets wherever they appear.
    Rule(
        "jwt",
        "jwt",
        re.compile(rf"(?<![A-Za-z0-9_\-])(?P<v>eyJ{_TOK}{{8,4096}}\.eyJ{_TOK}{{4,8192}}\.{_TOK}{{0,4096}})"),
        ("eyj",),
    ),
    Rule(
        "storage-account-key",
        "account-key",
        re.compile(rf"(?<![A-Za-z0-9+/])(?P<v>{_B64}{{86}}==)(?![A-Za-z0-9+/=])"),
        ("==",),
    ),
    Rule(
        "storage-account-key-encoded",
        "account-key",
        re.compile(r"(?<![A-Za-z0-9%])(?P<v>(?:[A-Za-z0-9]|%(?:25)?2[bBfF]){86}%(?:25)?3[dD]%(?:25)?3[dD])"),
        ("%3d%3d", "%253d%253d"),
        _pick_generated("account-key"),
    ),
    Rule(
        "private-key-block",
        "private-key",
        re.compile(r"-----BEGIN[ A-Z0-9_\-]{0,40}PRIVATE KEY(?: BLOCK)?-----(?P<v>(?:[A-Za-z0-9+/=\s]|\\[nr]){1,16384})"),
        ("private key",),
        multiline=True,
    ),
    Rule(
        "azure-ad-client-secret",
        "client-secret",
        re.compile(r"(?<![A-Za-z0-9_~.\-])(?P<v>[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.\-]{31,34})(?![A-Za-z0-9_~.\-])"),
        ("q~",),
    ),
    Rule(
        "provider-token",
        "token",
        re.compile(
            r"(?<![A-Za-z0-9_\-])(?P<v>"
            r"gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}|glpat-[A-Za-z0-9_\-]{20,64}|"
            r"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}|xox[abposr]-[A-Za-z0-9\-]{10,255}|"
            r"AIza[A-Za-z0-9_\-]{35}|(?:sk|rk)_(?:live|test|prod)_[A-Za-z0-9]{10,99}|npm_[A-Za-z0-9]{36}|"
            r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,512}|SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}|"
            r"hf_[A-Za-z]{34}|dapi[a-h0-9]{32}|sk-(?:proj-)?[A-Za-z0-9_\-]{20,200}|SK[0-9a-fA-F]{32}"
            r")(?![A-Za-z0-9_\-])"
        ),
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "akia", "asia", "abia", "acca", "a3t",
         "xox", "aiza", "sk_", "rk_", "npm_", "pypi-", "sg.", "hf_", "dapi", "sk-", "sk"),
    ),
    # AzureML scoring keys and other 32-character generated keys, bare: mixed case and digits,
    # which image ids (hex), run ids and Kubernetes names never are.
    Rule(
        "generated-key-32",
        "key",
        re.compile(r"(?<![A-Za-z0-9+/=_\-.])(?P<v>[A-Za-z0-9]{32})(?![A-Za-z0-9+/=_\-])"),
        (),
        _pick_mixed,
        alnum_run=32,
    ),
    # mysql -pSecret: the password right after -p, on a line that logs in.
    Rule(
        "attached-p-flag",
        "password",
        re.compile(rf"(?<![\w\-])-p(?P<v>[^\s\-\"'][^\s\"']{{2,255}})"),
        ("-p",),
        _pick_login_line,
    ),
    # Slack and Teams incoming webhooks carry their secret in the path.
    Rule(
        "webhook-url",
        "webhook",
        re.compile(r"(?i)(?:hooks\.slack\.com/services|webhook\.office\.com/webhookb2)/(?P<v>[A-Za-z0-9@/_\-]{20,400})"),
        ("hooks.slack.com", "webhook.office.com"),
    ),
)
