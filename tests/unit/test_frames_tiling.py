"""Frames map model space to viewport px exactly; tiling produces images whose frames are right."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from actions.types import Observation
from perception.frames import Frame
from perception.tiling import ImagePolicy, crop, grid, smart_resize, whole, zoom


def obs_with_marker(w: int, h: int, scale: float, marker: tuple[int, int]) -> Observation:
    """A screenshot (at ``scale`` px per CSS px) with a red 4x4 CSS-px square at ``marker``."""
    img = Image.new("RGB", (round(w * scale), round(h * scale)), (255, 255, 255))
    mx, my = marker
    ImageDraw.Draw(img).rectangle(
        (mx * scale, my * scale, (mx + 4) * scale - 1, (my + 4) * scale - 1), fill=(255, 0, 0)
    )
    return Observation(
        screenshot=img,
        url="x",
        title="",
        viewport_w=w,
        viewport_h=h,
        device_scale_factor=scale,
        screenshot_scale=scale,
    )


def red_centre(img: Image.Image) -> tuple[float, float]:
    px = img.load()
    pts = [
        (x, y)
        for y in range(img.height)
        for x in range(img.width)
        if px[x, y][0] > 200 and px[x, y][1] < 90 and px[x, y][2] < 90  # type: ignore[index]
    ]
    assert pts, "marker not found"
    return sum(p[0] for p in pts) / len(pts) + 0.5, sum(p[1] for p in pts) / len(pts) + 0.5


@pytest.mark.parametrize(
    ("h", "w", "expected"),
    [
        ((800, 1280), None, (812, 1288)),
        ((1080, 1920), None, (1092, 1932)),
        ((10, 10), None, (56, 56)),
    ],
)
def test_smart_resize_known_values(h: tuple[int, int], w: None, expected: tuple[int, int]) -> None:
    assert smart_resize(*h, min_pixels=3136, max_pixels=12_845_056) == expected


def test_smart_resize_caps_pixels_and_keeps_factor() -> None:
    hh, ww = smart_resize(4000, 6000, max_pixels=16384 * 28 * 28)
    assert hh % 28 == 0 and ww % 28 == 0 and hh * ww <= 16384 * 28 * 28
    with pytest.raises(ValueError):
        smart_resize(1, 1000)


@pytest.mark.parametrize("space", ["pixels", "rel1000", "rel1"])
@given(
    x=st.floats(0, 1279),
    y=st.floats(0, 799),
    rx=st.floats(0, 300),
    ry=st.floats(0, 300),
    rw=st.floats(10, 2000),
    rh=st.floats(10, 2000),
    iw=st.integers(1, 4000),
    ih=st.integers(1, 4000),
)
@settings(max_examples=60, deadline=None)
def test_frame_round_trip(
    space: str, x: float, y: float, rx: float, ry: float, rw: float, rh: float, iw: int, ih: int
) -> None:
    f = Frame(
        region_x=rx, region_y=ry, region_w=rw, region_h=rh, image_w=iw, image_h=ih, space=space
    )  # type: ignore[arg-type]
    mx, my = f.from_viewport(x, y)
    bx, by = f.to_viewport(mx, my)
    assert bx == pytest.approx(x, abs=1e-6) and by == pytest.approx(y, abs=1e-6)


def test_frame_spaces_map_per_axis() -> None:
    f = Frame(region_x=0, region_y=0, region_w=1280, region_h=800, image_w=1288, image_h=812)
    assert f.to_viewport(644, 406) == pytest.approx((640, 400))
    assert f.with_space("rel1000").to_viewport(500, 500) == pytest.approx((640, 400))
    assert f.with_space("rel1").to_viewport(0.25, 0.75) == pytest.approx((320, 600))


@pytest.mark.parametrize("scale", [1.0, 2.0, 1.5])
@pytest.mark.parametrize(
    "policy",
    [
        ImagePolicy(),
        ImagePolicy(mode="native"),
        ImagePolicy(mode="smart_resize"),
        ImagePolicy(mode="fixed", width=640, height=480),
        ImagePolicy(mode="max_side", max_side=500),
    ],
)
def test_whole_image_frame_points_at_the_marker(scale: float, policy: ImagePolicy) -> None:
    obs = obs_with_marker(800, 600, scale, (500, 300))
    t = whole(obs, policy)
    cx, cy = red_centre(t.image)
    vx, vy = t.frame.to_viewport(cx, cy)
    # the marker's centre is at (502, 302) CSS px; resampling blurs by about a pixel
    assert vx == pytest.approx(502, abs=2.5) and vy == pytest.approx(302, abs=2.5)


def test_grid_tiles_cover_viewport_overlap_and_map_back() -> None:
    obs = obs_with_marker(1280, 800, 2.0, (1000, 700))
    tiles = grid(obs, tile_w=512, tile_h=512, overlap=64)
    assert tiles[0].label == "thumbnail" and tiles[0].frame.region_w == 1280
    body = tiles[1:]
    xs = sorted({t.frame.region_x for t in body})
    ys = sorted({t.frame.region_y for t in body})
    assert xs[0] == 0 and ys[0] == 0
    assert max(t.frame.region_x + t.frame.region_w for t in body) == pytest.approx(1280)
    assert max(t.frame.region_y + t.frame.region_h for t in body) == pytest.approx(800)
    for a, b in itertools.pairwise(xs):
        assert a + 512 - b >= 64  # neighbours overlap by at least the requested amount
    hits = [t for t in body if t.frame.contains_viewport(1002, 702)]
    assert hits
    for t in hits:
        assert t.image.size == (512, 512)
        cx, cy = red_centre(t.image)
        assert t.frame.to_viewport(cx, cy) == pytest.approx((1002, 702), abs=1.0)


def test_zoom_is_clamped_inside_the_viewport_and_maps_back() -> None:
    obs = obs_with_marker(1280, 800, 1.0, (1270, 790))
    z = zoom(
        obs,
        1275,
        795,
        region_w=320,
        region_h=200,
        policy=ImagePolicy(mode="fixed", width=640, height=400),
    )
    f = z.frame
    assert (f.region_x, f.region_y, f.region_w, f.region_h) == (960, 600, 320, 200)
    cx, cy = red_centre(z.image)
    assert f.to_viewport(cx, cy) == pytest.approx((1272, 792), abs=1.0)


def test_crop_rejects_empty_regions() -> None:
    obs = obs_with_marker(100, 100, 1.0, (10, 10))
    with pytest.raises(ValueError):
        crop(obs, (200, 200, 10, 10), ImagePolicy())
