#!/usr/bin/env python3
"""Independent generator for the cache-link known-answer vectors.

Written from the "Cache links" and "Envelope v1" sections of docs/FORMAT.md only (Python's
hashlib/hmac/ipaddress and the `cryptography` package), never from the Rust code.

    python3 tests/vectors/generate_cachelink.py   # rewrites cachelink-v1.json
"""
import base64, hashlib, hmac, ipaddress, json, os, struct
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = 4
BUCKET = 3600


def keys(secret):
    okm = HKDF(algorithm=hashes.SHA256(), length=96, salt=b"fwtoken/v1",
               info=b"fwtoken/v1/cache").derive(secret.encode())
    return okm[:32], okm[32:64], okm[64:]


def seal_deterministic(secret, expires_at, pt):
    enc, mac, siv = keys(secret)
    key_id = hmac.new(secret.encode(), b"fwtoken/v1/fingerprint", hashlib.sha256).digest()[:4]
    header = bytes([1, CACHE]) + key_id + struct.pack(">QQ", 0, expires_at)
    ctx = b""
    iv = hmac.new(siv, header + ctx + struct.pack(">Q", len(ctx)) + pt, hashlib.sha256).digest()[:16]
    padder = padding.PKCS7(128).padder()
    padded = padder.update(pt) + padder.finalize()
    e = Cipher(algorithms.AES(enc), modes.CBC(iv)).encryptor()
    ct = e.update(padded) + e.finalize()
    body = header + iv + ct
    tag = hmac.new(mac, body + ctx + struct.pack(">Q", len(ctx)), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(body + tag).rstrip(b"=").decode()


def plaintext(link):
    flags = 0
    tail = b""
    if link["width"] is not None:
        flags |= 0x01
        tail += struct.pack(">H", link["width"])
    if link["height"] is not None:
        flags |= 0x02
        tail += struct.pack(">H", link["height"])
    if link["format"] is not None:
        flags |= 0x04
        tail += bytes([len(link["format"])]) + link["format"].encode()
    if link["quality"] is not None:
        flags |= 0x08
        tail += bytes([link["quality"]])
    if link["client"] is not None:
        net = ipaddress.ip_network(link["client"], strict=True)
        flags |= 0x10 if net.version == 4 else 0x20
        tail += net.network_address.packed + bytes([net.prefixlen])
    if link["tag"] is not None:
        flags |= 0x40
        tail += bytes([len(link["tag"].encode())]) + link["tag"].encode()
    path = link["path"].encode()
    return bytes([1, flags]) + struct.pack(">H", len(path)) + path + tail


def rounded(expires):
    if expires is None:
        return 0
    return -(-expires // BUCKET) * BUCKET


def main():
    secret = "fwtoken-cachelink-vector-secret-0001"
    base = {"path": None, "width": None, "height": None, "format": None, "quality": None,
            "expires": None, "client": None, "tag": None}
    links = [
        # The typical link of the size bound (60-byte path), expiry 2026-11-25T10:17:00Z.
        dict(base, path="/archives/5000-photos/2026/11/harbour-at-dawn-0042-final.tif",
             width=1600, height=1200, format="jpg", quality=85, expires=1795602420),
        # No expiry, no format, bound to an IPv4 network, with a tag.
        dict(base, path="/archives/press/2026/kickoff.mp4", client="192.0.2.0/24", tag="newsroom"),
        # Width only, webp, an IPv6 /48, expiry already on a bucket boundary.
        dict(base, path="/Bilder/Årsmøte 2026/scene 1.cr3", width=640, format="webp",
             client="2001:db8:1234::/48", expires=1795604400),
        # The smallest link.
        dict(base, path="/a"),
    ]
    vectors = []
    for link in links:
        pt = plaintext(link)
        expires_at = rounded(link["expires"])
        token = seal_deterministic(secret, expires_at, pt)
        ext = link["format"] or "bin"
        vectors.append({"link": link, "expires_at": expires_at, "plaintext_hex": pt.hex(),
                        "token": token, "path": f"/media/cache/v1/{token}.{ext}"})
    out = {
        "source": "computed by tests/vectors/generate_cachelink.py from docs/FORMAT.md "
                  "(cache-link plaintext v1 in envelope v1, purpose cache, synthetic IV, issued_at 0, "
                  "expiry rounded up to the hour); path prefix /media",
        "secret": secret,
        "bucket_secs": BUCKET,
        "prefix": "/media",
        "vectors": vectors,
    }
    with open(os.path.join(HERE, "cachelink-v1.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
