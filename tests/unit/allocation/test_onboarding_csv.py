"""Reading onboarding CSV files: the header, line numbers, blank lines, quoting, typed values."""

from datetime import date
from decimal import Decimal

import pytest
from plimsoll_allocation.onboarding import (
    CASE_COLUMNS,
    CASE_OPTIONAL,
    PRACTITIONER_COLUMNS,
    PRACTITIONER_OPTIONAL,
    HeaderError,
    Rejection,
    RowError,
    case_row,
    practitioner_row,
    read_csv,
)
from plimsoll_platform.csv_upload import decode

HEADER = ",".join(PRACTITIONER_COLUMNS)
PAT = "P-1,Pat Practitioner,PO,T-1,R-1,37,2024-09-02,P-9"


def practitioners(text: str):
    return read_csv(text, PRACTITIONER_COLUMNS, PRACTITIONER_OPTIONAL, "practitioner_id")


def cases(text: str):
    return read_csv(text, CASE_COLUMNS, CASE_OPTIONAL, "case_id")


def test_rows_carry_the_line_they_start_on_and_blank_lines_keep_their_numbers():
    text = f"{HEADER}\n{PAT}\n\n   \nP-2,Sam,PSO,T-1,R-1,30,2024-01-01,\n"
    parsed = practitioners(text)
    assert [row.line for row in parsed.rows] == [2, 5]
    assert parsed.rows[1].values["line_manager_id"] == ""
    assert parsed.rejected == []


def test_quoted_fields_keep_commas_quotes_and_newlines_and_lines_count_from_the_start():
    text = (
        f"{HEADER}\r\n"
        '"P-1","Smith, ""Pat""\nthe second",PO,T-1,R-1,37,2024-09-02,\r\n'
        "P-2,Sam,PSO,T-1,R-1,30,2024-01-01,\r\n"
    )
    parsed = practitioners(text)
    assert parsed.rows[0].values["name"] == 'Smith, "Pat"\nthe second'
    assert [row.line for row in parsed.rows] == [2, 4]


def test_values_are_stripped_and_columns_may_come_in_any_order():
    reordered = "name, practitioner_id ,grade,team_id,region_id,contracted_hours,start_date"
    parsed = practitioners(f"{reordered}\n Pat ,P-1,PO,T-1,R-1,37,2024-09-02\n")
    assert parsed.rows[0].values["name"] == "Pat"
    row = practitioner_row(parsed.rows[0])
    assert row.line_manager_id is None
    same = practitioners(f"{HEADER}\nP-1,Pat,PO,T-1,R-1,37,2024-09-02,\n").rows[0]
    assert parsed.rows[0].digest == same.digest  # an empty value is no value


def test_the_digest_depends_on_content_not_the_line():
    first = practitioners(f"{HEADER}\n{PAT}\n").rows[0]
    later = practitioners(f"{HEADER}\n\n\n{PAT}\n").rows[0]
    changed = practitioners(f"{HEADER}\n{PAT.replace(',37,', ',36,')}\n").rows[0]
    assert first.digest == later.digest != changed.digest


@pytest.mark.parametrize(
    ("header", "missing", "unknown", "duplicated"),
    [
        ("practitioner_id,name,grade,team_id,region_id,start_date", ["contracted_hours"], [], []),
        (f"{HEADER},shoe_size", [], ["shoe_size"], []),
        (f"{HEADER},name", [], [], ["name"]),
        (
            "pracitioner_id" + HEADER[len("practitioner_id") :],
            ["practitioner_id"],
            ["pracitioner_id"],
            [],
        ),
    ],
)
def test_a_wrong_header_names_the_columns(header, missing, unknown, duplicated):
    with pytest.raises(HeaderError) as raised:
        practitioners(f"{header}\n{PAT}\n")
    error = raised.value
    assert (error.missing, error.unknown, error.repeated) == (
        tuple(missing),
        tuple(unknown),
        tuple(duplicated),
    )
    for name in missing + unknown + duplicated:
        assert name in error.reason


