"""Asyncio services that talk to the world (keyring, providers). No Qt."""
