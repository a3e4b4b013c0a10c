"""The simulator's pure formulas: Poisson counts, KMA's apparent temperature, Korea's CAI, profile interpolation."""

from __future__ import annotations

import math
from statistics import NormalDist

NORMAL = NormalDist()

# Korean CAI (통합대기환경지수) breakpoints: concentration bands mapped onto index bands.
_CAI_INDEX = ((0, 50), (51, 100), (101, 250), (251, 500))
_CAI_BANDS: dict[str, tuple[tuple[float, float], ...]] = {
    "pm10": ((0, 30), (31, 80), (81, 150), (151, 600)),
    "pm25": ((0, 15), (16, 35), (36, 75), (76, 500)),
    "o3": ((0, 0.030), (0.031, 0.090), (0.091, 0.150), (0.151, 0.600)),
    "no2": ((0, 0.030), (0.031, 0.060), (0.061, 0.200), (0.201, 2.0)),
    "co": ((0, 2), (2.01, 9), (9.01, 15), (15.01, 50)),
    "so2": ((0, 0.020), (0.021, 0.050), (0.051, 0.150), (0.151, 1.0)),
}


def poisson(mean: float, u: float) -> int:
    """The Poisson count at cumulative probability `u` (inverse CDF; normal approximation when large)."""
    if mean <= 0:
        return 0
    if mean > 60:
        return max(0, round(mean + math.sqrt(mean) * NORMAL.inv_cdf(u)))
    k, p = 0, math.exp(-mean)
    cdf = p
    while cdf < u and k < 1000:
        k += 1
        p *= mean / k
        cdf += p
    return k


def apparent_temperature(temperature: float, humidity: float, wind: float, *, month: int) -> float:
    """KMA's apparent temperature: from wet-bulb temperature in May-September, wind chill otherwise."""
    if 5 <= month <= 9:
        rh = max(0.0, min(100.0, humidity))
        tw = (temperature * math.atan(0.151977 * math.sqrt(rh + 8.313659)) + math.atan(temperature + rh)
              - math.atan(rh - 1.67633) + 0.00391838 * rh**1.5 * math.atan(0.023101 * rh) - 4.686035)
        return (-0.2442 + 0.55399 * tw + 0.45535 * temperature - 0.0022 * tw**2
                + 0.00278 * tw * temperature + 3.0)
    v = wind * 3.6
    if temperature <= 10 and v >= 4.8:
        return 13.12 + 0.6215 * temperature - 11.37 * v**0.16 + 0.3965 * v**0.16 * temperature
    return temperature


def cai(pm10: float, pm25: float, o3: float, no2: float, co: float, so2: float) -> float:
    """Korea's comprehensive air-quality index: the worst pollutant's sub-index."""
    worst = 0.0
    for pollutant, c in (("pm10", pm10), ("pm25", pm25), ("o3", o3), ("no2", no2), ("co", co), ("so2", so2)):
        bands = _CAI_BANDS[pollutant]
        for (lo, hi), (ilo, ihi) in zip(bands, _CAI_INDEX, strict=True):
            if c <= hi or (lo, hi) == bands[-1]:
                c = min(c, hi)
                worst = max(worst, ilo + (ihi - ilo) * max(0.0, c - lo) / (hi - lo))
                break
    return worst


def at_hour(values: list[float], hour: float) -> float:
    """A 24-hour profile's value at `hour` (0 <= hour < 24), interpolated between its hourly values."""
    i = int(hour) % 24
    f = hour - int(hour)
    return values[i] * (1 - f) + values[(i + 1) % 24] * f


def through_the_year(monthly: list[float], month_pos: float) -> float:
    """A value of 12 monthly ones at a position in the year (0..12)."""
    # Monthly values sit at mid-month; interpolate between neighbours, wrapping the year.
    x = month_pos - 0.5
    i = math.floor(x)
    f = x - i
    return monthly[i % 12] * (1 - f) + monthly[(i + 1) % 12] * f
