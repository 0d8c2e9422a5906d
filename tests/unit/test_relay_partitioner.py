"""The relay's partitioner sends every key where Kafka's default partitioner would."""

from kafka.partitioner.default import DefaultPartitioner
from plimsoll_events.relay import _RememberingPartitioner


class Cluster:
    def __init__(self, partitions: int) -> None:
        self.partitions = set(range(partitions))

    def topics(self) -> set[str]:
        return {"plimsoll.timesheet"}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return self.partitions

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return self.partitions


def test_keys_land_on_the_partitions_kafkas_default_partitioner_chooses():
    default, remembering = DefaultPartitioner(), _RememberingPartitioner()
    for partitions in (1, 3, 6, 12):
        cluster = Cluster(partitions)
        for key in [f"P-{i:04d}".encode() for i in range(500)] + ["é".encode(), b""]:
            args = ("plimsoll.timesheet", key, key, None, None, cluster)
            assert remembering.partition(*args) == default.partition(*args), (key, partitions)
            assert remembering.partition(*args) == default.partition(*args)  # remembered


def test_unkeyed_messages_still_get_a_partition():
    cluster = Cluster(6)
    partition = _RememberingPartitioner().partition(
        "plimsoll.timesheet", None, None, b"v", b"v", cluster
    )
    assert partition in cluster.partitions
