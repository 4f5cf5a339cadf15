"""Reading a YAML config file: ``yaml.safe_load``, with what it lets through silently refused
first, and every problem one line naming the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sentinet.errors import SentinetError

MAX_CONFIG_BYTES = 1_000_000  # a config is a page of settings; anything this big is not one
MAX_NODES = 100_000  # values in a config once its aliases (*name) are expanded


def load_yaml(text: str) -> Any:
    """``yaml.safe_load(text)``, refusing first what it would accept silently: a key written
    twice (the last one would win), and aliases expanding past MAX_NODES values (a "billion
    laughs" file of a kilobyte becomes gigabytes wherever its values are walked or printed).
    Both are checked on the composed node graph, which holds no Python objects yet."""
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
    counted once (a node inside itself counts 0 there), and counting stops past MAX_NODES."""
    if id(node) not in sizes:
        sizes[id(node)] = 0
        total = 1 + sum(_expanded_size(child, sizes) for child in _children(node))
        sizes[id(node)] = min(total, MAX_NODES + 1)
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


def read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SentinetError(f"{path}: config file not found")
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise SentinetError(f"{path}: {size:,} bytes is no config (the limit is {MAX_CONFIG_BYTES:,})")
    try:
        raw = load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise SentinetError(f"{path}: {problem}{where}") from None
    except SentinetError as exc:
        raise SentinetError(f"{path}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise SentinetError(f"{path}: not valid UTF-8 (byte {exc.start})") from None
    except RecursionError:
        raise SentinetError(f"{path}: nested too deep to be a config") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SentinetError(f"{path}: the top level must be a mapping of sections")
    return raw
