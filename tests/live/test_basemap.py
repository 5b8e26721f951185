"""The race's offline basemap and [map] table: the default race's loads, and every kind of broken
file is refused with the file, the feature and what is wrong."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from live.race.errors import RaceError
from live.race.race_file import load_race
from tests.helpers.paths import PARIS


def test_default_race_has_the_paris_basemap(paris):
    bm = paris.basemap
    assert bm is not None and "© OpenStreetMap contributors" in bm.attribution
    names = {f.name for f in bm.of("landmark")}
    assert {"Arc de Triomphe", "Obélisque de Louxor", "Grand Palais"} <= names
    assert any(f.name == "La Seine" for f in bm.of("water"))
    assert any(f.name == "Avenue des Champs-Élysées" for f in bm.of("street"))
    assert paris.tiles is None, "online tiles are off unless race.toml asks for them"


@pytest.fixture
def race_dir(tmp_path: Path) -> Path:
    target = tmp_path / "race"
    shutil.copytree(PARIS, target)
    return target


def _write_basemap(race_dir: Path, doc: dict) -> None:
    (race_dir / "basemap.geojson").write_text(json.dumps(doc), encoding="utf-8")


ARC = [2.295032, 48.87378]
STREET = {"type": "Feature", "properties": {"kind": "street", "highway": "primary"},
          "geometry": {"type": "LineString", "coordinates": [ARC, [2.2960, 48.8734]]}}  # fmt: skip


POINT = {"type": "Point", "coordinates": ARC}


def test_a_basemap_is_optional(race_dir):
    toml = race_dir / "race.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('basemap = "basemap.geojson"', ""), encoding="utf-8")
    (race_dir / "basemap.geojson").unlink()
    assert load_race(race_dir).basemap is None


@pytest.mark.parametrize(
    ("doc", "where", "says"),
    [
        ({"type": "Feature"}, "", "FeatureCollection"),
        ({"type": "FeatureCollection", "features": [STREET]}, "attribution", "must be credited"),
        ({"type": "FeatureCollection", "attribution": "©", "features": [{**STREET, "properties": {"kind": "road"}}]},
         "features[0].properties.kind", "must be one of"),
        ({"type": "FeatureCollection", "attribution": "©",
          "features": [{**STREET, "geometry": POINT}]},
         "features[0].geometry.type", "a street must be LineString"),
        ({"type": "FeatureCollection", "attribution": "©",
          "features": [STREET, {**STREET, "geometry": {"type": "LineString", "coordinates": [ARC, [2.3, "north"]]}}]},
         "features[1].geometry.coordinates", "expected numbers"),
        ({"type": "FeatureCollection", "attribution": "©",
          "features": [{**STREET, "geometry": {"type": "LineString", "coordinates": [ARC, [200, 48.8]]}}]},
         "features[0].geometry.coordinates", "not a lon/lat"),
        ({"type": "FeatureCollection", "attribution": "©",
          "features": [{**STREET, "properties": {"kind": "landmark"}, "geometry": POINT}]},
         "features[0].properties.name", "needs a name"),
        ({"type": "FeatureCollection", "attribution": "©",
          "features": [{**STREET, "geometry": {"type": "LineString", "coordinates": [[4.83, 45.76], [4.84, 45.76]]}}]},
         "", "no feature within 2,000 m of the course"),
    ],
)  # fmt: skip
def test_broken_basemaps_name_file_feature_and_problem(race_dir, doc, where, says):
    _write_basemap(race_dir, doc)
    with pytest.raises(RaceError) as err:
        load_race(race_dir)
    assert err.value.file.endswith("basemap.geojson")
    assert err.value.where == where and says in err.value.message, str(err.value)


def test_a_basemap_that_is_not_json_or_missing(race_dir):
    (race_dir / "basemap.geojson").write_text("{not json", encoding="utf-8")
    with pytest.raises(RaceError, match="not valid GeoJSON"):
        load_race(race_dir)
    (race_dir / "basemap.geojson").unlink()
    with pytest.raises(RaceError, match="basemap file not found"):
        load_race(race_dir)


@pytest.mark.parametrize(
    ("table", "where", "says"),
    [
        ('tiles = "ftp://tiles.example/{z}/{x}/{y}.png"', "map.tiles", "http(s) URL"),
        ('tiles = "https://tiles.example/{z}/{x}.png"', "map.tiles", "lacks {y}"),
        ('tiles = "https://t.example/{z}/{x}/{y}.png"\ntiles_attribution = ""', "map.tiles_attribution", "credited"),
        ('tiles = "https://t.example/{z}/{x}/{y}.png"\ntiles_max_zoom = 40', "map.tiles_max_zoom", "0–22"),
    ],
)
def test_a_broken_tile_layer_is_refused(race_dir, table, where, says):
    toml = race_dir / "race.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + f"\n[map]\n{table}\n", encoding="utf-8")
    with pytest.raises(RaceError) as err:
        load_race(race_dir)
    assert err.value.where == where and says in err.value.message, str(err.value)


def test_a_tile_layer_is_read(race_dir):
    toml = race_dir / "race.toml"
    url = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    toml.write_text(toml.read_text(encoding="utf-8") + f'\n[map]\ntiles = "{url}"\n', encoding="utf-8")
    tiles = load_race(race_dir).tiles
    assert tiles is not None and tiles.url == url and tiles.attribution == "© OpenStreetMap contributors"
