"""Plimsoll notifications service.

Who is told what and how, escalation ladders and acknowledgements.
"""
