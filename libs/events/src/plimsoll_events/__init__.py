"""Everything Plimsoll's services share about events.

The catalogue of event types, the CloudEvents envelope, the PostgreSQL event
store, the outbox relay to Kafka, and the consumer and projection runner. A
service never talks to Kafka or builds an envelope by hand.
"""
