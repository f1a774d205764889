"""How a run's dataset inputs read as the source run's training data: name@digest and where it lives."""

import pytest

from warehouse.tracking.run_evidence import _dataset_reference


@pytest.mark.parametrize(
    ("dataset", "reference"),
    [
        (
            {
                "name": "train",
                "digest": "ab12",
                "source_type": "s3",
                "source": '{"uri": "s3://lake/train.parquet"}',
            },
            "train@ab12 (s3://lake/train.parquet)",
        ),
        (
            {"name": "train", "digest": "ab12", "source_type": "delta", "source": '{"path": "/mnt/t"}'},
            "train@ab12 (/mnt/t)",
        ),
        (
            {"name": "train", "digest": "ab12", "source_type": "code", "source": '{"tags": {"a": "b"}}'},
            "train@ab12",
        ),
        ({"name": "train", "digest": "", "source_type": "http", "source": "not json"}, "train (not json)"),
        ({"name": "train", "digest": "ab12", "source_type": "hf", "source": '{"other": 1}'}, "train@ab12"),
    ],
)
def test_a_dataset_reads_as_its_name_digest_and_location(dataset, reference):
    assert _dataset_reference(dataset) == reference
