"""Bearer tokens: a YAML file of ``{name, sha256, tenants, scopes}`` (``schemas/tokens``).

Only digests are kept: a request's token is hashed and compared with every digest in
constant time. Checks run 401 (no or unknown token) → 403 (scope or tenant not allowed)
and never name or log the token (reference rule 29). ``admin`` implies every scope.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from policy.data.documents import load_document
from policy.service.errors import ApiError
from policy.support.errors import Location, SchemaError

__all__ = ["SCOPES", "Gate", "Token", "load_tokens"]

SCOPES = ("decide", "charge", "admin")


@dataclass(frozen=True, slots=True)
class Token:
    name: str
    digest: bytes  # 32 bytes
    tenants: frozenset[str] | None  # None: every tenant ("*")
    scopes: frozenset[str]

    def allows_scope(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes

    def allows_tenant(self, tenant: str) -> bool:
        return self.tenants is None or tenant in self.tenants


def load_tokens(path: str | os.PathLike[str]) -> tuple[Token, ...]:
    """The tokens of a tokens file; a broken file raises with every finding."""
    document = load_document(path, schema="tokens")
    tokens = []
    seen: dict[str, int] = {}
    for index, item in enumerate(document.data):
        digest = item["sha256"]
        if digest in seen:
            raise SchemaError(
                f"the same digest as tokens[{seen[digest]}]: one token, two entries",
                location=Location(document.filename, document.line_of((index, "sha256"))),
                path=f"[{index}].sha256",
            )
        seen[digest] = index
        tenants = item["tenants"]
        tokens.append(
            Token(
                name=item["name"],
                digest=bytes.fromhex(digest),
                tenants=None if tenants == "*" else frozenset(tenants),
                scopes=frozenset(item["scopes"]),
            )
        )
    return tuple(tokens)


class Gate:
    """Who may do what. ``tokens=None``: no tokens file, every request is let in (the
    server then listens on loopback only)."""

    def __init__(self, tokens: tuple[Token, ...] | None) -> None:
        self.tokens = tokens

    @property
    def open(self) -> bool:
        return self.tokens is None

    def check(self, authorization: str | None, scope: str, tenant: str | None) -> Token | None:
        """The token allowed ``scope`` on ``tenant``, or an :class:`ApiError` 401/403."""
        if self.tokens is None:
            return None
        token = self._identify(authorization)
        if not token.allows_scope(scope):
            raise ApiError(403, f"this token has no '{scope}' scope")
        if tenant is not None and not token.allows_tenant(tenant):
            raise ApiError(403, "this token is not allowed this tenant")
        return token

    def _identify(self, authorization: str | None) -> Token:
        challenge = {"WWW-Authenticate": 'Bearer realm="ccpolicy"'}
        if not authorization:
            raise ApiError(401, "no token: send Authorization: Bearer <token>", headers=challenge)
        scheme, _, secret = authorization.strip().partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret:
            raise ApiError(401, "the Authorization header is not a Bearer token", headers=challenge)
        digest = hashlib.sha256(secret.encode("utf-8", "surrogateescape")).digest()
        found = None
        assert self.tokens is not None
        for token in self.tokens:  # every digest compared, in constant time each
            if hmac.compare_digest(token.digest, digest):
                found = token
        if found is None:
            raise ApiError(401, "unknown token", headers=challenge)
        return found
