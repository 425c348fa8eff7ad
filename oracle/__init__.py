"""Oracle node: verification pipeline, challenge issuing, co-signing, batching, liveness."""
