"""A local SMTP server for the OTP integration tests (Debian's python3-aiosmtpd, run with
/usr/bin/python3).

usage: smtp_sink.py PORT MAIL_DIR [starttls|implicit CERT KEY [USER PASSWORD]]

With starttls the server offers STARTTLS and requires it; with implicit it speaks TLS from the
first byte. With USER and PASSWORD it requires AUTH (LOGIN or PLAIN) with them. Refuses recipients nobody@… with 550; accepts every other message and writes it to MAIL_DIR/<n>.eml (the DATA as received) and
MAIL_DIR/<n>.json (envelope sender and recipients, and the client's port: messages that came
over one connection share it). Runs until killed.

With SMTP_SINK_IDLE_TIMEOUT=<seconds> in the environment it drops a client idle that long as
Postfix and Exim do: a 421 reply, then the close.
"""
import json
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

port = int(sys.argv[1])
mail_dir = sys.argv[2]
lock = threading.Lock()
count = 0


class Sink:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        # A mailbox that does not exist: a permanent failure for the sender.
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        global count
        with lock:
            count += 1
            n = count
        with open(os.path.join(mail_dir, "%d.json" % n), "w", encoding="utf-8") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                       "client_port": session.peer[1]}, f)
        # The .eml appears last, whole: tests wait for it.
        tmp = os.path.join(mail_dir, "%d.tmp" % n)
        with open(tmp, "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(tmp, os.path.join(mail_dir, "%d.eml" % n))
        return "250 Message accepted for delivery"


kwargs = {}
if len(sys.argv) > 3:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(sys.argv[4], sys.argv[5])
    if sys.argv[3] == "starttls":
        kwargs.update(tls_context=context, require_starttls=True)
    else:
        kwargs.update(ssl_context=context, auth_require_tls=False)
if len(sys.argv) > 7:
    user, password = sys.argv[6].encode(), sys.argv[7].encode()

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == user
              and auth_data.password == password)
        return AuthResult(success=ok)

    kwargs.update(authenticator=authenticate, auth_required=True)

class IdleReplySMTP(SMTP):
    def _timeout_cb(self):
        self._writer.write(b"421 4.4.2 Idle timeout, closing connection\r\n")
        self.transport.close()


class SinkController(Controller):
    def factory(self):
        return IdleReplySMTP(self.handler, **self.SMTP_kwargs)


idle = os.environ.get("SMTP_SINK_IDLE_TIMEOUT")
if idle:
    kwargs.update(timeout=float(idle))
controller = SinkController(Sink(), hostname="127.0.0.1", port=port, **kwargs)
controller.start()
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
signal.signal(signal.SIGINT, lambda *_: stop.set())
stop.wait()
controller.stop()
