"""A real SMTP server (aiosmtpd) on 127.0.0.1, ephemeral port, with STARTTLS and AUTH LOGIN/PLAIN.

The TLS certificate is self-signed, generated with ``cryptography`` at test time for ``localhost`` and
``127.0.0.1``; its PEM file (``ca_file``) is what a client trusts to verify it. STARTTLS is required before
MAIL and AUTH (as a real submission server on 587 does). Every accepted message is recorded with its envelope,
the raw bytes, whether it came over TLS and who logged in.

aiosmtpd's ``Controller`` cannot bind port 0 (it probes the port it was given), so this runs its own event
loop thread and reads the port the kernel chose.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ipaddress
import ssl
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any


def make_self_signed_cert(directory: Path, host: str = "localhost") -> tuple[Path, Path]:
    """Write ``cert.pem`` and ``key.pem`` (EC P-256, valid for localhost and 127.0.0.1) into ``directory``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.timezone.utc)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(host), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    tls: bool
    login: str | None

    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)  # type: ignore[return-value]


class SMTPTestServer:
    """``with SMTPTestServer(tmp_path, users={"bot": "pw"}) as srv: ... srv.port, srv.ca_file,
    srv.messages``."""

    def __init__(
        self,
        cert_dir: Path,
        users: dict[str, str] | None = None,
        *,
        mechanisms: Iterable[str] = ("LOGIN", "PLAIN"),
        require_starttls: bool = True,
        implicit_tls: bool = False,
        smtputf8: bool = False,
    ) -> None:
        self.cert_dir = Path(cert_dir)
        self.users = dict(users or {})
        self.mechanisms = {m.upper() for m in mechanisms}
        self.require_starttls = require_starttls
        self.implicit_tls = implicit_tls
        self.smtputf8 = smtputf8
        self.messages: list[ReceivedMail] = []
        self.auth_attempts: list[tuple[str, str, bool]] = []  # (mechanism, login, success)
        self._cond = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.ca_file: Path | None = None

    # -- aiosmtpd hooks -------------------------------------------------------------------------------------
    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        ok = self.users.get(login) == password
        with self._cond:
            self.auth_attempts.append((mechanism, login, ok))
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        tls = bool(self.implicit_tls or getattr(server, "_tls_protocol", None))
        login = session.auth_data if isinstance(getattr(session, "auth_data", None), str) else None
        mail = ReceivedMail(
            envelope.mail_from,
            list(envelope.rcpt_tos),
            bytes(envelope.original_content or envelope.content),
            tls,
            login,
        )
        with self._cond:
            self.messages.append(mail)
            self._cond.notify_all()
        return "250 Message accepted for delivery"

    # -- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> SMTPTestServer:
        from aiosmtpd.smtp import SMTP

        cert, key = make_self_signed_cert(self.cert_dir)
        self.ca_file = cert
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert, key)
        excluded = [m for m in ("LOGIN", "PLAIN") if m not in self.mechanisms]
        loop = asyncio.new_event_loop()
        self._loop = loop

        def factory() -> Any:
            proto = SMTP(
                self,
                hostname="localhost",  # no getfqdn(): it may wait on DNS
                tls_context=None if self.implicit_tls else tls,
                require_starttls=self.require_starttls and not self.implicit_tls,
                auth_required=bool(self.users),
                auth_require_tls=True,
                auth_exclude_mechanism=excluded,
                authenticator=self._authenticate,
                enable_SMTPUTF8=self.smtputf8,
                loop=loop,
            )
            if self.implicit_tls:
                # The whole connection is TLS, which aiosmtpd only knows for STARTTLS: allow AUTH here.
                proto._auth_require_tls = False
            return proto

        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            ssl_ctx = tls if self.implicit_tls else None
            self._server = loop.run_until_complete(loop.create_server(factory, "127.0.0.1", 0, ssl=ssl_ctx))
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="smtp-test-server", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("SMTP test server did not start")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return

        async def shutdown() -> None:
            self._server.close()
            await self._server.wait_closed()

        if self._server is not None:
            try:
                asyncio.run_coroutine_threadsafe(shutdown(), loop).result(5)
            except Exception:
                pass
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(5)
        if not loop.is_running():
            loop.close()
        self._loop = None

    def wait_for(self, n: int, timeout: float = 5.0) -> list[ReceivedMail]:
        """Block until ``n`` messages were accepted (or fail after ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.messages) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {n} messages, got {len(self.messages)}")
                self._cond.wait(left)
            return list(self.messages)

    def __enter__(self) -> SMTPTestServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
