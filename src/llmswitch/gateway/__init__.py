"""``llmswitch serve``: an OpenAI-compatible HTTP gateway on the same router as the client.

Apps in any language point their OpenAI client's base URL here. The gateway is a thin aiohttp
server: each routed request goes through the same call core as ``llmswitch.AsyncOpenAI``'s routing
transport (:class:`llmswitch.routing.AsyncRoutingTransport`), so failover, streaming and errors
behave exactly as in the Python client. Modules: :mod:`.app` (handlers), :mod:`.keys` (client
keys), :mod:`.limits` (rpm/tpm/budgets over a small counter store), :mod:`.metrics` (Prometheus),
:mod:`.logs` (JSON lines), :mod:`.replies` (errors as openai-shaped JSON), :mod:`.run` (processes,
signals, draining). Needs the ``serve`` extra (aiohttp, prometheus-client).
"""
