"""Similar-incident clusters."""
