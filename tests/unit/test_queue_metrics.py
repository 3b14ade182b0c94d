"""The queue's gauges at a scrape (web/metrics.py): every job of this node reported (0 when
none of its starts wait), the oldest's age, and a scrape that still answers while the
database cannot be read."""

from __future__ import annotations

import datetime as dt

from jobop.domain import utcnow
from jobop.repository.queue_depth import WaitingStarts
from jobop.web import Metrics
from prometheus_client.parser import text_string_to_metric_families


def _samples(metrics: Metrics) -> dict[tuple[str, str], float]:
    text = metrics.exposition().decode()
    return {
        (sample.name, sample.labels.get("job_name", "")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("jobop_queue_")
    }


def test_the_gauges_show_each_job_s_waiting_starts_and_the_oldest_s_age() -> None:
    metrics = Metrics()
    waiting = [WaitingStarts("importJob", 3, utcnow() - dt.timedelta(seconds=90))]
    metrics.follow_queue(lambda: waiting, lambda: ["importJob", "reportJob"])
    samples = _samples(metrics)
    assert samples[("jobop_queue_depth", "importJob")] == 3
    assert 90 <= samples[("jobop_queue_oldest_seconds", "importJob")] < 200
    assert samples[("jobop_queue_depth", "reportJob")] == 0
    assert samples[("jobop_queue_oldest_seconds", "reportJob")] == 0


def test_a_scrape_answers_without_the_queue_while_the_database_is_away() -> None:
    metrics = Metrics()

    def unreadable() -> list[WaitingStarts]:
        raise ConnectionError("connection refused")

    metrics.follow_queue(unreadable, lambda: ["importJob"])
    assert _samples(metrics) == {}
    assert b"jobop_streams_open" in metrics.exposition()
