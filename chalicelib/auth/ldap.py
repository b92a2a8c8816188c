"""LDAP authentication the way Harbor's `ldap_auth` mode does it (search, then bind).

1. Bind as `search_dn` (or anonymously), search `base_dn` for
   `(&(<uid_attribute>=<escaped username>)<user_filter>)`; exactly one entry or no login.
2. Bind as that entry's DN with the given password (an empty password is refused
   before any bind: RFC 4513 makes it an unauthenticated bind that "succeeds").
3. Groups: the user's `memberOf` values when the directory keeps them, else a search
   of `group_base_dn` for `(&<group_filter>(<group_member_attribute>=<escaped user DN>))`.

A wrong user, a wrong password and an ambiguous login all come back as the same
`None`. A directory that cannot be reached, refuses the search account or answers
with an error raises `LdapUnavailable`, so a caller can answer 5xx rather than 401.
Referrals are never chased: they could carry the search account's password to
another server.
"""
from __future__ import annotations

import logging
import re
import ssl
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import ldap3
from ldap3.core.exceptions import LDAPException, LDAPInvalidDnError
from ldap3.operation.search import parse_filter
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import parse_dn

from chalicelib.errors import IdentityProviderUnavailable

logger = logging.getLogger("berth.auth.ldap")

MAX_USERNAME_LENGTH = 255

SCOPES = {"base": ldap3.BASE, "onelevel": ldap3.LEVEL, "subtree": ldap3.SUBTREE}
# Harbor's ldap_scope is 0/1/2 (its API and UI); other tools say "one"/"sub".
SCOPE_ALIASES = {
    "0": "base", "base": "base",
    "1": "onelevel", "onelevel": "onelevel", "one": "onelevel", "level": "onelevel",
    "2": "subtree", "subtree": "subtree", "sub": "subtree",
}
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
# An attribute description: a name (letters, digits, hyphens) or a numeric OID.
_ATTRIBUTE = re.compile(r"[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)+")

# Bind/search result codes meaning "the server is in trouble", not "bad credentials".
_SERVER_TROUBLE = {1, 2, 3, 51, 52, 80}  # operationsError, protocolError, timeLimit, busy, unavailable, other
_SUCCESS = 0
_SIZE_LIMIT_EXCEEDED = 4

# Harbor configuration key -> LdapSettings field. Keys outside this map (auth_mode,
# token_expiration, Harbor's ldap_group_admin_dn, ...) are ignored by from_mapping.
KEYS: dict[str, str] = {
    "ldap_url": "url",
    "ldap_search_dn": "search_dn",
    "ldap_search_password": "search_password",
    "ldap_base_dn": "base_dn",
    "ldap_uid": "uid_attribute",
    "ldap_filter": "user_filter",
    "ldap_scope": "scope",
    "ldap_verify_cert": "verify_cert",
    "ldap_timeout": "timeout",
    "ldap_group_base_dn": "group_base_dn",
    "ldap_group_search_filter": "group_filter",
    "ldap_group_membership_attribute": "group_membership_attribute",
    # Berth's own (Harbor has no equivalent)
    "ldap_start_tls": "start_tls",
    "ldap_group_member_attribute": "group_member_attribute",
}


class LdapUnavailable(IdentityProviderUnavailable):
    """The directory cannot be reached or is misconfigured (not: wrong credentials)."""


# --- settings -----------------------------------------------------------------------


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _url(value: Any) -> str:
    url = _text(value).strip()
    if not url:
        raise ValueError("required")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("ldap", "ldaps"):
        raise ValueError("must start with ldap:// or ldaps://")
    try:
        host, port = parts.hostname, parts.port
    except ValueError as e:  # a port that is not a number or out of range
        raise ValueError(f"bad port ({e})") from None
    if not host:
        raise ValueError("names no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("must be just scheme://host[:port]")
    netloc = f"[{host}]" if ":" in host else host
    return f"{parts.scheme.lower()}://{netloc}" + (f":{port}" if port else "")


def _dn(value: Any) -> str:
    dn = _text(value).strip()
    if dn:
        try:
            parse_dn(dn, strip=True)
        except LDAPInvalidDnError as e:
            raise ValueError(f"not a valid DN ({e})") from None
    return dn


def _attribute(value: Any, *, optional: bool = False) -> str:
    name = _text(value).strip()
    if not name and optional:
        return ""
    if not _ATTRIBUTE.fullmatch(name):
        raise ValueError(f"not an attribute name: {name!r}")
    return name


def _filter(value: Any) -> str:
    """A filter with outer parentheses ("" stays ""); "objectClass=person" gets them."""
    text = _text(value).strip()
    if not text:
        return ""
    if not text.startswith("("):
        text = f"({text})"
    depth = 0
    for c in text:  # literal parentheses in values must be escaped (\28 \29), so all are structural
        depth += {"(": 1, ")": -1}.get(c, 0)
        if depth < 0:
            break
    if depth != 0:
        raise ValueError(f"unbalanced parentheses in filter {text!r}")
    try:  # ldap3's own parser: what it rejects would fail every search
        parse_filter(f"(&{text})", None, True, False, None, False)
    except LDAPException as e:
        raise ValueError(f"invalid filter {text!r} ({e})") from None
    return text


def _scope(value: Any) -> str:
    key = str(value).strip().lower() if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if key not in SCOPE_ALIASES:
        raise ValueError(f"must be base, onelevel or subtree (or 0, 1, 2), got {value!r}")
    return SCOPE_ALIASES[key]


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"must be true or false, got {value!r}")


