"""AgentPin verification with real P-256 keys (SPEC §9). Every refusal names its reason, down to the edges:
non-finite time claims, keys not meant for signatures, an agent listed twice, the clock skew boundaries, `crit`,
kid confusion across curves."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import ssl
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest
from pinkit import DOMAIN, NOW, Issuer, b64u

from symbi_cron.config import AgentPinSettings
from symbi_cron.security.agentpin import AgentPinError, AgentPinVerifier, credential_for_job, expected_subject


def verifier(settings, clock, **kw) -> AgentPinVerifier:
    return AgentPinVerifier(settings, clock, **kw)


def refused(v: AgentPinVerifier, token: str, agent: str = "reporter", **kw) -> str:
    with pytest.raises(AgentPinError) as info:
        v.verify(token, agent_name=agent, **kw)
    assert token not in info.value.reason  # a credential never lands in an error
    return info.value.reason


def test_valid_credential(issuer, clock, pin_settings):
    claims = verifier(pin_settings, clock).verify(issuer.token(), agent_name="reporter")
    assert claims.iss == DOMAIN
    assert claims.sub == f"urn:agentpin:{DOMAIN}:reporter"
    assert claims.kid == "key-1"
    assert claims.capabilities == ("read:*",)


def test_agentpin_id_overrides_the_agent_name(issuer, clock, pin_settings):
    issuer.declare("reporter-v2")
    (Path(pin_settings.discovery_dir) / f"{DOMAIN}.json").write_text(json.dumps(issuer.document()))
    v = verifier(pin_settings, clock)
    assert v.verify(issuer.token("reporter-v2"), agent_name="local-name", agentpin_id="reporter-v2").sub.endswith(
        ":reporter-v2"
    )
    assert expected_subject(DOMAIN, "x", "urn:agentpin:other:y") == "urn:agentpin:other:y"


def test_credential_issued_by_the_published_agentpin_package(clock, tmp_path):
    """An independent issuer: the `agentpin` package (PyPI) makes the keys, the JWK, the document and the JWT.

    Its JWTs carry DER-encoded ECDSA signatures (not JWS raw r||s); we accept both spellings.
    """
    agentpin = pytest.importorskip("agentpin")
    from agentpin.credential import issue_credential
    from agentpin.crypto import generate_key_id, generate_key_pair
    from agentpin.discovery import build_discovery_document
    from agentpin.jwk import pem_to_jwk

    private_pem, public_pem = generate_key_pair()
    kid = generate_key_id(public_pem)
    sub = f"urn:agentpin:{DOMAIN}:reporter"
    doc = build_discovery_document(
        DOMAIN,
        "maker",
        [pem_to_jwk(public_pem, kid)],
        [{"agent_id": sub, "name": "reporter", "capabilities": ["read:*"], "status": "active"}],
        0,
        "2026-01-01T00:00:00Z",
    )
    d = tmp_path / "disc"
    d.mkdir()
    (d / f"{DOMAIN}.json").write_text(json.dumps(doc))
    token = issue_credential(private_pem, kid, DOMAIN, sub, None, ["read:*"], None, None, 3600)
    # The package stamps iat with the real time: verify on a clock set to now.
    from symbi_cron.clock import SystemClock

    settings = AgentPinSettings(domain=DOMAIN, discovery_dir=str(d))
    claims = AgentPinVerifier(settings, SystemClock()).verify(token, agent_name="reporter")
    assert claims.kid == kid and claims.sub == sub
    # And the package's own verifier accepts what we accept (same format both ways).
    from agentpin.pinning import KeyPinStore
    from agentpin.verification import verify_credential_offline

    assert verify_credential_offline(token, doc, None, KeyPinStore(), None).valid
    # Tampering with its payload is still refused.
    head, body, sig = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["capabilities"] = ["admin:*"]
    forged = f"{head}.{b64u(json.dumps(payload).encode())}.{sig}"
    assert "signature" in refused(AgentPinVerifier(settings, SystemClock()), forged)
    _ = agentpin


def test_expired(issuer, clock, pin_settings):
    token = issuer.token(now=NOW - timedelta(hours=2), ttl=3600)
    assert "expired" in refused(verifier(pin_settings, clock), token)


def test_expiry_within_clock_skew_is_accepted(issuer, clock, pin_settings):
    token = issuer.token(now=NOW - timedelta(seconds=3630), ttl=3600)  # expired 30 s ago, skew 60 s
    verifier(pin_settings, clock).verify(token, agent_name="reporter")


def test_not_yet_valid(issuer, clock, pin_settings):
    token = issuer.token(nbf=int((NOW + timedelta(minutes=10)).timestamp()))
    assert "not valid before" in refused(verifier(pin_settings, clock), token)


def test_issued_in_the_future(issuer, clock, pin_settings):
    token = issuer.token(now=NOW + timedelta(minutes=10))
    assert "future" in refused(verifier(pin_settings, clock), token)


def test_wrong_issuer(issuer, clock, pin_settings):
    token = issuer.token(iss="evil.example.net")
    reason = refused(verifier(pin_settings, clock), token)
    assert "evil.example.net" in reason and DOMAIN in reason


def test_wrong_subject(issuer, clock, pin_settings):
    token = issuer.token("someone-else")
    reason = refused(verifier(pin_settings, clock), token)
    assert "someone-else" in reason and "reporter" in reason


def test_unknown_kid(issuer, clock, pin_settings):
    token = issuer.token(header={"kid": "key-9"})
    assert "unknown kid 'key-9'" in refused(verifier(pin_settings, clock), token)


def test_key_of_another_issuer_under_a_known_kid(issuer, clock, pin_settings):
    other = Issuer(kid="key-1")
    assert "signature" in refused(verifier(pin_settings, clock), other.token())


def test_tampered_payload(issuer, clock, pin_settings):
    head, body, sig = issuer.token().split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["exp"] += 86400 * 365
    forged = f"{head}.{b64u(json.dumps(payload).encode())}.{sig}"
    assert "signature" in refused(verifier(pin_settings, clock), forged)


def test_alg_none(issuer, clock, pin_settings):
    payload = json.loads(base64.urlsafe_b64decode(issuer.token().split(".")[1] + "=="))
    head = b64u(json.dumps({"alg": "none", "typ": "agentpin-credential+jwt", "kid": "key-1"}).encode())
    token = f"{head}.{b64u(json.dumps(payload).encode())}."
    assert "'none' refused" in refused(verifier(pin_settings, clock), token)


def _hs256(header: dict, payload: dict, secret: bytes) -> str:
    signing = f"{b64u(json.dumps(header).encode())}.{b64u(json.dumps(payload).encode())}"
    return signing + "." + b64u(hmac.new(secret, signing.encode(), hashlib.sha256).digest())


def test_hs256_signed_with_the_public_key_as_secret(issuer, clock, pin_settings):
    """The classic key-confusion attack: HMAC keyed with the issuer's public PEM."""
    payload = json.loads(base64.urlsafe_b64decode(issuer.token().split(".")[1] + "=="))
    hdr = {"alg": "HS256", "typ": "agentpin-credential+jwt", "kid": "key-1"}
    assert "'HS256' refused" in refused(verifier(pin_settings, clock), _hs256(hdr, payload, issuer.public_pem))
    # Lying about the algorithm does not help: an HMAC is no ES256 signature.
    hdr["alg"] = "ES256"
    assert "signature" in refused(verifier(pin_settings, clock), _hs256(hdr, payload, issuer.public_pem))


