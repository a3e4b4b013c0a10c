"""The simulator's randomness, a pure function of the seed: hashed uniform and normal numbers, smooth noise."""

from __future__ import annotations

import hashlib
import math

from situationroom.collectors.kinds.simulator.formulas import NORMAL


class Noise:
    """Numbers hashed from (seed, what they are for), so the same seed gives the same city in any order.

    All it keeps is the two knots around the latest time asked of each smooth series: bounded by the
    catalog, never by how long the simulation runs.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._knots: dict[tuple[str, str, str], tuple[int, float, float]] = {}
        """(knot index, its value, the next one's) around the latest time asked, per noisy series and entity."""

    def unit(self, *parts: object) -> float:
        """A uniform number in (0, 1) for `parts`."""
        digest = hashlib.blake2b(repr((self.seed, *parts)).encode(), digest_size=8).digest()
        return (int.from_bytes(digest, "big") + 0.5) / 2.0**64

    def gauss(self, *parts: object) -> float:
        """A standard normal number for `parts`."""
        return NORMAL.inv_cdf(self.unit(*parts))

    def smooth(self, tag: str, name: str, entity: str, t: float, every: float) -> float:
        """Standard-normal noise that changes smoothly: hashed knots every `every`, eased between."""
        x = t / every
        k = math.floor(x)
        f = x - k
        s = f * f * (3 - 2 * f)
        key = (tag, name, entity)
        knots = self._knots.get(key)
        if knots is None or knots[0] != k:
            # Time moves on: the knot that was on the right is now on the left, so one new knot is hashed.
            a = knots[2] if knots is not None and knots[0] == k - 1 else self.gauss(tag, name, entity, k)
            knots = self._knots[key] = (k, a, self.gauss(tag, name, entity, k + 1))
        _, a, b = knots
        return (a * (1 - s) + b * s) / math.sqrt((1 - s) ** 2 + s**2)

    def missing(self, indicator: str, entity: str, t: float, probability: float) -> bool:
        """Whether a value is not delivered (a source's occasional gap)."""
        return probability > 0 and self.unit("missing", indicator, entity, round(t)) < probability
