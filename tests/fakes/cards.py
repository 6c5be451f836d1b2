"""Character cards shaped the way other tools write them, built from the specs."""

from __future__ import annotations

import struct
import zlib


def tiny_png(text_chunks: dict[str, bytes] | None = None) -> bytes:
    """A 1×1 PNG built from the spec, with optional tEXt chunks (as other tools write them)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    idat = zlib.compress(b"\x00\xff\x00\x00\xff")
    texts = b"".join(
        chunk(b"tEXt", k.encode() + b"\x00" + v) for k, v in (text_chunks or {}).items()
    )
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + texts
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


def foreign_v2_card() -> dict:
    """A card as SillyTavern-style tools write it: lorebook, extensions, unknown keys."""
    return {
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": {
            "name": "Seraphina",
            "description": "{{char}} is a guardian of the forest glade.",
            "personality": "caring, protective, gentle",
            "scenario": "{{user}} wakes up in the glade.",
            "first_mes": "*Seraphina smiles.* You're awake!",
            "mes_example": "<START>\n{{user}}: Who are you?\n{{char}}: A guardian.",
            "creator_notes": "Made for testing.",
            "system_prompt": "",
            "post_history_instructions": "Stay gentle.",
            "alternate_greetings": ["Hello again.", "Welcome back."],
            "tags": ["fantasy", "guardian"],
            "creator": "someone",
            "character_version": "1.2",
            "character_book": {
                "name": "Glade lore",
                "scan_depth": 4,
                "token_budget": 512,
                "recursive_scanning": False,
                "extensions": {"tool_x": {"depth": 2}},
                "entries": [
                    {
                        "keys": ["glade", "forest"],
                        "content": "The glade is magical.",
                        "extensions": {"position_x": 1},
                        "enabled": True,
                        "insertion_order": 10,
                        "name": "Glade",
                        "priority": 5,
                        "id": 1,
                        "comment": "place",
                    },
                    {
                        "keys": ["wolf"],
                        "secondary_keys": ["night"],
                        "selective": True,
                        "content": "Wolves hunt at night.",
                        "extensions": {},
                        "enabled": True,
                        "insertion_order": 20,
                    },
                    {
                        "keys": [],
                        "content": "Seraphina knows healing magic.",
                        "constant": True,
                        "extensions": {},
                        "enabled": False,
                        "insertion_order": 30,
                    },
                ],
            },
            "extensions": {"talkativeness": "0.5", "fav": True, "depth_prompt": {"depth": 4}},
            "unknown_future_field": {"kept": [1, 2, 3]},
        },
        "top_level_extra": "kept too",
    }
