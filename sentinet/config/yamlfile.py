"""Reading a YAML config file: ``yaml.safe_load``, with what it lets through silently refused
first, and every problem one line naming the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sentinet.errors import SentinetError
from sentinet.fileio import read_own_text

MAX_CONFIG_BYTES = 1_000_000  # a config is a page of settings; anything this big is not one
MAX_NODES = 100_000  # values in a config once its aliases (*name) are expanded


def load_yaml(text: str) -> Any:
    """``yaml.safe_load(text)``, refusing first what it would accept silently: a key written
    twice (the last one would win), and aliases expanding past MAX_NODES values (a "billion
    laughs" file of a kilobyte becomes gigabytes wherever its values are walked or printed)
    or into themselves. All is checked on the composed node graph, which holds no Python
    objects yet."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    if node is not None:
        _check_keys(node, set())
        if _expanded_size(node, {}) > MAX_NODES:
            raise SentinetError(f"its aliases (*name) expand to more than {MAX_NODES:,} values: refused, "
                                "as an alias bomb would be")
    return yaml.safe_load(text)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many values ``node`` stands for with every alias expanded; each shared node is
    counted once, and counting stops past MAX_NODES. A node inside itself (``&a [*a]``) is
    refused: it is an endless value, which whatever walks or prints it never finishes."""
    if id(node) not in sizes:
        sizes[id(node)] = -1  # being counted
        total = 1 + sum(_expanded_size(child, sizes) for child in _children(node))
        sizes[id(node)] = min(total, MAX_NODES + 1)
    elif sizes[id(node)] < 0:
        raise SentinetError("an alias (*name) inside the value it names (&name) makes an endless "
                            "value: refused")
    return sizes[id(node)]


def _check_keys(node: yaml.Node, visited: set[int]) -> None:
    """No mapping gives one scalar key twice (compared as YAML resolves them: tag and text)."""
    if id(node) in visited:
        return
    visited.add(id(node))
    if isinstance(node, yaml.MappingNode):
        lines: dict[tuple[str, str], int] = {}
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                line = key.start_mark.line + 1
                if (key.tag, key.value) in lines:
                    raise SentinetError(f"key {key.value[:60]!r} is given twice (lines "
                                        f"{lines[key.tag, key.value]} and {line}); keep one")
                lines[key.tag, key.value] = line
    for child in _children(node):
        _check_keys(child, visited)


class YAMLSyntaxError(SentinetError):
    """Text that is not YAML at all, as opposed to YAML refused by the checks above: a
    ``--set`` value falls back to the plain string then."""


def parse_yaml(text: str, where: str) -> Any:
    """``load_yaml(text)`` for text from anywhere (a file, a ``--set`` value), bounded in
    size and nesting as a config file is; every problem is one line starting with ``where``."""
    if len(text) > MAX_CONFIG_BYTES:
        raise SentinetError(f"{where}: {len(text):,} characters is no config (the limit is "
                            f"{MAX_CONFIG_BYTES:,})")
    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise YAMLSyntaxError(f"{where}: {problem}{at}") from None
    except SentinetError as exc:
        raise SentinetError(f"{where}: {exc}") from None
    except RecursionError:
        raise SentinetError(f"{where}: nested too deep to be a config") from None


def read_yaml(path: Path) -> dict[str, Any]:
    """A config file's top-level mapping; any problem is one line naming the file."""
    if not path.exists():
        raise SentinetError(f"{path}: config file not found")
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise SentinetError(f"{path}: {size:,} bytes is no config (the limit is {MAX_CONFIG_BYTES:,})")
    raw = parse_yaml(read_own_text(path, MAX_CONFIG_BYTES), str(path))  # a FIFO or /dev/zero: refused unread
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SentinetError(f"{path}: the top level must be a mapping of sections")
    return raw
