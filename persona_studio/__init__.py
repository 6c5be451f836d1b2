"""Persona Studio: build an AI character that speaks in your voice."""

__version__ = "0.1.0"
APP_NAME = "Persona Studio"
APP_ID = "persona-studio"  # settings and data folders, keyring service
DESKTOP_ID = "studio.persona.PersonaStudio"  # .desktop, AppStream and macOS bundle id
