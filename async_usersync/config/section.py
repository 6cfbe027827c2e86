"""Typed, key-tracking access to one YAML mapping of a config file.

Every part of the pipeline parses its own settings through a ``ConfigSection`` so that
errors always name the file and the full key, and ``finish()`` can refuse keys nobody read
(User Sync treats an unknown key as an error, and so do we). An unknown key is always named as
the admin typed it, with the known key it looks like: also when that known key is required and so
found missing first. A key that is read but deserves a
warning (deprecated, or overridden) gets one through ``warn()``: the run logs these ``notes``
once its log is open.
"""

from __future__ import annotations

import codecs
import difflib
import sys
import urllib.parse
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, TypeVar, overload

import yaml

from async_usersync.engine.rules import fold, split_org
from async_usersync.errors import ConfigError

T = TypeVar("T")
UNSUPPORTED = "is not supported by async-usersync"
_MISSING: Any = object()


def read_config_file(file: Path, encoding: str, parse: Callable[["ConfigSection"], T]) -> tuple[T, tuple[str, ...]]:
    """``parse(the file's top section)`` and the file's warnings (``ConfigSection.warn``); a key
    ``parse`` did not read is refused. Raises ConfigError naming the file (and the key)."""
    section = load_yaml(file, encoding)
    value = parse(section)
    section.finish()
    return value, tuple(section.notes)


def load_yaml(file: str | Path, encoding: str = "utf8") -> "ConfigSection":
    """Reads a YAML file whose top level is a mapping. Raises ConfigError naming the file when it
    cannot be read or decoded (with the line), is not YAML (with the line and column) or is not a
    mapping."""
    path = Path(file)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("file not found", file=path) from None
    except OSError as error:
        raise ConfigError(f"cannot read file: {error}", file=path) from None
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise ConfigError(f"cannot be decoded as {encoding} at line {line} ({error.reason}): save it as {encoding}, "
                          "or run with --config-file-encoding", file=path) from None
    try:
        data = _load_bounded(text, path)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"invalid YAML{where}: {problem}", file=path) from None
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError("the top level must be a mapping of keys to values", file=path)
    return ConfigSection(data, path)


MAX_ALIAS_NODES = 100_000
"""Nodes that aliases (``*name``) may add once expanded: far beyond any real config, far below an
alias bomb (nine levels of nine aliases expand to 387 million nodes)."""


