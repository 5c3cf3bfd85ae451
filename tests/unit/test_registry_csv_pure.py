"""The CSV codec, pure: whatever the registry holds, its export reads back to the same
devices (hypothesis), and line numbers stay right when a quoted note spans lines."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from devices.lifecycle import DeviceState
from hub.registry import csvio
from hub.registry.records import NO_GATEWAY, DeviceInfo
from hub.store.base import Device, DeviceView, PlacementRecord

AT = datetime(2026, 11, 23, 10, tzinfo=UTC)
UNITS = {"unit-A": "site-1", "unit-B": "site-1", "unit-C": "site-2"}
MODELS = ["alarm_button", "MCCGQ11LM", "HS1EB/HS1EB-E", "smoke_detector"]
# Cells are stripped on import, so generated text has no edge whitespace (and no NUL).
text = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00"),
               max_size=40).map(str.strip)  # fmt: skip
optional = st.one_of(st.none(), text.filter(bool))
ident = st.from_regex(r"[a-z0-9][a-z0-9_.:-]{0,15}", fullmatch=True)


@st.composite
def views(draw: st.DrawFn) -> DeviceView:
    state = draw(st.sampled_from(DeviceState))
    unit = draw(st.sampled_from(sorted(UNITS))) if state.supervised else None
    site = UNITS[unit] if unit else draw(st.sampled_from(["site-1", "site-2"]))
    placement = None
    if unit is not None:
        tags = tuple(draw(st.lists(st.sampled_from(["exit", "night-watch", "stove"]),
                                   max_size=3)))  # fmt: skip
        placement = PlacementRecord("x", unit, draw(optional), draw(optional), None, tags)
    gateway = draw(st.sampled_from(["gw-1", "gw-2"])) if state.supervised else NO_GATEWAY
    device = Device(draw(ident), site, gateway, draw(st.sampled_from(MODELS)), draw(optional))
    installed = AT if state.supervised else None
    info = DeviceInfo(state, draw(optional), draw(optional), installed_at=installed)
    if placement is not None:
        placement = PlacementRecord(device.id, placement.unit, placement.apartment,
                                    placement.room, None, placement.tags)  # fmt: skip
    return DeviceView(device, placement, None, info)


def known(devices: dict[str, DeviceView] | None = None) -> csvio.Known:
    return csvio.Known(frozenset({"site-1", "site-2"}), UNITS, devices or {},
                       lambda m: m in MODELS)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(views(), max_size=8, unique_by=lambda v: v.device.id))
def test_export_reads_back_to_the_same_devices(registry: list[DeviceView]) -> None:
    text_out = csvio.export(registry)
    checked = csvio.check(text_out, known(), "tor", AT)
    assert checked.problems == []
    assert checked.rows == len(registry)
    by_id = {v.device.id: v for v in registry}
    for change in checked.changes:
        original = by_id[change.device.id]
        assert change.device == original.device
        assert change.info == original.info
        assert change.placement == original.placement
    # Against a registry that holds them already, the same file is a no-op that checks clean.
    again = csvio.check(text_out, known(by_id), "tor", AT)
    assert again.problems == []


def test_line_numbers_count_lines_inside_quotes() -> None:
    text_in = ('id,model,site,notes\n'
               'a-1,alarm_button,site-1,"first\nsecond\nthird"\n'
               'a-2,NOPE,site-1,\n')  # fmt: skip
    checked = csvio.check(text_in, known(), "tor", AT)
    assert [(p.line, p.column) for p in checked.problems] == [(5, "model")]
    assert checked.changes == []


def test_nothing_is_returned_to_write_when_one_row_is_bad() -> None:
    good = "\n".join(f"d-{n},alarm_button,site-1" for n in range(50))
    checked = csvio.check(f"id,model,site\n{good}\nd-x,alarm_button,site-3\n", known(), "t", AT)
    assert checked.rows == 51 and checked.changes == []
    assert [(p.line, p.column) for p in checked.problems] == [(52, "site")]
