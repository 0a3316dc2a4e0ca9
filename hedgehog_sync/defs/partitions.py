"""The fabric partitions: one per inventory entry, kept in step by the discovery sensor."""

from dagster import DynamicPartitionsDefinition

# What to add and delete is decided in the domain; importable from here too.
from hedgehog_sync.domain.fabric_partitions import partition_changes  # noqa: F401

FABRICS_PARTITION = "fabrics"

fabrics = DynamicPartitionsDefinition(name=FABRICS_PARTITION)
