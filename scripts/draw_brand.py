"""Draw the integration's own brand mark (a battery with a charge bolt) into brand/*.png.

Run: `.venv/3.13/bin/python scripts/draw_brand.py` (Pillow comes with Home Assistant).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

BRAND = Path(__file__).resolve().parent.parent / "custom_components" / "victron_cerbo" / "brand"
BLUE = (0, 94, 184, 255)
GREEN = (46, 175, 98, 255)
WHITE = (255, 255, 255, 255)


def draw_mark(size: int) -> Image.Image:
    """Return a square mark: a rounded blue tile, a white battery, a green charge bolt."""
    scale = 4  # draw large and shrink for smooth edges
    big = size * scale
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    unit = big / 32
    draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=6 * unit, fill=BLUE)
    # battery body and terminal
    draw.rounded_rectangle(
        (5 * unit, 9 * unit, 25 * unit, 23 * unit),
        radius=2 * unit,
        outline=WHITE,
        width=round(2 * unit),
    )
    draw.rectangle((25 * unit, 13 * unit, 27.5 * unit, 19 * unit), fill=WHITE)
    # charge bolt
    bolt = [(17, 10.5), (10, 17), (15, 17), (13, 21.5), (20, 15), (15, 15)]
    draw.polygon([(x * unit, y * unit) for x, y in bolt], fill=GREEN)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def draw_logo(height: int) -> Image.Image:
    """Return the mark followed by three level bars: a wide logo without any text or font."""
    mark = draw_mark(height)
    logo = Image.new("RGBA", (height * 2, height), (0, 0, 0, 0))
    logo.paste(mark, (0, 0))
    draw = ImageDraw.Draw(logo)
    bar = height // 8
    for index, fraction in enumerate((0.45, 0.7, 0.95)):
        x = height + bar + index * 2 * bar
        top = round(height * (1 - fraction) * 0.9 + height * 0.05)
        draw.rounded_rectangle((x, top, x + bar, height - height // 20), radius=bar // 3, fill=BLUE)
    return logo


def main() -> None:
    """Write icon.png, icon@2x.png, logo.png and logo@2x.png."""
    BRAND.mkdir(parents=True, exist_ok=True)
    draw_mark(256).save(BRAND / "icon.png", optimize=True)
    draw_mark(512).save(BRAND / "icon@2x.png", optimize=True)
    draw_logo(128).save(BRAND / "logo.png", optimize=True)
    draw_logo(256).save(BRAND / "logo@2x.png", optimize=True)


if __name__ == "__main__":
    main()
