"""One POST to a receiver, with a short timeout, and what came of it.

Standard library only (urllib): nothing to load on the API function's cold path.
Redirects are not followed (a receiver that moved is a failed delivery, not a
request to somewhere else); a response body is read up to 1 KiB, for the log.
"""
from __future__ import annotations

import http.client
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_TIMEOUT = 5.0
_BODY_LOGGED = 1024


@dataclass(frozen=True)
class Outcome:
    status_code: int  # 0: no HTTP answer (refused, timed out, TLS failure)
    duration_ms: int
    error: str = ""  # why, when not a 2xx
    body: str = ""  # the start of the answer

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def retryable(self) -> bool:
        """A timeout, a refused or broken connection, 429 or a 5xx: worth another try."""
        return self.status_code == 0 or self.status_code == 429 or self.status_code >= 500


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class HttpSender:
    def __init__(self, timeout: float = DEFAULT_TIMEOUT, *, clock: Callable[[], float] = time.monotonic):
        self.timeout = timeout
        self._clock = clock

    def post(self, url: str, headers: dict[str, str], body: bytes, *, verify_tls: bool = True) -> Outcome:
        context = ssl.create_default_context()
        if not verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        opener = urllib.request.build_opener(_NoRedirects(), urllib.request.HTTPSHandler(context=context))
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        started = self._clock()
        try:
            with opener.open(request, timeout=self.timeout) as answer:
                text = answer.read(_BODY_LOGGED).decode("utf-8", "replace")
                return Outcome(answer.status, self._ms(started), body=text)
        except urllib.error.HTTPError as exc:
            text = exc.read(_BODY_LOGGED).decode("utf-8", "replace") if exc.fp else ""
            return Outcome(exc.code, self._ms(started), error=f"HTTP {exc.code} {exc.reason}", body=text)
        except TimeoutError:
            return Outcome(0, self._ms(started), error=f"timed out after {self.timeout:g} s")
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                return Outcome(0, self._ms(started), error=f"timed out after {self.timeout:g} s")
            return Outcome(0, self._ms(started), error=f"connection failed: {reason}"[:300])
        except (OSError, ValueError, http.client.HTTPException) as exc:  # reset mid-answer, a malformed answer
            return Outcome(0, self._ms(started), error=f"{type(exc).__name__}: {exc}"[:300])

    def _ms(self, started: float) -> int:
        return int((self._clock() - started) * 1000)
