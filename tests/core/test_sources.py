"""Reading what creators already wrote: LinkedIn export ZIPs and documents, made in the tests."""

from __future__ import annotations

import contextlib
import io
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from persona_studio.core.importers import ImportFileError
from persona_studio.core.importers.documents import (
    MAX_CHARS,
    passages_from_text,
    read_passages,
)
from persona_studio.core.importers.linkedin import clean_post, read_linkedin_export

SHARES_2024 = (
    "Date,ShareLink,ShareCommentary,SharedUrl,MediaUrl,Visibility\n"
    '2024-03-01 08:12:45,https://www.linkedin.com/feed/update/urn:li:share:1,"Most beginners '
    "run too fast.\n\nSlow down until you can talk in full sentences 🏃‍♀️ — that is the pace "
    'that builds a habit.",,,MEMBER_NETWORK\n'
    '2024-03-05 09:00:00,https://www.linkedin.com/feed/update/urn:li:share:2,"Rest days are '
    'training days. Your legs get stronger while you sleep, not while you ""push through"".",'
    ",,MEMBER_NETWORK\n"
    "2024-03-07 10:00:00,https://www.linkedin.com/feed/update/urn:li:share:3,"
    "https://example.com/article,https://example.com/article,,MEMBER_NETWORK\n"
    "2024-03-08 10:00:00,https://www.linkedin.com/feed/update/urn:li:share:4,,,,\n"
    ",,,,,\n"
    "2024-03-09 11:00:00,https://www.linkedin.com/feed/update/urn:li:share:5,"
    '"Courir lentement, c\'est courir longtemps. Ralentissez !",,,CONNECTIONS\n'
)
SHARES_OLD = (
    "\ufeffNotes:\n"
    '"Your posts, as of the export date"\n'
    "\n"
    '"Created Date","Share Link","Share Commentary","Visibility"\n'
    '"2019-05-02","https://www.linkedin.com/feed/update/urn:li:activity:9",'
    '"Hiring! We need a coach who loves early mornings. DM me.","PUBLIC"\n'
)
PROFILE = (
    "First Name,Last Name,Maiden Name,Headline,Summary,Industry\n"
    'Rhea,Okafor,,Running coach for busy beginners,"I help people who hate running '
    'find a pace they love.",Health\n'
)
POSITIONS = (
    "Company Name,Title,Description,Location,Started On,Finished On\n"
    "Stride Club,Head Coach,Coaching,Lagos,Jan 2019,\n"
    "Data Corp,Analyst,,London,Mar 2014,Dec 2018\n"
)
COMMENTS = 'Date,Link,Message\n2024-04-01,https://x,"Great point — consistency beats intensity."\n'


def make_zip(path: Path, files: dict[str, str], folder: str = "") -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(folder + name, text.encode("utf-8"))
    return path


def test_linkedin_export_posts_profile_positions(tmp_path: Path) -> None:
    export = read_linkedin_export(
        make_zip(
            tmp_path / "Basic_LinkedInDataExport.zip",
            {
                "Shares.csv": SHARES_2024,
                "Profile.csv": PROFILE,
                "Positions.csv": POSITIONS,
                "Comments.csv": COMMENTS,
            },
        ),
        include_comments=True,
    )
    texts = [p.text for p in export.posts]
    assert texts[0].startswith("Most beginners run too fast.\n\nSlow down")
    assert "🏃‍♀️" in texts[0]  # emoji kept, multi-line kept
    assert texts[1].endswith('not while you "push through".')
    assert texts[2].startswith("Courir lentement")
    assert len(texts) == 3
    assert export.posts[0].date == "2024-03-01 08:12:45"
    assert export.posts[0].source == (
        "linkedin:https://www.linkedin.com/feed/update/urn:li:share:1 2024-03-01 08:12:45"
    )
    reasons = sorted(why for _where, why in export.skipped)
    assert reasons == ["empty post", "post is only a link or a few words"]
    assert any("line 5" in where for where, _ in export.skipped)  # the URL-only post
    assert export.name == "Rhea Okafor" and export.headline == "Running coach for busy beginners"
    assert export.positions == [
        "Head Coach at Stride Club (Jan 2019)",
        "Analyst at Data Corp (Mar 2014–Dec 2018)",
    ]
    assert "find a pace they love" in export.profile_text()
    assert export.persona_fields() == {
        "name": "Rhea Okafor",
        "description": "Running coach for busy beginners",
        "background": "I help people who hate running find a pace they love.\n\nCareer: Head "
        "Coach at Stride Club (Jan 2019); Analyst at Data Corp (Mar 2014–Dec 2018).",
    }
    assert [c.text for c in export.comments] == ["Great point — consistency beats intensity."]
    assert export.comments[0].kind == "comment"


