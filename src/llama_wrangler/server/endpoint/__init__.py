"""The stable endpoint: an aiohttp server and client on one event-loop thread in front of llama-server,
with a scheduler that groups requests by model (see docs/ARCHITECTURE.md, "Endpoint")."""