def _timeout(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError("must be a number of seconds")
    try:
        seconds = int(str(value).strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise ValueError(f"must be a whole number of seconds, got {value!r}") from None
    if not 1 <= seconds <= 300:
        raise ValueError(f"must be between 1 and 300 seconds, got {seconds}")
    return seconds


_NORMALISE: dict[str, Callable[[Any], Any]] = {
    "url": _url,
    "search_dn": _dn,
    "search_password": _text,
    "base_dn": _dn,
    "uid_attribute": _attribute,
    "user_filter": _filter,
    "scope": _scope,
    "verify_cert": _bool,
    "start_tls": _bool,
    "timeout": _timeout,
    "group_base_dn": _dn,
    "group_filter": _filter,
    "group_member_attribute": _attribute,
    "group_membership_attribute": lambda v: _attribute(v, optional=True),
}


@dataclass(frozen=True)
class LdapSettings:
    """Where the directory is and how to find users in it. Validated and normalised
    on construction (ValueError naming the field); `from_mapping` reads Harbor's keys."""

    url: str  # ldap://host:389 or ldaps://host:636
    search_dn: str = ""  # "" = anonymous search
    search_password: str = field(default="", repr=False)
    base_dn: str = ""
    uid_attribute: str = "uid"
    user_filter: str = ""  # ANDed in; with or without outer parentheses
    scope: str = "subtree"  # base | onelevel | subtree (0 | 1 | 2)
    verify_cert: bool = True
    start_tls: bool = False
    timeout: int = 5  # seconds, for connecting and for each answer
    group_base_dn: str = ""  # "" = no group search
    group_filter: str = "(objectClass=groupOfNames)"
    group_member_attribute: str = "member"  # on the group: member DNs
    group_membership_attribute: str = "memberOf"  # on the user: group DNs ("" = don't read)

    def __post_init__(self) -> None:
        for name, normalise in _NORMALISE.items():
            try:
                object.__setattr__(self, name, normalise(getattr(self, name)))
            except (TypeError, ValueError) as e:
                raise ValueError(f"{name}: {e}") from None
        if self.search_dn and not self.search_password:
            # a DN with an empty password is an unauthenticated bind: anonymous in disguise
            raise ValueError("search_password: required when search_dn is set")
        if self.start_tls and self.url.startswith("ldaps://"):
            raise ValueError("start_tls: only for ldap:// URLs (ldaps:// is TLS already)")

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any]) -> LdapSettings:
        """Settings from Harbor's configuration keys (ldap_url, ldap_search_dn, ...).

        Keys this module does not use are ignored (the mapping may be the whole runtime
        configuration). An empty value means "the default". A bare host in ldap_url
        means ldap://host, as in Harbor. Raises ValueError naming the bad key.
        """
        kwargs: dict[str, Any] = {}
        for key, name in KEYS.items():
            value = m.get(key)
            if value is None or (isinstance(value, str) and not value.strip() and name != "search_password"):
                continue
            if name == "url" and isinstance(value, str) and "://" not in value:
                value = f"ldap://{value.strip()}"
            try:
                kwargs[name] = _NORMALISE[name](value)
            except (TypeError, ValueError) as e:
                raise ValueError(f"{key}: {e}") from None
        if "url" not in kwargs:
            raise ValueError("ldap_url: required")
        try:
            return cls(**kwargs)
        except ValueError as e:  # cross-field checks name the field: translate to the key
            by_field = {name: key for key, name in KEYS.items()}
            name, _, reason = str(e).partition(": ")
            raise ValueError(f"{by_field.get(name, name)}: {reason}") from None


# --- authentication -------------------------------------------------------------------


@dataclass(frozen=True)
class LdapUser:
    username: str  # as the directory spells it (its uid_attribute value)
    dn: str
    email: str
    realname: str
    groups: tuple[str, ...]  # group DNs, normalised lower-case, sorted


# (bind DN or None for anonymous, password or None) -> an unopened ldap3.Connection
ConnectionFactory = Callable[[str | None, str | None], Any]


