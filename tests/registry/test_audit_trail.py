"""The audit trail's filters and its exports: what a reader can find and take away, and in what shape.

The filters match anywhere in the text and ignore case; a `*` makes the whole text match the pattern. The
exports (CSV, JSON Lines) hold exactly the events the page shows that reader under the same filters, stream
them, and carry each event's hashed fields and chain hashes so an auditor can re-hash them offline.
"""

import csv
import datetime as dt
import hashlib
import io
import json

import pytest
from django.urls import reverse

from tests.registry.test_pages import assert_queries_do_not_grow
from warehouse.audit.models import AuditEvent
from warehouse.audit.services import audit_record

ACTIONS = [
    "api_token.refused",
    "promotion.refused",
    "version.stage_change_refused",
    "signin.failed",
    "idempotency_key.reused",
    "api_token.created",
]


@pytest.fixture
def trail(model, contributor):
    """One event of each action above, about `model`, by `contributor`."""
    for action in ACTIONS:
        audit_record(
            actor=contributor, action=action, target=model, model_name=model.name, data={"why": action}
        )
    return model


def actions_found(client, **filters) -> list[str]:
    response = client.get(reverse("audit-trail"), filters)
    assert response.status_code == 200
    return sorted(event.action for event in response.context["page"].object_list)


def export(client, export_format: str, **filters):
    response = client.get(reverse("audit-trail-export", args=[export_format]), filters)
    body = b"".join(response.streaming_content).decode() if response.streaming else response.content.decode()
    return response, body


# --- Filters ------------------------------------------------------------------------------------------


def test_a_star_matches_the_whole_action(client, trail, viewer):
    client.force_login(viewer)
    assert actions_found(client, action="*.refused") == ["api_token.refused", "promotion.refused"]
    assert actions_found(client, action="*refused") == [
        "api_token.refused",
        "promotion.refused",
        "version.stage_change_refused",
    ]
    assert actions_found(client, action="api_token.*") == ["api_token.created", "api_token.refused"]
    assert actions_found(client, action="*_key.re*ed") == ["idempotency_key.reused"]


def test_the_filters_match_anywhere_and_ignore_case(client, trail, contributor, viewer):
    client.force_login(viewer)
    assert actions_found(client, action="REFUSED") == actions_found(client, action="*refused*")
    assert actions_found(client, action="Token") == ["api_token.created", "api_token.refused"]
    assert actions_found(client, action="*.REFUSED") == ["api_token.refused", "promotion.refused"]
    everything = actions_found(client, action="*.*")
    assert actions_found(client, model=trail.name[2:-2].upper(), action="*.*") == everything
    assert actions_found(client, actor=contributor.username[1:].upper(), action="*.*") == everything
    assert actions_found(client, model="no-such-model") == []


def test_a_filter_is_text_not_a_pattern_language(client, trail, viewer):
    """Only `*` is special: regular-expression and LIKE characters match themselves."""
    client.force_login(viewer)
    assert actions_found(client, action="_token") == ["api_token.created", "api_token.refused"]
    for text in ("%", "_token_", "a(b", "[refused]", ".+", "*(*", "*\\"):
        assert actions_found(client, action=text) == [], text


def test_a_reader_who_sees_some_models_filters_among_them(client, trail, viewer, superuser, outsider):
    from warehouse.accounts.services import api_token_create

    api_token_create(actor=viewer, user=viewer, name="laptop")  # the viewer's own event, about no model
    audit_record(actor=outsider, action="test.elsewhere", model_name="fraud-scorer-secret")
    client.force_login(superuser)
    everyone_sees = actions_found(client, model="FRAUD-sc")
    client.force_login(viewer)

    assert "test.elsewhere" in everyone_sees
    assert actions_found(client, model="FRAUD-sc") == [a for a in everyone_sees if a != "test.elsewhere"]
    assert "api_token.created" in actions_found(client, model="*")  # `*` matches no model too
    assert actions_found(client, model="*") == actions_found(client)
    assert actions_found(client, model="*-scorer") == actions_found(client, model="fraud-scorer")
    assert actions_found(client, model="secret") == []


