"""What the map draws of the basemap, and how it is served: light, cached, nothing on the course."""

from __future__ import annotations

import gzip
import json
import shutil

import httpx
import numpy as np
import pytest

from dashboard.app import BASEMAP_PATH, race_meta
from dashboard.map_data import OFF_COURSE_M, SIMPLIFY_M, BasemapAsset, basemap_document, race_labels, simplify
from live.race.errors import RaceError
from live.race.race_file import load_race
from pursuit.web import create_app
from tests.helpers import running_uvicorn
from tests.helpers.paths import PARIS


def _decode(steps: list[int]) -> np.ndarray:
    return np.cumsum(np.asarray(steps).reshape(-1, 2), axis=0)


def test_simplify_keeps_the_ends_and_stays_within_tolerance():
    t = np.linspace(0, np.pi, 400)
    line = np.column_stack([t * 300, np.sin(t) * 40])
    kept = simplify(line, SIMPLIFY_M)
    assert len(kept) < 60 and (kept[0] == line[0]).all() and (kept[-1] == line[-1]).all()
    # every original point lies within the tolerance of the simplified line
    for p in line[::7]:
        seg_d = []
        for a, b in zip(kept[:-1], kept[1:], strict=True):
            ab, ap = b - a, p - a
            u = np.clip(np.dot(ap, ab) / np.dot(ab, ab), 0, 1)
            seg_d.append(np.hypot(*(ap - u * ab)))
        assert min(seg_d) <= SIMPLIFY_M + 1e-9


def test_the_drawn_basemap_is_small_and_keeps_what_a_spectator_recognises(paris):
    doc = basemap_document(paris, paris.basemap)
    body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    assert len(gzip.compress(body)) < 40_000, "a joining phone downloads it: it must stay light"
    kept = sum(len(lines) for lines in doc["streets"])
    footways = sum(1 for f in paris.basemap.of("street") if f.properties.get("highway") == "footway")
    assert 0 < kept < len(paris.basemap.of("street")) - footways, "footways, service roads and tunnels are left out"
    assert doc["water"] and doc["parks"]
    texts = {lb["t"] for lb in doc["labels"]}
    assert {"Arc de Triomphe", "La Seine", "Avenue des Champs-Élysées", "Avenue Montaigne"} <= texts
    priorities = [lb["p"] for lb in doc["labels"]]
    assert priorities == sorted(priorities), "landmarks before the Seine before avenues before small streets"
    # every line is whole metres around the course, and a street name is never on the course itself
    cx, cy = paris.course.xy_at(np.linspace(0, paris.distance_m, 2000))
    for lb in doc["labels"]:
        if lb["k"] in ("major", "street"):
            assert np.min(np.hypot(cx - lb["x"], cy - lb["y"])) > OFF_COURSE_M, lb
    xy = _decode(doc["streets"][2][0])
    assert np.abs(xy).max() < 5000


def test_race_labels_name_every_mat_once_and_share_a_place():
    race = load_race(PARIS)
    labels = race_labels(race)
    mats = [lb["t"] for lb in labels if lb["k"] == "mat"]
    assert "Départ / Arrivée" in mats, "the start and finish mats lie together: one label, by their names"
    assert sorted(" / ".join(mats).split(" / ")) == sorted(m.name for m in race.mats)
    assert "Rue Marbeuf" in mats and "Avenue George V" in mats, mats
    assert [lb["t"] for lb in labels if lb["k"] == "km"] == ["1 km", "2 km", "3 km", "4 km"]


async def test_the_basemap_is_served_gzipped_and_cached_for_good(redis_server, paris, tmp_path):
    meta = race_meta(paris)
    url = meta["map"]["basemap"]
    assert url.startswith(BASEMAP_PATH + "?v=")
    async with running_uvicorn(create_app(paris, redis_server.url)) as base, httpx.AsyncClient() as client:
        got = await client.get(base + url, headers={"Accept-Encoding": "gzip"})
        assert got.status_code == 200 and got.headers["content-encoding"] == "gzip"
        assert "immutable" in got.headers["cache-control"]
        assert int(got.headers["content-length"]) < 40_000
        assert got.json()["attribution"].startswith("© OpenStreetMap contributors")
        again = await client.get(base + url, headers={"If-None-Match": got.headers["etag"]})
        assert again.status_code == 304 and not again.content

    plain = tmp_path / "race"
    shutil.copytree(PARIS, plain)
    toml = plain / "race.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('basemap = "basemap.geojson"', ""), encoding="utf-8")
    race = load_race(plain)
    assert race_meta(race)["map"]["basemap"] is None and not BasemapAsset(race).body
    async with running_uvicorn(create_app(race, redis_server.url)) as base, httpx.AsyncClient() as client:
        missing = await client.get(base + BASEMAP_PATH)
        assert missing.status_code == 404 and "no basemap" in missing.json()["error"]


def test_a_mat_without_a_name_is_labelled_by_its_id_and_a_bad_name_is_refused(tmp_path):
    """``[[mats]] name`` is optional (the id stands in); an empty one is an error naming its key."""
    shutil.copytree(PARIS, tmp_path / "r")
    toml = tmp_path / "r" / "race.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(text.replace('name = "Rue Marbeuf"\n', ""), encoding="utf-8")
    mats = [lb["t"] for lb in race_labels(load_race(tmp_path / "r")) if lb["k"] == "mat"]
    assert "marbeuf" in mats and "Avenue George V" in mats, mats
    toml.write_text(text.replace('name = "Rue Marbeuf"', 'name = ""'), encoding="utf-8")
    with pytest.raises(RaceError, match=r"mats\[1\]\.name"):
        load_race(tmp_path / "r")
