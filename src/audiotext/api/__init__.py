"""The HTTP gateway (FastAPI)."""