def test_the_data_column_shows_one_line_and_opens_to_the_whole_json(client, model, contributor, viewer):
    audit_record(
        actor=contributor,
        action="test.noted",
        target=model,
        model_name=model.name,
        data={"reason": "a long reason " * 20, "from": "staging", "nested": {"b": 2, "a": [1, 2]}},
    )
    client.force_login(viewer)
    html = client.get(reverse("audit-trail"), {"action": "test.noted"}).content.decode()
    summary = html.split('<span class="data-summary">')[1].split("</span>")[0]
    assert summary.startswith(
        "from: staging · nested: {&quot;a&quot;: [1, 2], &quot;b&quot;: 2} · reason: a long"
    )
    assert summary.endswith("…") and "\n" not in summary
    full = html.split("<pre>")[1].split("</pre>")[0]
    assert "  &quot;from&quot;: &quot;staging&quot;,\n" in full and full.count("a long reason") == 20
    assert "style=" not in html and "<script>" not in html


def test_the_page_links_its_exports_with_its_filters(client, trail, viewer):
    client.force_login(viewer)
    html = client.get(reverse("audit-trail"), {"action": "*.refused", "page": "1"}).content.decode()
    assert f'href="{reverse("audit-trail-export", args=["csv"])}?action=%2A.refused"' in html
    assert f'href="{reverse("audit-trail-export", args=["jsonl"])}?action=%2A.refused"' in html


# --- Exports ------------------------------------------------------------------------------------------


def test_the_csv_export_holds_the_filtered_events_with_their_chain(client, trail, viewer):
    client.force_login(viewer)
    response, body = export(client, "csv", action="*.refused")

    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response["Content-Disposition"]
    assert disposition.startswith('attachment; filename="audit-trail_action-any-refused_exported-')
    assert disposition.endswith('Z.csv"')
    assert response["Cache-Control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(body)))
    assert list(rows[0]) == [
        "sequence", "created_at", "actor_id", "actor_label", "via", "action", "target_type", "target_id",
        "target_label", "model_name", "data", "prev_hash", "hash",
    ]  # fmt: skip
    assert [row["action"] for row in rows] == ["promotion.refused", "api_token.refused"]  # newest first
    stored = AuditEvent.objects.get(action="promotion.refused")
    assert rows[0]["hash"] == stored.hash and rows[0]["prev_hash"] == stored.prev_hash
    assert rows[0]["data"] == '{"why":"promotion.refused"}'  # the canonical JSON the chain hashed
    assert rows[0]["created_at"].endswith("Z") and rows[0]["model_name"] == trail.name


def test_the_jsonl_export_lets_an_auditor_re_hash_every_event_offline(client, trail, superuser):
    client.force_login(superuser)
    response, body = export(client, "jsonl")

    assert response.status_code == 200 and response["Content-Type"] == "application/jsonl; charset=utf-8"
    assert response["Content-Disposition"].endswith('.jsonl"')
    records = [json.loads(line) for line in body.splitlines()]
    assert len(records) == AuditEvent.objects.count() >= len(ACTIONS)
    # What the README tells an auditor to run, written without the warehouse's code.
    for record in records:
        content = {key: value for key, value in record.items() if key not in ("prev_hash", "hash")}
        digest = hashlib.sha256(f"{record['prev_hash']}\n{record['sequence']}\n".encode())
        digest.update(json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())
        assert digest.hexdigest() == record["hash"], record["sequence"]
    newest_first = sorted(records, key=lambda record: record["sequence"])
    for earlier, later in zip(newest_first, newest_first[1:], strict=False):
        assert later["prev_hash"] == earlier["hash"]


def test_a_csv_cell_that_a_spreadsheet_would_run_is_written_as_text(client, model, contributor, viewer):
    audit_record(
        actor=contributor,
        action="test.noted",
        target_label='=HYPERLINK("https://evil.example","open")',
        model_name=model.name,
    )
    client.force_login(viewer)
    _, body = export(client, "csv", action="test.noted")
    row = next(csv.DictReader(io.StringIO(body)))
    assert row["target_label"] == '\'=HYPERLINK("https://evil.example","open")'
    _, lines = export(client, "jsonl", action="test.noted")
    assert json.loads(lines)["target_label"].startswith("=HYPERLINK")  # JSON Lines keeps it as stored


def test_an_export_with_wrong_filters_exports_nothing(client, trail, viewer):
    client.force_login(viewer)
    response = client.get(
        reverse("audit-trail-export", args=["csv"]),
        {"since": "2030-01-01T00:00", "until": "2020-01-01T00:00"},
    )
    assert response.status_code == 400 and "Must be after" in response.content.decode()
    assert client.get(reverse("audit-trail-export", args=["xlsx"])).status_code == 404


def test_the_exports_are_for_signed_in_readers(client, trail):
    for export_format in ("csv", "jsonl"):
        url = reverse("audit-trail-export", args=[export_format])
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/sign-in/" in response["Location"]


def test_an_export_holds_only_what_the_page_shows_that_reader(client, trail, outsider, contributor):
    audit_record(actor=outsider, action="api_token.created", target_label="outsider's laptop")
    client.force_login(outsider)
    page = actions_found(client)
    _, body = export(client, "jsonl")
    exported = [json.loads(line) for line in body.splitlines()]
    assert page == ["api_token.created"]
    assert [(r["action"], r["actor_label"], r["model_name"]) for r in exported] == [
        ("api_token.created", outsider.username, "")
    ]
    _, csv_body = export(client, "csv", model=trail.name)
    assert len(csv_body.splitlines()) == 1  # the header alone: the model does not exist for an outsider


# --- Paging by sequence number -------------------------------------------------------------------------


@pytest.fixture
def long_trail(model, contributor):
    """120 events about `model`: more than two pages."""
    from bench.scale.audit_events import audit_events_append

    start = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    audit_events_append(
        {
            "created_at": start + dt.timedelta(minutes=index),
            "actor_id": contributor.pk,
            "actor_label": contributor.username,
            "via": "web",
            "action": "test.refused" if index % 40 == 0 else "test.noted",
            "target_type": "",
            "target_id": "",
            "target_label": f"event {index}",
            "model_name": model.name,
            "data": {"index": index},
        }
        for index in range(120)
    )
    return AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True)[0]


