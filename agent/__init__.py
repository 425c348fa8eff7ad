"""The agent that runs on each GPU host: discovery, benchmarks, change watching, its key store.

Public entry points:

- ``agent.discovery.discover(backends=None, *, sysfs_root=Path("/")) -> Inventory`` (never
  raises; ``Inventory.gpus`` are ``GpuRecord``; ``Inventory.backends`` say why each found what
  it found);
- ``agent.benchmark.run_benchmarks(engine="auto", *, plan=None, progress=None)``;
- ``agent.watch.diff(old, new) -> list[ChangeEvent]`` and ``agent.watch.Watcher`` (``events()``
  iterator, ``subscribe(callback)`` + ``run()``);
- ``agent.keystore.load_agent_key(path, password) -> LocalAccount``, ``create_keystore``,
  ``authorization_request``;
- the GPU spec table lives in the shared package: ``depin.specs``.

Imports only the shared ``depin`` package, never the oracle, indexer or API.
"""
