"""The built-in sample: IoT sensor telemetry for predictive maintenance, generated deterministically.

One row is one telemetry event of a machine. The label `failure` says whether the machine failed within the
next day; it follows a fixed, non-linear risk function of the sensors (hot + vibrating + worn machines fail),
so a random forest learns it to an AUC of about 0.85-0.9 and the evaluation gate is meaningful.

`drifted=True` simulates covariate drift for the monitoring loop: it changes `temperature`, `vibration` and
the `machine_type` mix, and nothing else. Every other column is identical to the undrifted data of the same
seed (the random numbers are drawn in the same order either way); the risk function is unchanged, so the
failure rate follows the drifted sensors.

`SCHEMA` is the contract the validation step checks (types, ranges, nulls, unique ids, timestamps).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

LABEL = "failure"
ID_COLUMN = "event_id"
TIMESTAMP_COLUMN = "timestamp"
CATEGORICAL_FEATURES = ("machine_type",)
NUMERIC_FEATURES = ("temperature", "vibration", "pressure", "rotation_speed", "voltage", "humidity", "operating_hours")
FEATURES = (*CATEGORICAL_FEATURES, *NUMERIC_FEATURES)
DRIFTED_FEATURES = ("temperature", "vibration", "machine_type")
MACHINE_TYPES = ("A", "B", "C")


@dataclass(frozen=True)
class ColumnSpec:
    """One column of the telemetry schema: its kind, the physically possible range or the allowed values."""

    kind: str  # "string" | "category" | "timestamp" | "float" | "label"
    min_value: float | pd.Timestamp | None = None
    max_value: float | pd.Timestamp | None = None
    allowed: tuple | None = None
    unique: bool = False
    description: str = ""


# Ranges are sensor limits (what a healthy or failing machine can report), not the sample's spread, so real
# data passes and a unit mix-up (Fahrenheit, bar vs. Pa) fails.
SCHEMA: dict[str, ColumnSpec] = {
    "event_id": ColumnSpec("string", unique=True, description="unique id of the telemetry event"),
    "device_id": ColumnSpec("string", description="the machine that sent the event"),
    "timestamp": ColumnSpec(
        "timestamp",
        min_value=pd.Timestamp("2015-01-01", tz="UTC"),
        max_value=pd.Timestamp("2100-01-01", tz="UTC"),
        description="event time, timezone-aware UTC",
    ),
    "machine_type": ColumnSpec("category", allowed=MACHINE_TYPES, description="machine model family"),
    "temperature": ColumnSpec("float", -40.0, 150.0, description="bearing temperature, degrees Celsius"),
    "vibration": ColumnSpec("float", 0.0, 100.0, description="vibration velocity RMS, mm/s"),
    "pressure": ColumnSpec("float", 0.0, 20.0, description="hydraulic pressure, bar"),
    "rotation_speed": ColumnSpec("float", 0.0, 5000.0, description="spindle speed, rpm"),
    "voltage": ColumnSpec("float", 150.0, 300.0, description="supply voltage, V"),
    "humidity": ColumnSpec("float", 0.0, 100.0, description="relative humidity, %"),
    "operating_hours": ColumnSpec("float", 0.0, 200_000.0, description="hours since installation or overhaul"),
    "failure": ColumnSpec("label", allowed=(0, 1), description="1 if the machine failed within 24 h"),
}

_MIX = {False: (0.5, 0.3, 0.2), True: (0.2, 0.3, 0.5)}  # machine_type shares, undrifted and drifted
_TEMPERATURE_BY_TYPE = np.array([65.0, 70.0, 75.0])
_VIBRATION_BY_TYPE = np.array([3.0, 3.5, 4.0])
_START = pd.Timestamp("2024-01-01", tz="UTC")
_DAYS = 90
_DEVICES_PER_1000_ROWS = 25


def generate_telemetry(rows: int = 20_000, seed: int = 7, drifted: bool = False) -> pd.DataFrame:
    """Deterministic telemetry with a learnable failure label; see the module docstring for `drifted`."""
    if rows < 1:
        raise ValueError(f"rows must be positive, got {rows}")
    rng = np.random.default_rng(seed)
    devices = max(10, rows * _DEVICES_PER_1000_ROWS // 1000)
    device = rng.integers(0, devices, rows)
    seconds = np.sort(rng.uniform(0, _DAYS * 86_400, rows))
    type_draw = rng.uniform(0, 1, rows)
    noise = rng.standard_normal((7, rows))
    label_draw = rng.uniform(0, 1, rows)

    machine = np.searchsorted(np.cumsum(_MIX[drifted]), type_draw, side="right").clip(0, len(MACHINE_TYPES) - 1)
    temperature = _TEMPERATURE_BY_TYPE[machine] + 6.0 * noise[0] + (5.0 if drifted else 0.0)
    vibration = np.abs(_VIBRATION_BY_TYPE[machine] * (1.3 if drifted else 1.0) + 1.2 * noise[1])
    pressure = 6.0 + 0.8 * noise[2]
    rotation_speed = 1500.0 + 150.0 * noise[3]
    voltage = 230.0 + 4.0 * noise[4]
    humidity = np.clip(50.0 + 12.0 * noise[5], 5.0, 95.0)
    device_age = np.random.default_rng([seed, 1]).uniform(0, 40_000, devices)
    operating_hours = device_age[device] + seconds / 3600.0 + 50.0 * np.abs(noise[6])

    risk = (
        0.2 * (temperature - 72.0)
        + 0.9 * (vibration - 3.5)
        + 0.4 * np.maximum(temperature - 80.0, 0.0) * (vibration > 5.0)
        + 1.0 * (operating_hours > 30_000)
        + 0.006 * np.abs(rotation_speed - 1500.0)
        - 4.3
    )
    failure = (label_draw < 1.0 / (1.0 + np.exp(-risk))).astype("int64")

    return pd.DataFrame(
        {
            "event_id": [f"evt-{seed:04d}-{i:08d}" for i in range(rows)],
            "device_id": [f"dev-{d:05d}" for d in device],
            "timestamp": (_START + pd.to_timedelta(seconds.round(3), unit="s")).as_unit("ns"),
            "machine_type": np.array(MACHINE_TYPES)[machine],
            "temperature": temperature.round(2),
            "vibration": vibration.round(3),
            "pressure": pressure.round(3),
            "rotation_speed": rotation_speed.round(1),
            "voltage": voltage.round(2),
            "humidity": humidity.round(2),
            "operating_hours": operating_hours.round(2),
            "failure": failure,
        }
    ).astype({"event_id": "str", "device_id": "str", "machine_type": "str"})


def write_sample(path: Path | str, rows: int = 20_000, seed: int = 7, drifted: bool = False) -> Path:
    """Write the sample as CSV or Parquet, chosen by the file suffix."""
    path = Path(path)
    frame = generate_telemetry(rows, seed, drifted)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        raise ValueError(f"{path}: use a .csv or .parquet suffix")
    return path
