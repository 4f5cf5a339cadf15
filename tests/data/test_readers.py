"""Readers: every format to exact Records, every user error to a one-line SentinetError."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from sentinet.data.readers import Record, detect_data_format, read_records, stream_records
from sentinet.data.records import parse_label
from sentinet.data.sentirueval_xml import write_sentirueval
from sentinet.errors import SentinetError

SHARED = Path(__file__).resolve().parents[3] / "shared/data/sentirueval2016"


def table(id: str, text: str, **companies: str) -> str:
    cols = "".join(f'\n      <column name="{c}">{v}</column>' for c, v in companies.items())
    return f"""    <table name="bank_test_2016">
      <column name="id">{id}</column>
      <column name="twitid">49236758615663{id}</column>
      <column name="date">1406224554</column>
      <column name="text">{text}</column>{cols}
    </table>
"""


def export(*tables: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<pma_xml_export version="1.0" xmlns:pma="http://www.phpmyadmin.net/some_doc_url/">\n'
        '  <database name="SentiRuEval">\n' + "".join(tables) + "  </database>\n"
        "</pma_xml_export>\n"
    )


SAMPLE_XML = export(
    table("1", "Взять кредит в &quot;Альфа-Банке&quot;", sberbank="NULL", vtb="NULL", alfabank="0"),
    table("2", "Сбер лучше ВТБ\nпервая строка\nвторая", sberbank="1", vtb="-1", alfabank="NULL"),
    table("3", "ни о каком банке", sberbank="NULL", vtb="NULL", alfabank="NULL"),
    table("4", "RT @user: #втб &amp; сбер :)", sberbank="-1", vtb="-1", alfabank="NULL"),
)
SAMPLE_RECORDS = [
    Record("1", 'Взять кредит в "Альфа-Банке"', {"alfabank": 0}),
    Record("2", "Сбер лучше ВТБ\nпервая строка\nвторая", {"sberbank": 1, "vtb": -1}),
    Record("3", "ни о каком банке", {}),
    Record("4", "RT @user: #втб & сбер :)", {"sberbank": -1, "vtb": -1}),
]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


# --------------------------------------------------------------------------------------
# Formats


def test_sentirueval_xml(tmp_path):
    assert read_records(write(tmp_path, "banks.xml", SAMPLE_XML)) == SAMPLE_RECORDS


def test_sentirueval_placeholder_zeros_are_labels(tmp_path):
    # unlabelled test sets mark the companies to predict with 0: read them; the caller decides
    path = write(tmp_path, "test.xml", export(table("7", "мтс", mts="0", beeline="NULL")))
    assert read_records(path) == [Record("7", "мтс", {"mts": 0})]


def test_tsv(tmp_path):
    path = write(tmp_path, "d.tsv", "id\ttext\tlabel\na1\tхорошо\t1\na2\tплохо, очень\tnegative\n")
    assert read_records(path) == [
        Record("a1", "хорошо", {"label": 1}),
        Record("a2", "плохо, очень", {"label": "negative"}),
    ]


def test_tsv_tab_extension_and_quotes_inside_field(tmp_path):
    path = write(tmp_path, "d.tab", 'text\tlabel\nон сказал "да"\t0\n')
    assert read_records(path) == [Record("1", 'он сказал "да"', {"label": 0})]


RAW_TWEETS_TSV = ('id\ttext\tlabel\n'
                  '1\t"Сбербанк" опять завис\t-1\n'  # a quote first: csv's reader breaks here
                  '2\tкупил "айфон, а он\t1\n'  # an unbalanced quote
                  '3\t""\t0\n')


def test_tsv_has_no_quoting_by_default(tmp_path):
    path = write(tmp_path, "raw.tsv", RAW_TWEETS_TSV)
    assert read_records(path) == [
        Record("1", '"Сбербанк" опять завис', {"label": -1}),
        Record("2", 'купил "айфон, а он', {"label": 1}),
        Record("3", '""', {"label": 0}),
    ]
    assert read_records(path, quoting="none") == read_records(path)


def test_tsv_streamed_has_no_quoting_by_default(tmp_path):
    path = write(tmp_path, "raw.tsv", RAW_TWEETS_TSV)
    with path.open(encoding="utf-8", newline="") as f:
        streamed = list(stream_records(f, "tsv", str(path)))
    assert [(r.id, r.text) for r in streamed] == [(r.id, r.text) for r in read_records(path)]


def test_quoted_tsv_on_request(tmp_path):
    path = write(tmp_path, "q.tsv", 'text\tlabel\n"две\nстроки, ""цитата"""\t1\n')
    assert read_records(path, quoting="quoted") == [Record("1", 'две\nстроки, "цитата"', {"label": 1})]
    with pytest.raises(SentinetError, match=r"raw.tsv: line 2: malformed TSV .*data.quoting: none"):
        read_records(write(tmp_path, "raw.tsv", RAW_TWEETS_TSV), quoting="quoted")


