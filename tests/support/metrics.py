"""Reads a metrics file back with the Prometheus project's own text-format parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def parse_metrics(text: str) -> dict[str, dict[str, float]]:
    """Family name -> {labels as ``name=value`` joined by commas ("" for none): value}. Asserts what
    node_exporter's textfile collector needs besides the parser: a final newline, every family a
    gauge with its help text, declared once, with no duplicate sample."""
    assert text.endswith("\n")
    families: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge" and family.documentation, family
        assert family.name not in families, f"family {family.name} declared twice"
        samples: dict[str, float] = {}
        for sample in family.samples:
            labels = ",".join(f"{name}={value}" for name, value in sorted(sample.labels.items()))
            assert sample.name == family.name and labels not in samples, sample
            samples[labels] = sample.value
        families[family.name] = samples
    return families
