"""Counting the work a parser does, so tests bound work instead of timing it.

`regex_work(module)` wraps every compiled pattern held at module level and the `re`
functions the module calls, and counts calls and the characters handed to them. A test
then bounds those counts by the size of its input: a parser that re-reads the rest of
the text for every line, or runs a pattern over more than it should, fails on any
machine, however loaded. (Backtracking inside one call is not counted; it is bounded by
the length of what the call is given, which `longest` reports.)
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType, SimpleNamespace
from typing import Any

_METHODS = ("search", "match", "fullmatch", "sub", "subn", "split", "findall", "finditer")


@dataclass
class RegexWork:
    calls: int = 0
    chars: int = 0  # characters handed to patterns, summed over calls
    longest: int = 0  # the longest string one call was given

    def add(self, text: object) -> None:
        size = len(text) if isinstance(text, (str, bytes)) else 0
        self.calls += 1
        self.chars += size
        self.longest = max(self.longest, size)


class _CountingPattern:
    def __init__(self, pattern: re.Pattern[Any], work: RegexWork) -> None:
        self._pattern = pattern
        self._work = work

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._pattern, name)
        if name not in _METHODS:
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            text = kwargs.get("string", args[1] if name in ("sub", "subn") else args[0])
            self._work.add(text)
            return attr(*args, **kwargs)

        return counted


def _counting_re(work: RegexWork) -> SimpleNamespace:
    ns = SimpleNamespace(**{k: getattr(re, k) for k in dir(re) if not k.startswith("__")})
    for name in _METHODS:
        real = getattr(re, name)

        def counted(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            text = kwargs.get("string", args[2] if _name in ("sub", "subn") else args[1])
            work.add(text)
            return _real(*args, **kwargs)

        setattr(ns, name, counted)
    return ns


@contextmanager
def regex_work(*modules: ModuleType) -> Iterator[RegexWork]:
    """Count the regex work `modules` do inside the block."""
    work = RegexWork()
    saved = [(module, dict(vars(module))) for module in modules]
    for module, names in saved:
        for name, value in names.items():
            if isinstance(value, re.Pattern):
                setattr(module, name, _CountingPattern(value, work))
            elif value is re:
                setattr(module, name, _counting_re(work))
    try:
        yield work
    finally:
        for module, names in saved:
            for name, value in names.items():
                if isinstance(value, re.Pattern) or value is re:
                    setattr(module, name, value)


@contextmanager
def calls_made() -> Iterator[list[int]]:
    """Python and C function calls made in the block (one counter, `[n]`)."""
    count = [0]

    def profile(_frame: object, event: str, _arg: object) -> None:
        if event in ("call", "c_call"):
            count[0] += 1

    sys.setprofile(profile)
    try:
        yield count
    finally:
        sys.setprofile(None)


def count_calls(monkeypatch: Any, owner: object, name: str) -> list[object]:
    """Calls of `owner.name` from now to the end of the test (one item a call)."""
    seen: list[object] = []
    real = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        seen.append(args[:1])
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return seen


def count_ocr(monkeypatch: Any) -> list[object]:
    """Tesseract runs from now to the end of the test (parsers.ocr runs it as a process)."""
    import parsers.ocr

    seen: list[object] = []
    real = subprocess.run

    def run(cmd: Any, *args: Any, **kwargs: Any) -> Any:
        if cmd and str(cmd[0]).endswith("tesseract"):
            seen.append(cmd)
        return real(cmd, *args, **kwargs)

    monkeypatch.setattr(parsers.ocr.subprocess, "run", run)
    return seen
