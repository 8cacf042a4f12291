"""What an HTTP answer to a download's request means (RFC 9110): the file's size, a range
that fits or not, an error page, a refusal."""

from __future__ import annotations

import re

import requests

from gianet.fetch.archives import archive_format, describe_start
from gianet.fetch.stream import DownloadError, PartFile

_RETRYABLE_STATUS = {408, 429}
_CONTENT_RANGE = re.compile(r"bytes (?:(?P<start>\d+)-\d+|\*)/(?P<total>\d+|\*)")


class TransientError(Exception):
    """A failed attempt worth retrying (5xx answer, truncated body, inconsistent range)."""


def expected_total(
    response: requests.Response, partial: PartFile, offset: int, name: str
) -> int | None:
    """Check the answer's status against the request; returns the file's full size if known.

    Resets ``partial`` when the server sends the whole file instead of the requested range.

    Raises:
        TransientError: a retryable answer (5xx, 408, 429, a range that does not fit).
        DownloadError: any other refusal (404, 403, ...), or an HTML page for a file that is
            not one (an error page answered with 200).
    """
    status = response.status_code
    if status >= 500 or status in _RETRYABLE_STATUS:
        raise TransientError(f"HTTP {status} {response.reason}")
    if status in (200, 206) and is_html_for_other(response, name):
        head = next(response.iter_content(256), b"")
        raise DownloadError(
            f"{response.url}: answered HTTP {status} with an HTML page instead of {name} "
            f"({describe_start(head)}); nothing was kept. Check the URL (open it in a browser)"
        )
    if status == 416 and offset:
        total = content_range(response)[1]
        if total in (None, offset):
            return offset
        partial.reset()
        raise TransientError(f"the .part held {offset} bytes, more than the file's {total}")
    if status == 206:
        start, total = content_range(response)
        if start != offset:
            partial.reset()
            raise TransientError(f"asked for bytes from {offset}, the server sent {start}")
        return total
    if status == 200:
        if offset:
            partial.reset()
        length = response.headers.get("Content-Length")
        return int(length) if length is not None and length.isdigit() else None
    raise DownloadError(
        f"{response.url}: HTTP {status} {response.reason}. Check the URL (SID's archives "
        "were renamed, e.g. Sony.zip -> Sony2025.zip) and that it is reachable."
    )


def is_html_for_other(response: requests.Response, name: str) -> bool:
    """Whether the answer is declared as HTML while the file wanted is neither a web page nor
    an archive (whose signature check catches error pages, whatever their declared type)."""
    kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    wanted_page = name.lower().endswith((".html", ".htm"))
    return kind in ("text/html", "application/xhtml+xml") and not (
        wanted_page or archive_format(name)
    )


def content_range(response: requests.Response) -> tuple[int | None, int | None]:
    """(first byte, full size) from a ``Content-Range`` header; ``None`` where absent or ``*``."""
    match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
    if match is None:
        return None, None
    start, total = match["start"], match["total"]
    return (int(start) if start else None), (int(total) if total != "*" else None)
