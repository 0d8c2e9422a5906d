"""The audit service's routes: the log (C2SP tiles, checkpoints, proofs) and evidence bundles."""
