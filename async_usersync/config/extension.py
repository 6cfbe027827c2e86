"""User Sync's extension file (``directory_users.extension``): ``extended_attributes``,
``extended_adobe_groups`` and the ``after_mapping_hook`` code, read and compiled once at start.

The hook is compiled with the extension file's name and with its line numbers counted from the
file's first line, so a syntax error here and a traceback line at run time both name the line an
editor shows. Locked-down installs forbid hooks with User Sync's own switch, ``UST_EXTENSION=0``
(its ``-noext`` builds): then an ``extension`` key stops the run (User Sync runs on without the
hook, which would plan a different org).
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from async_usersync.config.section import ConfigSection, adobe_group_name, load_yaml
from async_usersync.config.settings import ExtensionSettings

SWITCH_VARIABLE = "UST_EXTENSION"
"""User Sync's feature flag: ``0`` forbids extension hooks."""
HOOK_KEY = "after_mapping_hook"


def extensions_forbidden() -> bool:
    """Whether this install forbids extension hooks (``UST_EXTENSION`` set to 0, false, no or off)."""
    return os.environ.get(SWITCH_VARIABLE, "").strip().lower() in ("0", "false", "no", "off")


def read_extension(file: Path, encoding: str = "utf8", orgs: frozenset[str] = frozenset()) -> ExtensionSettings:
    """Reads and compiles an extension file (``orgs``: the secondary orgs an ``org::Group`` name of
    ``extended_adobe_groups`` may name). Raises ConfigError naming the file and key for an unknown
    key, a missing ``after_mapping_hook``, an attribute or group that is not a name, and a syntax
    error in the hook (with the file's line number)."""
    section = load_yaml(file, encoding)
    attributes = tuple(dict.fromkeys(_attribute_name(section, value)
                                     for value in section.get("extended_attributes", [], list)))
    groups = tuple(adobe_group_name(section, "extended_adobe_groups", value, orgs)
                   for value in section.get("extended_adobe_groups", [], list))
    code_text: str = section.require(HOOK_KEY, str)
    first_line = _first_code_line(file.read_text(encoding=encoding))
    try:
        code = compile("\n" * (first_line - 1) + code_text, str(file), "exec")
    except SyntaxError as error:
        raise section.error(HOOK_KEY, f"the hook does not compile: {error.msg} at line {error.lineno}") from None
    section.finish()
    return ExtensionSettings(file=file, after_mapping_hook=code, extended_attributes=attributes,
                             extended_adobe_groups=groups)


def _attribute_name(section: ConfigSection, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise section.error("extended_attributes", f"expected attribute or column names, got {value!r}")
    return value.strip()


def _first_code_line(text: str) -> int:
    """The line of the file (from 1) where the hook's code starts: the line after ``|`` or ``>``
    for a block (User Sync's example uses ``after_mapping_hook: |``), else the value's own line."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)  # the file was read once already: a small, sound document
    for key, value in root.value if isinstance(root, yaml.MappingNode) else ():
        if isinstance(key, yaml.ScalarNode) and key.value == HOOK_KEY:
            block = isinstance(value, yaml.ScalarNode) and value.style in ("|", ">")
            return int(value.start_mark.line) + (2 if block else 1)
    return 1
