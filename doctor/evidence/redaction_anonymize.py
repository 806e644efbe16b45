"""``--anonymize``: identifiers replaced, consistently, for reports that leave the company.

Subscription and tenant ids (every GUID), IP addresses, storage account, registry and Key Vault
names, and the names in ARM resource ids (resource group, workspace, any resource) become
``<id:3f2a>``, ``<ip:3f2a>``, ``<account:3f2a>`` or ``<resource:3f2a>``: the same HMAC token as
redaction, under the same per-run key, so one name reads the same in every file and format of a
run. Names are learnt from their shapes (``https://<account>.blob.core.windows.net``,
``AccountName=``, ``<registry>.azurecr.io``, ``/resourceGroups/<rg>/``) and from what the caller
knows (the service, namespace and workspace), then replaced wherever they occur.

Anonymisation applies to what leaves the tool (reports, saved bundles), never to the evidence the
rules read, so a diagnosis does not change with the flag.
"""

from __future__ import annotations

import re
import threading

from aml_doctor.evidence import redact

GUID = re.compile(r"(?<![0-9A-Za-z-])[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![0-9A-Za-z-])")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4 = re.compile(rf"(?<![\w.])(?:{_OCTET}\.){{3}}{_OCTET}(?![\w.]|\.[0-9])")
IPV6 = re.compile(r"(?<![\w:])(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}(?![\w:])")
# Addresses that identify nobody: loopback, unspecified, link-local metadata, the docker bridge.
_KEEP_IPS = frozenset({"127.0.0.1", "0.0.0.0", "169.254.169.254", "255.255.255.255"})

_NAME = r"[A-Za-z0-9][A-Za-z0-9_.\-]{1,79}"
_LEARN: tuple[tuple[re.Pattern, str], ...] = (
    (re.compile(rf"(?i)(?<![A-Za-z0-9-])([a-z0-9]{{3,24}})\.(?:blob|file|queue|table|dfs)\.core\.windows\.net"), "account"),
    (re.compile(r"(?i)\bAccountName[ \t]{0,2}[=:][ \t]{0,2}([a-z0-9]{3,24})\b"), "account"),
    (re.compile(r"(?i)--account-name[ \t=]{1,3}([a-z0-9]{3,24})\b"), "account"),
    (re.compile(r"(?i)(?<![A-Za-z0-9-])([a-z0-9]{5,50})\.azurecr\.io"), "account"),
    (re.compile(r"(?i)(?<![A-Za-z0-9-])([a-z0-9][a-z0-9-]{1,22}[a-z0-9])\.vault\.azure\.net"), "account"),
    (re.compile(rf"(?i)/resourceGroups/({_NAME})"), "resource"),
    (re.compile(rf"(?i)/providers/[A-Za-z.]{{1,60}}/[A-Za-z]{{1,60}}/({_NAME})"), "resource"),
    (re.compile(rf"(?i)/(?:workspaces|onlineEndpoints|services|computes|registries|vaults|components|storageAccounts)/({_NAME})"), "resource"),
)
# Names too common to replace wherever they occur.
_STOP = frozenset({
    "default", "azureml", "azureml-fe", "kube-system", "model", "models", "score", "service", "services",
    "workspace", "workspaces", "resource", "resources", "storage", "blob", "container", "containers",
    "local", "localhost", "test", "prod", "dev", "main", "aks", "none", "null", "true", "false", "redacted",
    "account", "accounts", "registry", "vault", "vaults",
})


class _Names:
    def __init__(self) -> None:
        self.names: dict[str, str] = {}  # lower-cased name -> kind
        self.pattern: re.Pattern | None = None
        self.lock = threading.Lock()


_names = _Names()


def reset() -> None:
    global _names
    _names = _Names()


redact.on_reset(reset)


def learn_names(kind: str, names) -> None:
    with _names.lock:
        changed = False
        for name in names:
            if not isinstance(name, str):
                continue
            name = name.strip()
            key = name.lower()
            if len(key) < 3 or key in _STOP or key in _names.names or redact.TOKEN_RE.search(name):
                continue
            _names.names[key] = kind
            changed = True
        if changed:
            ordered = sorted(_names.names, key=len, reverse=True)
            _names.pattern = re.compile(
                # Digits may follow: AzureML names volumes <service><hash>-pvc.
                r"(?i)(?<![A-Za-z0-9])(?:" + "|".join(re.escape(n) for n in ordered) + r")(?![A-Za-z])"
            )


def learn_text(text: str) -> None:
    for pattern, kind in _LEARN:
        found = {m.group(1) for m in pattern.finditer(text)}
        if found:
            learn_names(kind, found)


def _replace(kind: str):
    def sub(m: re.Match) -> str:
        redact.count_anonymized(kind)
        return redact.token(m.group(0).lower(), kind)

    return sub


def anonymize_text(text: str) -> str:
    text = GUID.sub(_replace("id"), text)
    text = IPV4.sub(lambda m: m.group(0) if m.group(0) in _KEEP_IPS else _replace("ip")(m), text)
    text = IPV6.sub(_replace("ip"), text)
    pattern = _names.pattern
    if pattern is not None:
        text = pattern.sub(lambda m: _replace(_names.names.get(m.group(0).lower(), "resource"))(m), text)
    return text
