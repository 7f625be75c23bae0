"""What leaves the base: exports and hand-over notes."""
