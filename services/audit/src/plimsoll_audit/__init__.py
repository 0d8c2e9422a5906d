"""Plimsoll audit service.

The verifiable Merkle-tree log of every event, signed checkpoints, evidence bundles and
the access log.
"""
