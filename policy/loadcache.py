"""What ``policy.load()`` builds, cached between processes: the checked policy and the
parsed rate card (sealed entries in :func:`policy.support.cache.cache_dir`).

A checked policy is stored only once the exact same sources have been parsed and checked
without errors; a rate card only once the CSV and its sidecar have loaded cleanly. An
entry's key — digested into the entry's name and seal (:mod:`policy.support.cache`) — is
ccpolicy's version, a SHA-256 of the code that makes the result (every module of the
folders that parse and check a policy or read a card, the grammar and the card's schema:
an edited parser, checker or card reader starts over), the installed lark, PyYAML,
jsonschema and phonenumbers (whose regions the checker accepts) and Python, and the full
content of every source: a changed file, a new or removed sidecar, never meets an old
entry. Anything odd about an entry means the slow path, which reports every error exactly
as without the cache. ``ccpolicy check`` never reads these entries: it always runs the
full checker.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from policy import __version__
from policy.support.cache import Key, code_stamp, lookup, store

if TYPE_CHECKING:
    from policy.language.catalog import Catalog
    from policy.language.source import SourceFile
    from policy.pricing.ratecard import RateCard

__all__ = ["checked_catalog", "ratecard", "remember_catalog"]

_FORMAT = "2"  # bump when an entry's layout changes
# The code (and data) that decides each result, as patterns in the package folder.
_POLICY_CODE = ("language/*.py", "language/*.lark", "support/*.py")
_CARD_CODE = ("pricing/*.py", "data/*.py", "support/*.py", "schemas/ratecard.schema.json")
# ---- the checked policy --------------------------------------------------------------


def _catalog_key(sources: list[SourceFile]) -> Key:
    parts: list[str] = [
        _FORMAT,
        __version__,
        code_stamp(_POLICY_CODE),
    ]
    for source in sources:
        parts += (source.name, source.text)
    return tuple(parts)


def checked_catalog(sources: list[SourceFile]) -> Catalog | None:
    """The catalogue these exact sources were checked into without errors, or None."""
    from policy.language.catalog import Catalog

    catalog = lookup("policy", _catalog_key(sources))
    if not isinstance(catalog, Catalog):
        return None
    return catalog


def remember_catalog(sources: list[SourceFile], catalog: Catalog) -> None:
    """Store the catalogue of sources that checked without errors."""
    store("policy", _catalog_key(sources), catalog)


# ---- the rate card -------------------------------------------------------------------


def _card_inputs(source: str) -> tuple[bytes, bytes] | None:
    """The CSV's bytes and its sidecar's (a marker when there is none); None when either
    cannot be read, so that the slow path reports it."""
    try:
        with open(source, "rb") as fh:
            data = fh.read()
        sidecar = Path(source).with_suffix(".yaml")
        try:
            with open(sidecar, "rb") as fh:
                side = b"present\0" + fh.read()
        except FileNotFoundError:
            side = b"absent"
    except OSError:
        return None
    return data, side


def ratecard(path: str | os.PathLike[str]) -> RateCard:
    """:meth:`RateCard.from_file`, from the cache when the card has loaded before."""
    from policy.pricing.ratecard import RateCard
    from policy.pricing.tariffs import Rounding, Tariff

    source = os.fspath(path)
    inputs = _card_inputs(source)
    if inputs is None:
        return RateCard.from_file(source)
    key = (_FORMAT, __version__, code_stamp(_CARD_CODE), *inputs)
    entry = lookup("card", key)
    if isinstance(entry, tuple) and len(entry) == 3:
        currency, rounding, tariffs = entry
        if (
            (currency is None or isinstance(currency, str))
            and isinstance(rounding, Rounding)
            and isinstance(tariffs, tuple)
            and all(isinstance(t, Tariff) for t in tariffs)
        ):
            return RateCard(tariffs, currency=currency, rounding=rounding, source=source)
    card = RateCard.from_file(source)
    if _card_inputs(source) == inputs:  # unchanged while it was read: safe to store
        store("card", key, (card.currency, card.rounding, card.tariffs))
    return card
