"""SQLite and the base's directory: the only code that touches them."""
