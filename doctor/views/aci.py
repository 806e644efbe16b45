"""ACI container groups as ``az container show -o json`` prints them: each container's state and
restarts. The CLI prints the group flattened (``containers[].instanceView``); ARM's own form nests
both under ``properties``. Each container's instanceView holds its currentState (``Waiting`` with
"CrashLoopBackOff: Back-off restarting failed", ``Terminated``) and restartCount
(https://learn.microsoft.com/azure/container-instances/container-instances-troubleshooting).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from aml_doctor.evidence.textdoc import TextDoc

# A container group's JSON is a few KB; a document much larger than that is not one.
MAX_GROUP_CHARS = 1 << 20


@dataclass(frozen=True)
class AciContainer:
    name: str
    state: str  # "Running", "Waiting", "Terminated", or "" when not shown
    detail: str  # currentState.detailStatus
    restarts: int | None
    locator: str


def containers(doc: TextDoc) -> list[AciContainer]:
    """The containers of ``doc`` when it is one container group's JSON, else none."""
    # Measured on the segments: a huge log's text is never joined only to learn that it is huge.
    if sum(len(seg.text) for seg in doc.segments) > MAX_GROUP_CHARS:
        return []
    try:
        group = _obj(json.loads(doc.text))
    except (ValueError, RecursionError):
        return []
    listed = group.get("containers") or _obj(group.get("properties")).get("containers")
    out = []
    for container in listed if isinstance(listed, list) else ():
        container = _obj(container)
        name = container.get("name")
        if not isinstance(name, str):
            continue
        view = _obj(container.get("instanceView") or _obj(container.get("properties")).get("instanceView"))
        state, restarts = _obj(view.get("currentState")), view.get("restartCount")
        out.append(
            AciContainer(
                name=name,
                state=str(state.get("state") or ""),
                detail=str(state.get("detailStatus") or ""),
                restarts=restarts if isinstance(restarts, int) and not isinstance(restarts, bool) else None,
                locator=f"{doc.path}#containers[{name}].instanceView",
            )
        )
    return out


def _obj(value) -> dict:
    return value if isinstance(value, dict) else {}