def test_older_export_with_notes_bom_and_spaced_headers_in_a_folder(tmp_path: Path) -> None:
    export = read_linkedin_export(
        make_zip(tmp_path / "old.zip", {"Shares.csv": SHARES_OLD}, folder="Complete/")
    )
    assert [p.text for p in export.posts] == [
        "Hiring! We need a coach who loves early mornings. DM me."
    ]
    assert export.posts[0].link.endswith("activity:9") and export.posts[0].date == "2019-05-02"
    assert export.comments == []  # not asked for
    assert export.persona_fields() == {}  # no profile in this export: nothing to fill


def test_exports_we_cannot_use_are_explained(tmp_path: Path) -> None:
    (tmp_path / "notzip.zip").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(ImportFileError, match="not a ZIP"):
        read_linkedin_export(tmp_path / "notzip.zip")
    with pytest.raises(ImportFileError, match=r"no Shares\.csv") as info:
        read_linkedin_export(make_zip(tmp_path / "other.zip", {"Connections.csv": "a,b\n"}))
    assert "Get a copy of your data" in info.value.hint
    export = read_linkedin_export(
        make_zip(tmp_path / "odd.zip", {"Shares.csv": "When,Where\n2024,here\n"})
    )
    assert export.posts == [] and "no column with the post text" in export.skipped[0][1]


def linkedin_csv(*cells: str, header: str = "Date,ShareLink,ShareCommentary") -> bytes:
    """A Shares.csv as LinkedIn writes it: csv-quoted cells; in a multi-line post each line is
    quoted on its own inside the cell (the cell texts below are as csv reads them back)."""
    import csv

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header.split(","))
    for n, cell in enumerate(cells):
        writer.writerow([f"2024-03-0{n + 1} 08:00:00", f"https://www.linkedin.com/feed/{n}", cell])
    return out.getvalue().encode("utf-8")


def zip_bytes(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def test_a_multi_line_post_is_the_post_as_written(tmp_path: Path) -> None:
    per_line = '"Hills are my favourite workout."\n""\n"Say ""hi"" to the hill, then go."'
    assert clean_post(per_line) == (
        'Hills are my favourite workout.\n\nSay "hi" to the hill, then go.'
    )
    # anything else stays verbatim: surrounding quotes, "" in code, NBSP, blank lines
    for text in (
        '"Run slow" is my whole method, honestly.',
        'My config:\nname = ""\npace = "easy"',
        "Three\u00a0words\u00a0here and more.\n\n\n\nAfter four newlines.",
    ):
        assert clean_post(text) == text
    assert clean_post('He said \\"go\\" and we went.', "comment") == 'He said "go" and we went.'
    export = read_linkedin_export(
        zip_bytes(tmp_path / "e.zip", {"Shares.csv": linkedin_csv(per_line)})
    )
    assert (
        export.posts[0].text == 'Hills are my favourite workout.\n\nSay "hi" to the hill, then go.'
    )


def test_posts_in_scripts_without_spaces_are_posts(tmp_path: Path) -> None:
    chinese = "每天慢跑三十分钟，坚持一个月，你会发现自己的呼吸和心态都变得不一样了。真的"
    assert len(chinese) == 37
    export = read_linkedin_export(
        zip_bytes(tmp_path / "zh.zip", {"Shares.csv": linkedin_csv(chinese, "好的", "ดีมาก")})
    )
    assert [p.text for p in export.posts] == [chinese]
    assert [why for _where, why in export.skipped] == ["post is only a link or a few words"] * 2


def test_member_id_file_names_and_a_notes_preamble(tmp_path: Path) -> None:
    post = "Consistency beats intensity, every single week."
    shares = b"Notes:\nThis file has your posts.\n\n" + linkedin_csv(post)
    export = read_linkedin_export(
        zip_bytes(
            tmp_path / "id.zip",
            {
                "Shares_123456789.csv": shares,
                "Comments_123456789.csv": linkedin_csv(
                    'I agree: \\"slow\\" is fast enough.', header="Date,Link,Message"
                ),
            },
        ),
        include_comments=True,
    )
    assert [p.text for p in export.posts] == [post]
    assert [c.text for c in export.comments] == ['I agree: "slow" is fast enough.']


def test_a_windows_1252_file_is_read_right_and_said(tmp_path: Path) -> None:
    text = "Don’t skip the warm-up – it’s ten minutes, café or not."
    data = linkedin_csv(text).decode().encode("cp1252")
    export = read_linkedin_export(zip_bytes(tmp_path / "w.zip", {"Shares.csv": data}))
    assert export.posts[0].text == text and "\ufffd" not in export.posts[0].text
    assert export.notes == ["Shares.csv was read as Windows-1252 (it is not UTF-8)."]
    broken = linkedin_csv("Fine words here, really.") + b"\x81\x8d oops\n"
    with pytest.raises(ImportFileError, match="neither UTF-8 nor Windows-1252"):
        read_linkedin_export(zip_bytes(tmp_path / "b.zip", {"Shares.csv": broken}))


def test_a_malformed_csv_is_a_plain_error_with_its_line(tmp_path: Path) -> None:
    unbalanced = (
        b'Date,ShareLink,ShareCommentary\n2024,x,"fine post here ok"\n2024,y,"never closed\n'
    )
    with pytest.raises(ImportFileError) as info:
        read_linkedin_export(zip_bytes(tmp_path / "u.zip", {"Shares.csv": unbalanced}))
    assert "“Shares.csv” could not be read at line" in info.value.message
    assert "a quote is opened and never closed" in info.value.message
    huge = b"Date,ShareLink,ShareCommentary\n2024,x," + b"w " * 70_000 + b"\n"
    with pytest.raises(ImportFileError, match="a field is longer than 128 KB"):
        read_linkedin_export(zip_bytes(tmp_path / "h.zip", {"Shares.csv": huge}))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=3000))
