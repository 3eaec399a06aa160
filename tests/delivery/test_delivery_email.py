"""The email channel against a real aiosmtpd server on 127.0.0.1 with STARTTLS and AUTH LOGIN/PLAIN, its
certificate self-signed at test time."""

from __future__ import annotations

from pathlib import Path

import pytest
from delivery_samples import sample_job, sample_payload

from symbi_cron.delivery.router import deliver
from tests.servers.smtp_server import SMTPTestServer

RECIPIENTS = ["ops@example.com", "Zoë <zoe@example.org>"]


def _ctx(make_ctx, srv, **kw):
    settings = dict(
        smtp_host="127.0.0.1",
        smtp_port=srv.port,
        smtp_username="symbi-bot",
        smtp_password="${SMTP_PASS}",
        smtp_ca_file=str(srv.ca_file),
        email_from="symbi@example.com",
        smtp_timeout_seconds=5,
    )
    settings.update(kw)
    env = settings.pop("env", {"SMTP_PASS": "correct horse"})
    return make_ctx(env=env, **settings)


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_starttls_auth_and_a_proper_utf8_message(tmp_path: Path, make_ctx, mechanism):
    with SMTPTestServer(tmp_path / "cert", users={"symbi-bot": "correct horse"}, mechanisms=[mechanism]) as srv:
        job = sample_job(name="informe-diário ✓", email_recipients=RECIPIENTS)
        output = "Résumé: 3 fichiers traités — ✓\nΔ = 42\n日本語の出力\n"
        [r] = deliver(sample_payload(output=output, job=job), ["email"], _ctx(make_ctx, srv))
        assert r.ok, r.detail
        assert r.detail == f"smtp 127.0.0.1:{srv.port}: sent to 2 recipient(s)"
        [mail] = srv.wait_for(1)
    assert srv.auth_attempts == [(mechanism, "symbi-bot", True)]
    assert mail.tls and mail.login == "symbi-bot"
    assert mail.mail_from == "symbi@example.com"
    assert mail.rcpt_tos == ["ops@example.com", "zoe@example.org"]
    msg = mail.message()
    assert msg["Subject"] == "[symbi] informe-diário ✓ succeeded"
    assert b"=?utf-8?" in mail.raw.split(b"\r\n\r\n", 1)[0].lower()  # the raw header is RFC 2047-encoded
    assert msg["To"] == "ops@example.com, Zoë <zoe@example.org>"
    assert msg["From"] == "symbi@example.com"
    assert msg["Message-ID"].endswith("@example.com>")
    assert msg["X-Symbi-Status"] == "succeeded"
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    # 7-bit safe on the wire: any relay can carry it, with or without 8BITMIME/SMTPUTF8
    assert msg["Content-Transfer-Encoding"] in ("quoted-printable", "base64")
    assert mail.raw.isascii()
    body = msg.get_content().replace("\r\n", "\n")
    assert "Résumé: 3 fichiers traités — ✓\nΔ = 42\n日本語の出力" in body
    assert "Job:           informe-diário ✓" in body
    assert "Status:        succeeded" in body
    assert "Duration:      1.25s" in body
    assert "Summary:\n3 reports written" in body


def test_failed_run_mail_has_the_error(smtp_server, make_ctx):
    job = sample_job(email_recipients=["ops@example.com"])
    payload = sample_payload(
        output="partial\n",
        job=job,
        status="timed_out",
        exit_code=None,
        error_message="killed after max_runtime 30s",
    )
    [r] = deliver(payload, ["email"], _ctx(make_ctx, smtp_server))
    assert r.ok, r.detail
    msg = smtp_server.wait_for(1)[0].message()
    assert msg["Subject"] == "[symbi] nightly-report timed_out"
    assert "Error:\nkilled after max_runtime 30s" in msg.get_content().replace("\r\n", "\n")


def test_bad_password_is_a_failed_receipt_without_the_password(smtp_server, make_ctx, caplog):
    job = sample_job(email_recipients=["ops@example.com"])
    ctx = _ctx(make_ctx, smtp_server, env={"SMTP_PASS": "Tr0ub4dor&3-wrong"})
    [r] = deliver(sample_payload(job=job), ["email"], ctx)
    assert not r.ok
    assert "login failed: login refused (535" in r.detail
    assert "Tr0ub4dor&3-wrong" not in r.detail and "Tr0ub4dor&3-wrong" not in caplog.text
    assert smtp_server.messages == []


def test_untrusted_certificate_is_refused_by_default(smtp_server, make_ctx):
    job = sample_job(email_recipients=["ops@example.com"])
    [r] = deliver(sample_payload(job=job), ["email"], _ctx(make_ctx, smtp_server, smtp_ca_file=None))
    assert not r.ok and "STARTTLS failed: TLS certificate not trusted" in r.detail
    assert smtp_server.messages == []
    # an explicit opt-out (a test relay) sends
    [r] = deliver(sample_payload(job=job), ["email"], _ctx(make_ctx, smtp_server, smtp_ca_file=None, smtp_verify=False))
    assert r.ok, r.detail


def test_implicit_tls(tmp_path: Path, make_ctx):
    with SMTPTestServer(tmp_path / "cert", users={"symbi-bot": "correct horse"}, implicit_tls=True) as srv:
        job = sample_job(email_recipients=["ops@example.com"])
        [r] = deliver(sample_payload(job=job), ["email"], _ctx(make_ctx, srv, smtp_ssl=True))
        assert r.ok, r.detail
        assert srv.wait_for(1)[0].login == "symbi-bot"


def test_refuses_credentials_in_clear_to_a_remote_host(make_ctx):
    job = sample_job(email_recipients=["ops@example.com"])
    ctx = make_ctx(smtp_host="smtp.example.com", smtp_username="u", smtp_password="p4ssw0rd", smtp_starttls=False)
    [r] = deliver(sample_payload(job=job), ["email"], ctx)
    assert not r.ok and "refusing to send SMTP credentials" in r.detail


def test_configuration_gaps_are_failed_receipts(make_ctx):
    [r] = deliver(sample_payload(), ["email"], make_ctx(smtp_host="127.0.0.1"))
    assert not r.ok and r.detail == "the job has no email_recipients"
    [r] = deliver(sample_payload(job=sample_job(email_recipients=["a@b.c"])), ["email"], make_ctx())
    assert not r.ok and "smtp_host" in r.detail


@pytest.mark.parametrize("server_has_smtputf8", [True, False])
def test_non_ascii_address_needs_smtputf8(tmp_path: Path, make_ctx, server_has_smtputf8):
    users = {"symbi-bot": "correct horse"}
    with SMTPTestServer(tmp_path / "cert", users=users, smtputf8=server_has_smtputf8) as srv:
        job = sample_job(email_recipients=["José <josé@exämple.org>"])
        [r] = deliver(sample_payload(job=job), ["email"], _ctx(make_ctx, srv))
        if server_has_smtputf8:
            assert r.ok, r.detail
            assert srv.wait_for(1)[0].rcpt_tos == ["josé@exämple.org"]
        else:
            assert not r.ok and "needs SMTPUTF8" in r.detail
            assert srv.messages == []
