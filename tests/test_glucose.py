"""The glucose readings of recipe 06: loading, gaps, the regular grid, the split, the windows, the Clarke grid."""

import gzip

import numpy as np
import pandas as pd
import pytest

import helpers

FIVE_MINUTES = helpers.GLUCOSE_STEP


@pytest.fixture(scope="module")
def readings() -> pd.DataFrame:
    return helpers.load_glucose()


def synthetic_readings(minutes: list[int], glucose: list[float] | None = None) -> pd.DataFrame:
    times = pd.Timestamp("2010-01-01") + pd.to_timedelta(minutes, unit="min")
    values = glucose if glucose is not None else [100.0 + m for m in minutes]
    return pd.DataFrame({"glucose": values, "isig": [20.0] * len(minutes)}, index=pd.DatetimeIndex(times, name="datetime"))


def test_the_packaged_file_loads_as_the_sensor_reported_it(readings):
    assert len(readings) == 52_281
    assert list(readings.columns) == ["glucose", "isig"]
    assert readings.index.is_monotonic_increasing
    assert readings.index[0] == pd.Timestamp("2010-03-24 09:51") and readings.index[-1] == pd.Timestamp("2010-10-10 23:57")
    low, high = helpers.GLUCOSE_RANGE
    assert readings["glucose"].between(low, high).all() and readings["glucose"].notna().all()


def test_nil_isig_readings_become_missing_values(readings):
    with gzip.open(helpers._glucose_file(), "rt") as raw:
        nil_lines = sum(line.startswith("nil,") for line in raw)
    assert nil_lines == 1_061
    assert readings["isig"].isna().sum() == nil_lines
    assert np.isnan(readings.loc[pd.Timestamp("2010-08-24 12:38"), "isig"])


def test_a_changed_file_is_refused(tmp_path):
    changed = tmp_path / "CGM.csv.gz"
    changed.write_bytes(gzip.compress(b"isig,datetime,glucose\n22.59,2010-03-24 09:51:00,258\n"))
    with pytest.raises(helpers.BadDataSet, match="sha256"):
        helpers.load_glucose(changed)


def test_a_missing_package_says_what_to_install(monkeypatch):
    monkeypatch.setattr(helpers, "GLUCOSE_PACKAGE", "no_such_sampledata_package")
    with pytest.raises(helpers.DataSetUnavailable, match=r"pip install no_such_sampledata_package==2026\.1"):
        helpers.load_glucose()


def test_gaps_are_found_where_they_are(readings):
    gaps = helpers.glucose_gaps(readings)
    assert len(gaps) == 181
    assert (gaps["duration"] > pd.Timedelta(hours=3)).sum() == 49
    assert gaps["duration"].max() == pd.Timedelta(hours=27, minutes=55)
    synthetic = synthetic_readings([0, 5, 10, 25, 30, 35, 90])
    found = helpers.glucose_gaps(synthetic)
    assert list(found["start"].dt.minute) == [10, 35] and list(found["end"].dt.minute) == [25, 30]
    assert list(found["duration"]) == [pd.Timedelta(minutes=15), pd.Timedelta(minutes=55)]


def test_the_grid_fills_single_missing_readings_and_keeps_longer_gaps():
    grid = helpers.regular_glucose(synthetic_readings([0, 5, 10, 20, 25, 45, 50, 51]))
    assert grid.index.freq == FIVE_MINUTES
    minutes = list(grid.index.minute)
    assert minutes == [0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50]
    glucose = grid["glucose"].to_numpy()
    assert glucose[3] == pytest.approx(115.0)  # 15 min interpolated between 110 and 120
    assert np.isnan(glucose[6:9]).all()  # three missing bins: a gap, never filled in part
    assert glucose[10] == pytest.approx(150.5)  # two readings in one bin are averaged
    assert list(grid.index[grid["filled"]].minute) == [15]


def test_the_split_is_chronological_without_overlap(readings):
    grid = helpers.regular_glucose(readings)
    periods = helpers.split_by_time(grid)
    assert list(periods) == ["train", "validation", "test"]
    assert sum(len(p) for p in periods.values()) == len(grid)
    assert periods["train"].index[-1] < periods["validation"].index[0]
    assert periods["validation"].index[-1] < periods["test"].index[0]
    assert len(periods["test"]) / len(grid) == pytest.approx(0.15, abs=1e-3)
    with pytest.raises(ValueError, match="add up to 1"):
        helpers.split_by_time(grid, (0.5, 0.2, 0.2))


