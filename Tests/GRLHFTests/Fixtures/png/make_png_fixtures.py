#!/usr/bin/env python3
"""Writes small PNG fixtures by hand (zlib + struct only), independent of libpng.

Run from this directory: python3 make_png_fixtures.py
PNGTests.swift recomputes the same pixel formulas and checks the decoded values.

  rgb_filters.png  5x5 RGB 8-bit; row y uses filter type y (None, Sub, Up, Average, Paeth);
                   IDAT split in two chunks, plus a tEXt chunk.
                   pixel(x, y) = ((x*53 + y*17) % 256, (x*11 + y*71) % 256, (255 - x*29 - y*7) % 256)
  gray16.png       3x2 16-bit gray; samples v*257 for v in [0, 1, 127, 128, 254, 255] (row-major)
                   so the 8-bit result is exactly v.
  palette2.png     4x2 2-bit palette with tRNS -> RGBA; indices [0,1,2,3, 3,2,1,0];
                   PLTE (10,20,30) (200,100,50) (0,255,0) (1,2,3); alpha 255, 128, 0 and 255 (implicit).
  gray1.png        10x2 1-bit gray; pixel = 255 if (x + y) % 3 == 0 else 0.
  adam7_gray.png   9x9 8-bit gray, Adam7 interlaced; pixel(x, y) = (x*7 + y*13 + 5) % 256.
  ga8.png          2x2 gray+alpha 8-bit; pixels (g, a) = (0,255) (85,170) (170,85) (255,0).
"""
import struct
import zlib


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(width, height, bit_depth, color_type, raw, interlace=0, extra=(), split=1):
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, interlace)
    z = zlib.compress(raw, 9)
    parts = [z[i * len(z) // split:(i + 1) * len(z) // split] for i in range(split)]
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    for kind, data in extra:
        out += chunk(kind, data)
    for p in parts:
        out += chunk(b"IDAT", p)
    return out + chunk(b"IEND", b"")


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filter_row(ftype, row, prev, bpp):
    out = bytearray()
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][ftype]
        out.append((x - pred) % 256)
    return bytes([ftype]) + bytes(out)


def rgb_filters():
    w = h = 5
    rows = [bytes(v for x in range(w) for v in ((x * 53 + y * 17) % 256, (x * 11 + y * 71) % 256,
                                                 (255 - x * 29 - y * 7) % 256)) for y in range(h)]
    raw, prev = b"", bytes(w * 3)
    for y, row in enumerate(rows):
        raw += filter_row(y, row, prev, 3)
        prev = row
    return png(w, h, 8, 2, raw, extra=[(b"tEXt", b"Comment\x00grlhf fixture")], split=2)


def gray16():
    vals = [0, 1, 127, 128, 254, 255]
    raw = b""
    for y in range(2):
        raw += b"\x00" + b"".join(struct.pack(">H", v * 257) for v in vals[y * 3:(y + 1) * 3])
    return png(3, 2, 16, 0, raw)


def palette2():
    idx = [[0, 1, 2, 3], [3, 2, 1, 0]]
    raw = b""
    for row in idx:
        raw += b"\x00" + bytes([(row[0] << 6) | (row[1] << 4) | (row[2] << 2) | row[3]])
    plte = bytes([10, 20, 30, 200, 100, 50, 0, 255, 0, 1, 2, 3])
    return png(4, 2, 2, 3, raw, extra=[(b"PLTE", plte), (b"tRNS", bytes([255, 128, 0]))])


def gray1():
    w, h = 10, 2
    raw = b""
    for y in range(h):
        bits = [1 if (x + y) % 3 == 0 else 0 for x in range(w)] + [0] * 6
        raw += b"\x00" + bytes(sum(bits[i * 8 + j] << (7 - j) for j in range(8)) for i in range(2))
    return png(w, h, 1, 0, raw)


def adam7_gray():
    w = h = 9
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    raw = b""
    for x0, y0, dx, dy in passes:
        xs, ys = range(x0, w, dx), range(y0, h, dy)
        if len(xs) == 0 or len(ys) == 0:
            continue
        for y in ys:
            raw += b"\x00" + bytes((x * 7 + y * 13 + 5) % 256 for x in xs)
    return png(w, h, 8, 0, raw, interlace=1)


def ga8():
    px = [(0, 255), (85, 170), (170, 85), (255, 0)]
    raw = b"\x00" + bytes(px[0] + px[1]) + b"\x00" + bytes(px[2] + px[3])
    return png(2, 2, 8, 4, raw)


if __name__ == "__main__":
    for name, make in [("rgb_filters", rgb_filters), ("gray16", gray16), ("palette2", palette2),
                       ("gray1", gray1), ("adam7_gray", adam7_gray), ("ga8", ga8)]:
        with open(name + ".png", "wb") as f:
            f.write(make())
