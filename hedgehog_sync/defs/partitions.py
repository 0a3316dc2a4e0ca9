"""The fabric partitions: one per inventory entry, kept in step by the discovery sensor."""

from dagster import DynamicPartitionsDefinition

FABRICS_PARTITION = "fabrics"

fabrics = DynamicPartitionsDefinition(name=FABRICS_PARTITION)
