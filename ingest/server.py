"""The server: Daphne, with the limits a public ingest endpoint needs and Daphne lacks.

    python -m ingest.server [Daphne's options] replay.asgi:application

runs Daphne's own command line (every option of ``daphne`` works) with four changes:

- A request body must arrive whole within ``REPLAY_BODY_TIMEOUT`` seconds of its
  headers and be no larger than ``REPLAY_MAX_FRAME_BYTES``. Twisted reads a body to its
  end (into memory, or a temporary file past 100 KB) before the application sees any
  of it, so these are enforced here, as the bytes arrive: a ``Content-Length`` larger
  than what is sent, or a body trickled a byte at a time, gets 408 and the connection
  is closed; a body over the limit gets 413 as soon as it says or shows so.
- A WebSocket message over the frame limit is refused with the documented close code
  4413 and an `error` frame, where Daphne drops the connection without a word.
- A client is given ``REPLAY_CLOSE_TIMEOUT`` seconds to answer the server's close
  frame, and is then disconnected as TCP ends a connection. Autobahn (under Daphne)
  waits at most one second (its timers round down to whole seconds, so often much
  less) and resets the connection, which a recorder on a slow network can see as an
  abnormal close (1006) without the code that tells it what to do.
- Daphne's WebSocket message and frame limits default to ``REPLAY_MAX_FRAME_BYTES``
  (Daphne's own default is 1 MiB), so an oversized frame is never held in memory.

The answers' bodies and codes come from `ingest.failures`, like every other refusal.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "replay.settings")
django.setup()

import daphne.server  # noqa: E402
from daphne.cli import CommandLineInterface  # noqa: E402
from daphne.http_protocol import HTTPFactory, WebRequest  # noqa: E402
from daphne.server import Server  # noqa: E402
from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol  # noqa: E402
from django.conf import settings  # noqa: E402
from twisted.internet import reactor as _reactor  # noqa: E402

from ingest import protocol  # noqa: E402
from ingest.failures import Refusal, refusal  # noqa: E402
from ingest.protocol import CloseCode, ProtocolError  # noqa: E402

reactor: Any = _reactor  # Twisted types it as an interface, whose methods take no self

# How long a connection refused for its body's size is read (and the rest dropped) so
# that its client gets to read the answer; and how long a WebSocket client that did not
# answer our close frame has to read what was sent before its connection is cut.
LINGER_SECONDS = 2.0

_REASONS = {
    408: b"Request Timeout",
    413: b"Payload Too Large",
}


class LimitedRequest(WebRequest):
    """Daphne's request, refusing bodies that are too large or too slow to arrive."""

    _deadline: Any = None
    _received = 0
    _refused = False

    def gotLength(self, length: int | None) -> None:
        limit = settings.REPLAY_MAX_FRAME_BYTES
        if length is not None and length > limit:
            self._refuse(CloseCode.TOO_LARGE, f"body is larger than {limit} bytes")
            return
        super().gotLength(length)
        if length != 0:  # a body is coming (a length, or chunks until the last)
            timeout = settings.REPLAY_BODY_TIMEOUT
            reason = f"the body did not arrive within {timeout:g} seconds"
            self._deadline = reactor.callLater(
                timeout, self._refuse, CloseCode.HELLO_TIMEOUT, reason
            )

    def handleContentChunk(self, data: bytes) -> None:
        if self._refused:
            return
        self._received += len(data)
        limit = settings.REPLAY_MAX_FRAME_BYTES
        if self._received > limit:
            self._refuse(CloseCode.TOO_LARGE, f"body is larger than {limit} bytes")
            return
        super().handleContentChunk(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        self._stop_deadline()
        if not self._refused:
            super().requestReceived(command, path, version)

    def connectionLost(self, reason: Any) -> None:
        self._stop_deadline()
        super().connectionLost(reason)

    def handle_exception(self, exception: BaseException) -> None:
        if self._response_started:
            # The answer is half sent (an export streaming out when a read failed): the
            # only honest end is to break the connection, so the client sees it failed
            # rather than waiting for the rest.
            self.channel.transport.abortConnection()
            return
        super().handle_exception(exception)

    def _stop_deadline(self) -> None:
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None

    def _refuse(self, code: CloseCode, reason: str) -> None:
        """Answer at once, before the request has arrived whole (so not through
        Twisted's response machinery, which needs a whole request), and hang up."""
        if self._refused:
            return
        self._refused = True
        self._stop_deadline()
        refused: Refusal = refusal(ProtocolError(code, reason))
        body = json.dumps({"error": refused.body()}).encode()
        head = (
            f"HTTP/1.1 {refused.status} ".encode()
            + _REASONS.get(refused.status, b"Error")
            + b"\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        )
        transport = self.channel.transport
        transport.write(head + body)
        if code != CloseCode.TOO_LARGE:
            transport.loseConnection()
            return
        # The client is likely still sending. Closing now would make its system answer
        # the rest with a reset, which can destroy the answer before it is read; so
        # stop writing, read and drop what still comes for a moment, then close.
        transport.loseWriteConnection()
        reactor.callLater(LINGER_SECONDS, transport.abortConnection)


class LimitedHTTPFactory(HTTPFactory):
    def buildProtocol(self, addr: Any) -> Any:
        channel = super().buildProtocol(addr)
        channel.requestFactory = LimitedRequest
        return channel


class LimitedWebSocketProtocol(WebSocketProtocol):
    def _max_message_size_exceeded(self, msg_size: int, max_msg_size: int, reason: str) -> None:
        refused = refusal(
            ProtocolError(CloseCode.TOO_LARGE, f"frame is larger than {max_msg_size} bytes")
        )
        self.sendMessage(protocol.error(refused.body()), isBinary=True)
        self.failByDrop = False  # close with the code, rather than drop the connection
        self._fail_connection(refused.close_code, refused.reason)

    def onCloseHandshakeTimeout(self) -> None:
        """The client has not answered our close frame in time: end the connection
        after what was sent to it (autobahn would reset it, and a reset may destroy
        the error and close frames before the client reads them). One that does not
        read even that is cut LINGER_SECONDS later."""
        self.closeHandshakeTimeoutCall = None
        if self.state == self.STATE_CLOSED:
            return
        self.wasClean = False
        self.wasNotCleanReason = "the client did not answer the close frame in time"
        self.wasCloseHandshakeTimeout = True
        self.dropConnection(abort=False)
        reactor.callLater(LINGER_SECONDS, self.transport.abortConnection)


class LimitedWebSocketFactory(WebSocketFactory):
    protocol = LimitedWebSocketProtocol

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Autobahn's timers round their deadline down to a whole second (txaio's
        # batched timer), so its default of one second waits anywhere from nothing
        # to a second. One more second makes the wait at least the setting.
        self.setProtocolOptions(closeHandshakeTimeout=settings.REPLAY_CLOSE_TIMEOUT + 1)


class LimitedServer(Server):
    def run(self) -> None:
        # Daphne makes its factories inside run(), from its module's names; ours take
        # their place for as long as the server runs.
        originals = daphne.server.HTTPFactory, daphne.server.WebSocketFactory
        daphne.server.HTTPFactory = LimitedHTTPFactory
        daphne.server.WebSocketFactory = LimitedWebSocketFactory
        try:
            super().run()
        finally:
            daphne.server.HTTPFactory, daphne.server.WebSocketFactory = originals


class LimitedCommandLine(CommandLineInterface):
    server_class = LimitedServer

    def __init__(self) -> None:
        super().__init__()
        self.parser.set_defaults(
            websocket_max_message_size=settings.REPLAY_MAX_FRAME_BYTES,
            websocket_max_frame_size=settings.REPLAY_MAX_FRAME_BYTES,
        )


def main() -> None:
    LimitedCommandLine().run(sys.argv[1:])


if __name__ == "__main__":
    main()
