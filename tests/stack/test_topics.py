"""Event topics and their dead-letter topics are created explicitly and kept forever."""

from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
from plimsoll_events.catalogue import dead_letter_topic
from plimsoll_events.topics import ensure_event_topic

from .eventing import new_topic


def test_event_topic_and_dead_letter_topic_keep_events_forever(stack):
    topic = new_topic(stack.kafka, partitions=4)
    ensure_event_topic(stack.kafka, topic, partitions=4)  # a second call is harmless
    admin = KafkaAdminClient(**stack.kafka.options())
    try:
        for name in (topic, dead_letter_topic(topic)):
            (description,) = admin.describe_topics([name])
            assert len(description["partitions"]) == 4
            configs = admin.describe_configs(
                [
                    ConfigResource(
                        ConfigResourceType.TOPIC, name, configs=["retention.ms", "retention.bytes"]
                    )
                ]
            )["topic"][name]
            assert configs["retention.ms"]["value"] == "-1"
            assert configs["retention.bytes"]["value"] == "-1"
    finally:
        admin.close()