def test_csv_without_quoting_on_request(tmp_path):
    path = write(tmp_path, "raw.csv", 'text,label\n"он" сказал,1\n')
    assert read_records(path, quoting="none") == [Record("1", '"он" сказал', {"label": 1})]


def test_unknown_quoting(tmp_path):
    with pytest.raises(SentinetError, match=r"quoting 'csv': choose one of auto, none, quoted"):
        read_records(write(tmp_path, "raw.tsv", RAW_TWEETS_TSV), quoting="csv")


def test_csv_quoted_fields_custom_columns_and_row_ids(tmp_path):
    text = (
        "tweet,sentiment,extra\r\n"
        '"привет, мир",pos,x\r\n'
        '"две\nстроки ""в кавычках""",,y\r\n'
        "\r\n"
        "третий,NEUTRAL ,z\r\n"
    )
    path = write(tmp_path, "d.csv", "\ufeff" + text)  # an Excel BOM is not part of the header
    records = read_records(path, text_column="tweet", label_column="sentiment")
    assert records == [
        Record("1", "привет, мир", {"label": "pos"}),
        Record("2", 'две\nстроки "в кавычках"', {}),
        Record("3", "третий", {"label": "NEUTRAL"}),
    ]


def test_csv_without_label_column_is_unlabelled(tmp_path):
    path = write(tmp_path, "d.csv", "id,text\n5,один\n5,два\n")  # duplicate ids are kept
    assert read_records(path) == [Record("5", "один"), Record("5", "два")]


def test_jsonl(tmp_path):
    lines = [
        {"id": 10, "text": "ура", "label": 1},
        {"text": "без id", "label": "neg"},
        {"id": "x", "text": "без метки", "label": None},
        {"id": "y", "text": "нет поля метки"},
    ]
    body = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines[:2])
    body += "\n\n" + "\n".join(json.dumps(x, ensure_ascii=False) for x in lines[2:]) + "\n"
    path = write(tmp_path, "d.jsonl", body)
    assert read_records(path) == [
        Record("10", "ура", {"label": 1}),
        Record("2", "без id", {"label": "neg"}),  # missing id → line number
        Record("x", "без метки", {}),
        Record("y", "нет поля метки", {}),
    ]


def test_txt(tmp_path):
    path = write(tmp_path, "d.txt", "первый твит\r\n\n  \nвторой твит \u2028 с разделителем\n")
    assert read_records(path) == [
        Record("1", "первый твит"),
        Record("4", "второй твит \u2028 с разделителем"),
    ]


def test_explicit_format_overrides_extension(tmp_path):
    path = write(tmp_path, "tweets.dat", "text\nодин\n")
    assert read_records(path, format="csv") == [Record("1", "один")]


