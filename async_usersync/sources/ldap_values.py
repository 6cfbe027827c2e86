"""Pure helpers for LDAP values: filter escaping, attribute templates, ranged attributes, DNs.

Nothing here talks to a server, so each piece is tested on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence
from urllib.parse import unquote

from async_usersync.config.settings import template_fields

Attributes = Mapping[str, Sequence[str | bytes]]
"""An entry's attributes: lower-cased name -> values (bytes when not decodable)."""

Value = str | bytes
EntryValues = Mapping[str, Value | tuple[Value, ...]]
"""A user entry's values as sources hand them on: attribute name -> its one value, or a tuple
when it has several (bytes when not decodable)."""

_FILTER_ESCAPES = {ord("\\"): r"\5c", ord("*"): r"\2a", ord("("): r"\28", ord(")"): r"\29", 0: r"\00"}


def escape_filter_value(value: str) -> str:
    """Escapes a value for an LDAP filter (RFC 4515): backslash, star, parentheses and NUL."""
    return value.translate(_FILTER_ESCAPES)


@dataclass(frozen=True)
class AttributeTemplate:
    """A User Sync value format such as ``{givenName}`` or ``{uid}@example.com``.

    Each placeholder takes the first value of an attribute; if any is missing the result is None.
    """

    text: str
    attribute_names: tuple[str, ...] = field(init=False, compare=False)
    keys: tuple[str, ...] = field(init=False, compare=False, repr=False)
    """Where each attribute is looked up in the values: its own name unless ``keyed_by`` says otherwise."""
    _bare_key: str | None = field(init=False, compare=False, repr=False)
    """The key when the format is one bare placeholder (the fast, common case)."""

    def __post_init__(self) -> None:
        names = tuple(template_fields(self.text))
        object.__setattr__(self, "attribute_names", names)
        self._set_keys(names)

    def _set_keys(self, keys: tuple[str, ...]) -> None:
        object.__setattr__(self, "keys", keys)
        bare = len(keys) == 1 and self.text == "{" + self.attribute_names[0] + "}"
        object.__setattr__(self, "_bare_key", keys[0] if bare else None)

    def keyed_by(self, spelling: Mapping[str, str]) -> "AttributeTemplate":
        """The same format, looking each attribute up under ``spelling[lower-cased name]``: LDAP
        names are case-insensitive, and a source keys its values by one spelling of each."""
        keyed = AttributeTemplate(self.text)
        keyed._set_keys(tuple(spelling[name.lower()] for name in self.attribute_names))
        return keyed

    def render(self, values: EntryValues) -> str | None:
        """Raises UnicodeError when a needed value could not be decoded."""
        key = self._bare_key
        if key is not None:  # inlined: this runs for every attribute of every user
            value = values.get(key)
            if value.__class__ is str:
                return value or None
            return _first_text(value, key) or None
        parts: dict[str, str] = {}
        for name, key in zip(self.attribute_names, self.keys):
            first = _first_text(values.get(key), key)
            if first is None:
                return None
            parts[name] = first
        return self.text.format(**parts) or None


def _first_text(value: Value | tuple[Value, ...] | None, name: str) -> str | None:
    first = value[0] if isinstance(value, tuple) else value
    if isinstance(first, bytes):
        raise UnicodeError(f"attribute '{name}' cannot be decoded")
    return first


_RANGE_OPTION = re.compile(r";range=(\d+)-(\d+|\*)$", re.IGNORECASE)


def ranged_values(attribute: str, attributes: Attributes) -> tuple[list[str | bytes], str | None]:
    """One step of Active Directory's range retrieval.

    AD answers a request for ``member`` on a group of over 1,500 members with
    ``member;range=0-1499`` instead; the next slice is asked as ``member;range=1500-*`` and the
    last one comes back as ``member;range=N-*``. Returns this answer's values and the attribute
    to request next (None when complete).
    """
    wanted = attribute.lower()
    if wanted in attributes and ";range=" not in wanted:
        return list(attributes[wanted]), None
    for name, values in attributes.items():
        base, _, options = name.partition(";")
        match = _RANGE_OPTION.search(name)
        if base != wanted.split(";")[0] or match is None:
            continue
        if match.group(2) == "*":
            return list(values), None
        return list(values), f"{base};range={int(match.group(2)) + 1}-*"
    return [], None


def first_rdn_value(dn: str) -> str:
    """The value of a DN's first RDN, unescaped (``cn=Sales\\, EU,ou=g`` -> ``Sales, EU``)."""
    value: list[str] = []
    position = dn.find("=") + 1
    while position < len(dn):
        char = dn[position]
        if char == "\\" and position + 1 < len(dn):
            pair = dn[position + 1:position + 3]
            if re.fullmatch(r"[0-9A-Fa-f]{2}", pair):
                run = bytearray()
                while dn.startswith("\\", position) and re.fullmatch(r"[0-9A-Fa-f]{2}", dn[position + 1:position + 3]):
                    run.append(int(dn[position + 1:position + 3], 16))
                    position += 3
                value.append(run.decode("utf8", errors="replace"))
                continue
            value.append(dn[position + 1])
            position += 2
            continue
        if char in ",+":
            break
        value.append(char)
        position += 1
    return "".join(value).strip()


def dn_key(dn: str) -> str:
    """A comparison key for DNs: case-insensitive, spaces around separators ignored."""
    if " " not in dn:
        return dn.lower()
    return re.sub(r"\s*([,=+])\s*", r"\1", dn).lower()


def is_under(dn: str, base_dn: str) -> bool:
    """Whether ``dn`` is ``base_dn`` or below it, compared as ``dn_key`` does; everything is under
    an empty base."""
    if not base_dn:
        return True
    entry, base = dn_key(dn), dn_key(base_dn)
    return entry == base or entry.endswith("," + base)


_AD_PARTITIONS = ("dc=domaindnszones,", "dc=forestdnszones,", "cn=configuration,")


def referred_dn(url: str) -> str:
    """The DN an LDAP URL (RFC 4516) points to: ``ldap://host/ou=x,dc=y??sub`` -> ``ou=x,dc=y``
    ("" when it names none)."""
    rest = url.split("://", 1)[-1]
    path = rest.partition("/")[2]
    return unquote(path.partition("?")[0])


def is_ad_partition(dn: str) -> bool:
    """Active Directory's DomainDnsZones, ForestDnsZones and Configuration partitions."""
    return dn_key(dn).startswith(_AD_PARTITIONS)
