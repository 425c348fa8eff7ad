"""Reading a role's ``/metrics`` page (Prometheus text) in its suite."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

#: ``{(sample name, sorted labels): value}``
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse_samples(text: str) -> Samples:
    """Every sample of a ``/metrics`` page."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample ``name`` with exactly these ``labels``, 0 when there is none."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)
