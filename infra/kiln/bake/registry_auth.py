"""The Registry HTTP API v2 with the credentials Docker uses.

Credentials come from Docker's own configuration (``$DOCKER_CONFIG/config.json`` or
``~/.docker/config.json``: ``auths``, ``credsStore`` and ``credHelpers``), read by the
Docker SDK's resolver, so whatever ``docker login`` or a credential helper set up for a
push also serves kiln's digest lookup. A registry that answers 401 names its scheme:
``Basic`` is retried with the credentials; ``Bearer`` sends them to the token endpoint it
names (the distribution token flow), then retries with the token.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from docker import auth as docker_auth
from docker import errors as docker_errors
from requests.utils import parse_dict_header

from kiln.errors import BakeError, BuildError

log = logging.getLogger(__name__)

TIMEOUT = 10
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class Credentials:
    username: str = ""
    password: str = ""
    identity_token: str = ""  # a refresh token from a credential helper (user "<token>")


def loopback(host: str) -> bool:
    """Whether ``host`` (``name[:port]``) is this machine, where plain HTTP is allowed."""
    if host.startswith("["):
        name = host[1:].partition("]")[0]
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def credentials(host: str, config: Mapping[str, object] | None = None) -> Credentials | None:
    """What Docker would send to ``host``: from ``config`` (a parsed config.json) or
    Docker's config file, through its credential helpers; None when there is nothing."""
    try:
        loaded = docker_auth.load_config(config_dict=dict(config)) if config is not None \
            else docker_auth.load_config()
        found = docker_auth.resolve_authconfig(loaded, registry=host)
    except docker_errors.DockerException as error:
        raise BakeError(f"registry {host}: Docker's credential helper failed "
                        f"({' '.join(str(error).split())})") from None
    if not found:
        return None
    # config.json entries come back lower-case, a credential helper's capitalised.
    values = {str(k).lower(): v for k, v in found.items()}
    if values.get("identitytoken"):
        return Credentials(identity_token=str(values["identitytoken"]))
    if values.get("username") or values.get("password"):
        return Credentials(str(values.get("username") or ""), str(values.get("password") or ""))
    return None


def challenge(header: str) -> tuple[str, dict[str, str]]:
    """``WWW-Authenticate: Bearer realm="…",service="…"`` → ("bearer", {realm, service, …})."""
    scheme, _, params = header.strip().partition(" ")
    return scheme.lower(), {k.lower(): v or "" for k, v in parse_dict_header(params).items()}


def check_realm(realm: str, host: str) -> str:
    """The token endpoint a registry names, refused unless it is HTTPS (plain HTTP only
    when registry and endpoint are both on this machine): credentials never go in clear."""
    parts = urlsplit(realm)
    if parts.scheme == "https" and parts.netloc:
        return realm
    if parts.scheme == "http" and parts.netloc and loopback(host) and loopback(parts.netloc):
        return realm
    raise BuildError(f"registry {host} names the token endpoint {realm!r}; kiln sends "
                     "credentials only over HTTPS")


def _token(session: requests.Session, host: str, params: Mapping[str, str],
           found: Credentials | None) -> str:
    realm = check_realm(params.get("realm", ""), host)
    query = {k: v for k, v in params.items() if k in ("service", "scope") and v}
    if found and found.identity_token:
        response = session.post(realm, timeout=TIMEOUT, data={
            **query, "grant_type": "refresh_token", "refresh_token": found.identity_token,
            "client_id": "kiln"})
    else:
        basic = (found.username, found.password) if found else None
        response = session.get(realm, params=query, auth=basic, timeout=TIMEOUT)
    if response.status_code in (401, 403):
        raise BuildError(f"registry {host}: the token endpoint refused "
                         f"{'the credentials' if found else 'an anonymous request'} "
                         f"({response.status_code}){_login_hint(host, found)}")
    if response.status_code != 200:
        raise BuildError(f"registry {host}: the token endpoint answered {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise BuildError(f"registry {host}: the token endpoint answered no JSON") from None
    token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise BuildError(f"registry {host}: the token endpoint answered no token")
    return token


def _login_hint(host: str, found: Credentials | None) -> str:
    if found:
        return f"; check `docker login {host}`"
    return f"; run `docker login {host}` (kiln reads Docker's config.json and helpers)"


def manifest_digest(host: str, path: str, reference: str, accept: str, *,
                    config: Mapping[str, object] | None = None) -> str | None:
    """The digest the registry serves for ``path:reference`` (HEAD of its manifest), or None
    when there is no such manifest; authenticates the way the registry asks."""
    scheme = "http" if loopback(host) else "https"
    url = f"{scheme}://{host}/v2/{path}/manifests/{reference}"
    headers = {"Accept": accept}
    with requests.Session() as session:
        session.trust_env = False  # no proxies or .netrc: only Docker's credentials
        try:
            response = session.head(url, headers=headers, timeout=TIMEOUT)
            found: Credentials | None = None
            if response.status_code == 401:
                found = credentials(host, config)
                kind, params = challenge(response.headers.get("WWW-Authenticate", ""))
                if kind == "bearer":
                    headers["Authorization"] = "Bearer " + _token(session, host, params, found)
                    response = session.head(url, headers=headers, timeout=TIMEOUT)
                elif kind == "basic" and found and found.username:
                    response = session.head(url, headers=headers, timeout=TIMEOUT,
                                            auth=(found.username, found.password))
        except requests.RequestException as error:
            raise BuildError(f"registry {host} is not reachable "
                             f"({type(error).__name__})") from None
    if response.status_code == 404:
        return None
    if response.status_code in (401, 403):
        raise BuildError(f"registry {host}: HEAD {reference} answered {response.status_code}"
                         f"{_login_hint(host, found)}")
    if response.status_code != 200:
        raise BuildError(f"registry {host}: HEAD {reference} answered {response.status_code}")
    digest = response.headers.get("Docker-Content-Digest", "")
    if not DIGEST.fullmatch(digest):
        raise BuildError(f"registry {host}: no Docker-Content-Digest for {reference}")
    return digest
