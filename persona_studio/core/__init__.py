"""Pure Python core: no Qt, no network clients, no keyring. Fast to test."""
