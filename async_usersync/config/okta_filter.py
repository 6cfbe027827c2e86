"""connector-okta.yml's ``all_users_filter``: User Sync's Python expressions, parsed safely.

User Sync runs the filter with ``eval`` against each Okta user (its connector/directory_okta.py,
``filter_users``; default ``user.status == "ACTIVE"``). Here the text is parsed once, at start, with
``ast.parse`` and kept only when every node is in this grammar, then evaluated by ``UserFilter.matches``
over the user's JSON; nothing is ever executed:

    expression := expression (and|or) expression | not expression | (expression)
                | operand (==|!=|in|not in) operand [(==|!=|in|not in) operand ...]
    operand    := user.NAME | user.profile.NAME | "text" | 123 | 1.5 | True | False | None
                | [operand, ...] | (operand, ...)

A name Okta's user does not carry reads as None (User Sync's SDK gave None for unset profile
fields). ``x in y`` is false when ``y`` is neither a list nor a text, where Python would raise.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Mapping

DEFAULT_ALL_USERS_FILTER = 'user.status == "ACTIVE"'
"""User Sync's default: only active Okta users."""

_COMPARISONS = (ast.Eq, ast.NotEq, ast.In, ast.NotIn)


@dataclass(frozen=True)
class UserFilter:
    """A checked ``all_users_filter``: ``matches(user)`` over an Okta user's JSON object
    (``{"id": ..., "status": ..., "profile": {...}}``). Build it with ``parse_user_filter``."""

    text: str
    tree: ast.expr

    def matches(self, user: Mapping[str, Any]) -> bool:
        """Whether the Okta user passes the filter (Python's truth of the expression's value)."""
        return bool(_value(self.tree, user))


def parse_user_filter(text: str) -> UserFilter:
    """Parses ``text`` into a ``UserFilter``. Raises ValueError naming the expression and the first
    part outside the grammar (module docstring), or the syntax error."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as error:
        raise ValueError(f"'{text}' is not a valid expression ({error.msg})") from None
    _check(tree, text)
    return UserFilter(text, tree)


def _check(node: ast.expr, text: str) -> None:
    """Raises ValueError unless ``node`` is a whole expression of the grammar."""
    if isinstance(node, ast.BoolOp):
        for value in node.values:
            _check(value, text)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        _check(node.operand, text)
    elif isinstance(node, ast.Compare):
        if not all(isinstance(op, _COMPARISONS) for op in node.ops):
            raise _refused(text, node, "only ==, !=, in and not in compare")
        for operand in (node.left, *node.comparators):
            _check_operand(operand, text)
    else:
        _check_operand(node, text)


def _check_operand(node: ast.expr, text: str) -> None:
    if isinstance(node, ast.Constant):
        if node.value is not None and not isinstance(node.value, (str, int, float, bool)):
            raise _refused(text, node, "only text, numbers, True, False and None are literals")
    elif isinstance(node, (ast.List, ast.Tuple)):
        for item in node.elts:
            _check_operand(item, text)
    elif isinstance(node, ast.Attribute):
        if _attribute_path(node) is None:
            raise _refused(text, node, "attributes are user.NAME or user.profile.NAME")
    else:
        raise _refused(text, node, "expected a comparison of user.NAME or user.profile.NAME with a literal, "
                                   "joined by and, or, not")


def _attribute_path(node: ast.Attribute) -> tuple[str, ...] | None:
    """``("status",)`` for ``user.status``, ``("profile", "department")`` for ``user.profile.department``;
    None for anything else (a name starting with ``_`` too)."""
    inner = node.value
    if node.attr.startswith("_"):
        return None
    if isinstance(inner, ast.Name) and inner.id == "user":
        return (node.attr,)
    if (isinstance(inner, ast.Attribute) and inner.attr == "profile" and isinstance(inner.value, ast.Name)
            and inner.value.id == "user"):
        return ("profile", node.attr)
    return None


def _refused(text: str, node: ast.expr, why: str) -> ValueError:
    part = ast.get_source_segment(text.strip(), node) or ast.dump(node)
    return ValueError(f"'{text}' is outside the filter grammar at '{part}': {why}")


def _value(node: ast.expr, user: Mapping[str, Any]) -> Any:
    """The value of a checked node for one user."""
    if isinstance(node, ast.BoolOp):
        result: Any = None
        for part in node.values:
            result = _value(part, user)
            if isinstance(node.op, ast.And) and not result or isinstance(node.op, ast.Or) and result:
                return result
        return result
    if isinstance(node, ast.UnaryOp):
        return not _value(node.operand, user)
    if isinstance(node, ast.Compare):
        left = _value(node.left, user)
        for op, comparator in zip(node.ops, node.comparators):
            right = _value(comparator, user)
            if not _compare(op, left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_value(item, user) for item in node.elts]
    assert isinstance(node, ast.Attribute)
    path = _attribute_path(node)
    assert path is not None
    found: Any = user
    for name in path:
        found = found.get(name) if isinstance(found, Mapping) else None
    return found


def _compare(op: ast.cmpop, left: Any, right: Any) -> bool:
    if isinstance(op, ast.Eq):
        return bool(left == right)
    if isinstance(op, ast.NotEq):
        return bool(left != right)
    contained = isinstance(right, list) and left in right or (
        isinstance(right, str) and isinstance(left, str) and left in right)
    return contained if isinstance(op, ast.In) else not contained
