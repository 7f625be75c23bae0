"""Turn complaint ledgers and manuals into plain records.

Nothing here knows about SQLite or FAISS: readers return dataclasses and
errors that name the file, the row and the field.
"""

from ingest.errors import IngestError, LedgerError, RowError
from ingest.ledger import LedgerRead, read_ledger
from ingest.records import CASE_FIELDS, Case

__all__ = [
    "CASE_FIELDS",
    "Case",
    "IngestError",
    "LedgerError",
    "LedgerRead",
    "RowError",
    "read_ledger",
]
