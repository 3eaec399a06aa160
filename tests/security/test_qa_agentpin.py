"""AgentPin edges found in QA: non-finite time claims, keys not meant for signatures, an agent listed twice, the
clock skew boundaries, `crit`, kid confusion across curves. Real P-256 keys and real signatures (pinkit)."""

from __future__ import annotations

import json
from pathlib import Path

import jwt
import pytest
from pinkit import DOMAIN, NOW

from symbi_cron.config import AgentPinSettings
from symbi_cron.security.agentpin import AgentPinVerifier
from symbi_cron.security.policy import AgentPinError

SUB = f"urn:agentpin:{DOMAIN}:reporter"


def _verifier(tmp_path: Path, doc: dict, clock) -> AgentPinVerifier:
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
        _verifier(tmp_path, doc, clock).verify(issuer.token(), agent_name="reporter")
    doc["public_keys"] = [{k: v for k, v in issuer.jwk().items() if k != "use"}]  # use is optional
    assert _verifier(tmp_path, doc, clock).verify(issuer.token(), agent_name="reporter").sub == SUB


def test_an_agent_listed_twice_must_be_active_in_every_entry(issuer, clock, tmp_path):
    doc = issuer.document()
    doc["agents"] = list(doc["agents"]) + [{"agent_id": SUB, "status": "revoked"}]
    with pytest.raises(AgentPinError, match="revoked"):
        _verifier(tmp_path, doc, clock).verify(issuer.token(), agent_name="reporter")


def test_same_kid_on_another_curve_first_is_refused(issuer, clock, tmp_path):
    doc = issuer.document()
    doc["public_keys"] = [dict(issuer.jwk(), crv="P-384")] + doc["public_keys"]
    with pytest.raises(AgentPinError, match="not an EC P-256 key"):
        _verifier(tmp_path, doc, clock).verify(issuer.token(), agent_name="reporter")


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
