"""Tile tags: "this class is present / absent in this rectangle of the image".

One image-level tag says little about a large image; a grid of tagged tiles says where. A class's
tile tags on one image are one layer (kind "tiles", keyed by the class like a tag) whose every
revision holds the whole set, `{"tiles": [[x, y, width, height, present], ...]}` in image pixels,
so history, restore and the 409 rule work as for every layer. Pure: no database here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labeling.errors import InvalidInput


@dataclass(frozen=True)
class TileTag:
    """A rectangle of the image (x, y: its top-left pixel) and whether the class is in it."""

    x: int
    y: int
    width: int
    height: int
    present: bool

    def to_json(self) -> list[Any]:
        return [self.x, self.y, self.width, self.height, self.present]


@dataclass(frozen=True)
class TileLimits:
    """Settings: a tile's side in pixels (a side that reaches the image's edge may be shorter than
    `min_size`, as a grid's last row and column are) and the most tiles of one image, all classes."""

    min_size: int
    max_size: int
    max_per_image: int


FORMAT = '{"tiles": [[x, y, width, height, present], ...]} with whole pixels and present true or false'


def parse_tiles(
    data: Any, *, image_width: int, image_height: int, limits: TileLimits, elsewhere: int = 0
) -> list[TileTag]:
    """A save's tiles, checked against the image and the limits; `elsewhere` counts the image's
    tiles of other classes. Raises InvalidInput saying what to change."""
    if not isinstance(data, dict) or set(data) != {"tiles"} or not isinstance(data["tiles"], list):
        raise InvalidInput(f"Tile tags' data is {FORMAT}.")
    raw = data["tiles"]
    if len(raw) + elsewhere > limits.max_per_image:
        raise InvalidInput(
            f"An image holds at most {limits.max_per_image} tile tags (all classes); this save would "
            f"make {len(raw) + elsewhere}. Use larger tiles."
        )
    tiles = [_tile(item) for item in raw]
    seen: set[tuple[int, int, int, int]] = set()
    for tile in tiles:
        _check_bounds(tile, image_width, image_height, limits)
        box = (tile.x, tile.y, tile.width, tile.height)
        if box in seen:
            raise InvalidInput(
                f"The tile at ({tile.x}, {tile.y}), {tile.width}x{tile.height}, is given twice."
            )
        seen.add(box)
    return tiles


def tiles_of(data: dict[str, Any]) -> list[TileTag]:
    """The tiles a stored revision holds (already validated when it was saved)."""
    return [TileTag(int(x), int(y), int(w), int(h), bool(p)) for x, y, w, h, p in data.get("tiles", [])]


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _tile(item: Any) -> TileTag:
    if not (
        isinstance(item, list)
        and len(item) == 5
        and all(_whole(v) for v in item[:4])
        and isinstance(item[4], bool)
    ):
        raise InvalidInput(f"Each tile is [x, y, width, height, present]: {FORMAT}; got {item!r}.")
    return TileTag(*item)


def _check_bounds(tile: TileTag, image_width: int, image_height: int, limits: TileLimits) -> None:
    where = f"The tile at ({tile.x}, {tile.y}), {tile.width}x{tile.height},"
    if tile.x < 0 or tile.y < 0 or tile.x + tile.width > image_width or tile.y + tile.height > image_height:
        raise InvalidInput(f"{where} lies outside the image ({image_width}x{image_height}).")
    for side, start, edge in ((tile.width, tile.x, image_width), (tile.height, tile.y, image_height)):
        if side > limits.max_size:
            raise InvalidInput(f"{where} is larger than {limits.max_size} px, the largest tile.")
        if side < 1 or (side < limits.min_size and start + side != edge):
            raise InvalidInput(
                f"{where} is smaller than {limits.min_size} px, the smallest tile "
                "(only a tile at the image's edge may be cut shorter)."
            )
