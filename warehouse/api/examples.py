"""The request bodies the document shows as examples; the contract tests send them for real."""

from warehouse.promotions.policies.rules import Check

EXAMPLE_REGISTRATION = {
    "description": "Retrained on October data; adds merchant-age features.",
    "artifacts": [
        {
            "name": "model.onnx",
            "kind": "weights",
            "uri": "s3://models/fraud-scorer/v8/model.onnx",
            "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "size_bytes": 48213504,
        },
        {
            "name": "config.json",
            "kind": "config",
            "uri": "s3://models/fraud-scorer/v8/config.json",
            "sha256": "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752",
            "size_bytes": 2048,
        },
    ],
    "source_run": {
        "tracking_system": "mlflow",
        "run_id": "8c2f1e0a",
        "url": "https://mlflow.example.com/#/runs/8c2f1e0a",
        "git_commit": "3f9a2c1d7e",
        "training_data": "s3://data/payments/2026-10",
    },
    "evaluation": {
        "dataset": "payments-holdout",
        "dataset_version": "2026-10",
        "metrics": [
            {"name": "auc", "value": 0.912},
            {"name": "log_loss", "value": 0.208},
            {"name": "approval_rate", "value": 0.87, "direction": "higher"},
        ],
        "slices": [
            {"slice": "region=EU", "metric": "auc", "value": 0.905, "sample_count": 41230},
            {"slice": "region=US,device=mobile", "metric": "auc", "value": 0.889, "sample_count": 9120},
        ],
    },
    "profile": {
        "latency_p50_ms": 4.1,
        "latency_p95_ms": 9.5,
        "latency_p99_ms": 15.0,
        "hardware": "c6i.xlarge",
        "throughput_rps": 850,
        "cost_per_1k_predictions": "0.0125",
        "currency": "USD",
    },
    "card": {
        "task": "Scores card payments for fraud before authorisation.",
        "known_failures": "Merchants in their first week score high; review before declining.",
    },
    "model": {"description": "Card-payment fraud scoring.", "team": "payments"},
}

EXAMPLE_POLICY_UPDATE = {
    "rules": {
        "draft_to_staging": {
            "required_checks": ["source_run", "artifacts", "evaluation", "owner"],
            "required_card_sections": ["task"],
            "signoffs": {"count": 1, "roles": ["reviewer"]},
        },
        "staging_to_production": {
            "required_checks": list(Check.ALL),
            "metric_bars": [{"metric": "auc", "op": ">=", "value": 0.9}],
            "baseline": [
                {"metric": "auc", "tolerance": 0.002},
                {"metric": "log_loss", "tolerance": 0.05, "relative": True, "direction": "lower"},
            ],
            "slices": {"scope": "all", "max_worsening": 0.005, "min_samples": 500},
            "latency_p95_ms_max": 25,
            "cost_per_1k_max": 0.05,
            "required_card_sections": ["task", "known_failures", "owners_contacts"],
            "signoffs": {"count": 2, "roles": ["approver"]},
            "allow_first_production": True,
        },
    },
    "reason": "The review board's checklist from the Q3 incident review.",
}