@pytest.mark.parametrize("text", ["", "\n\n", ",,\n"])
def test_no_header_is_a_header_error(text):
    with pytest.raises(HeaderError, match="no header"):
        practitioners(text)


def test_optional_columns_may_be_left_out_of_the_header():
    parsed = cases("case_id,team_id,case_type\nX1,T-1,community\n")
    row = case_row(parsed.rows[0])
    assert (row.opening.profile.tier, row.practitioner_id, row.opening.opened_on) == (
        None,
        None,
        None,
    )


def test_a_record_with_the_wrong_number_of_fields_is_rejected_with_its_line():
    parsed = practitioners(f"{HEADER}\n{PAT}\nP-2,Sam\n")
    assert [row.line for row in parsed.rows] == [2]
    assert parsed.rejected == [Rejection(3, None, "2 fields where the header has 8")]


def test_a_repeated_id_is_rejected_naming_the_first_line():
    parsed = cases(
        f"{','.join(CASE_COLUMNS)}\nX1,T-1,community,C1,,,,\nX2,T-1,community,C1,,,,\n"
        "X1,T-1,licence,A1,,,,\n"
    )
    assert [row.line for row in parsed.rows] == [2, 3]
    assert parsed.rejected == [Rejection(4, "case_id", "X1 is also on line 2: one row each")]


def test_an_unterminated_quote_is_rejected_at_its_line():
    parsed = practitioners(f'{HEADER}\n{PAT}\n"P-2,Sam,PSO,T-1,R-1,30,2024-01-01,\n')
    assert [row.line for row in parsed.rows] == [2]
    assert [(r.line, r.field) for r in parsed.rejected] == [(3, None)]


def test_decode_takes_a_byte_order_mark_and_refuses_other_encodings():
    assert decode("\ufeffcase_id".encode()) == "case_id"
    with pytest.raises(HeaderError, match="not UTF-8"):
        decode("naïve".encode("latin-1"))


def test_practitioner_values_are_typed():
    row = practitioner_row(practitioners(f"{HEADER}\n{PAT}\n").rows[0])
    assert row.contracted_hours == Decimal(37)
    assert row.start_date == date(2024, 9, 2)
    assert row.line_manager_id == "P-9"


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("P-1,Pat,PO,T-1,R-1,lots,2024-09-02,", "contracted_hours"),
        ("P-1,Pat,PO,T-1,R-1,37,02/09/2024,", "start_date"),
        ("P-1,,PO,T-1,R-1,37,2024-09-02,", "name"),
        (",Pat,PO,T-1,R-1,37,2024-09-02,", "practitioner_id"),
    ],
)
def test_an_unreadable_practitioner_value_names_its_column(line, field):
    with pytest.raises(RowError) as raised:
        practitioner_row(practitioners(f"{HEADER}\n{line}\n").rows[0])
    assert raised.value.field == field


def test_case_values_are_typed():
    parsed = cases(f"{','.join(CASE_COLUMNS)}\nX1,T-1,community,B2,Yes,,P-1,2024-10-01\n")
    row = case_row(parsed.rows[0])
    assert (row.opening.profile.t2a, row.opening.profile.tier) == (True, "B2")
    assert (row.practitioner_id, row.opening.opened_on) == ("P-1", date(2024, 10, 1))


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ("X1,T-1,community,B2,maybe,,,", "t2a"),
        ("X1,T-1,community,B2,,,,yesterday", "opened_on"),
        ("X1,T-1,,B2,,,,", "case_type"),
    ],
)
def test_an_unreadable_case_value_names_its_column(values, field):
    with pytest.raises(RowError) as raised:
        case_row(cases(f"{','.join(CASE_COLUMNS)}\n{values}\n").rows[0])
    assert raised.value.field == field