class LdapAuthenticator:
    def __init__(self, settings: LdapSettings, *, connection_factory: ConnectionFactory | None = None):
        self.settings = settings
        self._factory = connection_factory or self._connection

    def authenticate(self, username: str, password: str) -> LdapUser | None:
        """The user, or None for any wrong credential; LdapUnavailable if the directory fails."""
        if not _acceptable_username(username) or not _acceptable_password(password):
            return None
        s = self.settings
        search = self._bind(s.search_dn or None, s.search_password or None)
        try:
            if not _ok(search):
                raise LdapUnavailable(f"LDAP search bind refused: {_describe(search)}")
            entry = self._find_user(search, username)
            if entry is None:
                return None
            if not self._check_password(entry["dn"], password):
                return None
            groups = self._membership(entry) or self._search_groups(search, entry["dn"])
        finally:
            _close(search)
        attrs = entry["attributes"]
        return LdapUser(
            username=_pick_username(_values(attrs, s.uid_attribute), username),
            dn=entry["dn"],
            email=_first(attrs, "mail"),
            realname=_first(attrs, "displayName") or _first(attrs, "cn") or username,
            groups=groups,
        )

    # -- steps

    def _find_user(self, conn: Any, username: str) -> dict[str, Any] | None:
        s = self.settings
        query = f"(&({s.uid_attribute}={escape_filter_chars(username)}){s.user_filter})"
        wanted = [s.uid_attribute, "mail", "cn", "displayName"]
        if s.group_membership_attribute:
            wanted.append(s.group_membership_attribute)
        entries = self._search(conn, s.base_dn, query, SCOPES[s.scope], wanted, size_limit=2)
        if len(entries) != 1:
            if entries:
                logger.warning("ldap: %d entries match login %r; refusing it", len(entries), username)
            return None
        return entries[0]

    def _check_password(self, dn: str, password: str) -> bool:
        conn = self._bind(dn, password)
        try:
            if _ok(conn):
                return True
            if _code(conn) in _SERVER_TROUBLE:
                raise LdapUnavailable(f"LDAP user bind failed: {_describe(conn)}")
            return False  # invalidCredentials, inappropriateAuthentication, unwillingToPerform...
        finally:
            _close(conn)

    def _membership(self, entry: dict[str, Any]) -> tuple[str, ...]:
        attribute = self.settings.group_membership_attribute
        return _group_dns(_values(entry["attributes"], attribute)) if attribute else ()

    def _search_groups(self, conn: Any, user_dn: str) -> tuple[str, ...]:
        s = self.settings
        if not s.group_base_dn:
            return ()
        query = f"(&{s.group_filter}({s.group_member_attribute}={escape_filter_chars(user_dn)}))"
        entries = self._search(conn, s.group_base_dn, query, ldap3.SUBTREE, [ldap3.NO_ATTRIBUTES])
        return _group_dns(e["dn"] for e in entries)

    # -- ldap3 plumbing

    def _search(
        self, conn: Any, base: str, query: str, scope: Any, attributes: list[str], size_limit: int = 0
    ) -> list[dict[str, Any]]:
        try:
            conn.search(
                base, query, search_scope=scope, attributes=attributes,
                size_limit=size_limit, time_limit=self.settings.timeout,
            )
        except LDAPException as e:
            raise LdapUnavailable(f"LDAP search failed: {type(e).__name__}: {e}") from e
        code = _code(conn)
        if code not in (_SUCCESS, _SIZE_LIMIT_EXCEEDED):  # noSuchObject here is a wrong base DN
            raise LdapUnavailable(f"LDAP search under {base!r} failed: {_describe(conn)}")
        return [r for r in conn.response or () if r.get("type") == "searchResEntry"]

    def _bind(self, user: str | None, password: str | None) -> Any:
        """An open connection after a bind attempt (check `_ok`); LdapUnavailable if
        the server cannot be reached or TLS fails."""
        try:
            conn = self._factory(user, password)
        except LDAPException as e:
            raise LdapUnavailable(f"LDAP settings rejected: {type(e).__name__}: {e}") from e
        try:
            conn.open()
            if self.settings.start_tls:
                conn.start_tls()
            conn.bind()
        except LDAPException as e:
            _close(conn)
            raise LdapUnavailable(f"LDAP server {self.settings.url} unavailable: {type(e).__name__}: {e}") from e
        except OSError as e:  # sockets and TLS below ldap3's wrappers
            _close(conn)
            raise LdapUnavailable(f"LDAP server {self.settings.url} unavailable: {e}") from e
        return conn

    def _connection(self, user: str | None, password: str | None) -> ldap3.Connection:
        s = self.settings
        parts = urlsplit(s.url)
        ldaps = parts.scheme == "ldaps"
        tls = None
        if ldaps or s.start_tls:
            tls = _Tls(parts.hostname or "", verify=s.verify_cert)
        server = ldap3.Server(
            parts.hostname, port=parts.port or (636 if ldaps else 389), use_ssl=ldaps, tls=tls,
            get_info=ldap3.NONE, connect_timeout=s.timeout,
        )
        return ldap3.Connection(
            server,
            user=user,
            password=password,
            authentication=ldap3.SIMPLE if user else ldap3.ANONYMOUS,
            auto_bind=ldap3.AUTO_BIND_NONE,
            client_strategy=ldap3.SYNC,
            raise_exceptions=False,
            read_only=True,
            auto_referrals=False,
            receive_timeout=s.timeout,
        )


