"""The choices a job is made of (audiotext.jobs.choices)."""

from __future__ import annotations

from audiotext.jobs.choices import requested_formats


def test_requested_formats_follow_the_resource_in_their_usual_order() -> None:
    assert requested_formats(None) == ("txt", "json", "srt", "vtt")
    assert requested_formats({}) == ("txt", "json", "srt", "vtt")
    assert requested_formats({"output_formats": ["vtt", "txt"]}) == ("txt", "vtt")
    assert requested_formats({"output_formats": ["srt", "pdf"]}) == ("srt",)
