"""One generic registry for every pluggable part: readers, embedders, vector layers, rerankers, engines.

A registry maps an explicit name to a factory. Registering a name twice is an error (no import-order
meaning: the same name cannot silently win or lose depending on which module was imported last), unless
the second registration says ``replace=True``. Built-in backends are listed by module name and imported on
first use, so that heavy libraries stay out of ``import pisteur``; third-party backends can be discovered
through a Python entry-point group (``pisteur.embedders``, ...), each entry point naming a module whose
import registers its backends.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from typing import Generic, TypeVar

T = TypeVar("T")


class RegistryError(LookupError):
    """An unknown or duplicate name; the message lists the known names."""


class Registry(Generic[T]):
    """Names -> factories of one kind (``what`` is used in messages: "embedding backend", "reranker")."""

    def __init__(self, what: str, builtin_modules: Iterable[str] = (), entry_point_group: str | None = None):
        self.what = what
        self._items: dict[str, T] = {}
        self._builtin = tuple(builtin_modules)
        self._group = entry_point_group
        self._loaded = False

    def register(self, name: str, *, replace: bool = False) -> Callable[[T], T]:
        """Decorator: ``@REGISTRY.register("name")`` above a factory (function or class)."""

        def deco(item: T) -> T:
            self.add(name, item, replace=replace)
            return item

        return deco

    def add(self, name: str, item: T, *, replace: bool = False) -> None:
        old = self._items.get(name)
        if old is not None and old is not item and not replace:
            raise RegistryError(f"{self.what} '{name}' is registered twice ({_where(old)} and {_where(item)})")
        self._items[name] = item

    def remove(self, name: str) -> None:
        """Forget ``name`` (a plug-in unloaded, a test's temporary backend); unknown names are ignored."""
        self._items.pop(name, None)

    def get(self, name: str) -> T:
        self.load()
        try:
            return self._items[name]
        except KeyError:
            raise RegistryError(f"unknown {self.what} '{name}' (known: {', '.join(self.names())})") from None

    def __contains__(self, name: object) -> bool:
        self.load()
        return name in self._items

    def names(self) -> list[str]:
        self.load()
        return sorted(self._items)

    def load(self) -> None:
        """Import the built-in modules (and entry points) once; importing a module registers its items."""
        if self._loaded:
            return
        self._loaded = True
        for mod in self._builtin:
            importlib.import_module(mod)
        if self._group:
            for ep in entry_points(group=self._group):
                importlib.import_module(ep.value.split(":", 1)[0])


def _where(item: object) -> str:
    return f"{getattr(item, '__module__', '?')}.{getattr(item, '__qualname__', type(item).__name__)}"
