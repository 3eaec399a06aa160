"""The ``email`` channel: one message per run over SMTP to the job's ``email_recipients``.

STARTTLS (``smtp_starttls``, default on) or implicit TLS (``smtp_ssl``), then a login when ``smtp_username``
is set. The server's certificate is verified (against the system CAs plus ``smtp_ca_file``) unless
``smtp_verify = false``. Credentials are never sent over an unencrypted connection except to a loopback relay.
The message is ``email.message.EmailMessage`` (UTF-8 everywhere: subject, body, names).
"""

from __future__ import annotations

import email.policy
import getpass
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid

from ..net import is_loopback
from ..vocab import ChannelName
from .base import DeliveryContext, DeliveryPayload, Receipt

_POLICY = email.policy.SMTP.clone(cte_type="7bit")
#: Output beyond this many characters is cut from the mail body (the full text stays on the run).
BODY_OUTPUT_LIMIT = 1_000_000


def subject(payload: DeliveryPayload) -> str:
    """``[symbi] <job> <status>``."""
    return f"[symbi] {payload.job_name} {payload.status}"


def body_text(payload: DeliveryPayload) -> str:
    """The plain-text body: the run's facts, its summary and error, then the output."""
    d = payload.to_dict()
    run = d["run"]
    rows = [
        ("Job", payload.job_name),
        ("Status", payload.status),
        ("Trigger", run.get("trigger")),
        ("Attempt", run.get("attempt")),
        ("Scheduled for", run.get("scheduled_for")),
        ("Started", run.get("started_at")),
        ("Finished", run.get("finished_at")),
        ("Duration", payload.duration_text()),
        ("Exit code", run.get("exit_code")),
        ("Run", run.get("id")),
        ("Job id", d["job"].get("id")),
    ]
    lines = [f"{k + ':':<15}{v}" for k, v in rows if v is not None]
    if run.get("error_message"):
        lines += ["", "Error:", str(run["error_message"])]
    if run.get("summary"):
        lines += ["", "Summary:", str(run["summary"])]
    output = payload.output or ""
    lines += ["", "Output:", ""]
    if len(output) > BODY_OUTPUT_LIMIT:
        lines.append(output[:BODY_OUTPUT_LIMIT])
        lines += [
            "",
            f"[output cut at {BODY_OUTPUT_LIMIT:,} of {len(output):,} characters; the full text is on the run]",
        ]
    else:
        lines.append(output if output else "(no output)")
    return "\n".join(lines).rstrip("\n") + "\n"


def build_message(payload: DeliveryPayload, sender: str, recipients: list[str], ctx: DeliveryContext) -> EmailMessage:
    """The MIME message (text/plain; charset=utf-8)."""
    # cte_type 7bit: headers as RFC 2047 encoded words and the body quoted-printable or base64, so the message
    # passes through any relay, with or without 8BITMIME or SMTPUTF8.
    msg = EmailMessage(policy=_POLICY)
    msg["Subject"] = subject(payload)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = format_datetime(ctx.now())
    # make_msgid() without a domain calls getfqdn(), which can block on DNS: use the sender's domain.
    domain = sender.rpartition("@")[2].strip("> ") or "symbi.localhost"
    msg["Message-ID"] = make_msgid("symbi", domain=domain)
    msg["X-Symbi-Job"] = payload.job_name
    msg["X-Symbi-Run"] = payload.run_id
    msg["X-Symbi-Status"] = payload.status
    msg.set_content(body_text(payload), charset="utf-8")
    return msg


def _address(text: str) -> str:
    """The bare address of ``Name <addr>`` (the SMTP envelope wants only the address)."""
    pairs = getaddresses([text])
    return pairs[0][1] if pairs and pairs[0][1] else text.strip()


def _tls_context(ctx: DeliveryContext) -> ssl.SSLContext:
    d = ctx.delivery
    if not d.smtp_verify:
        tls = ssl.create_default_context()
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
        return tls
    tls = ssl.create_default_context()
    if d.smtp_ca_file:
        tls.load_verify_locations(cafile=str(d.smtp_ca_file))
    return tls


