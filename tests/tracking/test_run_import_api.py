"""The API's registration from a tracked run, its import's state and the retry: every documented answer
produced for real against a real tracking server and checked against the OpenAPI document."""

from tests.api.support import bearer, get, post_json
from warehouse.tracking.imports import run_import_execute
from warehouse.tracking.models import RunImport

FROM_RUN = "/models/{name}/versions/from-run"
IMPORT = "/models/{name}/versions/{number}/import"
RETRY = "/models/{name}/versions/{number}/import/retry"


def body_for(run_id: str, **more) -> dict:
    return {
        "source_run": {"tracking_system": "mlflow", "tracking_server": "mlflow-test", "run_id": run_id},
        **more,
    }


def test_every_answer_matches_the_document(
    client, contract, configured, tracked_run, model, contributor, viewer, outsider
):
    writer, reader, stranger = bearer(contributor), bearer(viewer), bearer(outsider)
    seen = set()

    def check(response, path, method="get"):
        contract.check(response, path, method)
        seen.add((path, method, response.status_code))
        return response

    base = f"/models/{model.name}/versions"
    created = check(
        post_json(client, f"{base}/from-run", body_for(tracked_run.run_id), **writer), FROM_RUN, "post"
    )
    assert created.status_code == 201 and created.json()["evidence"] == "pending"
    number = created.json()["version"]
    bad = check(
        post_json(client, f"{base}/from-run", body_for("x", source="runs:/x/../y"), **writer),
        FROM_RUN,
        "post",
    )
    assert bad.status_code == 400 and "source" in bad.json()["error"]["fields"]
    unknown = check(
        post_json(
            client,
            f"{base}/from-run",
            {**body_for("x"), "source_run": {**body_for("x")["source_run"], "tracking_server": "nowhere"}},
            **writer,
        ),
        FROM_RUN,
        "post",
    )
    assert "source_run.tracking_server" in unknown.json()["error"]["fields"]
    assert check(post_json(client, f"{base}/from-run", body_for("x")), FROM_RUN, "post").status_code == 401
    assert (
        check(post_json(client, f"{base}/from-run", body_for("x"), **reader), FROM_RUN, "post").status_code
        == 403
    )
    assert (
        check(post_json(client, f"{base}/from-run", body_for("x"), **stranger), FROM_RUN, "post").status_code
        == 404
    )

    queued = check(get(client, f"{base}/{number}/import", **reader), IMPORT)
    assert queued.json()["state"] == "queued" and queued.json()["failure"] is None
    assert check(get(client, f"{base}/{number}/import"), IMPORT).status_code == 401
    assert check(get(client, f"{base}/{number}/import", **stranger), IMPORT).status_code == 404
    assert (
        check(get(client, f"{base}/1/import", **reader), IMPORT).status_code == 404
    )  # registered with evidence
    assert (
        check(post_json(client, f"{base}/{number}/import/retry", b"", **writer), RETRY, "post").status_code
        == 409
    )

    run_import_execute(import_id=RunImport.objects.get(version__model=model, version__number=number).pk)
    done = check(get(client, f"{base}/{number}/import", **reader), IMPORT).json()
    assert done["state"] == "imported" and done["bytes_done"] == done["bytes_total"] > 0
    assert get(client, f"{base}/{number}", **reader).json()["evidence"] == "attached"

    missing = post_json(client, f"{base}/from-run", body_for("0123456789abcdef0123456789abcdef"), **writer)
    failed_number = missing.json()["version"]
    run_import_execute(
        import_id=RunImport.objects.get(version__model=model, version__number=failed_number).pk
    )
    failed = check(get(client, f"{base}/{failed_number}/import", **reader), IMPORT).json()
    assert failed["state"] == "failed" and failed["failure"]["code"] == "run_not_found"
    retry = f"{base}/{failed_number}/import/retry"
    assert check(post_json(client, retry, b""), RETRY, "post").status_code == 401
    assert check(post_json(client, retry, b"", **reader), RETRY, "post").status_code == 403
    assert check(post_json(client, retry, b"", **stranger), RETRY, "post").status_code == 404
    again = check(post_json(client, retry, b"", **writer), RETRY, "post")
    assert again.status_code == 200 and (again.json()["state"], again.json()["attempts"]) == ("queued", 0)

    documented = {
        (path, method, int(status))
        for path in (FROM_RUN, IMPORT, RETRY)
        for method, operation in contract.document["paths"][path].items()
        for status in operation["responses"]
        if status not in ("429", "500", "503", "411", "413", "415")
    }
    # 409 on a registration is an Idempotency-Key reused with another body (tests/api/test_idempotency.py).
    assert documented - seen == {(FROM_RUN, "post", 409)}