@pytest.mark.parametrize(
    "name, fmt",
    [("a.xml", "sentirueval"), ("a.TSV", "tsv"), ("a.tab", "tsv"), ("a.csv", "csv"),
     ("a.jsonl", "jsonl"), ("a.ndjson", "jsonl"), ("a.json", "jsonl"), ("a.txt", "txt")],
)  # fmt: skip
def test_detect_format(name, fmt):
    assert detect_data_format(Path(name)) == fmt


@pytest.mark.parametrize("name", ["a.parquet", "noext"])
def test_detect_format_unknown(name):
    with pytest.raises(SentinetError, match=r"data\.format.*sentirueval, tsv, csv, jsonl, txt"):
        detect_data_format(Path(name))


def test_unknown_explicit_format(tmp_path):
    with pytest.raises(SentinetError, match="unknown data format 'xlsx'"):
        read_records(write(tmp_path, "a.txt", "x\n"), format="xlsx")


# --------------------------------------------------------------------------------------
# Labels


@pytest.mark.parametrize(
    "value, label",
    [(-1, -1), (0, 0), (1, 1), ("-1", -1), ("0", 0), ("1", 1), ("+1", 1), (" 1 ", 1), (1.0, 1),
     (7, 7), ("12", 12), ("negative", "negative"), (" Pos ", "Pos"), ("speech", "speech"),
     ("1.5", "1.5"), (None, None), ("", None), ("  ", None), ("NULL", None), ("null", None)],
)  # fmt: skip
def test_parse_label(value, label):
    """Numbers stay numbers whichever way a file spells them; other text is the label."""
    parsed = parse_label(value, "here")
    assert parsed == label and type(parsed) is type(label)


@pytest.mark.parametrize("value", [True, [1], 1.5])
def test_parse_label_unknown(value):
    with pytest.raises(SentinetError, match=r"^here: label "):
        parse_label(value, "here")


# --------------------------------------------------------------------------------------
# Errors


def one_line_error(excinfo: pytest.ExceptionInfo, path: Path) -> str:
    message = str(excinfo.value)
    assert "\n" not in message and message.startswith(str(path))
    return message


def test_missing_file(tmp_path):
    path = tmp_path / "nope.xml"
    with pytest.raises(SentinetError, match="file not found") as e:
        read_records(path)
    one_line_error(e, path)


def test_directory(tmp_path):
    with pytest.raises(SentinetError, match="is a directory") as e:
        read_records(tmp_path)
    one_line_error(e, tmp_path)


@pytest.mark.parametrize("name", ["e.xml", "e.tsv", "e.csv", "e.jsonl", "e.txt"])
def test_empty_file(tmp_path, name):
    path = write(tmp_path, name, "")
    with pytest.raises(SentinetError, match="no records") as e:
        read_records(path)
    one_line_error(e, path)


@pytest.mark.parametrize(
    "name, text", [("h.csv", "id,text\n"), ("b.txt", "\n \n"), ("b.jsonl", "\n")]
)
def test_no_records(tmp_path, name, text):
    with pytest.raises(SentinetError, match="no records"):
        read_records(write(tmp_path, name, text))


def test_xml_without_rows(tmp_path):
    path = write(tmp_path, "x.xml", '<?xml version="1.0"?>\n<pma_xml_export></pma_xml_export>\n')
    with pytest.raises(SentinetError, match=r"no records: no <table> rows") as e:
        read_records(path)
    one_line_error(e, path)


def test_truncated_xml(tmp_path):
    path = write(tmp_path, "t.xml", SAMPLE_XML[:-60])
    match = r"malformed XML at line \d+, column \d+: unclosed token"
    with pytest.raises(SentinetError, match=match) as e:
        read_records(path)
    one_line_error(e, path)


def test_malformed_xml_position(tmp_path):
    path = write(tmp_path, "m.xml", "<a>\n  <table><column name=id>1</column></table>\n</a>\n")
    with pytest.raises(SentinetError, match=r"malformed XML at line 2, column 23: not well-formed"):
        read_records(path)


