"""Search filters on case fields, turned into SQL applied before the top-k cut."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Filters:
    """Restrict search to cases matching every given condition (empty = no restriction)."""

    date_from: str | None = None  # inclusive, ISO 'YYYY-MM-DD'
    date_to: str | None = None  # inclusive
    categories: tuple[str, ...] = field(default_factory=tuple)
    products: tuple[str, ...] = field(default_factory=tuple)
    channels: tuple[str, ...] = field(default_factory=tuple)
    escalated: bool | None = None  # True: only escalated (二次クレーム) cases

    def is_empty(self) -> bool:
        return not (self.date_from or self.date_to or self.categories or self.products
                    or self.channels or self.escalated is not None)

    def sql(self, alias: str = "k") -> tuple[str, list[object]]:
        """A WHERE fragment over the cases table (aliased) and its parameters."""
        clauses: list[str] = []
        params: list[object] = []
        if self.date_from:
            clauses.append(f"{alias}.date >= ?")
            params.append(self.date_from[:10])
        if self.date_to:
            clauses.append(f"substr({alias}.date, 1, 10) <= ?")
            params.append(self.date_to[:10])
        for column, values in (("category", self.categories), ("product", self.products),
                               ("channel", self.channels)):
            if values:
                clauses.append(f"{alias}.{column} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        if self.escalated is not None:
            clauses.append(f"{alias}.escalated = ?")
            params.append(1 if self.escalated else 0)
        return (" AND ".join(clauses) or "1 = 1"), params  # true in SQLite and PostgreSQL
