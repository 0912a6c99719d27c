"""Contact e-mail and phone lists: what the mapping writes, made acceptable to IT Glue.

The mapping addresses a contact's primary address as
``attributes.contact-emails[primary=True].value``; writing through that selector
yields ``{"primary": "True", "value": ...}``. IT Glue wants a boolean ``primary`` and
a ``label-name`` on each item (developer docs, Contacts: ``label_name`` required),
and treats the list as a whole, so an update keeps the contact's other addresses
and only replaces the primary one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["LIST_FIELDS", "merge_primary", "normalize_items"]

#: contact attributes that are lists of {value, primary, label-name}
LIST_FIELDS = ("contact-emails", "contact-phones")
_DEFAULT_LABEL = "Work"


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)


def _phone_digits(value: Any) -> Any:
    """IT Glue strips a phone's separators and keeps North American numbers as ten digits,
    so ``+14155552156`` is sent as ``4155552156`` and reads back the same."""
    text = str(value).strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    if text.startswith("+1") and len(digits) == 11:
        return digits[1:]
    return text


def normalize_items(items: Iterable[Mapping[str, Any]] | None, phones: bool = False) -> list[dict[str, Any]]:
    """Items with a value, a boolean ``primary`` and a ``label-name``; empty values dropped."""
    out = []
    for item in items or []:
        value = item.get("value")
        if value in (None, ""):
            continue
        clean = {k: v for k, v in item.items() if k not in {"formatted-value"}}
        if phones:
            clean["value"] = _phone_digits(value)
        clean["primary"] = _truthy(item.get("primary", False))
        clean["label-name"] = item.get("label-name") or _DEFAULT_LABEL
        out.append(clean)
    return out


def merge_primary(
    current: Iterable[Mapping[str, Any]] | None, new: Iterable[Mapping[str, Any]] | None, phones: bool = False
) -> list[dict[str, Any]]:
    """The contact's current list with its primary item replaced by the new primary.

    ``new`` comes from the mapping and holds (at most) the primary item; a new
    primary with no value removes the primary item. Non-primary items survive.
    """
    new_items = list(new or [])
    wanted = next((i for i in new_items if _truthy(i.get("primary"))), new_items[0] if new_items else None)
    kept = [dict(i) for i in normalize_items(current) if not i["primary"]]
    if wanted is None or wanted.get("value") in (None, ""):
        return kept
    primary = normalize_items([{**wanted, "primary": True}], phones)[0]
    old = next((i for i in normalize_items(current) if i["primary"]), None)
    if old is not None and "label-name" not in wanted:
        primary["label-name"] = old["label-name"]
    kept = [i for i in kept if i.get("value") != primary["value"]]
    return [primary, *kept]
