"""Plimsoll wellbeing service.

Supervisions, workload agreements, unsafe-workload declarations, and the duty-of-care
projections of capacity and breaches.
"""
