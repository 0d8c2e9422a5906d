"""CSV onboarding against the running allocation service: real tokens, real store.

Each test onboards fresh ids (the service's database persists between runs).
"Nothing written" is checked on the streams in the service's own event store.
"""

import uuid

import httpx
import pytest
from plimsoll_events.store import EventStore
from plimsoll_events.types.allocation import AllocationOverrideRecorded

pytestmark = pytest.mark.stack

PRACTITIONER_HEADER = (
    "practitioner_id,name,grade,team_id,region_id,contracted_hours,start_date,line_manager_id"
)
CASE_HEADER = "case_id,team_id,case_type,tier,t2a,stage,practitioner_id,opened_on"
CSV = {"Content-Type": "text/csv"}


def _upload(api, tokens, kind: str, text: str, user: str = "hana.head", **params) -> httpx.Response:
    return api.post(
        f"/onboarding/{kind}",
        content=text.encode(),
        params=params,
        headers={**tokens(user), **CSV},
    )


def _report(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def _versions(store: EventStore, streams: list[str]) -> dict[str, int]:
    return {stream: len(store.read_stream(stream)) for stream in streams}


def _capacity(api, tokens, practitioner_id: str) -> dict:
    response = api.get(f"/practitioners/{practitioner_id}/capacity", headers=tokens("hana.head"))
    assert response.status_code == 200, response.text
    return response.json()


def test_onboarding_a_workforce_and_caseload_reports_bad_rows_and_is_idempotent(
    api, tokens, allocation_store
):
    s = uuid.uuid4().hex[:8]
    full, half, small = f"P-OB-{s}-A", f"P-OB-{s}-B", f"P-OB-{s}-C"
    practitioners = "\n".join(
        [
            PRACTITIONER_HEADER,
            f"{full},Alex Full,PO,T-NORTH-1,R-NORTH,37,2024-09-02,P-0100",  # line 2
            f'{half},"Bea, Half",PSO,T-NORTH-1,R-NORTH,18.5,2023-01-09,',  # line 3
            "",  # line 4, blank
            f"{small},Cy Small,PO,T-NORTH-1,R-NORTH,4,2022-05-03,P-0100",  # line 5
            f"P-OB-{s}-NEG,Neg Hours,PO,T-NORTH-1,R-NORTH,-5,2024-01-01,",  # line 6
            f"P-OB-{s}-WIZ,Wiz Ard,WIZARD,T-NORTH-1,R-NORTH,37,2024-01-01,",  # line 7
        ]
    )
    report = _report(_upload(api, tokens, "practitioners", practitioners, user="ada.admin"))
    assert (report["accepted"], report["already_imported"]) == (3, 0), report
    assert [(r["line"], r["field"]) for r in report["rejected"]] == [
        (6, "contracted_hours"),
        (7, "grade"),
    ]

    case = [f"X-OB-{s}-{n:02}" for n in range(16)]
    case_lines = [CASE_HEADER]
    case_lines += [f"{case[n]},T-NORTH-1,community,C1,,,{full},2024-02-01" for n in range(5)]
    case_lines += [f"{case[n]},T-NORTH-1,licence,A1,false,,{full}," for n in (5, 6)]
    case_lines += [f"{case[7]},T-NORTH-1,licence,A1,,,{half},2023-03-01"]
    case_lines += [f"{case[8]},T-NORTH-1,community,A3,,,{small},2023-03-01"]  # line 10: 87.7%
    case_lines += [f"{case[9]},T-NORTH-1,licence,A1,,,{small},2023-04-01"]  # line 11: 157.0%
    case_lines += [f"{case[10]},T-NORTH-1,community,C1,,,,"]  # line 12: unallocated
    case_lines += [
        f"{case[11]},T-NORTH-1,community,Z9,,,,",  # line 13: unknown tier
        f"{case[12]},T-NORTH-1,community,C1,,,P-OB-{s}-NOBODY,",  # line 14: unknown holder
        f"{case[0]},T-NORTH-1,licence,A1,,,{half},",  # line 15: duplicate in the file
        f"{case[13]},T-NORTH-1,community,C1,,,P-OB-{s}-NEG,",  # line 16: refused above
    ]
    cases = "\n".join(case_lines) + "\n"
    report = _report(_upload(api, tokens, "cases", cases, file_name=f"caseload-{s}.csv"))
    assert (report["accepted"], report["already_imported"]) == (11, 0), report
    assert [(r["line"], r["field"]) for r in report["rejected"]] == [
        (13, "tier"),
        (14, "practitioner_id"),
        (15, "case_id"),
        (16, "practitioner_id"),
    ]
    assert report["overrides_recorded"] == [11]

    # A row refused for its holder records nothing, not even the case's opening.
    assert allocation_store.read_stream(f"case-{case[12]}") == []
    # The above-capacity allocation is recorded as the override it is, with where it came from.
    events = allocation_store.read_stream(f"case-{case[9]}")
    assert [e.type for e in events] == [
        "case-opened",
        "case-allocated",
        AllocationOverrideRecorded.type,
    ]
    override = events[-1]
    assert (
        override.data["reason"] == f"onboarded from caseload-{s}.csv, line 11: existing allocation"
    )
    assert override.metadata.actor == "hana.head"

    capacity = _capacity(api, tokens, full)
    assert (capacity["total_points"], capacity["available_points"]) == (576, 2176)
    assert capacity["capacity_percent"] == "26.5"
    capacity = _capacity(api, tokens, half)
    assert (capacity["total_points"], capacity["available_points"]) == (163, 1088)
    capacity = _capacity(api, tokens, small)
    assert (capacity["total_points"], capacity["available_points"]) == (369, 235)
    assert capacity["capacity_percent"] == "157.0"

    streams = [f"practitioner-{p}" for p in (full, half, small)] + [f"case-{c}" for c in case]
    before = _versions(allocation_store, streams)
    again = _report(_upload(api, tokens, "practitioners", practitioners, user="hana.head"))
    assert (again["accepted"], again["already_imported"]) == (0, 3)
    again = _report(_upload(api, tokens, "cases", cases, file_name="renamed.csv"))
    assert (again["accepted"], again["already_imported"]) == (0, 11)
    assert [r["line"] for r in again["rejected"]] == [13, 14, 15, 16]
    assert again["overrides_recorded"] == []
    assert _versions(allocation_store, streams) == before


def test_a_changed_row_for_an_onboarded_case_is_refused_as_already_recorded(api, tokens):
    s = uuid.uuid4().hex[:8]
    first = f"{CASE_HEADER}\nX-OB-{s},T-NORTH-1,community,C1,,,,\n"
    assert _report(_upload(api, tokens, "cases", first))["accepted"] == 1
    changed = f"{CASE_HEADER}\nX-OB-{s},T-NORTH-1,community,B2,,,,\n"
    report = _report(_upload(api, tokens, "cases", changed))
    assert report["accepted"] == 0
    assert [(r["line"], r["field"]) for r in report["rejected"]] == [(2, "case_id")]


def test_an_admin_records_no_allocation(api, tokens, allocation_store):
    s = uuid.uuid4().hex[:8]
    practitioners = (
        f"{PRACTITIONER_HEADER}\nP-OB-{s},Ada's Own,PO,T-NORTH-1,R-NORTH,37,2024-01-01,\n"
    )
    assert _report(_upload(api, tokens, "practitioners", practitioners))["accepted"] == 1
    cases = f"{CASE_HEADER}\nX-OB-{s},T-NORTH-1,community,C1,,,P-OB-{s},\n"
    report = _report(_upload(api, tokens, "cases", cases, user="ada.admin"))
    assert report["accepted"] == 0
    assert [(r["line"], r["field"]) for r in report["rejected"]] == [(2, "practitioner_id")]
    assert allocation_store.read_stream(f"case-X-OB-{s}") == []


def test_a_wrong_header_is_a_422_naming_the_columns(api, tokens):
    response = _upload(api, tokens, "cases", "case_id,team,case_type\nX1,T-NORTH-1,community\n")
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert sorted((p["name"], p["reason"]) for p in problem["invalid-params"]) == [
        ("team", "unknown column"),
        ("team_id", "missing column"),
    ]


def test_only_admins_and_heads_of_service_onboard(api, tokens):
    text = f"{PRACTITIONER_HEADER}\n"
    for user in ("mo.manager", "pat.practitioner", "ollie.ops"):
        assert _upload(api, tokens, "practitioners", text, user=user).status_code == 403
    assert api.post("/onboarding/cases", content=b"", headers=CSV).status_code == 401


def test_the_body_must_be_csv(api, tokens):
    response = api.post(
        "/onboarding/practitioners", json={"practitioner_id": "P-1"}, headers=tokens("hana.head")
    )
    assert response.status_code == 415, response.text


def test_the_columns_are_in_the_openapi_document(api):
    spec = api.get("/openapi.json").json()
    body = spec["paths"]["/onboarding/cases"]["post"]["requestBody"]
    assert "text/csv" in body["content"]
    for column in CASE_HEADER.split(","):
        assert column in body["description"]
