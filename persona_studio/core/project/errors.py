"""What can go wrong with a project file, each phrased for a creator (message + next step)."""

from __future__ import annotations

from persona_studio.core.errors import UserFacingError


class ProjectError(UserFacingError):
    """A project file could not be opened, created or written."""


class ProjectNotFoundError(ProjectError):
    pass


class NotAProjectError(ProjectError):
    pass


class NewerVersionError(ProjectError):
    pass


class CorruptProjectError(ProjectError):
    pass


class ProjectLockedError(ProjectError):
    pass


class ProjectReadOnlyError(ProjectError):
    """The file or its folder cannot be written: it can still be opened read-only."""
