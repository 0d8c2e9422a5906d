"""The notifications domain: pure rules, decisions and deciders (no I/O, no framework)."""
