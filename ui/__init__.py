"""Streamlit pages; thin: they call the knowledge base and draw what it returns."""