def page_of(client, **params):
    response = client.get(reverse("audit-trail"), params)
    assert response.status_code == 200
    return response.context["page"], response.content.decode()


def test_it_pages_older_and_newer_by_sequence_number(client, long_trail, viewer):
    client.force_login(viewer)
    head = long_trail

    first, html = page_of(client)
    assert [e.sequence for e in first.object_list] == list(range(head, head - 50, -1))
    assert (first.newer, first.older) == (None, head - 49)
    assert f'href="?before={head - 49}" rel="next">Older' in html and "« Newest" not in html
    second, html = page_of(client, before=first.older)
    assert [e.sequence for e in second.object_list] == list(range(head - 50, head - 100, -1))
    assert (second.newer, second.older) == (head - 50, head - 99)
    assert f'href="?after={head - 50}" rel="prev">‹ Newer' in html and 'href="?">« Newest' in html
    back, _ = page_of(client, after=second.newer)
    assert [e.sequence for e in back.object_list] == [e.sequence for e in first.object_list]
    assert back.newer is None and back.older == head - 49
    oldest, _ = page_of(client, before=second.older)
    assert oldest.older is None and oldest.object_list[-1].sequence == 1
    beyond, html = page_of(client, before=1)
    assert beyond.object_list == [] and beyond.newer == 0 and "No events on this page" in html


def test_the_page_links_keep_the_filters(client, long_trail, viewer):
    client.force_login(viewer)

    first, html = page_of(client, action="test.noted")
    assert all(e.action == "test.noted" for e in first.object_list)
    assert f'href="?action=test.noted&amp;before={first.older}"' in html
    second, html = page_of(client, action="test.noted", before=first.older)
    assert all(e.action == "test.noted" for e in second.object_list)
    assert f'href="?action=test.noted&amp;after={second.newer}"' in html
    assert 'href="?action=test.noted">« Newest' in html


