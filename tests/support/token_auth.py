"""Docker token authentication for the test registries (fake_registry.py, fault_front.py). Standard library only.

Implements what a registry and its token server do in https://distribution.github.io/distribution/spec/auth/token/:
the `WWW-Authenticate: Bearer realm=...,service=...,scope=...` challenge, the token endpoint (GET with Basic
credentials and `scope=` parameters, or the OAuth2 form POST with a refresh token or a password), opaque tokens
bound to the scopes they grant and expiring after `expires_in` seconds, and the per-request check (pull for
GET/HEAD, push for writes).

`TokenService` knows nothing about HTTP servers: a registry calls `authorize(authorization_header, needed)` and
turns a raised `Denied` into its answer; its token endpoint calls `issue(...)` and sends what it returns.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Callable, Iterable

Scope = tuple[str, str, str]  # (type, name, action), e.g. ("repository", "org/app", "pull")


def error_body(code: str, message: str, detail=None) -> bytes:
    """An OCI distribution-spec error body."""
    item = {"code": code, "message": message}
    if detail is not None:
        item["detail"] = detail
    return json.dumps({"errors": [item]}).encode()


def parse_scopes(values: Iterable[str]) -> set[Scope]:
    """`repository:NAME:pull,push` items (several per value, space-separated) as (type, name, action) triples."""
    out = set()
    for value in values:
        for item in value.split():
            head, _, actions = item.rpartition(":")
            kind, _, name = head.partition(":")
            if not kind or not name:
                continue
            for action in actions.split(","):
                if action:
                    out.add((kind, name, action))
    return out


def basic_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Denied(Exception):
    """What the registry must answer instead of serving the request: status, body and headers."""

    def __init__(self, status: int, body: bytes, headers: list[tuple[str, str]]):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers


@dataclass
class Grant:
    user: str
    scopes: set[Scope]
    expires: float


class TokenService:
    """Tokens for one registry.

    users={name: password}: accounts for the token endpoint; without any, anyone gets a token for anything.
    anonymous_pull=True: with users set, a token request without credentials still gets the pull actions it asks
        for (Docker Hub, Quay and GHCR for public images); push always needs an account.
    identity_token / identity_user: the refresh token the OAuth2 POST form accepts, and the user it stands for.
    allow=f(user, repo, action) -> bool: further restricts what is granted.
    max_repositories=N: one token grants the scopes of at most N repositories (the first N asked for, by name);
        the others of that request are left out of the token, as a token service that caps a request does.
    `realm` and `service` go into challenges; `realm` may be set after the server's port is known.
    """

    def __init__(self, *, realm: str = "", service: str = "fake", users: dict[str, str] | None = None,
                 anonymous_pull: bool = False, identity_token: str | None = None,
                 identity_user: str = "<token>", allow: Callable[[str, str, str], bool] | None = None,
                 expires_in: int = 300, token_prefix: str = "fake-tok-", max_repositories: int | None = None):
        self.realm = realm
        self.service = service
        self.users = dict(users or {})
        self.anonymous_pull = anonymous_pull
        self.identity_token = identity_token
        self.identity_user = identity_user
        self.allow = allow
        self.expires_in = expires_in
        self.token_prefix = token_prefix
        self.max_repositories = max_repositories
        self._lock = threading.Lock()
        self._grants: dict[str, Grant] = {}
        self.issued_tokens: list[str] = []

    # --- the registry side -------------------------------------------------------------------------------
    def challenge(self, scope: str | None = None, error: str | None = None) -> str:
        value = f'Bearer realm="{self.realm}",service="{self.service}"'
        if scope:
            value += f',scope="{scope}"'
        if error:
            value += f',error="{error}"'
        return value

    def grant_for(self, authorization: str | None) -> Grant | None:
        """The live grant a `Bearer TOKEN` header carries, or None (no token, unknown, or expired)."""
        auth = authorization or ""
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        with self._lock:
            grant = self._grants.get(token)
        if grant is None or grant.expires < time.time():
            return None
        return grant

    def authorize(self, authorization: str | None, needed: list[Scope]) -> set[Scope]:
        """Raise Denied (401) unless the header's bearer token grants every scope in `needed`; return its grants."""
        auth = authorization or ""
        has_token = auth[:7].lower() == "bearer " and bool(auth[7:].strip())
        grant = self.grant_for(authorization)
        scope_text = None
        if needed:
            kind, name, _ = needed[0]
            actions = sorted({a for k, n, a in needed if (k, n) == (kind, name)})
            scope_text = f"{kind}:{name}:{','.join(actions)}"
        if grant is None:
            raise Denied(401, error_body("UNAUTHORIZED", "authentication required"),
                         [("WWW-Authenticate", self.challenge(scope_text, "invalid_token" if has_token else None))])
        missing = [s for s in needed if s not in grant.scopes]
        if missing:
            kind, name, action = missing[0]
            raise Denied(401, error_body("UNAUTHORIZED", "insufficient scope",
                                         [{"Type": kind, "Name": name, "Action": action}]),
                         [("WWW-Authenticate", self.challenge(scope_text, "insufficient_scope"))])
        return grant.scopes

    def allows(self, authorization: str | None, scope: Scope) -> bool:
        """Whether the header's token grants `scope`, without raising (a mount's pull on `from`)."""
        grant = self.grant_for(authorization)
        return grant is not None and scope in grant.scopes

    # --- the token endpoint ------------------------------------------------------------------------------
    def basic_user(self, header: str | None) -> str | None:
        """The user a Basic Authorization header proves; "" for anonymous where allowed; None when refused."""
        header = header or ""
        if header[:6].lower() != "basic ":
            return "" if not self.users or self.anonymous_pull else None
        try:
            user, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        if self.users and self.users.get(user) != password:
            return None
        return user

    def _permitted(self, user: str, scope: Scope) -> bool:
        if self.users and user == "" and scope[2] != "pull":
            return False  # anonymous: pull only
        return self.allow is None or self.allow(user, scope[1], scope[2])

    def issue(self, method: str, path: str, authorization: str | None, body: bytes
              ) -> tuple[int, bytes, list[tuple[str, str]]]:
        """Answer a token request: (status, JSON body, headers)."""
        if method == "GET":
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
            user = self.basic_user(authorization)
            if user is None:
                return (401, json.dumps({"details": "incorrect username or password"}).encode(),
                        [("WWW-Authenticate", f'Basic realm="{self.service}"')])
            requested = parse_scopes(query.get("scope", []))
            access_field = "token"
        elif method == "POST":
            form = urllib.parse.parse_qs(body.decode(errors="replace"))
            first = {k: v[0] for k, v in form.items()}
            grant_type = first.get("grant_type")
            if not first.get("client_id"):
                return 400, json.dumps({"error": "invalid_request",
                                        "error_description": "client_id is required"}).encode(), []
            if grant_type == "refresh_token":
                if not self.identity_token or first.get("refresh_token") != self.identity_token:
                    return 401, json.dumps({"error": "invalid_grant"}).encode(), []
                user = self.identity_user
            elif grant_type == "password":
                user = first.get("username", "")
                if self.users and self.users.get(user) != first.get("password"):
                    return 401, json.dumps({"error": "invalid_grant"}).encode(), []
            else:
                return 400, json.dumps({"error": "unsupported_grant_type"}).encode(), []
            requested = parse_scopes(form.get("scope", []))
            access_field = "access_token"
        else:
            return 405, error_body("UNSUPPORTED", "GET or POST"), []
        granted = {s for s in requested if self._permitted(user, s)}
        if self.max_repositories is not None:
            kept = sorted({(kind, name) for kind, name, _ in granted})[:self.max_repositories]
            granted = {s for s in granted if (s[0], s[1]) in kept}
        token = self.token_prefix + secrets.token_urlsafe(24)
        with self._lock:
            self._grants[token] = Grant(user, granted, time.time() + self.expires_in)
            self.issued_tokens.append(token)
        by_resource: dict[tuple[str, str], list[str]] = {}
        for kind, name, action in sorted(granted):
            by_resource.setdefault((kind, name), []).append(action)
        answer = {access_field: token, "expires_in": self.expires_in,
                  "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "scope": " ".join(f"{k}:{n}:{','.join(a)}" for (k, n), a in by_resource.items())}
        return 200, json.dumps(answer).encode(), []


def needed_scopes(method: str, name: str, kind: str) -> list[Scope]:
    """The scopes a request to /v2/NAME/KIND/... needs: pull to read, pull and push to write or upload."""
    write = method not in ("GET", "HEAD")
    if kind == "blobs/uploads" or write:
        return [("repository", name, "pull"), ("repository", name, "push")]
    return [("repository", name, "pull")]
