"""Watermarks and the reorder buffer: views come out in event-time order once every input passed them."""

from __future__ import annotations

from stream.ordering import (
    CAUGHT_UP,
    Announcements,
    ReorderBuffer,
    SourceProgress,
    decode_watermarks,
    encode_watermarks,
)


def test_watermark_message_round_trips_and_is_told_apart_from_views():
    marks = {"payments:3": 1_700_000_000_000, "account-events:0": CAUGHT_UP}
    assert decode_watermarks(encode_watermarks(marks)) == marks
    assert decode_watermarks(b'["P","A1","e1",1]') is None


def test_the_one_source_watermark_of_older_workers_is_still_read():
    assert decode_watermarks(b'W["payments:3",1700000000000]') == {"payments:3": 1_700_000_000_000}
    assert decode_watermarks(b'W["payments:3",null]') == {"payments:3": CAUGHT_UP}


def test_nothing_is_released_until_every_input_partition_reported():
    buffer = ReorderBuffer(frozenset({"p:0", "p:1"}), max_items=100)
    buffer.push(10, "a")
    buffer.mark({"p:0": 50})
    assert buffer.release() == []
    buffer.mark({"p:1": 20})
    assert buffer.release() == ["a"]


def test_release_is_in_event_time_order_up_to_the_slowest_partition():
    buffer = ReorderBuffer(frozenset({"p:0", "p:1"}), max_items=100)
    for time_ms, item in [(30, "c"), (10, "a"), (40, "d"), (20, "b")]:
        buffer.push(time_ms, item)
    buffer.mark({"p:0": 100})
    buffer.mark({"p:1": 30})
    assert buffer.release() == ["a", "b", "c"]
    assert len(buffer) == 1
    buffer.mark({"p:1": CAUGHT_UP})
    assert buffer.release() == ["d"]


def test_equal_times_keep_arrival_order():
    buffer = ReorderBuffer(frozenset({"p:0"}), max_items=100)
    for item in "xyz":
        buffer.push(5, item)
    buffer.mark({"p:0": 5})
    assert buffer.release() == ["x", "y", "z"]


def test_full_buffer_forces_out_the_oldest_and_counts_them():
    buffer = ReorderBuffer(frozenset({"p:0"}), max_items=2)
    assert buffer.push(3, "c") == []
    assert buffer.push(1, "a") == []
    assert buffer.push(2, "b") == ["a"]
    assert buffer.forced == 1
    assert len(buffer) == 2


def test_source_is_caught_up_only_when_read_to_the_end_and_quiet():
    progress = SourceProgress(idle_after_s=2.0)
    progress.advance("p:0", 1000, offset=9, now=100.0)
    assert progress.watermark("p:0", highwater=10, now=101.0) == 1000  # at the end, but just active
    assert progress.watermark("p:0", highwater=10, now=102.5) is CAUGHT_UP
    assert progress.watermark("p:0", highwater=20, now=200.0) == 1000  # more to read
    assert progress.watermark("p:0", highwater=None, now=200.0) == 1000  # end not known yet


def test_empty_partition_stops_holding_back_after_the_quiet_spell():
    progress = SourceProgress(idle_after_s=2.0)
    assert progress.watermark("p:1", highwater=0, now=50.0) == 0
    assert progress.watermark("p:1", highwater=0, now=52.0) is CAUGHT_UP


def test_a_rejected_last_message_still_lets_its_partition_catch_up():
    """A dead letter (no event time) at the end of a partition is read too: the partition must not
    hold every account partition back waiting for an offset it has already passed."""
    progress = SourceProgress(idle_after_s=2.0)
    progress.advance("p:0", 1000, offset=8, now=100.0)
    progress.advance("p:0", None, offset=9, now=100.5)
    assert progress.watermark("p:0", highwater=10, now=103.0) is CAUGHT_UP
    progress.advance("p:0", None, offset=10, now=104.0)
    assert progress.watermark("p:0", highwater=20, now=110.0) == 1000  # a rejection moves no time


def test_source_time_never_goes_back():
    progress = SourceProgress(idle_after_s=2.0)
    progress.advance("p:0", 1000, offset=1, now=1.0)
    progress.advance("p:0", 900, offset=2, now=1.1)
    assert progress.watermark("p:0", highwater=100, now=1.2) == 1000


def test_a_changed_watermark_is_sent_at_once_an_unchanged_one_only_every_refresh():
    announcements = Announcements(refresh_s=5.0)
    assert announcements.due("p:0", 100, now=0.0)
    assert not announcements.due("p:0", 100, now=4.9)
    assert announcements.due("p:0", 120, now=5.0)  # moved on
    assert announcements.due("p:1", 100, now=5.0)  # another partition has its own record
    assert not announcements.due("p:0", 120, now=9.9)
    assert announcements.due("p:0", 120, now=10.0)  # repeated for a partition's new owner
    assert announcements.due("p:0", CAUGHT_UP, now=10.1)
    assert not announcements.due("p:0", CAUGHT_UP, now=12.0)


def test_an_item_every_partition_has_passed_comes_back_at_once_after_older_ones():
    buffer = ReorderBuffer(frozenset({"p:0", "p:1"}), max_items=100)
    buffer.mark({"p:0": 50})
    assert buffer.push(10, "early") == []  # p:1 has not reported: nothing is known to be passed
    buffer.mark({"p:1": 40})
    assert buffer.push(45, "held") == []  # not passed yet
    assert buffer.push(20, "hit") == ["early", "hit"]  # passed: out now, the older held item first
    assert len(buffer) == 1