def test_windows_never_span_a_gap_and_their_targets_are_the_later_readings(readings):
    grid = helpers.regular_glucose(readings)
    steps, horizons = 12, (6, 12)
    row_numbers = np.arange(len(grid), dtype=float)  # a second column that says which row each input came from
    features = np.column_stack([grid["glucose"].to_numpy(), row_numbers])
    windows = helpers.glucose_windows(grid, features, steps, horizons)
    positions = grid.index.get_indexer(windows.times)
    assert (positions >= 0).all()
    glucose = grid["glucose"].to_numpy()
    spans = positions[:, None] + np.arange(-(steps - 1), max(horizons) + 1)[None, :]
    assert not np.isnan(glucose[spans]).any(), "a window or its targets reaches into a gap"
    np.testing.assert_allclose(windows.inputs[:, :, 0], glucose[spans[:, :steps]], rtol=1e-6)
    np.testing.assert_array_equal(windows.inputs[:, :, 1], spans[:, :steps])  # the features' rows, in order
    np.testing.assert_allclose(windows.targets, glucose[positions[:, None] + np.array(horizons)], rtol=1e-6)
    np.testing.assert_allclose(windows.last, glucose[positions], rtol=1e-6)
    # Every place where a window could end has one: none is lost at the segment edges.
    valid_ends = [end for start, stop in helpers.glucose_segments(grid)
                  for end in range(start + steps - 1, stop - max(horizons))]
    assert sorted(positions) == valid_ends


def test_windows_of_a_small_series_by_hand():
    grid = helpers.regular_glucose(synthetic_readings([0, 5, 10, 15, 20, 40, 45, 50, 55, 60, 65]))
    windows = helpers.glucose_windows(grid, grid[["glucose"]].to_numpy(), input_steps=2, horizons=(1, 2))
    # Segment 0-20 min (5 rows) gives windows ending at 5 and 10 min; 40-65 min (6 rows) at 45, 50 and 55 min.
    assert list(windows.times.minute) == [5, 10, 45, 50, 55]
    np.testing.assert_allclose(windows.targets[0], [110, 115])
    with pytest.raises(ValueError, match="no segment is long enough"):
        helpers.glucose_windows(grid, grid[["glucose"]].to_numpy(), input_steps=6, horizons=(1,))
    with pytest.raises(ValueError, match="horizons"):  # a target inside the window would leak it
        helpers.glucose_windows(grid, grid[["glucose"]].to_numpy(), input_steps=2, horizons=(0, 1))


@pytest.mark.parametrize("reference, prediction, zone", [
    (100, 100, "A"), (100, 119, "A"), (50, 65, "A"),  # within 20%, or both below 70
    (200, 120, "B"), (100, 130, "B"),                  # off by more than 20%, benign
    (100, 250, "C"), (150, 20, "C"),                   # overcorrection
    (250, 100, "D"), (50, 100, "D"), (65, 90, "D"),    # a high or low missed
    (300, 60, "E"), (50, 200, "E"),                    # the opposite treatment
    # either side of each boundary
    (100, 120, "A"), (100, 121, "B"), (100, 80, "A"), (100, 79, "B"),
    (100, 209, "B"), (100, 210, "C"), (65, 77, "A"), (65, 79, "D"),
])
def test_clarke_zones_of_known_points(reference, prediction, zone):
    assert helpers.clarke_zones(np.array([reference]), np.array([prediction]))[0] == zone


def test_clarke_zones_refuse_missing_values():
    with pytest.raises(ValueError, match="NaN"):
        helpers.clarke_zones(np.array([100.0, np.nan]), np.array([100.0, 100.0]))


def test_clarke_grid_plot_returns_zone_shares():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    share = helpers.plot_clarke_grid(ax, np.array([100, 100, 300, 50]), np.array([100, 130, 60, 65]), "test")
    assert list(share.index) == list(helpers.CLARKE_ZONES)
    assert share.to_dict() == {"A": 0.5, "B": 0.25, "C": 0.0, "D": 0.0, "E": 0.25}
    assert ax.get_xlabel() == "measured glucose (mg/dL)"
    plt.close(fig)
