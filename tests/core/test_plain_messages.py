"""Which rows of a project hold plain messages (issue 21): an example keeps such a row's text
and decodes it with orjson when used, which then must not fail. msgspec answers first, in C;
its answer must be orjson's check's, on any text a file can hold."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from persona_studio.core import dataset

ODD_TEXTS = ["", "é", '"', "\\", "\x00", "\x7f", "\u2028", "\ud800", "\udc00", "😀", "\ufeff"]
texts = st.one_of(st.text(max_size=8), st.sampled_from(ODD_TEXTS))
values = st.one_of(
    texts, st.integers(), st.integers(min_value=2**64), st.floats(), st.none(), st.booleans()
)
messages = st.one_of(
    st.fixed_dictionaries({"role": texts, "content": texts}),  # the plain shape
    st.fixed_dictionaries({"content": texts, "role": texts}),
    st.dictionaries(st.sampled_from(["role", "content", "name"]), values, max_size=3),
    values,
    st.lists(texts, max_size=2),
)
tops = st.one_of(st.lists(messages, max_size=3), messages)


@st.composite
def json_texts(draw: st.DrawFn) -> str:
    """JSON as a file may hold it, then sometimes cut, padded or with a character changed."""
    text = json.dumps(draw(tops), ensure_ascii=draw(st.booleans()))
    if draw(st.booleans()):
        at = draw(st.integers(min_value=0, max_value=len(text)))
        cut = draw(st.integers(min_value=0, max_value=3))
        mark = draw(st.sampled_from(["", " ", ",", "}", "]", '"', "\\u", "x"]))
        text = text[:at] + mark + text[at + cut :]
    return text


@settings(max_examples=3_000, deadline=None)
@given(json_texts())
def test_msgspec_answers_as_orjsons_check_does(text: str) -> None:
    assert dataset.plain_messages_json(text) == dataset._plain_by_orjson(text)


@pytest.mark.parametrize(
    "text",
    [
        '[{"role":"a","role":"b","content":"x"}]',  # the last key wins, for both
        '[{"role":"a","content":"b","content":"c"}]',
        '[{"content":"b","role":"a"}]',
        ' [{"role":"a","content":"x"}]\n\t\r',
        '[{"role":"a","content":"\\ud83d\\ude00"}]',  # a pair is one character
        '[{"role":"a","content":"\\/ \\u00e9 é \x7f"}]',
        "[]",
    ],
)
def test_plain_texts_are_plain(text: str) -> None:
    assert dataset.plain_messages_json(text) and dataset._plain_by_orjson(text)
    assert all(set(m) == {"role", "content"} for m in dataset.fast_json(text))


@pytest.mark.parametrize(
    "text",
    [
        '[{"role":"a","content":"\\udc00"}]',  # lone surrogates: orjson refuses them
        '[{"role":"a","content":"\\ud83dx"}]',
        '[{"role":"a","content":"\udc00"}]',  # (not UTF-8: msgspec cannot even take it)
        '[{"role":"a","content":"x\ny"}]',  # a control character inside a string
        '[{"role":"a","content":"x\x00"}]',
        '[{"role":"a","content":"x"}]\x00',
        '\ufeff[{"role":"a","content":"x"}]',
        '[{"role":"a","content":"\\q"}]',
        '[{"role":"a","content":"x"},]',
        '[{"role":"a","content":"x",}]',
        '[{"role":"a","content":"x"}] x',
        '[{"role":"a","content":null}]',
        '[{"role":"a"}]',
        '[{"role":"a","content":"b","name":"c"}]',
        "[{'role':'a','content':'b'}]",
        '{"role":"a","content":"b"}',
        "[" * 100_000,
    ],
)
def test_anything_else_is_not(text: str) -> None:
    assert not dataset.plain_messages_json(text) and not dataset._plain_by_orjson(text)


def test_an_example_holding_its_question_and_answer_as_a_pair_reads_the_same() -> None:
    """The check's worker process holds a plain question and answer as the pair of texts its
    check keeps (`hold_pair`): read, decoded, copied, pickled and searched, it is the same."""
    import copy
    import pickle

    made = dataset.Example.from_qa("How Far?", "Ten km, easy.", tags=["run"])
    held = copy.copy(made)
    pair = ("How Far?", "Ten km, easy.")
    dataset.hold_pair(held, pair)
    assert dataset.held_messages(held) is pair and dataset.held_pair(held) is pair
    assert dataset.held_pair(made) is None
    assert held.read_messages() == made.messages and dataset.held_messages(held) is pair
    assert (held.question, held.answer, held.turn_count) == ("How Far?", "Ten km, easy.", 2)
    assert dataset.search_text(held) == dataset.search_text(made) == "how far?\x00ten km, easy."
    assert pickle.loads(pickle.dumps(held)).read_messages() == made.messages
    assert copy.deepcopy(held).read_messages() == made.messages
    assert held.messages == made.messages and type(dataset.held_messages(held)) is list
    assert held == made
