"""Operations on a whole base: check/repair, backup/restore."""