def test_wrong_typ(issuer, clock, pin_settings):
    assert "typ" in refused(verifier(pin_settings, clock), issuer.token(header={"typ": "JWT"}))


def test_inactive_agent(issuer, clock, tmp_path):
    issuer.agents[0]["status"] = "suspended"
    d = tmp_path / "d"
    d.mkdir()
    (d / f"{DOMAIN}.json").write_text(json.dumps(issuer.document()))
    v = verifier(AgentPinSettings(domain=DOMAIN, discovery_dir=str(d)), clock)
    assert "'suspended'" in refused(v, issuer.token())


def test_undeclared_agent(issuer, clock, pin_settings):
    v = verifier(pin_settings, clock)
    assert "not declared" in refused(v, issuer.token("ghost"), agent="ghost")


def test_missing_exp(issuer, clock, pin_settings):
    assert "'exp'" in refused(verifier(pin_settings, clock), issuer.token(exp=None))


def test_no_domain_configured(issuer, clock, discovery_dir):
    v = verifier(AgentPinSettings(discovery_dir=str(discovery_dir)), clock)
    assert "SYMBI_AGENTPIN_DOMAIN" in refused(v, issuer.token())


def test_garbage_token(clock, pin_settings):
    assert "not a JWT" in refused(verifier(pin_settings, clock), "not-a-token")
    assert "malformed" in refused(verifier(pin_settings, clock), "a.b.c")


def test_trust_bundle_with_revocations(issuer, clock, tmp_path):
    bundle = {
        "agentpin_bundle_version": "0.1",
        "created_at": "2026-01-01T00:00:00Z",
        "documents": [Issuer(domain="other.example").document(), issuer.document()],
        "revocations": [],
    }
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    settings = AgentPinSettings(domain=DOMAIN, trust_bundle=str(path))
    assert verifier(settings, clock).verify(issuer.token(), agent_name="reporter").sub.endswith(":reporter")
    bundle["revocations"] = [
        {
            "agentpin_version": "0.1",
            "entity": DOMAIN,
            "updated_at": "2026-01-01T00:00:00Z",
            "revoked_credentials": [{"jti": "jti-1", "reason": "key_compromise"}],
        }
    ]
    path.write_text(json.dumps(bundle))
    assert "revoked" in refused(verifier(settings, clock), issuer.token())


