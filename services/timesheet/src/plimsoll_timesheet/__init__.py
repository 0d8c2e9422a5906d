"""Plimsoll timesheet service.

Hours worked per day by category, leave and absence, TOIL and voluntary overtime.
"""
