"""AzureML's error JSON, read as structure rather than as a flat string.

The v1 error (``Webservice.error``, or the ``Error:`` block of a ``WebserviceException``) is
``{code, statusCode, message, details: [{code, message}]}``. For AKS, ``details[].message`` embeds
Kubernetes events, one JSON object per line (``InvolvedObject``, ``Reason``, ``Message``...). v2
prints ``(Code) message``. Pasted text arrives with CI timestamps in front of every line, as a
Python dict repr, or cut off half way: each of those still yields its codes and messages.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field

from aml_doctor.evidence.store import Evidence
from aml_doctor.views.events import Event
from aml_doctor.evidence.textdoc import TextDoc, TextKind


@dataclass(frozen=True)
class ErrorDetail:
    code: str
    message: str


@dataclass(frozen=True)
class AzureMLError:
    code: str
    status_code: int | None
    message: str
    details: tuple[ErrorDetail, ...]
    locator: str
    events: tuple[Event, ...] = field(default=())

    def codes(self) -> set[str]:
        return {self.code, *(d.code for d in self.details)} - {""}

    def all_text(self) -> str:
        return "\n".join([self.message, *(d.message for d in self.details)])


_CI_PREFIX = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z ?", re.MULTILINE)
_V2_CODE = re.compile(r"^\s*(?:[\w.]+Error:\s*)?\((\w+)\)\s+(\S.*)$", re.MULTILINE)
_CODE_PAIR = re.compile(r"""["']code["']\s*:\s*["'](\w+)["']""")
_MESSAGE_AFTER = re.compile(r"""["']message["']\s*:\s*["']((?:[^"'\\]|\\.)*)""")


def _events_from_message(message: str, locator: str) -> tuple[Event, ...]:
    out = []
    # A decoded message holds the events as JSON lines; pasted, still-escaped text holds them as \"...\".
    for text in (message, message.replace('\\"', '"')):
        out = list(_parse_event_lines(text, locator))
        if out:
            break
    return tuple(out)


def _parse_event_lines(text: str, locator: str):
    for m in re.finditer(r"\{\"InvolvedObject\".*?\}(?=\s*(?:\\n|\n|$|\{))", text, re.DOTALL):
        try:
            data = json.loads(m.group(0))
        except ValueError:
            continue
        yield (
            Event(
                reason=str(data.get("Reason") or ""),
                message=str(data.get("Message") or ""),
                type=str(data.get("Type") or ""),
                kind=str(data.get("InvolvedKind") or ""),
                name=str(data.get("InvolvedObject") or ""),
                count=1,
                last_seen=str(data.get("LastTimestamp") or ""),
                locator=locator,
            )
        )


def from_object(data: dict, locator: str) -> AzureMLError | None:
    if not isinstance(data, dict) or not isinstance(data.get("code"), str):
        return None
    details = tuple(
        ErrorDetail(str(d.get("code") or ""), str(d.get("message") or ""))
        for d in data.get("details") or []
        if isinstance(d, dict)
    )
    events = tuple(e for d in details for e in _events_from_message(d.message, locator))
    events += _events_from_message(str(data.get("message") or ""), locator)
    status = data.get("statusCode")
    return AzureMLError(
        code=data["code"],
        status_code=status if isinstance(status, int) else None,
        message=str(data.get("message") or ""),
        details=details,
        locator=locator,
        events=events,
    )


def _balanced(text: str, start: int) -> str | None:
    depth, quote, escaped = 0, "", False
    for i in range(start, min(len(text), start + 200_000)):
        ch = text[i]
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    return None


def from_text(doc: TextDoc) -> list[AzureMLError]:
    """Every AzureML error object in a pasted or logged text."""
    found: list[AzureMLError] = []
    for seg in doc.segments:
        text = _CI_PREFIX.sub("", seg.text)
        consumed_to = 0
        for m in _CODE_PAIR.finditer(text):
            if m.start() < consumed_to:
                continue
            brace = text.rfind("{", 0, m.start())
            line_no = seg.first_line + text.count("\n", 0, m.start())
            locator = doc.locator(line_no)
            parsed = None
            chunk = _balanced(text, brace) if brace != -1 else None
            if chunk:
                for loader in (json.loads, ast.literal_eval):
                    try:
                        parsed = loader(chunk)
                        break
                    except (ValueError, SyntaxError, RecursionError, MemoryError):
                        continue
            if isinstance(parsed, dict) and parsed.get("code") == m.group(1):
                err = from_object(parsed, locator)
                if err:
                    found.append(err)
                    consumed_to = brace + len(chunk)
                    continue
            # Cut off or otherwise unparsable: keep the code and the message that follows it.
            msg = _MESSAGE_AFTER.search(text, m.end(), m.end() + 4000)
            message = msg.group(1).encode().decode("unicode_escape", errors="replace") if msg else ""
            found.append(
                AzureMLError(m.group(1), None, message, (), locator, _events_from_message(text[m.end():], locator))
            )
            consumed_to = m.end()
        for m in _V2_CODE.finditer(text):
            line_no = seg.first_line + text.count("\n", 0, m.start())
            found.append(AzureMLError(m.group(1), None, m.group(2).strip(), (), doc.locator(line_no)))
    return found


def azureml_errors(ev: Evidence) -> list[AzureMLError]:
    return ev.derived("azureml_errors", lambda: _azureml_errors(ev))


def _azureml_errors(ev: Evidence) -> list[AzureMLError]:
    out: list[AzureMLError] = []
    service = ev.service_json or {}
    for key in ("error", "operationError"):
        err = from_object(service.get(key) or {}, f"azureml/service.json#{key}")
        if err:
            out.append(err)
    for doc in ev.docs(TextKind.OPERATION, TextKind.PASTED, TextKind.AZUREML_LOGS):
        out.extend(from_text(doc))
    return out


_STATE_IN_TEXT = re.compile(r"current service state:\s*(\w+)", re.IGNORECASE)


def service_state(ev: Evidence) -> tuple[str, str] | None:
    """(state, locator) from service.json, else from a pasted WebserviceException."""
    state = (ev.service_json or {}).get("state")
    if isinstance(state, str) and state:
        return state, "azureml/service.json#state"
    for doc in ev.docs(TextKind.OPERATION, TextKind.PASTED):
        hit = doc.last(_STATE_IN_TEXT)
        if hit:
            return hit.match.group(1), hit.locator
    return None
