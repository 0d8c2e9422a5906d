"""Plimsoll allocation service.

Teams, practitioners, cases and their weightings, and allocations: the write side of who
carries what.
"""
