"""Shared core of the depin GPU registry: protocol types, contract artifacts, settings.

Imported by every role (agent, oracle, indexer, api); imports none of them.
"""

__version__ = "0.1.0"
