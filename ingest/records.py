"""Plain records that flow from readers into the knowledge base."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

# Case fields in display order; `content` is the only required one.
CASE_FIELDS: tuple[str, ...] = (
    "id",
    "date",
    "title",
    "content",
    "customer_request",
    "cause",
    "response",
    "prevention",
    "category",
    "product",
    "channel",
    "severity",
    "escalated",
    "status",
)

# Fields that hold free text worth searching, with the part of a case they describe.
COMPLAINT_FIELDS: tuple[str, ...] = ("title", "content", "customer_request")
RESOLUTION_FIELDS: tuple[str, ...] = ("cause", "response", "prevention")


@dataclass(frozen=True)
class Case:
    """One past complaint as recorded in a ledger."""

    id: str
    content: str
    date: str | None = None  # ISO "YYYY-MM-DD" or "YYYY-MM-DD HH:MM"
    title: str = ""
    customer_request: str = ""
    cause: str = ""
    response: str = ""
    prevention: str = ""
    category: str = ""
    product: str = ""
    channel: str = ""
    severity: str = ""
    escalated: bool | None = None
    status: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    source: str = ""

    def fingerprint(self) -> str:
        """Hash of everything stored about the case, to tell unchanged rows from updates."""
        data = asdict(self)
        data.pop("source")
        blob = json.dumps(data, ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def complaint_text(self) -> str:
        """What the customer said: the text a new complaint is compared with."""
        return "\n".join(t for t in (self.title, self.content, self.customer_request) if t)

    def resolution_text(self) -> str:
        """What we found and did: cause, response, prevention."""
        return "\n".join(t for t in (self.cause, self.response, self.prevention) if t)


def content_id(content: str, date: str | None, title: str) -> str:
    """Stable id for ledgers without an id column: the same row always gets the same id."""
    text = f"{date or ''}\x1f{title}\x1f{content}"
    digest = hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()  # same for valid text
    return f"h{digest[:12]}"