def _default_sender() -> str:
    try:
        user = getpass.getuser()
    except Exception:
        user = "symbi"
    return f"{user}@{socket.gethostname() or 'localhost'}"


def _smtp_error(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"login refused ({exc.smtp_code} {_reply(exc.smtp_error)})"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = ", ".join(f"{r} ({c} {_reply(m)})" for r, (c, m) in exc.recipients.items())
        return f"recipients refused: {refused}"
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return f"sender {exc.sender} refused ({exc.smtp_code} {_reply(exc.smtp_error)})"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_reply(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"not supported by the server: {exc}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"TLS certificate not trusted ({exc.verify_message}); set smtp_ca_file to its CA,"
            " or smtp_verify = false for a test relay"
        )
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return f"{type(exc).__name__}: {exc}"


def _reply(raw: object) -> str:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    return " ".join(str(raw).split())[:200]


class EmailChannel:
    name = ChannelName.email

    def send(self, payload: DeliveryPayload, ctx: DeliveryContext) -> Receipt:
        d = ctx.delivery
        recipients = [r.strip() for r in (payload.job.get("email_recipients") or []) if r and r.strip()]
        if not recipients:
            return ctx.receipt(self.name, False, "the job has no email_recipients")
        host = ctx.secret(d.smtp_host)
        if not host:
            return ctx.receipt(self.name, False, "email is not configured (set scheduler.delivery.smtp_host)")
        sender = ctx.secret(d.email_from) or _default_sender()
        user: str | None = ctx.secret(d.smtp_username)
        password = ctx.secret(d.smtp_password) or ""
        encrypted = d.smtp_ssl or d.smtp_starttls
        if user and not encrypted and not is_loopback(host):
            return ctx.receipt(
                self.name,
                False,
                f"refusing to send SMTP credentials to {host} unencrypted (enable smtp_starttls or smtp_ssl)",
            )
        where = f"smtp {host}:{d.smtp_port}"
        step = "connect"
        try:
            msg = build_message(payload, sender, recipients, ctx)
            tls = _tls_context(ctx) if encrypted else None
            smtp: smtplib.SMTP
            if d.smtp_ssl:
                smtp = smtplib.SMTP_SSL(host, d.smtp_port, timeout=d.smtp_timeout_seconds, context=tls)
            else:
                smtp = smtplib.SMTP(host, d.smtp_port, timeout=d.smtp_timeout_seconds)
            with smtp:
                step = "EHLO"
                smtp.ehlo()
                if d.smtp_starttls and not d.smtp_ssl:
                    step = "STARTTLS"
                    if not smtp.has_extn("starttls"):
                        return ctx.receipt(self.name, False, f"{where}: the server does not offer STARTTLS")
                    smtp.starttls(context=tls)
                    smtp.ehlo()
                if user:
                    step = "login"
                    smtp.login(user, password)
                step = "send"
                env_from = _address(sender)
                env_to = [_address(r) for r in recipients]
                options: list[str] = []
                if not all(a.isascii() for a in [env_from, *env_to]):
                    if not smtp.has_extn("smtputf8"):
                        return ctx.receipt(
                            self.name,
                            False,
                            f"{where}: a non-ASCII address needs SMTPUTF8, which the server lacks",
                        )
                    options.append("SMTPUTF8")
                refused = smtp.sendmail(env_from, env_to, msg.as_bytes(), mail_options=options)
        except Exception as exc:
            return ctx.receipt(self.name, False, f"{where}: {step} failed: {_smtp_error(exc)}")
        if refused:
            some = ", ".join(sorted(refused))
            return ctx.receipt(
                self.name,
                False,
                f"{where}: sent to {len(recipients) - len(refused)} of {len(recipients)}; refused: {some}",
            )
        return ctx.receipt(self.name, True, f"{where}: sent to {len(recipients)} recipient(s)")