def test_xml_bad_utf8(tmp_path):
    path = tmp_path / "u.xml"
    data = SAMPLE_XML.encode()
    offset = data.index("ни о каком".encode())
    path.write_bytes(data[:offset] + b"\xff" + data[offset:])
    with pytest.raises(SentinetError, match=rf"not valid UTF-8 at byte {offset} ") as e:
        read_records(path)
    one_line_error(e, path)


@pytest.mark.parametrize("name", ["u.tsv", "u.csv", "u.jsonl", "u.txt"])
def test_line_formats_bad_utf8(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b'text\n"ok"\n"\xd0\xbf\xd1"\n')  # a cut-off Cyrillic letter on line 3
    with pytest.raises(SentinetError, match=r"not valid UTF-8 at byte 13 \(line 3\)") as e:
        read_records(path)
    one_line_error(e, path)


def test_xml_unknown_label(tmp_path):
    path = write(tmp_path, "l.xml", export(table("9", "x", sberbank="NULL", vtb="+-")))
    match = r"id '9', column 'vtb': unknown label value '\+-'"
    with pytest.raises(SentinetError, match=match) as e:
        read_records(path)
    one_line_error(e, path)


def test_xml_row_without_text(tmp_path):
    path = write(tmp_path, "n.xml", '<a><table><column name="id">1</column></table></a>')
    with pytest.raises(SentinetError, match=r"row 1 has no 'text' column \(columns: id\)"):
        read_records(path)


def test_any_label_is_read(tmp_path):
    """Single-label formats carry any label set; which labels a run accepts is data.labels'."""
    path = write(tmp_path, "l.csv", "id,text,label\nq7,x,good\nq8,y,5\n")
    assert [r.labels for r in read_records(path)] == [{"label": "good"}, {"label": 5}]


def test_jsonl_label_that_is_no_label(tmp_path):
    path = write(tmp_path, "l.jsonl", '{"text": "x", "label": {"a": 5}}\n')
    with pytest.raises(SentinetError, match=r"id '1', column 'label': label \{'a': 5\} is neither"):
        read_records(path)


def test_several_labels_per_text(tmp_path):
    """A JSON list, a split TSV cell and several __label__ are one record's tuple of labels
    (each once, in the order written); an empty list is the empty set; null inside is refused."""
    jsonl = write(tmp_path, "m.jsonl", '{"text": "a", "label": ["x", 2, "x"]}\n{"text": "b", "label": []}\n')
    assert [r.labels for r in read_records(jsonl)] == [{"label": ("x", 2)}, {"label": ()}]
    tsv = write(tmp_path, "m.tsv", "text\tlabel\na\tx|y\nb\tz\nc\t|x|\n")
    assert [r.labels for r in read_records(tsv, label_separator="|")] == [
        {"label": ("x", "y")}, {"label": "z"}, {"label": ("x",)}]
    assert read_records(tsv)[0].labels == {"label": "x|y"}  # no separator: one label
    ft = write(tmp_path, "m.txt", "__label__a __label__b some text\n__label__c more\n")
    assert [(r.labels, r.text) for r in read_records(ft)] == [({"label": ("a", "b")}, "some text"),
                                                             ({"label": "c"}, "more")]
    bad = write(tmp_path, "n.jsonl", '{"text": "a", "label": ["x", null]}\n')
    with pytest.raises(SentinetError, match="an empty or null label in the list"):
        read_records(bad)


def test_shape_labels_fits_records_to_the_run(tmp_path):
    """A multi-label run reads every label as a tuple; a single-label run refuses several
    labels in one line naming model.head, and takes a one-label list as that label."""
    from sentinet.labels import shape_labels

    records = read_records(write(tmp_path, "m.jsonl", '{"text": "a", "label": ["x"]}\n{"text": "b", "label": "y"}\n'))
    shape_labels(records, False, "m.jsonl")
    assert [r.labels for r in records] == [{"label": "x"}, {"label": "y"}]
    shape_labels(records, True, "m.jsonl")
    assert [r.labels for r in records] == [{"label": ("x",)}, {"label": ("y",)}]
    several = read_records(write(tmp_path, "s.jsonl", '{"id": "q1", "text": "a", "label": ["x", "y"]}\n'))
    with pytest.raises(SentinetError, match=r"m.jsonl: id 'q1' has 2 labels \('x', 'y'\); for several labels "
                                            "per text set model.head: multilabel"):
        shape_labels(several, False, "m.jsonl")


