"""Messages folded for search (issue 21): the lowercase text a search looks in, held once, which
gives the messages back exactly."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from persona_studio.core import dataset
from persona_studio.core.dataset import Example, lowered, search_text
from persona_studio.core.folded import SEPARATOR, fold
from persona_studio.core.persona import Persona
from persona_studio.core.project import Project

_message = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "user", "assistant"]), "content": st.text(max_size=60)}
)


@given(st.lists(_message, max_size=4))
def test_folded_messages_read_back_exactly(messages) -> None:
    """Any texts (capitals, accents, Greek's final sigma, emoji): folded, they
    read back the same, or they are not folded at all."""
    folded = fold(messages)
    joined = SEPARATOR.join(m["content"] for m in messages)
    if folded is None:
        assert len(joined.lower()) != len(joined) or joined.count(SEPARATOR) >= len(messages)
        return
    assert folded.messages() == messages
    assert folded.text == joined.lower()
    assert pickle.loads(pickle.dumps(folded)).messages() == messages


_greek = st.text(alphabet="ΣσςΑαΟοİI \u0301'.", max_size=12)


@given(st.lists(_message, max_size=4), st.lists(_greek, min_size=1, max_size=3))
def test_a_sort_key_read_from_folded_text_is_the_texts_lower_case(messages, greek) -> None:
    """`lowered`: a folded example's text of a role from its lower-case text is that text's
    `str.lower` (a final sigma at a text's end or start, a combining accent beside it)."""
    for at, text in enumerate(greek):
        messages = [*messages, {"role": ("user", "assistant")[at % 2], "content": text}]
    example = Example(messages=list(messages))
    folded = fold(messages)
    for role in ("user", "assistant", "system", "tool"):
        expected = example._first(role).lower()
        assert lowered(example, role) == expected
        if folded is not None:
            dataset._HELD.__set__(example, folded)
            assert lowered(example, role) == expected
            example.messages = list(messages)


def test_what_is_folded_and_what_is_not() -> None:
    said = [
        {"role": "user", "content": "Is ÉLODIE in Ωmega's ΣΟΦΟΣ list? 😀"},
        {"role": "assistant", "content": "Yes: see Straße 9, İ or not."},
    ]
    assert fold(said) is None  # 'İ' is two characters in lower case
    said[1]["content"] = "Yes: see Straße 9."
    folded = fold(said)
    assert folded is not None and folded.messages() == said
    assert folded.text == "is élodie in ωmega's σοφος list? 😀\x00yes: see straße 9."
    for said in ("Hi 😀 Anna — Émile", "Ωmega 😀 Anna", "ΣΟΦΟΣ"):  # each way capitals are found
        assert fold([{"role": "user", "content": said}]).messages()[0]["content"] == said  # type: ignore[union-attr]
    assert fold([{"role": "user", "content": "a\x00b"}]) is None  # holds the separator
    plain = fold([{"role": "user", "content": "all lower case"}])
    assert plain is not None and plain.marks is None  # nothing beside the text
    assert fold([]) is not None and fold([]).messages() == []  # type: ignore[union-attr]
    assert copy.deepcopy(folded) is folded and copy.copy(folded) is folded  # never changed


def test_a_folded_example_reads_copies_and_saves_as_before(tmp_path: Path) -> None:
    """A large project's first search folds the examples that hold the file's text: their
    search text is then the text they hold (no second copy), and reading, copying, pickling
    (the check's worker), changing and saving them behave as before."""
    path = tmp_path / "folded.persona"
    written = [Example.from_qa(f"Question {n}, Anna?", f"Answer {n}.\nBye!") for n in range(3)]
    written.append(Example.from_qa("Ünïcode İ", "Stays as it was."))  # cannot fold
    Project.create(path, Persona(name="Folded"), examples=written).close()
    with Project.open(path) as project:
        loaded = project.examples()
        texts = [search_text(ex, hold=True) for ex in loaded]
        assert texts[0] == "question 0, anna?\x00answer 0.\nbye!"
        assert search_text(loaded[0]) is texts[0]  # held: the same text, not a copy
        assert search_text(loaded[3]) is not texts[3] and loaded[3].messages_json() is not None
        first = loaded[0]
        assert first.read_messages() == written[0].messages
        assert (first.question, first.answer, first.turn_count) == (
            "Question 0, Anna?",
            "Answer 0.\nBye!",
            2,
        )
        for carried in (pickle.loads(pickle.dumps(first)), copy.deepcopy(first)):
            assert carried.messages == written[0].messages
        assert search_text(first) is texts[0]  # none of that unfolded it
        project.update_examples([first])  # unchanged: saved as the same messages

        edited = copy.deepcopy(loaded[1])
        edited.messages[1]["content"] = "A new Answer."
        assert loaded[1].answer == "Answer 1.\nBye!"  # the copy's change is its own
        project.update_examples([edited])
    with Project.open(path) as project:
        assert [(e.question, e.answer) for e in project.examples()] == [
            ("Question 0, Anna?", "Answer 0.\nBye!"),
            ("Question 1, Anna?", "A new Answer."),
            ("Question 2, Anna?", "Answer 2.\nBye!"),
            ("Ünïcode İ", "Stays as it was."),
        ]


def test_an_example_changed_through_its_messages_stops_being_folded() -> None:
    example = Example.from_qa("Hi", "Hello")
    assert search_text(example, hold=True) == "hi\x00hello"  # decoded: not folded
    held = Example('[{"role": "user", "content": "Hi there"}]')  # as a project's read holds it
    assert search_text(held, hold=True) == "hi there" and held.messages_json() is None
    assert held.question == "Hi there"
    held.messages[0]["content"] = "Changed"  # decoded for good, then changed
    assert held.question == "Changed" and search_text(held) == "changed"
