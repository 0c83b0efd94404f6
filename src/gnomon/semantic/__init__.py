"""The semantic layer: governed metric definitions, compiled to SQL for every engine.

Definitions live in ``metrics/*.yaml`` (:mod:`gnomon.semantic.definitions`), are resolved as a
whole into a :class:`SemanticLayer`, and a :class:`MetricQuery` is compiled against it into one
sqlglot tree (:func:`compile_query`) that DuckDB, PostgreSQL and Spark answer alike.
"""

from gnomon.semantic.compiler import SPINE_RELATION, CompiledQuery, compile_query
from gnomon.semantic.definitions import GRAINS, CalendarSpec, MetricsFile
from gnomon.semantic.errors import DefinitionError, DefinitionIssue, MetricQueryError, UnknownMetric
from gnomon.semantic.files import load_definitions, parse_definitions
from gnomon.semantic.layer import Definition, Metric, SemanticLayer, SemanticModel, build_layer
from gnomon.semantic.query import MetricQuery, OrderKey
from gnomon.semantic.service import ApplyResult, MetricResult, SemanticService, read_details
from gnomon.semantic.time import bucket_start, next_bucket, shift_back

__all__ = [
    "GRAINS",
    "SPINE_RELATION",
    "ApplyResult",
    "CalendarSpec",
    "CompiledQuery",
    "Definition",
    "DefinitionError",
    "DefinitionIssue",
    "Metric",
    "MetricQuery",
    "MetricQueryError",
    "MetricResult",
    "MetricsFile",
    "OrderKey",
    "SemanticLayer",
    "SemanticModel",
    "SemanticService",
    "UnknownMetric",
    "bucket_start",
    "build_layer",
    "compile_query",
    "load_definitions",
    "next_bucket",
    "parse_definitions",
    "read_details",
    "shift_back",
]
