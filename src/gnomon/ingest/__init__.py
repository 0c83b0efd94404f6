"""Ingestion: sources (files today) and the load runner that lands them in the lake."""

from gnomon.ingest.models import FileOutcome, IngestProgress, IngestResult, ProgressListener
from gnomon.ingest.service import IngestService

__all__ = ["FileOutcome", "IngestProgress", "IngestResult", "IngestService", "ProgressListener"]
