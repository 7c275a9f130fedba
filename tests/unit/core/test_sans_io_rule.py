"""DESIGN.md §1 rule 1: the core reads no clock, opens no socket, runs no event loop,
and draws no randomness from the global generator. Only the shell may."""

from __future__ import annotations

import ast
import gc
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[3] / "src" / "rtcpeer"
SHELL = {"aio", "testing", "signaling", "cli.py", "cli"}
FORBIDDEN_MODULES = {"asyncio", "socket", "time", "selectors", "threading"}
# random.Random / random.SystemRandom are fine: they are how randomness is injected.
ALLOWED_RANDOM_ATTRS = {"Random", "SystemRandom"}


def core_files() -> list[Path]:
    files = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if rel.parts[0] in SHELL:
            continue
        files.append(path)
    return files


def _parse(source: str, filename: str) -> ast.Module:
    # CPython 3.11.7 keeps the AST converter's recursion depth in shared state: a
    # garbage-collection finalizer that formats a traceback (which calls ast.parse)
    # in the middle of this parse corrupts it ("AST constructor recursion depth
    # mismatch"). No collection during the parse, no finalizers.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return ast.parse(source, filename)
    finally:
        if enabled:
            gc.enable()


def violations(source: str, filename: str) -> list[str]:
    tree = _parse(source, filename)
    found: list[str] = []
    # Local names bound to the random and os modules (``import random as r``).
    module_names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top in FORBIDDEN_MODULES or top == "importlib":
                    found.append(f"{filename}:{node.lineno}: import {alias.name}")
                if alias.name in ("random", "os"):
                    module_names[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            top = node.module.split(".")[0]
            if top in FORBIDDEN_MODULES or top == "importlib":
                found.append(f"{filename}:{node.lineno}: from {node.module} import ...")
            if top == "random":
                bad = [a.name for a in node.names if a.name not in ALLOWED_RANDOM_ATTRS]
                if bad:
                    found.append(f"{filename}:{node.lineno}: from random import {', '.join(bad)}")
            if top == "os" and any(a.name == "urandom" for a in node.names):
                found.append(f"{filename}:{node.lineno}: from os import urandom")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "__import__"
        ):
            found.append(f"{filename}:{node.lineno}: __import__()")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            module = module_names.get(node.value.id)
            if module == "random" and node.attr not in ALLOWED_RANDOM_ATTRS:
                found.append(f"{filename}:{node.lineno}: random.{node.attr}")
            if module == "os" and node.attr == "urandom":
                found.append(f"{filename}:{node.lineno}: os.urandom")
    return found


def test_core_exists() -> None:
    assert core_files(), "no core modules found: is the src layout right?"


@pytest.mark.parametrize("path", core_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_core_module_is_sans_io(path: Path) -> None:
    assert violations(path.read_text(), str(path.relative_to(SRC))) == []


@pytest.mark.parametrize(
    "snippet",
    [
        "import asyncio",
        "import socket as s",
        "from time import monotonic",
        "import time",
        "import random\nx = random.random()",
        "import random\nrandom.randint(1, 2)",
        "from random import choice",
        "import os\nos.urandom(4)",
        "from os import urandom",
        "import random as r\nr.random()",
        "import os as o\no.urandom(4)",
        "import importlib\nimportlib.import_module('socket')",
        "__import__('time')",
    ],
)
def test_rule_catches(snippet: str) -> None:
    # The checker itself must fail on each forbidden form, or the rule proves nothing.
    assert violations(snippet, "x.py")


@pytest.mark.parametrize(
    "snippet",
    ["import random\nrng = random.Random(1)", "import secrets", "from random import Random"],
)
def test_rule_allows(snippet: str) -> None:
    assert violations(snippet, "x.py") == []
