"""Test helpers for AgentPin: a real P-256 issuer, its JWK, discovery document and credentials."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

DOMAIN = "agents.example.com"
NOW = datetime(2026, 2, 15, 12, 0, tzinfo=timezone.utc)


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Issuer:
    """An AgentPin issuer: a P-256 key pair, its JWK and a discovery document."""

    def __init__(self, domain: str = DOMAIN, kid: str = "key-1") -> None:
        self.domain = domain
        self.kid = kid
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.agents: list[dict[str, Any]] = []

    @property
    def private_pem(self) -> str:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    @property
    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def jwk(self) -> dict[str, Any]:
        n = self.key.public_key().public_numbers()
        return {
            "kid": self.kid,
            "kty": "EC",
            "crv": "P-256",
            "use": "sig",
            "key_ops": ["verify"],
            "x": b64u(n.x.to_bytes(32, "big")),
            "y": b64u(n.y.to_bytes(32, "big")),
        }

    def declare(self, agent: str, status: str = "active") -> str:
        urn = f"urn:agentpin:{self.domain}:{agent}"
        self.agents.append({"agent_id": urn, "name": agent, "capabilities": ["read:*"], "status": status})
        return urn

    def document(self) -> dict[str, Any]:
        return {
            "agentpin_version": "0.1",
            "entity": self.domain,
            "entity_type": "maker",
            "public_keys": [self.jwk()],
            "agents": self.agents,
            "max_delegation_depth": 0,
            "updated_at": "2026-01-01T00:00:00Z",
        }

    def token(
        self,
        agent: str = "reporter",
        *,
        now: datetime = NOW,
        ttl: int = 3600,
        header: dict | None = None,
        **claims: Any,
    ) -> str:
        iat = int(now.timestamp())
        payload = {
            "iss": self.domain,
            "sub": f"urn:agentpin:{self.domain}:{agent}",
            "iat": iat,
            "exp": iat + ttl,
            "jti": "jti-1",
            "agentpin_version": "0.1",
            "capabilities": ["read:*"],
        }
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        hdr = {"typ": "agentpin-credential+jwt", "kid": self.kid}
        hdr.update(header or {})
        return jwt.encode(payload, self.key, algorithm="ES256", headers=hdr)