def test_document_for_another_entity_is_refused(issuer, clock, tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / f"{DOMAIN}.json").write_text(json.dumps(Issuer(domain="elsewhere.example").document()))
    v = verifier(AgentPinSettings(domain=DOMAIN, discovery_dir=str(d)), clock)
    assert "elsewhere.example" in refused(v, issuer.token())


def test_cache_ttl_expiry(issuer, clock, pin_settings):
    """Within the TTL the cached document answers; after it, the new one (here: the key was rotated)."""
    calls: list[str] = []
    doc = issuer.document()

    def fetch(url: str) -> bytes:
        calls.append(url)
        return json.dumps(doc).encode()

    settings = AgentPinSettings(domain=DOMAIN, cache_ttl_seconds=300)
    v = verifier(settings, clock, fetch=fetch)
    token = issuer.token()
    v.verify(token, agent_name="reporter")
    v.verify(token, agent_name="reporter")
    assert calls == [f"https://{DOMAIN}/.well-known/agent-identity.json"]
    rotated = Issuer(kid="key-2")
    rotated.declare("reporter")
    doc = rotated.document()
    clock.advance(299)
    v.verify(token, agent_name="reporter")  # still cached
    assert len(calls) == 1
    clock.advance(2)
    assert "unknown kid" in refused(v, token)
    assert len(calls) == 2
    v.verify(rotated.token(now=clock.now()), agent_name="reporter")


def test_fetch_failure_is_a_refusal(issuer, clock):
    def fetch(url: str) -> bytes:
        raise AgentPinError(f"cannot fetch discovery document {url}: connection refused")

    v = verifier(AgentPinSettings(domain=DOMAIN), clock, fetch=fetch)
    assert "connection refused" in refused(v, issuer.token())


def test_credential_for_job_resolves_env_references():
    assert credential_for_job({"agent_pin_jwt": "${PIN}"}, {"PIN": "a.b.c"}) == "a.b.c"
    with pytest.raises(AgentPinError, match="PIN is not set"):
        credential_for_job({"agent_pin_jwt": "${PIN}"}, {})
    with pytest.raises(AgentPinError, match="no agent_pin_jwt"):
        credential_for_job({"agent_pin_jwt": None}, {})


# -- discovery over real HTTPS ---------------------------------------------------------------------------------


