"""Guards every request passes before routing: body size, content type, access log.

Pure ASGI (no BaseHTTPMiddleware) so the body is streamed, never buffered twice,
and the guards answer before any JSON parsing. The access log line carries the
method, path, status and latency only: bodies and query strings may hold patient
identity and never reach the log.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import PROBLEM_JSON, problem_body

access_log = logging.getLogger("api.access")
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


class _BodyTooLargeError(Exception):
    pass


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    # application/json+fhir is the older FHIR media type the SAS guide still shows.
    return media in ("application/json", "application/json+fhir") or (
        media.startswith("application/") and media.endswith("+json")
    )


class GuardMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
            await send(message)

        try:
            await self._guarded(scope, receive, send_logged)
        finally:
            access_log.info(
                "%s %s %d %.1fms",
                scope["method"],
                scope["path"],
                status_holder["status"],
                (time.perf_counter() - started) * 1000,
            )

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        length_text = headers.get("content-length")
        has_body = scope["method"] in _WITH_BODY and (
            "transfer-encoding" in headers or (length_text not in (None, "0"))
        )
        if length_text and length_text.isdigit() and int(length_text) > self.max_body_bytes:
            await self._too_large(scope, send)
            return
        if has_body and not _is_json(headers.get("content-type", "")):
            await _problem(
                scope,
                send,
                415,
                problem_body(
                    415,
                    "unsupported-media-type",
                    "Unsupported media type",
                    "the request body must be JSON",
                    [
                        {
                            "field": "Content-Type",
                            "problem": f"got {headers.get('content-type', 'none')!r}",
                            "fix": "Send the body as JSON with Content-Type: application/json.",
                        }
                    ],
                ),
            )
            return
        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLargeError:
            if response_started:
                raise
            await self._too_large(scope, send)

    async def _too_large(self, scope: Scope, send: Send) -> None:
        await _problem(
            scope,
            send,
            413,
            problem_body(
                413,
                "payload-too-large",
                "Payload too large",
                f"the request body exceeds {self.max_body_bytes} bytes",
                [
                    {
                        "field": "body",
                        "problem": "too large",
                        "fix": f"Send at most {self.max_body_bytes} bytes; split batches.",
                    }
                ],
            ),
        )


async def _problem(scope: Scope, send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body | {"instance": scope["path"]}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