class _Tls(ldap3.Tls):
    """ldap3's Tls with the standard library doing the checking.

    ldap3 2.9 turns the context's hostname check off and matches names itself with
    `ssl.match_hostname` (deprecated, gone in Python 3.12, where its fallback cannot
    match IP addresses). Here the default context verifies the chain against the
    system trust store and the name (DNS or IP SAN) during the handshake.
    """

    def __init__(self, host: str, *, verify: bool):
        super().__init__(validate=ssl.CERT_REQUIRED if verify else ssl.CERT_NONE)
        self._host = host
        self._verify = verify

    def wrap_socket(self, connection: Any, do_handshake: bool = False) -> None:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        if not self._verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        connection.socket = context.wrap_socket(
            connection.socket, server_side=False, do_handshake_on_connect=do_handshake,
            server_hostname=self._host or None,
        )


# --- helpers ----------------------------------------------------------------------------


def _acceptable_username(username: Any) -> bool:
    return (
        isinstance(username, str)
        and 0 < len(username) <= MAX_USERNAME_LENGTH
        and username.strip() != ""
        and not any(unicodedata.category(c) in ("Cc", "Cs") for c in username)
    )


def _acceptable_password(password: Any) -> bool:
    if not isinstance(password, str) or password == "":
        return False
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: nothing a directory could hold
        return False
    return True


def _ok(conn: Any) -> bool:
    return bool(conn.bound) and _code(conn) == _SUCCESS


def _code(conn: Any) -> int | None:
    result = conn.result or {}
    return result.get("result")


def _describe(conn: Any) -> str:
    result = conn.result or {}
    text = f"{result.get('description')} ({result.get('result')})"
    return f"{text}: {result['message']}" if result.get("message") else text


def _close(conn: Any) -> None:
    try:
        conn.unbind()
    except Exception as e:  # noqa: BLE001 - closing a broken connection must not mask the real error
        logger.debug("ldap: closing the connection failed: %s", e)


def _values(attributes: Mapping[str, Any], name: str) -> list[str]:
    wanted = name.lower()
    for key, value in attributes.items():
        if key.lower() == wanted:
            items = value if isinstance(value, (list, tuple)) else [value]
            return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in items if v is not None]
    return []


def _first(attributes: Mapping[str, Any], name: str) -> str:
    values = _values(attributes, name)
    return values[0] if values else ""


def _pick_username(values: list[str], given: str) -> str:
    """The directory's spelling of the login: the uid value matching what was typed."""
    typed = given.strip().casefold()
    for value in values:
        if value.strip().casefold() == typed:
            return value
    return values[0] if len(values) == 1 else given


_DN_ESCAPE = re.compile(r"\\(?:([0-9A-Fa-f]{2})|(.))", re.DOTALL)


def _canonical_value(value: str) -> str:
    """One spelling per RDN value: `\\2C` and `\\,` both become `\\,` (RFC 4514 escapes)."""
    if value.startswith("#"):  # a BER-encoded value in hex: leave as is
        return value
    raw, pos = bytearray(), 0
    for m in _DN_ESCAPE.finditer(value):
        raw += value[pos:m.start()].encode()
        raw += bytes([int(m[1], 16)]) if m[1] else m[2].encode()
        pos = m.end()
    raw += value[pos:].encode()
    text = raw.decode("utf-8", "replace")
    out = "".join("\\" + c if c in '\\,+"<>;' else "\\00" if c == "\0" else c for c in text)
    if out.startswith(("#", " ")):
        out = "\\" + out
    if out.endswith(" ") and not out.endswith("\\ "):
        out = out[:-1] + "\\ "
    return out


def _normalise_dn(dn: str) -> str:
    """Lower-case, no spaces around separators, canonical escapes."""
    try:
        rdns = parse_dn(dn, strip=True)
    except LDAPInvalidDnError:
        return dn.strip().lower()
    return "".join(f"{attr}={_canonical_value(value)}{sep}" for attr, value, sep in rdns).lower()


def _group_dns(dns: Any) -> tuple[str, ...]:
    return tuple(sorted({_normalise_dn(dn) for dn in dns if dn}))

