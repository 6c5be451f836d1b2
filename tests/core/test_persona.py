from __future__ import annotations

from persona_studio.core.persona import Persona, composed_system_prompt


def test_unknown_keys_survive_in_extensions() -> None:
    persona = Persona.from_dict(
        {"name": "Z", "talkativeness": "0.5", "tone": {"reserved_warm": 90, "bogus": 3}}
    )
    assert persona.extensions == {"talkativeness": "0.5"}
    assert persona.tone["reserved_warm"] == 90 and "bogus" not in persona.tone
    assert Persona.from_dict(persona.to_dict()) == persona


def test_composed_prompt_uses_filled_fields_only() -> None:
    persona = Persona(
        name="Rhea",
        description="A running coach.",
        traits=["kind", " "],
        style_dont=["Diagnose"],
        tone={
            "formal_casual": 90,
            "serious_playful": 50,
            "concise_detailed": 10,
            "reserved_warm": 50,
        },
    )
    prompt = composed_system_prompt(persona)
    assert prompt.startswith("You are Rhea.\n\nA running coach.")
    assert "Personality: kind." in prompt
    assert "Tone: very casual, very concise." in prompt
    assert "Never:\n- Diagnose" in prompt
    assert "Background" not in prompt and "Always" not in prompt


def test_hand_written_prompt_detaches_from_the_composer() -> None:
    persona = Persona(name="Rhea")
    assert not persona.prompt_is_detached
    persona.system_prompt_override = "Custom."
    assert persona.prompt_is_detached and persona.system_prompt() == "Custom."
