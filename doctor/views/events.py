"""A Kubernetes event as rules read it, whether it came from events.json, from the events AzureML
embeds in its error JSON, or from pasted ``kubectl get events`` text."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    reason: str
    message: str
    type: str
    kind: str  # involved object kind
    name: str  # involved object name
    count: int
    last_seen: str
    locator: str
