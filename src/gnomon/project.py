"""The layout of a gnomon project folder, and how a new one is scaffolded.

A project is a folder a team keeps in version control: settings, source definitions, contracts,
models. gnomon's own state (catalog, lake) lives under ``.gnomon/`` inside it unless configured
elsewhere, so deleting that folder resets a project without touching what people wrote.
"""

import shutil
from dataclasses import dataclass
from importlib.resources import as_file, files
from pathlib import Path

from gnomon.config import CONFIG_FILE
from gnomon.errors import Conflict, InvalidInput

__all__ = ["ProjectLayout", "scaffold"]


@dataclass(frozen=True, slots=True)
class ProjectLayout:
    """Where each kind of definition lives inside a project folder."""

    root: Path

    @property
    def config_file(self) -> Path:
        """``gnomon.yaml``."""
        return self.root / CONFIG_FILE

    @property
    def sources_dir(self) -> Path:
        """One YAML file per source."""
        return self.root / "sources"

    @property
    def contracts_dir(self) -> Path:
        """One YAML contract per dataset."""
        return self.root / "contracts"

    @property
    def models_dir(self) -> Path:
        """One SQL file per gold table."""
        return self.root / "models"

    @property
    def metrics_dir(self) -> Path:
        """KPI definitions."""
        return self.root / "metrics"

    @property
    def triggers_dir(self) -> Path:
        """Alerting rules."""
        return self.root / "triggers"

    @property
    def channels_file(self) -> Path:
        """Where notifications go: webhooks, e-mail, Slack, PagerDuty, Teams."""
        return self.root / "channels.yaml"


def scaffold(target: Path, *, force: bool = False) -> list[Path]:
    """Create a project folder with settings and commented examples; returns the files written.

    Raises:
        Conflict: ``target`` already holds a ``gnomon.yaml`` (pass ``force`` to add missing files).
        InvalidInput: ``target`` exists and is not a folder.
    """
    if target.exists() and not target.is_dir():
        raise InvalidInput(
            f"Cannot create a project at {target}: it is a file.",
            hint="Choose a folder path.",
        )
    if (target / CONFIG_FILE).exists() and not force:
        raise Conflict(
            f"{target} is already a gnomon project ({CONFIG_FILE} exists).",
            hint="Use --force to add any missing example files without overwriting existing ones.",
        )
    written: list[Path] = []
    with as_file(files("gnomon") / "templates" / "project") as template_root:
        for source in sorted(template_root.rglob("*")):
            if source.is_dir() or "__pycache__" in source.parts:
                continue
            destination = target / source.relative_to(template_root)
            if destination.exists():
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)
            written.append(destination)
    return written
