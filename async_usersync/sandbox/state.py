"""The org the sandbox serves: users and groups kept in the API's own JSON shapes, with dict indexes.

User objects are stored exactly as GET users returns them (empty fields left out), so listing a page
is a slice. Lookups go through indexes keyed by lower-cased email, or by lower-cased username and
domain, because UMAPI treats emails and usernames case-insensitively.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from typing import Any

USER_FIELDS = ("id", "email", "status", "username", "domain", "firstname", "lastname", "country", "type", "groups")
PROTECTED_GROUPS = frozenset({"_org_admin", "_compartment_admin", "_compartment_viewer"})
"""Admin groups UMAPI will not assign or remove."""
ADOBE_ID = "adobeID"


@dataclass(slots=True)
class Group:
    """One group of the org (user group or product profile): its API object, members and profiles."""
    info: dict[str, Any]
    """The group object as GET groups returns it, without ``memberCount`` (counted when listed)."""
    members: dict[str, None] = field(default_factory=dict)
    """User ids, in the order they joined (an ordered set)."""
    profiles: list[str] = field(default_factory=list)
    """For a user group: the product profiles its members get (shown when directOnly=false)."""

    @property
    def name(self) -> str:
        """``groupName`` as the org spells it."""
        return self.info["groupName"]

    @property
    def type(self) -> str:
        """``USER_GROUP`` or ``PRODUCT_PROFILE`` (UMAPI's group types)."""
        return self.info["type"]

    def listed(self) -> dict[str, Any]:
        """The group object as GET groups lists it, with ``memberCount``."""
        return {**self.info, "memberCount": len(self.members)}


class OrgState:
    """The org in memory: ``users`` (id -> user object in the API's shape) and ``groups`` (folded
    name -> ``Group``), indexed by folded email (Adobe IDs apart) and by folded username and domain."""
    def __init__(self, org_id: str) -> None:
        self.org_id = org_id
        self.users: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, Group] = {}
        self._owned_by_email: dict[str, dict[str, Any]] = {}
        self._adobe_by_email: dict[str, dict[str, Any]] = {}
        self._owned_by_username: dict[tuple[str, str], dict[str, Any]] = {}
        self._user_list: list[dict[str, Any]] | None = None
        self._group_list: list[Group] | None = None
        self._user_ids = itertools.count(1)
        self._next_group_id = 90000001

    # --- users ---------------------------------------------------------------------------------

    def find_user(self, root: str, domain: str | None = None, use_adobe_id: bool = False) -> dict[str, Any] | None:
        """The user an action entry names: by username + domain when a domain is given, else by email."""
        if domain is not None:
            return self._owned_by_username.get((root.lower(), domain.lower()))
        email = root.lower()
        owned, adobe = self._owned_by_email.get(email), self._adobe_by_email.get(email)
        return (adobe or owned) if use_adobe_id else (owned or adobe)

    def find_by_email(self, email: str, identity_type: str) -> dict[str, Any] | None:
        """The user with this email (ignoring case) among Adobe IDs, or among the org's own
        (Enterprise and Federated IDs) for any other ``identity_type``; None if there is none."""
        index = self._adobe_by_email if identity_type == ADOBE_ID else self._owned_by_email
        return index.get(email.lower())

    def add_user(self, user: dict[str, Any]) -> dict[str, Any]:
        """Stores a user object (API shape); fills ``id``, ``status`` and ``groups`` when missing."""
        if "id" not in user:
            user["id"] = self._new_user_id()
        user.setdefault("status", "active")
        user = {name: user[name] for name in USER_FIELDS if user.get(name) not in (None, "")} | {
            name: value for name, value in user.items() if name not in USER_FIELDS
        }
        user.setdefault("groups", [])
        self.users[user["id"]] = user
        self._index(user)
        for name in user["groups"]:
            group = self.groups.get(name.lower())
            if group is not None:
                group.members[user["id"]] = None
        self._user_list = None
        return user

    def _new_user_id(self) -> str:
        suffix = self.org_id.split("@")[0][:8]
        while (candidate := f"{next(self._user_ids):016X}@{suffix}.e") in self.users:
            pass
        return candidate

    def remove_user(self, user: dict[str, Any]) -> None:
        """Removes the user from the org and from every group it is in."""
        self._unindex(user)
        del self.users[user["id"]]
        for name in user["groups"]:
            group = self.groups.get(name.lower())
            if group is not None:
                group.members.pop(user["id"], None)
        self._user_list = None

    def update_user(self, user: dict[str, Any], changes: dict[str, str]) -> None:
        """Sets the changed fields (API names such as ``email``, ``username``) and re-indexes the user."""
        self._unindex(user)
        for name, value in changes.items():
            user[name] = value
        self._index(user)

    def _index(self, user: dict[str, Any]) -> None:
        if user["type"] == ADOBE_ID:
            self._adobe_by_email[user["email"].lower()] = user
            return
        self._owned_by_email[user["email"].lower()] = user
        self._owned_by_username[(user["username"].lower(), user.get("domain", "").lower())] = user

    def _unindex(self, user: dict[str, Any]) -> None:
        if user["type"] == ADOBE_ID:
            self._adobe_by_email.pop(user["email"].lower(), None)
            return
        self._owned_by_email.pop(user["email"].lower(), None)
        self._owned_by_username.pop((user["username"].lower(), user.get("domain", "").lower()), None)

    def username_taken(self, username: str, domain: str, by: dict[str, Any]) -> bool:
        """Whether another user than ``by`` has this username in ``domain`` (ignoring case)."""
        other = self._owned_by_username.get((username.lower(), domain.lower()))
        return other is not None and other is not by

    def email_taken(self, email: str, by: dict[str, Any]) -> bool:
        """Whether another user than ``by``, of its kind (Adobe ID or not), has this email."""
        other = self.find_by_email(email, by["type"])
        return other is not None and other is not by

    def user_list(self) -> list[dict[str, Any]]:
        """Every user object, in the order they were added (cached until a user is added or removed)."""
        if self._user_list is None:
            self._user_list = list(self.users.values())
        return self._user_list

    # --- membership ----------------------------------------------------------------------------

    def join(self, user: dict[str, Any], group: Group) -> None:
        """Adds the user to the group; nothing if it is a member already."""
        if user["id"] not in group.members:
            group.members[user["id"]] = None
            user["groups"].append(group.name)

    def leave(self, user: dict[str, Any], group: Group) -> None:
        """Takes the user out of the group; nothing if it is not a member."""
        if group.members.pop(user["id"], 0) is None:
            user["groups"] = [name for name in user["groups"] if name.lower() != group.name.lower()]

    def members_page(self, group: Group, start: int, size: int) -> list[dict[str, Any]]:
        """The user objects of members ``start`` to ``start + size`` of ``group``, in joining order."""
        return [self.users[user_id] for user_id in itertools.islice(group.members, start, start + size)]

    def indirect_profiles(self, user: dict[str, Any]) -> list[str]:
        """Product profiles a user reaches through user groups (for directOnly=false)."""
        found: dict[str, None] = {}
        for name in user["groups"]:
            group = self.groups.get(name.lower())
            if group is not None:
                found.update(dict.fromkeys(group.profiles))
        return [name for name in found if name not in user["groups"]]

    # --- groups --------------------------------------------------------------------------------

    def add_group(self, info: dict[str, Any]) -> Group:
        """Stores a group from its API object (``memberCount`` dropped; ``_profiles`` the state-file
        key for a user group's profiles); a missing ``groupId`` gets the next free one."""
        info = {name: value for name, value in info.items() if name != "memberCount"}
        if not isinstance(info.get("groupId"), int):
            info["groupId"] = self._next_group_id
        self._next_group_id = max(self._next_group_id, info["groupId"] + 1)
        group = Group(info=info, profiles=list(info.pop("_profiles", [])))
        self.groups[group.name.lower()] = group
        self._group_list = None
        return group

    def remove_group(self, group: Group) -> None:
        """Deletes the group: every member leaves it, and no user group lists it as a profile."""
        for user_id in list(group.members):
            self.leave(self.users[user_id], group)
        for other in self.groups.values():
            if group.name in other.profiles:
                other.profiles.remove(group.name)
        del self.groups[group.name.lower()]
        self._group_list = None

    def rename_group(self, group: Group, new_name: str) -> None:
        """Renames the group, in its members' group lists too."""
        old_name = group.name
        del self.groups[old_name.lower()]
        group.info["groupName"] = new_name
        self.groups[new_name.lower()] = group
        for user_id in group.members:
            user = self.users[user_id]
            user["groups"] = [new_name if name == old_name else name for name in user["groups"]]
        self._group_list = None

    def group_list(self) -> list[Group]:
        """Every group, in the order they were added (cached until a group is added, removed or renamed)."""
        if self._group_list is None:
            self._group_list = list(self.groups.values())
        return self._group_list

    # --- whole state ---------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The state-file shape: the org id, users and groups as the GET endpoints return them."""
        groups = []
        for group in self.groups.values():
            listed = group.listed()
            if group.profiles:
                listed["_profiles"] = list(group.profiles)
            groups.append(listed)
        return {"org_id": self.org_id, "users": [_copy_user(user) for user in self.users.values()], "groups": groups}

    @classmethod
    def from_json(cls, data: Any, where: str = "state") -> "OrgState":
        """Loads the state-file shape; ``ValueError`` names the entry that is wrong."""
        if not isinstance(data, dict) or not isinstance(data.get("org_id"), str):
            raise ValueError(f"{where}: expected an object with org_id, users and groups")
        state = cls(data["org_id"])
        for position, info in enumerate(data.get("groups", [])):
            if not isinstance(info, dict) or not isinstance(info.get("groupName"), str) or "type" not in info:
                raise ValueError(f"{where}: groups[{position}] needs groupName and type")
            state.add_group(dict(info))
        for position, user in enumerate(data.get("users", [])):
            if not isinstance(user, dict) or not all(isinstance(user.get(key), str) for key in ("email", "type")):
                raise ValueError(f"{where}: users[{position}] needs email and type")
            if not isinstance(user.get("groups", []), list) or not all(isinstance(g, str) for g in user.get("groups", [])):
                raise ValueError(f"{where}: users[{position}].groups must be a list of group names")
            user = _copy_user(user)
            user.setdefault("username", user["email"])
            user.setdefault("domain", user["email"].rpartition("@")[2])
            state.add_user(user)
        return state


