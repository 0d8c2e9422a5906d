"""The transparency log itself: Merkle hashing and proofs, tiles, signed notes and
checkpoints (pure, shared with the offline verifier), and its PostgreSQL storage."""
