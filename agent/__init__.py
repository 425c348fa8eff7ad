"""The agent that runs on each GPU host: discovery, benchmarks, change watching, its key store.

Imports only the shared ``depin`` package, never the oracle, indexer or API.
"""