def _copy_user(user: dict[str, Any]) -> dict[str, Any]:
    return {**user, "groups": list(user.get("groups", []))}


# --- the seeded org ---------------------------------------------------------------------------

_FIRST_NAMES = ("Ada", "Bruno", "Chiara", "Dmitri", "Elena", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kemal", "Lena")
_LAST_NAMES = ("Adler", "Baptiste", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haas", "Ito", "Jansen")
_COUNTRIES = ("US", "DE", "FR", "GB", "JP", "IN", "BR", "CA")
_PRODUCTS = ("Creative Cloud All Apps", "Acrobat Pro", "Photoshop", "Illustrator", "Adobe Express")


def seeded_state(org_id: str, users: int, groups: int, seed: int) -> OrgState:
    """A deterministic org: ``groups`` groups (about half product profiles) and ``users`` users.

    Most users are Federated IDs at example.com (every tenth with a non-email username), a few are
    Enterprise IDs at example.org and Adobe IDs at example.net; each belongs to up to three groups.
    """
    rng = random.Random(seed)
    state = OrgState(org_id)
    group_names: list[str] = []
    for number in range(1, groups + 1):
        if number % 2 == 0:
            product = _PRODUCTS[number // 2 % len(_PRODUCTS)]
            name = f"{product} Profile {number:03d}"
            state.add_group({
                "groupName": name, "type": "PRODUCT_PROFILE", "adminGroupName": f"_admin_{name}",
                "productName": f"{product} (Sandbox)", "licenseQuota": str(max(users, 1) * 2),
            })
        else:
            name = f"Sandbox Group {number:03d}"
            state.add_group({"groupName": name, "type": "USER_GROUP", "adminGroupName": f"_admin_{name}"})
        group_names.append(name)
    for number in range(users):
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        local = f"{first}.{last}.{number:06d}".lower()
        kind = rng.random()
        if kind < 0.1:
            user = {"type": "adobeID", "email": f"{local}@example.net", "domain": "example.net"}
        elif kind < 0.25:
            user = {"type": "enterpriseID", "email": f"{local}@example.org", "domain": "example.org"}
        else:
            user = {"type": "federatedID", "email": f"{local}@example.com", "domain": "example.com"}
        user["username"] = f"u{number:06d}" if user["type"] == "federatedID" and number % 10 == 0 else user["email"]
        user |= {"firstname": first, "lastname": last, "country": rng.choice(_COUNTRIES)}
        state.add_user(user | {"groups": sorted(set(rng.sample(group_names, k=min(len(group_names), rng.randint(0, 3)))))})
    return state
