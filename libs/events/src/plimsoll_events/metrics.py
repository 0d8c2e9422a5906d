"""Prometheus metrics of the relay, the projection runner and the store-fed read models."""

from prometheus_client import Counter, Gauge

RELAY_PUBLISHED = Counter(
    "plimsoll_relay_published_events_total", "Events published to Kafka by the relay", ["topic"]
)
RELAY_BACKLOG = Gauge(
    "plimsoll_relay_backlog_events", "Recorded events not yet published", ["topic"]
)
RELAY_PARKED = Counter(
    "plimsoll_relay_parked_events_total",
    "Events the relay parked because Kafka refused them (too large); see relay_parked",
    ["topic"],
)
RELAY_LEADERSHIP_LOST = Counter(
    "plimsoll_relay_leadership_lost_total",
    "Times a relay found it no longer held its topic's lock",
    ["topic"],
)
PROJECTION_EVENTS = Counter(
    "plimsoll_projection_events_total",
    "Events a projection handled, by outcome "
    "(applied, duplicate, dead-lettered, skipped-stale: another member had applied them)",
    ["projection", "outcome"],
)
PROJECTION_RETRIES = Counter(
    "plimsoll_projection_retries_total",
    "Writes a projection retried from its checkpoint after a transient failure",
    ["projection"],
)
PROJECTION_REJOINS = Counter(
    "plimsoll_projection_rejoins_total",
    "Times a projection left its consumer group and joined again because a partition behind "
    "its end fetched nothing for a minute (a client fault; each is logged)",
    ["projection"],
)
PROJECTION_LAG = Gauge(
    "plimsoll_projection_lag_events",
    "Messages on the topic not yet handled by the projection",
    ["projection", "topic", "partition"],
)
READ_MODEL_PARKED = Counter(
    "plimsoll_read_model_parked_events_total",
    "Events a store-fed read model could not apply and set aside; see read_model_parked",
    ["read_model"],
)
