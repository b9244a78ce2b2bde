#!/usr/bin/env python3
"""Independent generator for fwtoken's own known-answer vectors.

Written from docs/FORMAT.md and the FotoWeb login-token description only (Python's
hashlib/base64 and the `cryptography` package), never from the Rust code, so the Rust
tests check the crate against a second implementation.

    python3 tests/vectors/generate.py   # rewrites login-fotoweb.json and envelope-v1.json
"""
import base64, hashlib, hmac, json, os, struct
from datetime import datetime, timezone
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

HERE = os.path.dirname(os.path.abspath(__file__))

def fw_time(unix):
    return datetime.fromtimestamp(unix, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")

def fotoweb_login(secret, user, start, end, widgets):
    p = f"s={fw_time(start)};e={fw_time(end)};w={'true' if widgets else 'false'};u={user};"
    mac = base64.b64encode(hashlib.md5((p + "es=" + secret).encode()).digest()).decode()
    t = p + "m=" + mac + ";"
    return p, mac, base64.b64encode(t.encode()).decode()

def login_vectors():
    cases = [
        ("FotoWebSiteSecret-Example-0001", "alice", 1764000000, 1764001800, False),
        ("FotoWebSiteSecret-Example-0001", "CORP\\bob", 1764000000, 1764001800, True),
        ("FotoWebSiteSecret-Example-0001", "carol@example.com", 1700000000, 1700086400, False),
        ("another secret with spaces inside", "Jørgen Ødegård", 1764000000, 1764003600, False),
        ("another secret with spaces inside", "山田太郎", 1893456000, 1893457800, True),
        ("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "x", 0, 60, False),
    ]
    out = []
    for secret, user, s, e, w in cases:
        p, mac, token = fotoweb_login(secret, user, s, e, w)
        out.append({"secret": secret, "user": user, "start": s, "end": e, "widgets": w,
                    "message": p, "mac": mac, "token": token})
    return {"source": "computed by tests/vectors/generate.py from the FotoWeb login-token algorithm "
                      "(P = s=..;e=..;w=..;u=..;  MAC = base64(md5(P + 'es=' + secret)); lt = base64(P + 'm=' + MAC + ';'))",
            "vectors": out}

PURPOSES = {"login": 1, "api": 2, "device": 3, "cache": 4, "image-id": 5}

def keys(secret, purpose):
    okm = HKDF(algorithm=hashes.SHA256(), length=96, salt=b"fwtoken/v1",
               info=b"fwtoken/v1/" + purpose.encode()).derive(secret.encode())
    return okm[:32], okm[32:64], okm[64:]

def fingerprint(secret):
    return hmac.new(secret.encode(), b"fwtoken/v1/fingerprint", hashlib.sha256).digest()[:4]

def seal(secret, purpose, issued, expires, pt, ctx, iv=None):
    enc, mac, siv = keys(secret, purpose)
    header = bytes([1, PURPOSES[purpose]]) + fingerprint(secret) + struct.pack(">QQ", issued, expires)
    if iv is None:  # deterministic mode
        iv = hmac.new(siv, header + ctx + struct.pack(">Q", len(ctx)) + pt, hashlib.sha256).digest()[:16]
    padder = padding.PKCS7(128).padder()
    padded = padder.update(pt) + padder.finalize()
    e = Cipher(algorithms.AES(enc), modes.CBC(iv)).encryptor()
    ct = e.update(padded) + e.finalize()
    signed = header + iv + ct
    tag = hmac.new(mac, signed + ctx + struct.pack(">Q", len(ctx)), hashlib.sha256).digest()
    return iv, base64.urlsafe_b64encode(signed + tag).decode().rstrip("=")

def envelope_vectors():
    secret = "fwtoken-envelope-vector-secret-0001"
    cases = [
        ("login", 1764000000, 1764001800, b"\x00alice", b"", bytes(range(16))),
        # An API token payload v2: version, token id, user "alice", application "CMS".
        ("api", 1764000000, 1764604800, b"\x02" + bytes(range(0x10, 0x20)) + b"\x05alice\x03CMS", b"", bytes([0xA5] * 16)),
        ("device", 1764000000, 0, bytes(range(40)), b"", bytes(range(16, 32))),
        ("image-id", 1764000000, 0, b"image-42", bytes(range(16)), bytes([7] * 16)),
        ("cache", 0, 1764003600, b"deterministic cache link", b"", None),
        ("cache", 0, 0, b"", b"ctx", None),
    ]
    out = []
    for purpose, issued, expires, pt, ctx, iv in cases:
        iv_used, token = seal(secret, purpose, issued, expires, pt, ctx, iv)
        out.append({"purpose": purpose, "issued_at": issued, "expires_at": expires,
                    "plaintext_hex": pt.hex(), "context_hex": ctx.hex(),
                    "iv_mode": "random" if iv is not None else "deterministic",
                    "iv_hex": iv_used.hex(), "token": token})
    enc, mac, siv = keys(secret, "login")
    return {"source": "computed by tests/vectors/generate.py from docs/FORMAT.md (envelope v1)",
            "secret": secret, "fingerprint": fingerprint(secret).hex(),
            "login_keys_hex": {"aes": enc.hex(), "mac": mac.hex(), "siv": siv.hex()},
            "vectors": out}

if __name__ == "__main__":
    for name, data in [("login-fotoweb.json", login_vectors()), ("envelope-v1.json", envelope_vectors())]:
        with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, ensure_ascii=False)
            f.write("\n")
