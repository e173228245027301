#!/usr/bin/python3
"""A small mail sink that speaks a subset of Mailpit's API.

``/mailpit``            SMTP on :1025, HTTP on :8025; messages kept in memory.
``/mailpit readyz``     exit 0 when the HTTP side answers (the health check).

HTTP, as Mailpit answers it:
  GET    /api/v1/messages        newest first: {"total", "messages": [summary...]}
  GET    /api/v1/message/<ID>    one message, with "Text" and "HTML"
  DELETE /api/v1/messages        delete them all
  GET    /readyz, /livez         "ok"
"""

from __future__ import annotations

import email
import email.policy
import json
import sys
import threading
import urllib.request
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from aiosmtpd.controller import Controller

SMTP_PORT = 1025
HTTP_PORT = 8025

_messages: list[dict[str, Any]] = []
_lock = threading.Lock()


def _addresses(values: list[str]) -> list[dict[str, str]]:
    return [{"Name": name, "Address": address} for name, address in getaddresses(values)]


def _body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    return part.get_content() if part is not None else ""


def _stored(raw: bytes) -> dict[str, Any]:
    # The default policy parses into EmailMessage (get_body, get_content).
    message = cast(EmailMessage, email.message_from_bytes(raw, policy=email.policy.default))
    text = _body(message, "plain")
    sender = _addresses(message.get_all("From", []))
    return {
        "ID": uuid.uuid4().hex,
        "MessageID": str(message.get("Message-ID", "")).strip("<>"),
        "Read": False,
        "From": sender[0] if sender else {"Name": "", "Address": ""},
        "To": _addresses(message.get_all("To", [])),
        "Cc": _addresses(message.get_all("Cc", [])),
        "Bcc": [],
        "ReplyTo": _addresses(message.get_all("Reply-To", [])),
        "Subject": str(message.get("Subject", "")),
        "Created": datetime.now(UTC).isoformat(),
        "Tags": [],
        "Size": len(raw),
        "Attachments": 0,
        "Snippet": " ".join(text.split())[:250],
        "Text": text,
        "HTML": _body(message, "html"),
    }


SUMMARY_FIELDS = ("Text", "HTML")


class SmtpHandler:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        stored = _stored(envelope.original_content or envelope.content)
        with _lock:
            _messages.insert(0, stored)
        return "250 Message accepted"


class ApiHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path in ("/readyz", "/livez"):
            self._send(200, "ok", "text/plain")
        elif self.path.split("?")[0] == "/api/v1/messages":
            with _lock:
                summaries = [
                    {k: v for k, v in m.items() if k not in SUMMARY_FIELDS} for m in _messages
                ]
            body = {
                "total": len(summaries),
                "unread": len(summaries),
                "count": len(summaries),
                "messages_count": len(summaries),
                "start": 0,
                "tags": [],
                "messages": summaries,
            }
            self._send(200, json.dumps(body))
        elif self.path.startswith("/api/v1/message/"):
            wanted = self.path.removeprefix("/api/v1/message/")
            with _lock:
                found = next((m for m in _messages if m["ID"] == wanted), None)
            if found is None:
                self._send(404, "message not found", "text/plain")
            else:
                self._send(200, json.dumps(found))
        else:
            self._send(404, "not found", "text/plain")

    def do_DELETE(self) -> None:
        if self.path != "/api/v1/messages":
            self._send(404, "not found", "text/plain")
            return
        with _lock:
            _messages.clear()
        self._send(200, "ok", "text/plain")

    def _send(self, status: int, body: str, content_type: str = "application/json") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve() -> None:
    smtp = Controller(SmtpHandler(), hostname="0.0.0.0", port=SMTP_PORT)  # noqa: S104
    smtp.start()
    print(f"mailpit stand-in: SMTP :{SMTP_PORT}, HTTP :{HTTP_PORT}", flush=True)
    ThreadingHTTPServer(("0.0.0.0", HTTP_PORT), ApiHandler).serve_forever()  # noqa: S104


def readyz() -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{HTTP_PORT}/readyz", timeout=3):
            return 0
    except OSError as exc:
        print(f"not ready: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    if sys.argv[1:] == ["readyz"]:
        sys.exit(readyz())
    serve()