@pytest.mark.parametrize("name, header", [("c.csv", "id,tweet,label"), ("c.tsv", "id\ttweet")])
def test_missing_text_column(tmp_path, name, header):
    path = write(tmp_path, name, header + "\n1\n")
    match = r"no 'text' column .*columns: id, tweet.*text_column"
    with pytest.raises(SentinetError, match=match) as e:
        read_records(path)
    one_line_error(e, path)


def test_jsonl_missing_text_field(tmp_path):
    path = write(tmp_path, "c.jsonl", '{"text": "ok"}\n{"tweet": "x", "id": 2}\n')
    with pytest.raises(SentinetError, match=r"line 2: no 'text' field \(fields: tweet, id"):
        read_records(path)


def test_jsonl_invalid_json(tmp_path):
    path = write(tmp_path, "j.jsonl", '{"text": "ok"}\n\n{"text": "oops"\n')
    with pytest.raises(SentinetError, match=r"line 3: invalid JSON") as e:
        read_records(path)
    one_line_error(e, path)


def test_jsonl_not_an_object(tmp_path):
    with pytest.raises(SentinetError, match=r"line 1: expected a JSON object, got list"):
        read_records(write(tmp_path, "a.json", '[{"text": "x"}]\n'))


def test_csv_wrong_field_count(tmp_path):
    path = write(tmp_path, "w.tsv", "text\tlabel\nодин\t1\nдва\tтри\t1\n")
    with pytest.raises(SentinetError, match=r"line 3: 3 fields, but the header has 2"):
        read_records(path)


def test_csv_stray_quote(tmp_path):
    path = write(tmp_path, "q.csv", 'text,label\n"он" сказал,1\n')
    with pytest.raises(SentinetError, match=r"line 2: malformed CSV"):
        read_records(path)


# --------------------------------------------------------------------------------------
# Writing predictions


def test_write_sentirueval_round_trip(tmp_path):
    source = write(tmp_path, "in.xml", SAMPLE_XML)
    out = tmp_path / "sub" / "out.xml"
    write_sentirueval(source, {"1": 1, "2": 0, "3": -1, "4": 1}, out)

    assert out.read_bytes().startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<pma_xml_export')
    assert b'xmlns:pma="http://www.phpmyadmin.net/some_doc_url/"' in out.read_bytes()
    got = read_records(out)
    assert [(r.id, r.text) for r in got] == [(r.id, r.text) for r in SAMPLE_RECORDS]
    assert [r.labels for r in got] == [
        {"alfabank": 1},
        {"sberbank": 0, "vtb": 0},
        {},
        {"sberbank": 1, "vtb": 1},
    ]
    # every cell that was NULL still is, and nothing outside the company columns changed
    before, after = ET.parse(source).getroot(), ET.parse(out).getroot()
    for a, b in zip(before.iter(), after.iter(), strict=True):
        assert (a.tag, a.attrib, a.tail) == (b.tag, b.attrib, b.tail)
        if a.get("name") not in ("sberbank", "vtb", "alfabank") or a.text == "NULL":
            assert a.text == b.text


def test_write_sentirueval_can_overwrite_its_input(tmp_path):
    path = write(tmp_path, "in.xml", SAMPLE_XML)
    write_sentirueval(path, {"1": -1, "2": -1, "3": -1, "4": -1}, path)
    assert Counter(v for r in read_records(path) for v in r.labels.values()) == {-1: 5}


