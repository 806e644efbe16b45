"""Read-only views of parsed JSON, so that no rule can change the evidence another rule reads.

The views subclass ``dict`` and ``list`` so that rules, ``json.dumps`` and ``isinstance`` checks
keep working unchanged; every method that would change them raises :class:`ReadOnlyError`. They
are made once per bundle, before the first rule runs, in one walk (docs/limits.md: about four
times ``json.loads`` of the same data, a little less than ``copy.deepcopy``). ``copy.deepcopy`` of a view gives ordinary, mutable
``dict`` and ``list`` objects, for a rule that wants a scratch copy.

This stops mistakes, not malice: ``dict.__setitem__(view, k, v)`` still works, as nothing in pure
Python can forbid it.
"""

from __future__ import annotations

from typing import Any


class ReadOnlyError(TypeError):
    """A rule tried to change the evidence."""


def _refuse(self, *args: Any, **kwargs: Any):
    raise ReadOnlyError("evidence is read-only: copy it (copy.deepcopy) before changing it")


class FrozenDict(dict):
    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __deepcopy__(self, memo):
        import copy

        return {copy.deepcopy(k, memo): copy.deepcopy(v, memo) for k, v in self.items()}

    def __copy__(self):
        return dict(self)

    def __reduce__(self):
        return (dict, (dict(self),))


class FrozenList(list):
    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = clear = extend = insert = pop = remove = reverse = sort = _refuse

    def __deepcopy__(self, memo):
        import copy

        return [copy.deepcopy(v, memo) for v in self]

    def __copy__(self):
        return list(self)

    def __reduce__(self):
        return (list, (list(self),))


def freeze(value: Any) -> Any:
    """A read-only view of JSON-like ``value`` (dicts, lists, scalars). Depth is bounded by the
    bundle's shape check (``shapes.MAX_DEPTH``) before this runs, so the recursion is too."""
    if isinstance(value, FrozenDict | FrozenList):
        return value
    if isinstance(value, dict):
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return FrozenList(freeze(v) for v in value)
    return value
