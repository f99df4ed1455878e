"""Country centroids (package data) and the shortest plausible distance between two countries.

Logins carry a country, not coordinates. Centroid-to-centroid distance would call Shenzhen (CN) to
Hong Kong "1,900 km", so each country also has a radius (sqrt(area / pi)) and the distance used is
centroid distance minus both radii: a lower bound, so an "impossible travel" verdict stays credible.
"""

from __future__ import annotations

import math
from importlib import resources

EARTH_RADIUS_KM = 6371.0

Place = tuple[float, float, float]  # latitude, longitude (radians), radius km


def _load() -> dict[str, Place]:
    text = resources.files("detectors").joinpath("data/country_centroids.csv").read_text(encoding="utf-8")
    places = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        code, lat, lon, radius = line.split(",")
        places[code] = (math.radians(float(lat)), math.radians(float(lon)), float(radius))
    return places


CENTROIDS: dict[str, Place] = _load()


def min_distance_km(country_a: str, country_b: str) -> float | None:
    """Lower bound of the distance between two countries; None if either is not in the table."""
    if country_a == country_b:
        return 0.0
    a = CENTROIDS.get(country_a)
    b = CENTROIDS.get(country_b)
    if a is None or b is None:
        return None
    lat1, lon1, r1 = a
    lat2, lon2, r2 = b
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    centre = 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
    return max(0.0, centre - r1 - r2)
