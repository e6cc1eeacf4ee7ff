#!/usr/bin/env python3
"""Write small seed inputs for the fuzz targets into fuzz/seeds/<target>/ (standard library only).

Seeds are tiny on purpose: libFuzzer mutates them thousands of times a second, so a 20x16 PNG explores the
decoder far faster than a real 800x600 Gravity Spy plot. The committed corpus (fuzz/corpus/) is what
`scripts/fuzz.sh` minimised from these seeds plus what the fuzzer found. Usage: fuzz/make-seeds.py [REPO]
"""
import json
import math
import struct
import sys
import zlib
from pathlib import Path

repo = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
out = repo / "fuzz" / "seeds"


def write(target, name, data):
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def png(width, height, colour_type, bit_depth, rows, palette=None):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    raw = b"".join(b"\x00" + r for r in rows)
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    body = chunk(b"IHDR", ihdr)
    if palette:
        body += chunk(b"PLTE", palette)
    return b"\x89PNG\r\n\x1a\n" + body + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


# --- pictures: a dark-blue field with a bright blob, like a tiny spectrogram
W, H = 20, 16
def pixel(x, y):
    v = math.exp(-((x - 10) ** 2 + (y - 8) ** 2) / 10)
    return (int(255 * v), int(200 * v), int(90 + 160 * (1 - v)))
rgb_rows = [bytes(c for x in range(W) for c in pixel(x, y)) for y in range(H)]
write("preprocess", "rgb8.png", png(W, H, 2, 8, rgb_rows))
write("preprocess", "grey8.png", png(W, H, 0, 8, [bytes(pixel(x, y)[0] for x in range(W)) for y in range(H)]))
write("preprocess", "rgba8.png", png(W, H, 6, 8, [bytes(c for x in range(W) for c in pixel(x, y) + (200,)) for y in range(H)]))
write("preprocess", "rgb16.png", png(W, H, 2, 16, [b"".join(struct.pack(">HHH", *(257 * c for c in pixel(x, y))) for x in range(W)) for y in range(H)]))
write("preprocess", "palette.png", png(W, H, 3, 8, [bytes((x + y) % 4 for x in range(W)) for y in range(H)],
                                       palette=bytes([0, 0, 80, 40, 40, 160, 200, 200, 60, 255, 255, 255])))
# A minimal GIF89a, 16x16, two-colour global table, one LZW-coded frame of colour 0.
gif = (b"GIF89a" + struct.pack("<HH", 16, 16) + b"\x80\x00\x00" + b"\x00\x00\x50\xff\xff\xff"
       + b"\x2c" + struct.pack("<HHHH", 0, 0, 16, 16) + b"\x00" + b"\x02\x16\x8c\x2d\x99\x87\x2a\x1c\xdc\x33\xa0\x02\x75"
       + b"\xec\x95\xfa\xa8\xde\x60\x8c\x04\x91\x4c\x01\x00" + b"\x3b")
write("preprocess", "tiny.gif", gif)
# The bad-input corpus has a JPEG and a CMYK JPEG; take them when they are small (scripts/make-bad-inputs.sh DIR).
bad = Path("/tmp/gs-bad/images")
for name in ("cmyk.jpg", "truncated_jpeg.jpg", "animated.gif", "one_pixel.png"):
    p = bad / name
    if p.is_file() and p.stat().st_size <= 64 * 1024:
        write("preprocess", name, p.read_bytes())

# --- model cards: the shipped card and a few edits of it
card = json.loads((repo / "models" / "default.json").read_text())
write("card", "default.json", json.dumps(card, indent=2))
small = dict(card, labels=card["labels"][:3], training={}, metrics={}, description="")
small.pop("reference", None)
write("card", "small.json", json.dumps(small))
write("card", "unknown_field.json", json.dumps(dict(small, temperature=0.5)))
write("card", "bad_sha.json", json.dumps(dict(small, weights=dict(small["weights"], sha256="00"))))

# --- weights: the Burnpack header of the shipped model (magic, version, CBOR metadata) and a little data
bpk = (repo / "models" / "default.bpk").read_bytes()
meta_len = struct.unpack("<I", bpk[6:10])[0]
write("weights", "default_header.bpk", bpk[: 10 + meta_len])
write("weights", "default_head_64k.bpk", bpk[:65536])

# --- strain: GWOSC text and .npy of several dtypes
samples = [1e-21 * math.sin(i / 5) for i in range(64)]
write("strain", "gwosc.txt", "# Gravitational wave strain for H1 (GWOSC)\n# Sample rate: 4096 Hz\n"
      "# starting GPS 1126259446 duration 32\n" + "\n".join(repr(v) for v in samples) + "\n")
write("strain", "plain.txt", "\n".join(str(i) for i in range(16)) + "\n")
write("strain", "csv.txt", "% sampling rate = 16384\n1.0, \n2.5e-3\n-4\n")

def npy(descr, shape, data, fortran=False):
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)
    header = header.ljust(128 - 10 - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") + data
write("strain", "f32.npy", npy("<f4", "(16,)", struct.pack("<16f", *samples[:16])))
write("strain", "f64.npy", npy("<f8", "(16,)", struct.pack("<16d", *samples[:16])))
write("strain", "i16.npy", npy("<i2", "(8,)", struct.pack("<8h", *range(8))))
write("strain", "be_f8_2d.npy", npy(">f8", "(2, 4)", struct.pack(">8d", *range(8))))
write("strain", "fortran.npy", npy("<f4", "(2, 2)", struct.pack("<4f", 1, 2, 3, 4), fortran=True))
write("strain", "nan.npy", npy("<f4", "(4,)", struct.pack("<4f", 1, float("nan"), 3, 4)))
print(f"seeds written under {out}")