def test_write_sentirueval_missing_prediction(tmp_path):
    source = write(tmp_path, "in.xml", SAMPLE_XML)
    out = tmp_path / "out.xml"
    match = r"no prediction for 2 of 4 tweets \(first missing id: '2'\)"
    with pytest.raises(SentinetError, match=match):
        write_sentirueval(source, {"1": 1, "3": 0}, out)
    assert not out.exists()


def test_write_sentirueval_malformed_input(tmp_path):
    source = write(tmp_path, "in.xml", SAMPLE_XML[:100])
    with pytest.raises(SentinetError, match="malformed XML"):
        write_sentirueval(source, {}, tmp_path / "out.xml")


# --------------------------------------------------------------------------------------
# The real SentiRuEval-2016 training data (README counts), when it is present


@pytest.mark.parametrize(
    "name, tweets, counts",
    [
        ("bank_train_2016.xml", 9392, {0: 7158, -1: 2807, 1: 760}),
        ("tkk_train_2016.xml", 8643, {0: 5213, -1: 2611, 1: 1385}),
    ],
)
def test_shared_sentirueval_counts(name, tweets, counts):
    path = SHARED / name
    if not path.is_file():
        pytest.skip(f"{path} not available")
    records = read_records(path)
    assert len(records) == tweets
    assert Counter(v for r in records for v in r.labels.values()) == counts


def test_a_line_past_max_line_chars_is_refused_in_every_line_format(tmp_path):
    import io

    from sentinet.data.readers import MAX_LINE_CHARS

    huge = "a" * (MAX_LINE_CHARS + 1)
    files = {"in.txt": f"ok\n{huge}\n", "in.tsv": f"text\tlabel\nok\t1\n{huge}\t1\n",
             "in.jsonl": '{"text": "ok", "label": 1}\n' + json.dumps({"text": huge, "label": 1}) + "\n"}
    for name, text in files.items():
        with pytest.raises(SentinetError, match=rf"in\.{name[3:]}: line \d is over 10,000,000 characters"):
            read_records(write(tmp_path, name, text))
    with pytest.raises(SentinetError, match="<stdin>: line 2 is over 10,000,000 characters"):
        list(stream_records(io.StringIO(f"ok\n{huge}"), "txt", "<stdin>"))
    exactly = list(stream_records(io.StringIO("a" * MAX_LINE_CHARS + "\r\nok\n"), "txt", "<stdin>"))
    assert [len(r.text) for r in exactly] == [MAX_LINE_CHARS, 2]  # the limit itself is fine, \r\n or not


def test_fasttext_lines_are_labels_then_text(tmp_path) -> None:
    from sentinet.data.readers import detect_data_format, fasttext_line, read_records

    assert fasttext_line("__label__positive  спасибо, банк\r") == (["positive"], "спасибо, банк")
    assert fasttext_line("__label__-1 __label__x a b") == (["-1", "x"], "a b")
    assert fasttext_line("no label here") == ([], "no label here")
    path = tmp_path / "train.txt"
    path.write_text("\ufeff__label__positive спасибо\n__label__-1 ужас\n\nбез метки\n", encoding="utf-8")
    assert detect_data_format(path) == "fasttext"  # by content: a .txt of plain lines stays txt
    (tmp_path / "plain.txt").write_text("просто текст\n", encoding="utf-8")
    assert detect_data_format(tmp_path / "plain.txt") == "txt"
    records = read_records(path)
    assert [(r.id, r.text, r.labels) for r in records] == [
        ("1", "спасибо", {"label": "positive"}), ("2", "ужас", {"label": -1}), ("4", "без метки", {})]


def test_several_fasttext_labels_on_a_line_are_one_multi_label_record(tmp_path) -> None:
    from sentinet.data.readers import read_records

    path = tmp_path / "multi.txt"
    path.write_text("__label__a ok\n__label__a __label__b both\n", encoding="utf-8")
    assert [r.labels for r in read_records(path)] == [{"label": "a"}, {"label": ("a", "b")}]