def test_fuzzed_zips_never_crash(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("Shares.csv", data)
    for blob in (data, buffer.getvalue()):
        path.write_bytes(blob)
        with contextlib.suppress(ImportFileError):
            read_linkedin_export(path, include_comments=True)


# ---- documents -----------------------------------------------------------------------------

GUIDE = """# Starting out

Run slowly. If you cannot talk, you are going too fast; walk until you can.

Three short runs a week beat one long one: your body adapts to what you do often.

# Shoes

Buy the pair that feels comfortable in the shop. Comfort beats brand, price and colour,
and a running shop will let you jog a few steps before you decide.
"""


def test_markdown_is_cut_at_headings(tmp_path: Path) -> None:
    (tmp_path / "guide.md").write_text(GUIDE, "utf-8")
    passages = read_passages(tmp_path / "guide.md")
    assert [p.text.split("\n")[0] for p in passages] == ["Starting out", "Shoes"]
    assert "Three short runs" in passages[0].text and passages[0].source == "doc:guide.md"


def test_long_text_is_cut_at_sentence_ends() -> None:
    sentence = "Consistency matters more than intensity for new runners. "
    passages = passages_from_text(sentence * 80)
    assert len(passages) >= 3
    assert all(len(p.text) <= MAX_CHARS for p in passages)
    assert all(p.text.endswith("runners.") for p in passages)


def test_pdf_text_layer_by_page(tmp_path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for page_text in (
        "Warm up for five minutes before every run. Walk briskly, then jog very slowly.",
        "After the run, walk for five minutes and drink water. Stretch only if it feels good.",
    ):
        pdf.add_page()
        pdf.multi_cell(0, 8, page_text)
    pdf.output(str(tmp_path / "plan.pdf"))
    passages = read_passages(tmp_path / "plan.pdf")
    joined = " ".join(p.text for p in passages)
    assert "Warm up for five minutes" in joined and "drink water" in joined
    assert passages[0].source == "doc:plan.pdf p.1"

    empty = FPDF()
    empty.add_page()
    empty.output(str(tmp_path / "scan.pdf"))
    with pytest.raises(ImportFileError, match="No text") as info:
        read_passages(tmp_path / "scan.pdf")
    assert "scan" in info.value.hint

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(tmp_path / "plan.pdf").pages:
        writer.add_page(page)
    writer.encrypt("secret")
    with open(tmp_path / "locked.pdf", "wb") as fh:
        writer.write(fh)
    with pytest.raises(ImportFileError, match="password"):
        read_passages(tmp_path / "locked.pdf")


def test_docx_headings_and_paragraphs(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Motivation", level=1)
    document.add_paragraph("Tie your run to something you already do every day, like coffee.")
    document.add_paragraph("Tell a friend your plan: a promise to someone is hard to break.")
    document.add_heading("Injuries", level=1)
    document.add_paragraph("Sharp pain means stop. Dull tiredness means you are training well.")
    document.save(str(tmp_path / "notes.docx"))
    passages = read_passages(tmp_path / "notes.docx")
    assert [p.source for p in passages] == ["doc:notes.docx §1", "doc:notes.docx §2"]
    assert passages[1].text.startswith("Injuries\n\nSharp pain")


def test_broken_documents_are_explained(tmp_path: Path) -> None:
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4 nothing here")
    (tmp_path / "bad.docx").write_bytes(b"not a zip")
    (tmp_path / "a.exe").write_bytes(b"MZ")
    for name, words in (("bad.pdf", "PDF"), ("bad.docx", "Word"), ("a.exe", "not a document")):
        with pytest.raises(ImportFileError, match=words):
            read_passages(tmp_path / name)
    (tmp_path / "latin.txt").write_bytes(
        "Caf\xe9 au lait avant la course ? Pas trop, et au moins une heure avant.".encode("cp1252")
    )
    assert "Café" in read_passages(tmp_path / "latin.txt")[0].text


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=2000), suffix=st.sampled_from([".pdf", ".docx", ".txt"]))
def test_fuzzed_documents_never_crash(tmp_path: Path, data: bytes, suffix: str) -> None:
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes((b"%PDF-1.7\n" if suffix == ".pdf" else b"") + data)
    with contextlib.suppress(ImportFileError):
        read_passages(path)
