"""The HTTP API (sentinet serve) and its guard against hostile clients."""
