"""Reading a YAML config file: ``yaml.safe_load`` with what it lets through silently refused,
and every problem one line naming the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sentinet.errors import SentinetError

MAX_CONFIG_BYTES = 1_000_000  # a config is a page of settings; anything this big is not one
MAX_NODES = 100_000  # values in a config once its aliases (*name) are expanded


class StrictLoader(yaml.SafeLoader):
    """yaml.safe_load that refuses what it would otherwise accept silently: a key written
    twice (the last one won), and a file whose aliases expand past MAX_NODES values (a
    "billion laughs" file of a kilobyte becomes gigabytes wherever its values are walked or
    printed). The expanded size is counted on the node graph, each shared node once."""

    def compose_document(self):
        node = super().compose_document()
        sizes: dict[int, int] = {}

        def size(n) -> int:
            if id(n) not in sizes:
                sizes[id(n)] = 0  # a node inside itself counts once (its recursion is refused later)
                children = [c for pair in n.value for c in pair] if isinstance(n, yaml.MappingNode) else \
                    n.value if isinstance(n, yaml.SequenceNode) else []
                sizes[id(n)] = min(1 + sum(size(c) for c in children), MAX_NODES + 1)
            return sizes[id(n)]

        if node is not None and size(node) > MAX_NODES:
            raise yaml.YAMLError(f"its aliases (*name) expand to more than {MAX_NODES:,} values: refused, as "
                                 "an alias bomb would be")
        return node

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.YAMLError(f"key {str(key)[:60]!r} is given twice (lines {seen[key]} and "
                                     f"{key_node.start_mark.line + 1}); keep one")
            seen.setdefault(key, key_node.start_mark.line + 1)
        return super().construct_mapping(node, deep)


def load_yaml(text: str):
    """yaml.safe_load through StrictLoader."""
    return yaml.load(text, Loader=StrictLoader)  # noqa: S506 (a SafeLoader subclass)


def read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SentinetError(f"{path}: config file not found")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise SentinetError(f"{path}: {path.stat().st_size:,} bytes is no config (the limit is "
                            f"{MAX_CONFIG_BYTES:,})")
    try:
        raw = load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or (str(exc)[:200] if type(exc) is yaml.YAMLError else "invalid YAML")
        raise SentinetError(f"{path}: {problem}{where}") from None
    except UnicodeDecodeError as exc:
        raise SentinetError(f"{path}: not valid UTF-8 (byte {exc.start})") from None
    except RecursionError:
        raise SentinetError(f"{path}: nested too deep to be a config") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SentinetError(f"{path}: the top level must be a mapping of sections")
    return raw
