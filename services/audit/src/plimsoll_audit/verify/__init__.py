"""Offline verification of evidence bundles: pure, no database, no network (`plimsoll-verify`)."""
