"""Generated directory data (LDIF) for tests, the scale benchmark and the demo.

The users are inetOrgPerson entries under ``ou=people``; extensibleObject lets them carry a
country (``c``). Written as a stream, so a million users take no memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, TextIO

COUNTRIES = ("US", "DE", "FR", "JP", "GB", "IN", "BR", "CA")


def people_ou_ldif(base_dn: str, ou: str = "people") -> str:
    """The LDIF of the organizational unit ``ou`` under ``base_dn``."""
    return f"dn: ou={ou},{base_dn}\nobjectClass: organizationalUnit\nou: {ou}\n\n"


def user_ldif(base_dn: str, uid: str, given_name: str, surname: str, mail: str | None,
              country: str | None = None, ou: str = "people", extra: dict[str, str] | None = None) -> str:
    """One user entry. Values are plain UTF-8 (LDIF allows it for values that do not start with
    a space, colon or '<'); callers keep to such values."""
    lines = [f"dn: uid={uid},ou={ou},{base_dn}", "objectClass: inetOrgPerson", "objectClass: extensibleObject",
             f"uid: {uid}", f"cn: {given_name} {surname}", f"givenName: {given_name}", f"sn: {surname}"]
    if mail is not None:
        lines.append(f"mail: {mail}")
    if country is not None:
        lines.append(f"c: {country}")
    lines.extend(f"{name}: {value}" for name, value in (extra or {}).items())
    return "\n".join(lines) + "\n\n"


def generated_users(base_dn: str, count: int, start: int = 0, domain: str = "example.org",
                    ou: str = "people") -> Iterator[str]:
    """LDIF records for ``count`` users named user<N> (N from ``start``)."""
    for number in range(start, start + count):
        uid = f"user{number:07d}"
        yield user_ldif(base_dn, uid, f"Given{number}", f"Surname{number}", f"{uid}@{domain}",
                        COUNTRIES[number % len(COUNTRIES)], ou)


def group_ldif(base_dn: str, name: str, member_dns: list[str], ou: str = "groups") -> str:
    """The LDIF of a groupOfNames ``cn=name`` under ``ou``, one ``member`` line per DN."""
    lines = [f"dn: cn={name},ou={ou},{base_dn}", "objectClass: groupOfNames", f"cn: {name}"]
    lines.extend(f"member: {dn}" for dn in member_dns)
    return "\n".join(lines) + "\n\n"


def write_users_ldif(target: Path | TextIO, base_dn: str, count: int, domain: str = "example.org") -> None:
    """Writes the ``ou=people`` entry and ``count`` generated users to a file or stream."""
    if isinstance(target, Path):
        with target.open("w", encoding="utf8") as stream:
            write_users_ldif(stream, base_dn, count, domain)
        return
    target.write(people_ou_ldif(base_dn))
    for record in generated_users(base_dn, count, domain=domain):
        target.write(record)
