"""Live transcription over OpenAI's Realtime protocol (``GET /v1/realtime``)."""