def test_it_counts_only_what_fits_on_one_page(client, long_trail, viewer, superuser):
    client.force_login(viewer)
    _, html = page_of(client, action="*.refused")
    assert '<h2 id="events-title">3 events matching</h2>' in html
    _, html = page_of(client, action="test.noted")
    assert '<h2 id="events-title">50 events matching shown</h2>' in html
    _, html = page_of(client, action="test.noted", before=long_trail - 60)
    assert f"50 events matching shown, from #{long_trail - 61} down" in html
    client.force_login(superuser)
    _, html = page_of(client)
    # The whole trail's size, read off the newest event's sequence number: no count over the trail.
    assert f'<h2 id="events-title">The newest 50 of {long_trail} events</h2>' in html


@pytest.mark.parametrize(
    "params, message",
    [
        ({"before": "abc"}, "?before= takes an event's sequence number"),
        ({"before": "-1"}, "?before= takes"),
        ({"after": "1e3"}, "?after= takes"),
        ({"after": "\u00b2"}, "?after= takes"),
        ({"before": str(2**63)}, "?before= takes"),
        ({"before": "5", "after": "2"}, "not both"),
    ],
)
def test_a_page_position_that_is_not_a_sequence_number_is_a_400(client, trail, viewer, params, message):
    client.force_login(viewer)
    response = client.get(reverse("audit-trail"), params)
    assert response.status_code == 400 and message in response.content.decode()


# --- Query counts -------------------------------------------------------------------------------------

AUDIT_EXPORT_QUERIES = (
    7  # session, user, 2 for the trail-wide permission, the reader (accounts.visibility), the reader's
    # models (a list of names when they see few), and one cursor the events stream from
)
AUDIT_PAGE_QUERIES = 7  # tests/registry/test_pages.py's AUDIT_TRAIL_QUERIES, with a wildcard filter
AUDIT_OLDER_PAGE_QUERIES = 8  # + are there newer events?


def _grow_trail(model, contributor, rows: int):
    while AuditEvent.objects.filter(action="test.noted").count() < rows:
        audit_record(
            actor=contributor, action="test.noted", target=model, model_name=model.name, data={"n": rows}
        )


def test_the_filtered_page_queries_do_not_grow(
    client, django_assert_max_num_queries, model, contributor, viewer
):
    client.force_login(viewer)

    def build(rows):
        _grow_trail(model, contributor, rows)
        return reverse("audit-trail") + "?action=*.NOTED&model=FRAUD&actor=" + contributor.username[:3]

    assert_queries_do_not_grow(django_assert_max_num_queries, client, bound=AUDIT_PAGE_QUERIES, build=build)


@pytest.mark.parametrize("export_format", ["csv", "jsonl"])
def test_the_export_queries_do_not_grow(
    client, django_assert_max_num_queries, model, contributor, viewer, export_format
):
    client.force_login(viewer)
    url = reverse("audit-trail-export", args=[export_format]) + "?action=test.*"
    counts = []
    for rows in (1, 50):
        _grow_trail(model, contributor, rows)
        b"".join(client.get(url).streaming_content)  # warm the per-process caches
        with django_assert_max_num_queries(AUDIT_EXPORT_QUERIES) as captured:
            body = b"".join(client.get(url).streaming_content)
        assert body.count(b"test.noted") == rows
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1]


@pytest.mark.parametrize("direction", ["before", "after"])
def test_an_older_or_newer_page_queries_do_not_grow(
    client, django_assert_max_num_queries, model, contributor, viewer, direction
):
    client.force_login(viewer)

    def build(rows):
        _grow_trail(model, contributor, rows + 2)
        events = AuditEvent.objects.filter(action="test.noted").order_by("sequence")
        middle = events[len(events) // 2].sequence
        return reverse("audit-trail") + f"?action=*.NOTED&{direction}={middle}"

    assert_queries_do_not_grow(
        django_assert_max_num_queries, client, bound=AUDIT_OLDER_PAGE_QUERIES, build=build
    )
