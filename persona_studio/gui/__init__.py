"""The Qt skin: widgets that await services and show core objects through models."""
