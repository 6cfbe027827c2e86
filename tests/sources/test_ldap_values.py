"""The pure helpers: RFC 4515 escaping, range retrieval steps, DN handling."""

from __future__ import annotations

import pytest

from async_usersync.sources.ldap_values import (
    is_ad_partition, referred_dn,
    AttributeTemplate, dn_key, escape_filter_value, first_rdn_value, is_under, ranged_values,
)


def test_filter_escaping_covers_every_metacharacter_and_nul() -> None:
    assert escape_filter_value("a*b(c)d\\e\x00f") == "a\\2ab\\28c\\29d\\5ce\\00f"
    assert escape_filter_value("Zoë Ångström") == "Zoë Ångström"


def test_range_retrieval_walks_active_directorys_slices() -> None:
    """The answers Active Directory gives for a group of 3,200 members, slice by slice (slapd
    cannot hold 'member;range=...' attributes: '=' is not allowed in an attribute option)."""
    first = {"member;range=0-1499": [f"cn=u{n}" for n in range(1500)]}
    second = {"member;range=1500-2999": [f"cn=u{n}" for n in range(1500, 3000)]}
    last = {"member;range=3000-*": [f"cn=u{n}" for n in range(3000, 3200)]}
    values, request = ranged_values("member", first)
    assert len(values) == 1500 and request == "member;range=1500-*"
    values, request = ranged_values("member", second)
    assert values[0] == "cn=u1500" and request == "member;range=3000-*"
    values, request = ranged_values("member", last)
    assert len(values) == 200 and request is None


def test_range_retrieval_on_a_server_without_ranges() -> None:
    assert ranged_values("member", {"member": ["cn=a"]}) == (["cn=a"], None)
    assert ranged_values("member", {"cn": ["x"]}) == ([], None)


def test_templates_take_first_values_and_need_every_attribute() -> None:
    template = AttributeTemplate("{uid}@{domainName}")
    assert template.attribute_names == ("uid", "domainName")
    assert template.render({"uid": ("ann", "ann2"), "domainName": "example.org"}) == "ann@example.org"
    assert template.render({"uid": "ann"}) is None
    with pytest.raises(UnicodeError):
        template.render({"uid": b"\xff", "domainName": "x"})
    with pytest.raises(UnicodeError):
        AttributeTemplate("{uid}").render({"uid": (b"\xff", "ann")})


def test_keyed_templates_read_the_sources_spelling_of_each_name() -> None:
    keyed = AttributeTemplate("{UID}@{domainname}").keyed_by({"uid": "uid", "domainname": "domainName"})
    assert keyed.render({"uid": "ann", "domainName": "example.org"}) == "ann@example.org"
    assert AttributeTemplate("{GivenName}").keyed_by({"givenname": "givenName"}).render({"givenName": "Zoë"}) == "Zoë"


def test_dns() -> None:
    assert first_rdn_value("cn=Sales\\, EU,ou=groups,dc=x") == "Sales, EU"
    assert first_rdn_value("cn=R&D \\5C team,ou=g") == "R&D \\ team"
    assert first_rdn_value("CN=Zo\\C3\\AB,ou=g") == "Zoë"
    assert dn_key("CN=A, OU=G,DC=x") == "cn=a,ou=g,dc=x"
    assert is_under("uid=a,ou=People,DC=example,DC=org", "dc=example,dc=org")
    assert not is_under("uid=a,dc=other,dc=org", "dc=example,dc=org")
    assert is_under("uid=a,dc=other", "")


@pytest.mark.parametrize(("url", "dn", "ad_partition"), [
    ("ldap://branch.example.com:389/ou=Branch,dc=example,dc=com??sub", "ou=Branch,dc=example,dc=com", False),
    ("ldap://example.com/DC=DomainDnsZones,DC=example,DC=com", "DC=DomainDnsZones,DC=example,DC=com", True),
    ("ldaps://example.com/dc=ForestDnsZones,dc=example,dc=com", "dc=ForestDnsZones,dc=example,dc=com", True),
    ("ldap://example.com/CN=Configuration,DC=example,DC=com", "CN=Configuration,DC=example,DC=com", True),
    ("ldap://example.com/ou=a%20b,dc=example,dc=com", "ou=a b,dc=example,dc=com", False),
    ("ldap://other.example.com", "", False),
])
def test_the_dn_a_reference_points_to(url: str, dn: str, ad_partition: bool) -> None:
    assert referred_dn(url) == dn
    assert is_ad_partition(dn) is ad_partition
