"""The `.persona` project file behind one `Project` façade.

files.py   the file's identity (header, application id), connecting, atomic whole-file writes
schema.py  tables and migrations (one per schema version)
store.py   the connection, its lock, transactions
examples.py, records.py   the examples table; jobs, runs, chats and sync state (typed records)
project.py `Project`: opening and creating, the persona, avatar and rules, counts
"""

from persona_studio.core.project.errors import (
    CorruptProjectError,
    NewerVersionError,
    NotAProjectError,
    ProjectError,
    ProjectLockedError,
    ProjectNotFoundError,
    ProjectReadOnlyError,
)
from persona_studio.core.project.files import APPLICATION_ID, SUFFIX
from persona_studio.core.project.project import Project, ProjectCounts
from persona_studio.core.project.schema import MIGRATIONS, Migration, schema_version

__all__ = [
    "APPLICATION_ID",
    "MIGRATIONS",
    "SUFFIX",
    "CorruptProjectError",
    "Migration",
    "NewerVersionError",
    "NotAProjectError",
    "Project",
    "ProjectCounts",
    "ProjectError",
    "ProjectLockedError",
    "ProjectNotFoundError",
    "ProjectReadOnlyError",
    "schema_version",
]
