"""Following Palette's ``listmeta.continue`` pagination safely.

Palette's POST list endpoints return at most 50 items per page and a ``listmeta.continue``
token; the next page is requested with ``?continue=<token>`` and the *same* body, until the token
is empty or absent. The Go SDK loops forever when a token repeats; here a repeated token stops
the listing with a PaginationError (docs/palette-behaviour.md §5).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .errors import PaginationError

#: Palette's maximum (and default) page size.
PAGE_SIZE = 50


def paginate(
    fetch: Callable[[str | None], dict[str, Any]],
    *,
    host: str = "",
    path: str = "",
) -> Iterator[dict[str, Any]]:
    """Yield every item of a paginated listing.

    ``fetch(token)`` returns one page (the decoded JSON) for a continue token, None for the first
    page. Stops when ``listmeta.continue`` is empty or absent; raises PaginationError if a token
    comes back a second time.
    """
    seen: set[str] = set()
    token: str | None = None
    pages = 0
    while True:
        page = fetch(token)
        pages += 1
        yield from page.get("items") or ()
        token = (page.get("listmeta") or {}).get("continue") or None
        if token is None:
            return
        if token in seen:
            raise PaginationError(
                f"{host} returned the same continue token twice while listing {path} (after {pages} pages).",
                host=host,
                method="POST",
                path=path,
            )
        seen.add(token)
