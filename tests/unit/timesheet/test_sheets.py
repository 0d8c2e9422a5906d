"""The timesheet as CSV: rows read with their line and column, cells that could run as
formulas quoted on the way out and unquoted on the way back."""

import csv
import io
from datetime import date, time

import pytest
from plimsoll_timesheet.sheets import HeaderError, SheetRow, read_sheet, safe_cell, write_sheet


def test_rows_are_read_with_optional_columns_in_any_order():
    rows, unreadable = read_sheet(
        '\ufeffCategory,date,minutes,note\r\ncourt,2025-03-03,150,"Leeds, court 4"\r\n'
        "travel,04/03/2025,60,\r\n"
    )

    assert unreadable == []
    assert rows == [
        SheetRow(2, date(2025, 3, 3), 150, "court", None, None, "Leeds, court 4"),
        SheetRow(3, date(2025, 3, 4), 60, "travel", None, None, None),
    ]


def test_a_row_that_cannot_be_read_is_reported_by_the_line_it_starts_on():
    rows, unreadable = read_sheet(
        "date,minutes,category,start,end,note\n"
        '2025-03-03,60,admin,,,"two\nlines"\n'
        "2025-02-30,60,admin,,,\n"
        "2025-03-03,sixty,admin,,,\n"
        "2025-03-03,60,admin,9am,,\n"
        "2025-03-03,60,admin,,,,extra\n"
        "\n"
        "2025-03-03,,admin,,,\n"
    )

    assert [r.line for r in rows] == [2]
    assert [(u.line, u.field) for u in unreadable] == [
        (4, "date"),
        (5, "minutes"),
        (6, "start"),
        (7, None),
        (9, "minutes"),
    ]


@pytest.mark.parametrize(
    ("header", "missing", "unknown", "repeated"),
    [
        ("", ("date", "minutes", "category"), (), ()),
        ("date,minutes", ("category",), (), ()),
        ("date,minutes,category,hours", (), ("hours",), ()),
        ("date,minutes,category,note,note", (), (), ("note",)),
    ],
)
def test_a_header_that_does_not_name_the_columns_is_refused(header, missing, unknown, repeated):
    with pytest.raises(HeaderError) as raised:
        read_sheet(header + "\n" if header else "")

    assert (raised.value.missing, raised.value.unknown, raised.value.repeated) == (
        missing,
        unknown,
        repeated,
    )


@pytest.mark.parametrize("dangerous", ["=1+1", "+44 7700", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_a_cell_that_could_run_as_a_formula_is_written_as_text(dangerous: str):
    assert safe_cell(dangerous) == "'" + dangerous
    assert safe_cell("Leeds") == "Leeds"


def test_a_sheet_written_reads_back_as_the_same_rows():
    rows = [
        SheetRow(0, date(2025, 3, 3), 150, "court", time(9, 30), time(12), '=HYPERLINK("x")'),
        SheetRow(0, date(2025, 3, 3), 60, "travel", time(13), time(14, 0, 30), '-1, "quoted"'),
        SheetRow(0, date(2025, 3, 4), 444, "casework", None, None, None),
    ]

    written = write_sheet(rows)
    read, unreadable = read_sheet(written)

    assert written.startswith("\ufeffdate,minutes,category,start,end,note\r\n")
    cells = [c for row in csv.reader(io.StringIO(written.lstrip("\ufeff"))) for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert unreadable == []
    assert [r.content for r in read] == [r.content for r in rows]
