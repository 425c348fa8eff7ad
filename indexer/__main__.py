"""``python -m indexer`` runs the same commands as ``depin indexer``."""

from depin.toolchain import configure_environment
from indexer.cli import indexer

configure_environment()
indexer(prog_name="python -m indexer")