def _load_bounded(text: str, path: Path) -> Any:
    """``yaml.safe_load``, refusing a document whose aliases would expand past ``MAX_ALIAS_NODES``.

    The document is composed first (aliases stay shared nodes, so this is cheap) and its expanded
    size counted once per node; only then is it built into Python values."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        written: set[int] = set()
        sizes: dict[int, int] = {}

        def expanded(current: yaml.Node) -> int:
            if id(current) in sizes:
                return sizes[id(current)]
            written.add(id(current))
            sizes[id(current)] = MAX_ALIAS_NODES + 1  # a node holding itself never ends: too big
            children: list[yaml.Node] = []
            if isinstance(current, yaml.SequenceNode):
                children = current.value
            elif isinstance(current, yaml.MappingNode):
                children = [item for pair in current.value for item in pair]
            size = 1 + sum(expanded(child) for child in children)
            sizes[id(current)] = size
            return size

        if expanded(node) - len(written) > MAX_ALIAS_NODES:
            raise ConfigError(f"its aliases (*name) expand to more than {MAX_ALIAS_NODES:,} extra values: "
                              "write the values out, or use fewer aliases", file=path)
        return loader.construct_document(node)
    finally:
        loader.dispose()


class ConfigSection:
    """A mapping read from ``file`` at the dotted position ``prefix``."""

    def __init__(self, data: Mapping[str, Any], file: Path, prefix: str = "", notes: list[str] | None = None) -> None:
        self.data = data
        self.file = file
        self.prefix = prefix
        self.notes: list[str] = [] if notes is None else notes
        """Warnings about this file's keys, shared by all sections of the file."""
        self._read: set[str] = set()

    def full_key(self, key: str) -> str:
        """``key``'s dotted position in the file (``server.limits.action``)."""
        return f"{self.prefix}.{key}" if self.prefix else key

    def where(self, key: str) -> str:
        """``key`` as messages name it outside an error: ``server.ssl_verify in /etc/.../connector-umapi.yml``."""
        return f"{self.full_key(key)} in {self.file}"

    def error(self, key: str, message: str) -> ConfigError:
        """A ConfigError about ``key``, naming the file and the full key (to raise)."""
        return ConfigError(message, file=self.file, key=self.full_key(key))

    def warn(self, key: str, message: str) -> None:
        """Notes a warning about ``key``, worded as errors are (file and key first)."""
        self.notes.append(str(self.error(key, message)))

    def __contains__(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def get(self, key: str, default: Any = None, kind: Callable[[Any], T] | type | None = None) -> Any:
        """The value at ``key`` (``default`` when absent or null), checked against ``kind``."""
        self._read.add(key)
        value = self.data.get(key)
        if value is None:
            return default
        return self._convert(key, value, kind)

    def require(self, key: str, kind: Callable[[Any], T] | type | None = None) -> Any:
        """The value at ``key``, checked against ``kind``; raises ConfigError when absent or null
        (``missing``)."""
        self._read.add(key)
        value = self.data.get(key)
        if value is None:
            raise self.missing(key, "a value is required")
        return self._convert(key, value, kind)

    def missing(self, key: str, message: str) -> ConfigError:
        """The error for a required ``key`` that is absent (to raise): when the section holds an
        unknown key that looks like a misspelling of it, that key as typed, with the suggestion;
        else ``message`` about ``key``."""
        typed = _looks_like(key, (name for name in self.unread_keys() if name != key))
        if typed is not None:
            return self.error(typed, f"unknown key; did you mean '{key}'?")
        return self.error(key, message)

    def section(self, key: str, required: bool = False) -> "ConfigSection":
        """The mapping at ``key`` (empty when absent, unless ``required``), sharing this file's notes."""
        self._read.add(key)
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.missing(key, "this section is required")
            value = {}
        if not isinstance(value, Mapping):
            raise self.error(key, "must be a mapping of keys to values")
        return ConfigSection(value, self.file, self.full_key(key), self.notes)

    @overload
    def path(self, key: str, default: str) -> Path: ...
    @overload
    def path(self, key: str, default: None = None, required: bool = False) -> Path | None: ...

    def path(self, key: str, default: str | None = None, required: bool = False) -> Path | None:
        """A file path, resolved against the folder of the file that names it (None when absent
        without a default and not ``required``)."""
        value = self.require(key, str) if required else self.get(key, default, str)
        if value is None:
            return None
        return resolve_path(self.file, value)

    def ignore(self, *keys: str) -> None:
        """Marks keys as known but unused (accepted for compatibility)."""
        self._read.update(keys)

    def unread_keys(self) -> list[str]:
        """The keys no reader has asked for yet, in the file's order."""
        return [key for key in self.data if key not in self._read]

    def finish(self) -> None:
        """Refuses any key that no reader asked for, suggesting the known key it looks like."""
        unknown = self.unread_keys()
        if unknown:
            known = _looks_like(unknown[0], self._read - set(self.data))
            raise self.error(unknown[0], "unknown key" + (f"; did you mean '{known}'?" if known else "")
                             + (f" (also unknown: {', '.join(map(str, unknown[1:]))})" if unknown[1:] else ""))

    def _convert(self, key: str, value: Any, kind: Callable[[Any], T] | type | None) -> Any:
        if kind is None:
            return value
        if kind is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in {"yes", "true", "on", "1", "no", "false", "off", "0"}:
                return value.strip().lower() in {"yes", "true", "on", "1"}
            raise self.error(key, f"expected true or false, got {value!r}")
        if kind is int:
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                raise self.error(key, f"expected a whole number, got {value!r}")
            try:
                return int(value)
            except ValueError:
                raise self.error(key, f"expected a whole number, got {value!r}") from None
        if kind is float:
            if isinstance(value, bool):
                raise self.error(key, f"expected a number, got {value!r}")
            try:
                return float(value)
            except (TypeError, ValueError):
                raise self.error(key, f"expected a number, got {value!r}") from None
        if kind is str:
            if isinstance(value, (Mapping, list)):
                raise self.error(key, f"expected a text value, got {type(value).__name__}")
            return str(value)
        if kind is list:
            return value if isinstance(value, list) else [value]
        try:
            return kind(value)
        except (TypeError, ValueError) as error:
            raise self.error(key, str(error)) from None


def _looks_like(typed: object, known: Iterable[object]) -> str | None:
    """The one of ``known`` that ``typed`` looks like a misspelling of, if any."""
    if not isinstance(typed, str):
        return None
    close = difflib.get_close_matches(typed, [name for name in known if isinstance(name, str)], n=1, cutoff=0.8)
    return close[0] if close else None


def adobe_group_name(section: ConfigSection, key: str, value: Any, orgs: frozenset[str] = frozenset()) -> str:
    """An Adobe group name read at ``key``: ``Group``, or ``org::Group`` naming one of ``orgs`` (the
    secondary orgs, as User Sync writes them), stripped and interned. Raises ConfigError naming the
    file and key for a value that is not a name, a prefix naming no secondary org, or ``_org_admin``,
    which no sync may assign."""
    if not isinstance(value, str) or not value.strip():
        raise section.error(key, f"expected Adobe group names, got {value!r}")
    name = value.strip()
    org, group = split_org(name)
    if not group.strip():
        raise section.error(key, f"'{name}' names no group after its org prefix")
    if org is not None and org not in orgs:
        raise section.error(key, f"'{name}' names the org '{org}', which is not a secondary org of "
                                 f"adobe_users.connectors.umapi")
    if fold(group) == "_org_admin":
        raise section.error(key, "'_org_admin' cannot be assigned by a sync")
    return sys.intern(name)

def checked_address(section: ConfigSection, key: str, url: str, expected: str) -> str:
    """``url`` (``scheme://host[:port]``) when it names a host and, if it has one, a port from 1 to
    65535; a bad port was otherwise found only at the first connection, as an internal error.
    Raises ConfigError naming the file and key (``expected``: the form to write, for the message)."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise section.error(key, f"'{url}' has no usable port: it must be a number from 1 to 65535")
    if not parts.hostname:
        raise section.error(key, f"expected {expected}, got '{url}'")
    return url


def text_encoding(name: object) -> str:
    """A ``kind`` for keys naming a text encoding (``string_encoding``): refuses unknown names and
    codecs that do not turn bytes into text (``hex``, ``rot13``)."""
    try:
        info = codecs.lookup(str(name))
    except LookupError:
        raise ValueError(f"unknown encoding '{name}'") from None
    if not getattr(info, "_is_text_encoding", True):
        raise ValueError(f"'{name}' is not a text encoding")
    return str(name)


def resolve_path(config_file: Path, value: str | Path) -> Path:
    """``value`` (``~`` expanded) taken against the folder of ``config_file`` when relative, as User
    Sync takes paths against the file that names them."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else (config_file.parent / path)