def _make_ca_and_server_cert(tmp: Path) -> tuple[Path, Path, Path]:
    """A private CA and a certificate for 127.0.0.1 signed by it (PEM files)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "symbi test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = tmp / "ca.pem", tmp / "server.pem", tmp / "server.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_file, cert_file, key_file


@pytest.fixture
def https_discovery(tmp_path, issuer):
    """A real HTTPS server on 127.0.0.1 serving /.well-known/agent-identity.json (stands in for the internet)."""
    ca_file, cert_file, key_file = _make_ca_and_server_cert(tmp_path)
    hits: list[str] = []
    body = json.dumps(issuer.document()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            if self.path == "/.well-known/agent-identity.json":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "/.well-known/agent-identity.json")
                self.end_headers()
            else:
                self.send_response(404)
                self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_file, key_file)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", str(ca_file), hits
    finally:
        server.shutdown()
        server.server_close()


def test_discovery_over_https_from_a_real_local_server(https_discovery, issuer, clock):
    base, ca_file, hits = https_discovery
    settings = AgentPinSettings(domain=DOMAIN)
    v = verifier(settings, clock, url_template=base + "/.well-known/agent-identity.json", ca_file=ca_file)
    assert v.verify(issuer.token(), agent_name="reporter").sub.endswith(":reporter")
    assert hits == ["/.well-known/agent-identity.json"]
    v.verify(issuer.token(), agent_name="reporter")
    assert len(hits) == 1  # cached


def test_https_without_the_ca_is_refused(https_discovery, issuer, clock):
    base, _ca_file, _hits = https_discovery
    v = verifier(AgentPinSettings(domain=DOMAIN), clock, url_template=base + "/.well-known/agent-identity.json")
    assert "certificate" in refused(v, issuer.token()).lower()


def test_https_redirect_and_404_are_refused(https_discovery, issuer, clock):
    base, ca_file, _hits = https_discovery
    v = verifier(AgentPinSettings(domain=DOMAIN), clock, url_template=base + "/redirect", ca_file=ca_file)
    assert "redirect" in refused(v, issuer.token())
    v = verifier(AgentPinSettings(domain=DOMAIN), clock, url_template=base + "/missing", ca_file=ca_file)
    assert "HTTP 404" in refused(v, issuer.token())


def test_plain_http_is_refused(issuer, clock):
    v = verifier(AgentPinSettings(domain=DOMAIN), clock, url_template="http://127.0.0.1:9/{domain}.json")
    assert "plain HTTP" in refused(v, issuer.token())


# -- edges: a token or a discovery document built by hand ------------------------------------------------------

SUB = f"urn:agentpin:{DOMAIN}:reporter"


def _verifier_of_document(tmp_path: Path, doc: dict, clock) -> AgentPinVerifier:
    d = tmp_path / "disc"
    d.mkdir(exist_ok=True)
    (d / f"{DOMAIN}.json").write_text(json.dumps(doc))
    return AgentPinVerifier(AgentPinSettings(domain=DOMAIN, discovery_dir=str(d), clock_skew_seconds=60), clock)


def _signed(issuer, **claims) -> str:
    # jwt.encode writes Infinity/NaN as JSON's non-standard literals, which json.loads (and PyJWT) read back.
    payload = {"iss": DOMAIN, "sub": SUB, "iat": int(NOW.timestamp()), "exp": int(NOW.timestamp()) + 600, **claims}
    return jwt.encode(
        payload, issuer.key, algorithm="ES256", headers={"typ": "agentpin-credential+jwt", "kid": issuer.kid}
    )


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_non_finite_time_claims_are_a_refusal_not_a_crash(issuer, clock, pin_settings, claim, value):
    v = AgentPinVerifier(pin_settings, clock)
    with pytest.raises(AgentPinError, match=f"{claim}.*not a number"):
        v.verify(_signed(issuer, **{claim: value}), agent_name="reporter")


def test_a_key_declared_for_encryption_does_not_verify_signatures(issuer, clock, tmp_path):
    doc = issuer.document()
    doc["public_keys"] = [dict(issuer.jwk(), use="enc")]
    with pytest.raises(AgentPinError, match="not a signing key"):
        _verifier_of_document(tmp_path, doc, clock).verify(issuer.token(), agent_name="reporter")
    doc["public_keys"] = [{k: v for k, v in issuer.jwk().items() if k != "use"}]  # use is optional
    assert _verifier_of_document(tmp_path, doc, clock).verify(issuer.token(), agent_name="reporter").sub == SUB


def test_an_agent_listed_twice_must_be_active_in_every_entry(issuer, clock, tmp_path):
    doc = issuer.document()
    doc["agents"] = list(doc["agents"]) + [{"agent_id": SUB, "status": "revoked"}]
    with pytest.raises(AgentPinError, match="revoked"):
        _verifier_of_document(tmp_path, doc, clock).verify(issuer.token(), agent_name="reporter")


def test_same_kid_on_another_curve_first_is_refused(issuer, clock, tmp_path):
    doc = issuer.document()
    doc["public_keys"] = [dict(issuer.jwk(), crv="P-384")] + doc["public_keys"]
    with pytest.raises(AgentPinError, match="not an EC P-256 key"):
        _verifier_of_document(tmp_path, doc, clock).verify(issuer.token(), agent_name="reporter")


def test_crit_header_with_an_unknown_extension_is_refused(issuer, clock, pin_settings):
    v = AgentPinVerifier(pin_settings, clock)
    with pytest.raises(AgentPinError):
        v.verify(issuer.token(header={"crit": ["x-unknown"], "x-unknown": 1}), agent_name="reporter")


def test_signed_token_without_exp_is_refused(issuer, clock, pin_settings):
    with pytest.raises(AgentPinError, match="'exp'"):
        AgentPinVerifier(pin_settings, clock).verify(issuer.token(exp=None), agent_name="reporter")


def test_clock_skew_boundaries(issuer, clock, pin_settings):
    v = AgentPinVerifier(pin_settings, clock)
    ts = int(NOW.timestamp())
    ok = {"exp": ts - 59, "nbf": ts + 60, "iat": ts + 60}
    bad = {"exp": ts - 60, "nbf": ts + 61, "iat": ts + 61}
    for claim, value in ok.items():
        extra = {"exp": ts + 600} if claim != "exp" else {}
        assert v.verify(issuer.token(**{claim: value, **extra}), agent_name="reporter").sub == SUB
    for claim, value in bad.items():
        extra = {"exp": ts + 600} if claim != "exp" else {}
        with pytest.raises(AgentPinError):
            v.verify(issuer.token(**{claim: value, **extra}), agent_name="reporter")
