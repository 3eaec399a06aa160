"""AgentPin credential verification (SPEC §9), compatible with the published ``agentpin`` package.

A credential is a JWT with header ``{"alg": "ES256", "typ": "agentpin-credential+jwt", "kid": ...}`` and claims
``iss`` (the issuer's domain), ``sub`` (``urn:agentpin:{domain}:{agent}``), ``iat``, ``exp``, optional ``nbf``,
``jti``, ``capabilities``. The issuer's keys come from its discovery document ``agent-identity.json``::

    {"agentpin_version": "0.1", "entity": "example.com", "entity_type": "maker",
     "public_keys": [{"kid": "...", "kty": "EC", "crv": "P-256", "x": "...", "y": "...", "use": "sig"}],
     "agents": [{"agent_id": "urn:agentpin:example.com:reporter", "status": "active", ...}], ...}

Where a document comes from, first match wins: the ``trust_bundle`` file (``{"documents": [...],
"revocations": [...]}``), then ``discovery_dir/{domain}.json``, then
``https://{domain}/.well-known/agent-identity.json`` (redirects refused). Documents are cached for
``cache_ttl_seconds`` on the injected clock.

Signatures: JWS (RFC 7518) encodes an ES256 signature as the raw 64 bytes ``r || s``; the ``agentpin`` Python
package writes DER instead. Both are accepted: a DER signature is decoded to ``(r, s)`` and re-encoded raw, then
PyJWT verifies the token strictly with ``algorithms=["ES256"]``, so there is one verification path for both.
No error message ever contains the token itself.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .policy import AgentPinError

#: The AgentPin discovery document's word for an agent in service (its vocabulary, not the scheduler's).
AGENTPIN_ACTIVE = "active"

__all__ = ["DEFAULT_URL_TEMPLATE", "AgentPinError", "AgentPinVerifier", "Claims", "expected_subject"]

REQUIRED_TYP = "agentpin-credential+jwt"
DEFAULT_URL_TEMPLATE = "https://{domain}/.well-known/agent-identity.json"
MAX_DOCUMENT_BYTES = 1_048_576
FETCH_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Claims:
    """What a verified credential says."""

    iss: str
    sub: str
    kid: str
    iat: int
    exp: int
    jti: str | None = None
    capabilities: tuple[str, ...] = ()
    payload: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def expected_subject(domain: str, agent_name: str, agentpin_id: str | None = None) -> str:
    """The ``sub`` a credential for this agent must carry (``agentpin_id`` may already be a full URN)."""
    if agentpin_id and agentpin_id.startswith("urn:agentpin:"):
        return agentpin_id
    return f"urn:agentpin:{domain}:{agentpin_id or agent_name}"


def _b64url_decode(text: str) -> bytes:
    pad = -len(text) % 4
    return base64.urlsafe_b64decode(text + "=" * pad)


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _default_fetch(url: str, *, timeout: float, ca_file: str | None) -> bytes:
    """GET ``url`` over HTTPS (:mod:`symbi_cron.net`) with certificate checks, no redirects and a size cap."""
    from .. import net

    if not url.lower().startswith("https://"):
        raise AgentPinError(f"refusing to fetch a discovery document over plain HTTP ({url})")
    try:
        answer = net.request(
            "GET",
            url,
            headers={"Accept": "application/json", "User-Agent": "symbi-cron"},
            timeout=timeout,
            max_body=MAX_DOCUMENT_BYTES + 1,
            ca_file=ca_file,
        )
    except net.NetError as exc:
        raise AgentPinError(f"cannot fetch discovery document {url}: {exc.reason}") from None
    if answer.redirect:
        raise AgentPinError(f"discovery document at {url} redirects (HTTP {answer.status}); redirects are refused")
    if not answer.ok:
        raise AgentPinError(f"cannot fetch discovery document {url}: HTTP {answer.status}")
    if len(answer.body) > MAX_DOCUMENT_BYTES:
        raise AgentPinError(f"discovery document {url} is larger than {MAX_DOCUMENT_BYTES} bytes")
    return answer.body


def _check_document(doc: Any, domain: str, source: str) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise AgentPinError(f"discovery document from {source} is not a JSON object")
    if doc.get("entity") != domain:
        raise AgentPinError(
            f"discovery document from {source} is for entity {doc.get('entity')!r}, expected {domain!r}"
        )
    keys = doc.get("public_keys")
    if not isinstance(keys, list) or not keys:
        raise AgentPinError(f"discovery document from {source} has no public_keys")
    if not isinstance(doc.get("agents", []), list):
        raise AgentPinError(f"discovery document from {source}: agents is not a list")
    return doc


def _jwk_to_key(jwk: dict[str, Any], kid: str):
    from cryptography.hazmat.primitives.asymmetric import ec

    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise AgentPinError(f"key {kid!r} is not an EC P-256 key (kty={jwk.get('kty')!r}, crv={jwk.get('crv')!r})")
    if jwk.get("use", "sig") != "sig":
        raise AgentPinError(f"key {kid!r} is not a signing key (use={jwk.get('use')!r})")
    try:
        x, y = _b64url_decode(jwk["x"]), _b64url_decode(jwk["y"])
        if len(x) != 32 or len(y) != 32:
            raise ValueError("x and y must be 32 bytes")
        numbers = ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1())
        return numbers.public_key()
    except (KeyError, TypeError, ValueError) as exc:
        raise AgentPinError(f"key {kid!r} in the discovery document is malformed ({exc})") from None


def _raw_signature(token: str) -> str:
    """The token with its signature in JWS raw ``r || s`` form (DER from the agentpin package is converted)."""
    head, payload, sig_b64 = token.split(".")
    try:
        sig = _b64url_decode(sig_b64)
    except (ValueError, TypeError):
        raise AgentPinError("signature is not base64url") from None
    if len(sig) == 64:
        return token
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    try:
        r, s = decode_dss_signature(sig)
        raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    except (ValueError, OverflowError):
        raise AgentPinError("signature is invalid (neither a 64-byte ES256 signature nor DER)") from None
    # Re-encoding must be exact: strict DER only, so a signature has one accepted DER spelling.
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    if encode_dss_signature(r, s) != sig:
        raise AgentPinError("signature is invalid (non-canonical DER)")
    return f"{head}.{payload}.{_b64url_encode(raw)}"


def _int_claim(payload: dict[str, Any], name: str, *, required: bool) -> int | None:
    value = payload.get(name)
    if value is None:
        if required:
            raise AgentPinError(f"credential has no {name!r} claim")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise AgentPinError(f"credential claim {name!r} is not a number")  # JSON parsers take Infinity and NaN
    return int(value)


class AgentPinVerifier:
    """Verifies AgentPin credentials against the configured domain; thread-compatible, one per process."""

    def __init__(
        self,
        settings: Any,
        clock: Any,
        fetch: Callable[[str], bytes] | None = None,
        *,
        url_template: str = DEFAULT_URL_TEMPLATE,
        ca_file: str | None = None,
        timeout: float = FETCH_TIMEOUT_SECONDS,
    ) -> None:
        """``settings`` is ``Settings.agentpin``; ``fetch(url) -> bytes`` replaces HTTPS (tests, proxies)."""
        self.settings = settings
        self.clock = clock
        self.url_template = url_template
        self._fetch = fetch or (lambda url: _default_fetch(url, timeout=timeout, ca_file=ca_file))
        self._cache: dict[str, tuple[float, dict[str, Any], dict[str, Any] | None]] = {}
        self.fetch_count = 0

    # -- discovery ---------------------------------------------------------------------------------------------
    def _load_bundle(self, domain: str) -> tuple[dict | None, dict | None]:
        path = self.settings.trust_bundle
        if not path:
            return None, None
        try:
            bundle = json.loads(Path(path).expanduser().read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise AgentPinError(f"trust bundle {path} does not exist") from None
        except (OSError, ValueError) as exc:
            raise AgentPinError(f"trust bundle {path} cannot be read: {exc}") from None
        if not isinstance(bundle, dict):
            raise AgentPinError(f"trust bundle {path} is not a JSON object")
        docs = bundle.get("documents") or []
        doc = next((d for d in docs if isinstance(d, dict) and d.get("entity") == domain), None)
        rev = next(
            (d for d in bundle.get("revocations") or [] if isinstance(d, dict) and d.get("entity") == domain), None
        )
        return doc, rev

    def _load(self, domain: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
        doc, rev = self._load_bundle(domain)
        if doc is not None:
            return _check_document(doc, domain, f"trust bundle {self.settings.trust_bundle}"), rev
        if self.settings.discovery_dir:
            path = Path(self.settings.discovery_dir).expanduser() / f"{domain}.json"
            if path.exists():
                try:
                    doc = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    raise AgentPinError(f"discovery document {path} cannot be read: {exc}") from None
                return _check_document(doc, domain, str(path)), None
        url = self.url_template.format(domain=domain)
        self.fetch_count += 1
        body = self._fetch(url)
        try:
            doc = json.loads(body)
        except ValueError:
            raise AgentPinError(f"discovery document {url} is not JSON") from None
        return _check_document(doc, domain, url), None

    def discovery(self, domain: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The domain's discovery document (and revocation document if a bundle holds one), cached with a TTL."""
        now = self.clock.monotonic()
        hit = self._cache.get(domain)
        if hit is not None and now - hit[0] < self.settings.cache_ttl_seconds:
            return hit[1], hit[2]
        doc, rev = self._load(domain)
        self._cache[domain] = (now, doc, rev)
        return doc, rev

    def clear_cache(self) -> None:
        self._cache.clear()

    # -- verification ------------------------------------------------------------------------------------------
    def verify(self, token: str, *, agent_name: str, agentpin_id: str | None = None) -> Claims:
        """Verify ``token`` as the credential of ``agent_name``; raise :class:`AgentPinError` with the reason."""
        import jwt

        domain = self.settings.domain
        if not domain:
            raise AgentPinError("no AgentPin domain configured (set SYMBI_AGENTPIN_DOMAIN or [agentpin] domain)")
        if not isinstance(token, str) or not token.strip():
            raise AgentPinError("the job has no AgentPin credential (agent_pin_jwt is empty)")
        token = token.strip()
        if token.count(".") != 2:
            raise AgentPinError("credential is not a JWT (expected three dot-separated parts)")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AgentPinError(f"credential header is malformed ({exc})") from None
        alg = header.get("alg")
        if alg != "ES256":
            raise AgentPinError(f"algorithm {alg!r} refused: AgentPin credentials must be ES256")
        if header.get("typ") != REQUIRED_TYP:
            raise AgentPinError(f"header typ {header.get('typ')!r} refused: expected {REQUIRED_TYP!r}")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AgentPinError("credential header has no kid")

        doc, revocation = self.discovery(domain)
        jwk = next((k for k in doc["public_keys"] if isinstance(k, dict) and k.get("kid") == kid), None)
        if jwk is None:
            raise AgentPinError(f"unknown kid {kid!r}: not a key in the discovery document of {domain}")
        now = self.clock.now()
        skew = int(self.settings.clock_skew_seconds)
        if jwk.get("exp"):
            try:
                key_exp = datetime.fromisoformat(str(jwk["exp"]).replace("Z", "+00:00"))
                if key_exp.tzinfo is None:
                    key_exp = key_exp.replace(tzinfo=timezone.utc)
            except ValueError:
                raise AgentPinError(f"key {kid!r} has an unreadable exp {jwk['exp']!r}") from None
            if key_exp.timestamp() < now.timestamp() - skew:
                raise AgentPinError(f"key {kid!r} expired at {jwk['exp']}")
        key = _jwk_to_key(jwk, kid)

        try:
            payload = jwt.decode(
                _raw_signature(token),
                key=key,
                algorithms=["ES256"],
                issuer=domain,
                options={
                    "require": ["exp", "iat", "iss", "sub"],
                    # exp/nbf/iat are checked below against the injected clock.
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise AgentPinError(f"signature does not verify with key {kid!r}") from None
        except jwt.InvalidIssuerError:
            iss = _unverified_claim(token, "iss")
            raise AgentPinError(f"issuer {iss!r} is not the expected domain {domain!r}") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AgentPinError(f"credential has no {exc.claim!r} claim") from None
        except jwt.PyJWTError as exc:
            raise AgentPinError(f"credential refused: {exc}") from None

        ts = now.timestamp()
        exp = _int_claim(payload, "exp", required=True)
        iat = _int_claim(payload, "iat", required=True)
        nbf = _int_claim(payload, "nbf", required=False)
        assert exp is not None and iat is not None
        if exp <= ts - skew:
            raise AgentPinError(f"credential expired at {_utc(exp)}")
        if nbf is not None and nbf > ts + skew:
            raise AgentPinError(f"credential not valid before {_utc(nbf)}")
        if iat > ts + skew:
            raise AgentPinError(f"credential issued in the future ({_utc(iat)})")

        sub = payload.get("sub")
        want = expected_subject(domain, agent_name, agentpin_id)
        if sub != want:
            raise AgentPinError(f"subject {sub!r} does not name this job's agent (expected {want!r})")
        entries = [a for a in doc.get("agents") or [] if isinstance(a, dict) and a.get("agent_id") == sub]
        if not entries:
            raise AgentPinError(f"agent {sub!r} is not declared in the discovery document of {domain}")
        # Fail closed on a document that lists the agent twice: every entry must say active.
        for agent in entries:
            if agent.get("status") != AGENTPIN_ACTIVE:
                raise AgentPinError(f"agent {sub!r} is {agent.get('status')!r} in the discovery document, not active")
        jti = payload.get("jti")
        if revocation:
            _check_revocation(revocation, jti=jti, sub=sub, kid=kid)
        caps = payload.get("capabilities") or []
        return Claims(
            iss=domain,
            sub=sub,
            kid=kid,
            iat=iat,
            exp=exp,
            jti=jti if isinstance(jti, str) else None,
            capabilities=tuple(str(c) for c in caps) if isinstance(caps, list) else (),
            payload=payload,
        )


def _utc(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def _unverified_claim(token: str, name: str) -> Any:
    try:
        return json.loads(_b64url_decode(token.split(".")[1])).get(name)
    except (ValueError, AttributeError, IndexError):
        return None


def _check_revocation(doc: dict[str, Any], *, jti: Any, sub: str, kid: str) -> None:
    for entry in doc.get("revoked_credentials") or []:
        if jti is not None and entry.get("jti") == jti:
            raise AgentPinError(f"credential {jti} is revoked ({entry.get('reason', 'no reason given')})")
    for entry in doc.get("revoked_agents") or []:
        if entry.get("agent_id") == sub:
            raise AgentPinError(f"agent {sub} is revoked ({entry.get('reason', 'no reason given')})")
    for entry in doc.get("revoked_keys") or []:
        if entry.get("kid") == kid:
            raise AgentPinError(f"key {kid!r} is revoked ({entry.get('reason', 'no reason given')})")


def credential_for_job(job: dict[str, Any], env: dict[str, str] | None = None) -> str:
    """The job's ``agent_pin_jwt`` with ``${VAR}`` references resolved at the point of use (never stored)."""
    from ..envref import expand_env, has_env_ref
    from ..errors import ConfigError

    raw = job.get("agent_pin_jwt")
    if not raw:
        raise AgentPinError("the job has no agent_pin_jwt")
    if has_env_ref(raw):
        try:
            value = expand_env(raw, env, strict=True)
        except ConfigError as exc:
            raise AgentPinError(f"agent_pin_jwt: {exc.message}") from None
    else:
        value = raw
    if not value.strip():
        raise AgentPinError("agent_pin_jwt resolves to an empty value")
    return value
