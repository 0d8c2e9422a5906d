"""CSV import and export through the public API: each row through the same rules, rejected rows
reported by line, column and reason, re-imports recording nothing, a round trip giving the
same entries, and an export a spreadsheet opens as text."""

import csv
import io
from datetime import timedelta

import pytest

from .sheet import a_working_day, assert_problem, key, register, stream_length, today

pytestmark = pytest.mark.stack

REASON = "Imported from the team's paper timesheets"


@pytest.fixture(scope="module")
def mo(service_api):
    return service_api("timesheet", "mo.manager")


def _import(client, practitioner, sheet: str, headers=None, reason: str | None = REASON, **extra):
    return client.post(
        f"/practitioners/{practitioner}/timesheet",
        content=sheet.encode(),
        params={"on_behalf_reason": reason} if reason else {},
        headers={"Content-Type": "text/csv", **(headers or key()), **extra},
    )


def _export(client, practitioner, first, last) -> str:
    answer = client.get(
        f"/practitioners/{practitioner}/timesheet", params={"from": str(first), "to": str(last)}
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    return answer.content.decode("utf-8")


def _good_sheet() -> str:
    one, two = a_working_day(10), a_working_day(10, 1)
    return (
        "date,minutes,category,start,end,note\n"
        f'{one},150,court,09:30,12:00,"Hearing, adjourned"\n'
        f'{one},240,casework,,,=HYPERLINK("http://evil.example")\n'
        f"{one},30,admin,,,\n"
        f"{one},30,admin,,,\n"
        f"{two},60,travel,08:00,09:00,+44 7700 900123\n"
        f"{two.strftime('%d/%m/%Y')},45,report-writing,13:00,14:00,@SUM(A1)\n"
        f"{two},15,supervision,,,-1 from the rota\n"
    )


def test_a_sheet_is_imported_row_by_row_and_re_importing_records_nothing(
    service_api, mo, timesheet_store
):
    practitioner = register(service_api)
    sheet = _good_sheet()

    first = _import(mo, practitioner, sheet)
    again = _import(mo, practitioner, sheet)

    assert first.status_code == 200, first.text
    assert first.json() == {"accepted": 7, "already_imported": 0, "rejected": []}
    assert again.json() == {"accepted": 0, "already_imported": 7, "rejected": []}
    day = a_working_day(10)
    logged = [e.type for e in timesheet_store.read_stream(f"timesheet-{practitioner}-{day}")]
    assert logged.count("hours-logged") == 4


def test_a_row_corrected_since_its_import_is_not_recorded_again(service_api, mo, timesheet_store):
    practitioner = register(service_api)
    day = a_working_day(12)
    sheet = f"date,minutes,category,start,end\n{day},120,court,09:00,11:00\n{day},60,admin,,\n"
    assert _import(mo, practitioner, sheet).json()["accepted"] == 2
    entries = mo.get(f"/practitioners/{practitioner}/days/{day}").json()["entries"]
    court = next(e["entry_id"] for e in entries if e["category"] == "court")
    corrected = mo.post(
        f"/practitioners/{practitioner}/days/{day}/entries/{court}/correction",
        json={
            "minutes": 90,
            "category": "court",
            "started_at": "09:00",
            "ended_at": "10:30",
            "reason": "The hearing ended early",
        },
        headers=key(),
    )
    assert corrected.status_code == 200, corrected.text

    # The corrected row no longer matches its entry, and now overlaps it: its key still
    # says it was recorded. The rows after it on its day are judged as ever.
    again = _import(mo, practitioner, sheet + f"{day},30,travel,11:00,11:30\n")

    assert again.json() == {"accepted": 1, "already_imported": 2, "rejected": []}
    logged = [e.type for e in timesheet_store.read_stream(f"timesheet-{practitioner}-{day}")]
    assert logged.count("hours-logged") == 3


def test_a_retried_upload_gets_its_first_report_and_its_key_is_not_reused(service_api, mo):
    practitioner = register(service_api)
    headers = key()

    first = _import(mo, practitioner, _good_sheet(), headers=headers)
    retried = _import(mo, practitioner, _good_sheet(), headers=headers)
    other = _import(
        mo, practitioner, _good_sheet() + f"{a_working_day(11)},60,admin,,,\n", headers=headers
    )

    assert retried.json() == first.json()
    assert retried.json()["accepted"] == 7
    assert_problem(other, 422, "Idempotency-Key")


def test_rejected_rows_are_reported_by_line_column_and_reason(service_api, mo):
    practitioner = register(service_api)
    day = a_working_day(14)
    tomorrow = today() + timedelta(days=1)
    sheet = (
        "date,minutes,category,start,end,note\n"
        f"{day},120,court,09:00,11:00,fine\n"
        "last tuesday,60,casework,,,\n"
        f"{day},-5,casework,,,\n"
        f"{day},60,napping,,,\n"
        f"{day},30,travel,12:00,11:00,\n"
        f"{day},60,travel,10:00,11:30,overlaps line 2\n"
        f"{tomorrow},60,admin,,,\n"
        f"{day},1400,casework,,,\n"
        f"{day},60,admin,noon,,\n"
    )

    report = _import(mo, practitioner, sheet).json()

    assert report["accepted"] == 1
    assert [(r["line"], r["field"]) for r in report["rejected"]] == [
        (3, "date"),
        (4, "minutes"),
        (5, "category"),
        (6, "end"),
        (7, "start"),
        (8, "date"),
        (9, "minutes"),
        (10, "start"),
    ]


def test_the_export_opens_as_text_and_imports_back_as_the_same_entries(service_api, mo):
    source, copy = register(service_api), register(service_api)
    assert _import(mo, source, _good_sheet()).json()["accepted"] == 7
    first, last = a_working_day(10) - timedelta(days=1), a_working_day(10) + timedelta(days=6)

    exported = _export(mo, source, first, last)
    imported = _import(mo, copy, exported)
    copied = _export(mo, copy, first, last)

    assert exported.startswith("\ufeffdate,minutes,category,start,end,note\r\n")
    cells = [cell for row in csv.reader(io.StringIO(exported.lstrip("\ufeff"))) for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert '\'=HYPERLINK("http://evil.example")' in cells
    assert "'@SUM(A1)" in cells
    assert imported.json() == {"accepted": 7, "already_imported": 0, "rejected": []}
    assert copied == exported
    assert _import(mo, source, exported).json()["already_imported"] == 7


def test_a_wrong_header_is_refused_naming_the_columns(service_api, mo):
    practitioner = register(service_api)

    answer = _import(mo, practitioner, "day,minutes,kind\n2026-03-02,60,admin\n")

    problem = assert_problem(answer, 422)
    assert {(p["name"], p["reason"]) for p in problem["invalid-params"]} == {
        ("day", "unknown column"),
        ("kind", "unknown column"),
        ("date", "missing column"),
        ("category", "missing column"),
    }


def test_only_csv_is_imported(service_api, mo):
    practitioner = register(service_api)
    answer = mo.post(
        f"/practitioners/{practitioner}/timesheet",
        json={"date": "2026-03-02"},
        params={"on_behalf_reason": REASON},
        headers=key(),
    )
    assert_problem(answer, 415)


def test_a_manager_imports_for_someone_only_with_a_reason(service_api, mo, timesheet_store):
    practitioner = register(service_api)
    day = a_working_day(15)

    report = _import(mo, practitioner, f"date,minutes,category\n{day},60,admin\n", reason=None)

    assert report.json()["rejected"][0]["field"] == "on_behalf_reason"
    assert stream_length(timesheet_store, f"timesheet-{practitioner}-{day}") == 0
