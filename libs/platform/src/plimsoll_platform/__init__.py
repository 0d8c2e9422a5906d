"""Plumbing shared by every Plimsoll service that is not about events.

Settings, token checks against Keycloak, RFC 9457 problem details, health and
readiness, Prometheus metrics, structured logs and OpenTelemetry set-up. Event
mechanics live in ``plimsoll_events``.
"""
