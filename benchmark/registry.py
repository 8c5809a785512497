"""One small registry class for datasets, models, methods and figures.

Keys are lowercase snake_case; registering a key twice raises; looking up an unknown key
raises a :class:`DsbenchError` listing the close matches.
"""
from __future__ import annotations

import difflib
import re
from typing import Any, Callable, Dict, Iterator, List

from benchmark.errors import DsbenchError

_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


class Registry:
    """``kind`` names the entries in messages; ``key_pattern`` overrides snake_case where the
    keys are established spellings (e.g. the label modes ``soft-bilinear``)."""

    def __init__(self, kind: str, key_pattern: "re.Pattern[str]" = _KEY):
        self.kind = kind
        self._key = key_pattern
        self._entries: Dict[str, Any] = {}

    def register(self, key: str, obj: Any = None) -> Any:
        """Register ``obj`` under ``key``; usable as ``@REG.register("key")``."""
        if not self._key.match(key):
            raise ValueError(f"{self.kind} key {key!r} must match {self._key.pattern}")

        def add(entry: Any) -> Any:
            if key in self._entries:
                raise ValueError(f"{self.kind} {key!r} is registered twice")
            self._entries[key] = entry
            return entry

        return add if obj is None else add(obj)

    def get(self, key: str) -> Any:
        if key not in self._entries:
            close = difflib.get_close_matches(str(key), self._entries, n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(sorted(self._entries))}"
            raise DsbenchError(f"unknown {self.kind} {key!r}; {hint}")
        return self._entries[key]

    def keys(self) -> List[str]:
        return sorted(self._entries)

    def __getitem__(self, key: str) -> Any:
        return self.get(key)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._entries)

    def create(self, key: str, *args: Any, **kwargs: Any) -> Any:
        factory: Callable[..., Any] = self.get(key)
        return factory(*args, **kwargs)


DATASETS = Registry("dataset")
MODELS = Registry("model")
METHODS = Registry("method")                        # input downsampling (methods.base.DownsamplingMethod)
NETWORK_METHODS = Registry("network downsampling method")  # methods.base.NetworkDownsamplingMethod
SUPERPIXEL_METHODS = Registry("superpixel method")     # methods.base.SuperpixelMethod
FIGURES = Registry("figure")
STUDIES = Registry("study")
