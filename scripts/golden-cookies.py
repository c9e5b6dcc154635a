#!/usr/bin/env python3
"""Writes keyring-formats/golden/cookie-auth.txt from the spec alone (independent of the Rust
code): AuthenticationTicket format 5 bytes, the ticket protected with the golden CBC key under
cookie-auth purposes (fixed key modifier 00..0f and IV 10..1f), that cookie chunked as
ChunkingCookieManager does, and antiforgery tokens. It first checks itself against
[string_protect_cbc] of golden/payloads.txt. Needs python3 with `cryptography`.

    python3 scripts/golden-cookies.py > keyring-formats/golden/cookie-auth.txt
"""
import base64, hashlib, hmac, struct, sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

MASTER = bytes(range(64))
KEY_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
CTX = bytes.fromhex("000000000020000000100000002000000020ea10387ac9273b7fd5321177776f1530f946d3c71d60dd7b287366d81cb03fe5e5a701fa16f1554f1581fddd576ce844")

def guid_bytes(g):
    b = bytes.fromhex(g.replace("-", ""))
    return b[3::-1] + b[5:3:-1] + b[7:5:-1] + b[8:]

def seven(n):
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7f) | 0x80]); n >>= 7
    return out + bytes([n])

def protect(purposes, plaintext, modifier=bytes(range(16)), iv=bytes(range(16, 32))):
    header = bytes.fromhex("09f0c9f0") + guid_bytes(KEY_ID)
    aad = header + struct.pack(">I", len(purposes)) + b"".join(seven(len(p.encode())) + p.encode() for p in purposes)
    out, i = b"", 1
    while len(out) < 64:
        out += hmac.new(MASTER, struct.pack(">I", i) + aad + b"\0" + CTX + modifier + struct.pack(">I", 512), hashlib.sha512).digest(); i += 1
    ke, kh = out[:32], out[32:64]
    pad = 16 - len(plaintext) % 16
    enc = Cipher(algorithms.AES(ke), modes.CBC(iv)).encryptor()
    ct = enc.update(plaintext + bytes([pad]) * pad) + enc.finalize()
    return header + modifier + iv + ct + hmac.new(kh, iv + ct, hashlib.sha256).digest()

def b64url(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")

# BinaryWriter primitives.
def s(x): b = x.encode(); return seven(len(b)) + b
def i32(n): return struct.pack("<i", n)
def bo(v): return b"\1" if v else b"\0"
NAME = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
ROLE = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
XSD = "http://www.w3.org/2001/XMLSchema#string"
LOCAL = "LOCAL AUTHORITY"
def sd(x, d): return s("\0" if x == d else x)

def claim(ident_name_type, typ, val, vtype=XSD, iss=LOCAL, oiss=None, props=()):
    oiss = iss if oiss is None else oiss
    out = sd(typ, ident_name_type) + s(val) + sd(vtype, XSD) + sd(iss, LOCAL) + sd(oiss, iss) + i32(len(props))
    for k, v in props: out += s(k) + s(v)
    return out

def identity(auth, claims, name_type=NAME, role_type=ROLE, bootstrap=None, actor=None):
    out = s(auth) + sd(name_type, NAME) + sd(role_type, ROLE) + i32(len(claims))
    for c in claims: out += claim(name_type, *c)
    out += (bo(True) + s(bootstrap)) if bootstrap else bo(False)
    out += (bo(True) + actor) if actor else bo(False)
    return out

def ticket(scheme, identities, props):
    out = i32(5) + s(scheme) + i32(len(identities)) + b"".join(identities)
    out += i32(1) + i32(len(props))
    for k, v in props: out += s(k) + s(v)
    return out

def check_self():
    text = open("keyring-formats/golden/payloads.txt").read()
    sec = text.split("[string_protect_cbc]")[1].split("\n[")[0]
    want = [l.split("=", 1)[1] for l in sec.splitlines() if l.startswith("protected_base64url=")][0]
    got = b64url(protect(["MyApp", "my purpose"], b"Hello, world!"))
    assert got == want, "the re-implementation does not reproduce [string_protect_cbc]"

check_self()
AUTH_PURPOSES = ["MyApp", "Microsoft.AspNetCore.Authentication.Cookies.CookieAuthenticationMiddleware", "Cookies", "v2"]
NAMEID = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier"
EMAIL = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
simple = ticket("Cookies", [identity("Cookies", [
    (NAME, "alice"),
    (NAMEID, "42"),
    (EMAIL, "alice@example.com"),
    (ROLE, "admin"),
    (ROLE, "ops"),
])], [(".issued", "Mon, 01 Jan 2024 00:00:00 GMT"), (".expires", "Mon, 15 Jan 2024 00:00:00 GMT"), (".persistent", "")])
simple_protected = b64url(protect(AUTH_PURPOSES, simple))

actor = identity("Delegation", [(NAME, "service")])
full = ticket("Cookies", [
    identity("Cookies", [
        (NAME, "alice"),
        ("sub", "42", "http://www.w3.org/2001/XMLSchema#integer", "https://idp.example", "https://upstream.example", [("k", "v"), ("k2", "")]),
        (ROLE, "admin"),
    ], bootstrap="bootstrap-token", actor=actor),
    identity("", [("email", "a@example.com"), ("grp", "staff")], name_type="email", role_type="grp"),
], [(".issued", "Mon, 01 Jan 2024 00:00:00 GMT"), (".expires", "Mon, 15 Jan 2024 00:00:00 GMT"), (".refresh", "False"), (".redirect", "/home"), ("custom", "x")])

big = ticket("Cookies", [identity("Cookies", [(NAME, "bob")] + [("group", "g%04d-" % i + "x" * 40) for i in range(120)])],
             [(".issued", "Mon, 01 Jan 2024 00:00:00 GMT"), (".expires", "Mon, 15 Jan 2024 00:00:00 GMT")])
big_protected = b64url(protect(AUTH_PURPOSES, big))
cookie = ".AspNetCore.Cookies"
attrs = "; path=/; samesite=lax; httponly"
template = len(cookie + "=" + attrs)
per = 4050 - template - 3
chunks = [big_protected[i:i + per] for i in range(0, len(big_protected), per)]

AF = "Microsoft.AspNetCore.Antiforgery.AntiforgeryToken.v1"
sec_token = bytes(range(0x20, 0x30))
af_cookie = b"\1" + sec_token + bo(True)
af_request = b"\1" + sec_token + bo(False) + bo(False) + s("alice") + s("")
af_name = ".AspNetCore.Antiforgery." + b64url(hashlib.sha256(b"MyApp").digest()[:8])

w = sys.stdout.write
w("# golden/cookie-auth.txt: ASP.NET cookie authentication and antiforgery, written by scripts/golden-cookies.py\n")
w("# from the spec (aspnetcore-compat.md sections 3.6 and 3.7), independently of the crate. Same format as payloads.txt.\n")
w("# Key: key-cbc.xml (master key 00..3f); key modifier 00..0f and CBC IV 10..1f for every protect.\n")
w("# Not produced by a real .NET process: cross-check once against ASP.NET Core before calling it authoritative.\n\n")
w("[ticket_simple]\n# one identity, default claim types, persistent, issued 2024-01-01, expires 2024-01-15\n")
w("key_file=key-cbc.xml\npurposes_json=%s\n" % str(AUTH_PURPOSES).replace("'", '"').replace(" ", ""))
w("cookie_name=%s\nname=alice\nroles=admin,ops\nnameidentifier=42\nemail=alice@example.com\n" % cookie)
w("issued=2024-01-01T00:00:00Z\nexpires=2024-01-15T00:00:00Z\npersistent=true\n")
w("ticket_hex=%s\nprotected_base64url=%s\n" % (simple.hex(), simple_protected))
w("set_cookie_header_value=%s=%s%s\n\n" % (cookie, simple_protected, attrs))
w("[ticket_full]\n# every field: two identities (the second unauthenticated with custom name/role claim types),\n")
w("# a claim with value type, issuer, original issuer and properties, a bootstrap context, an actor, and\n# .refresh, .redirect and a custom property\n")
w("name=alice\nroles=admin,staff\nactor_name=service\nbootstrap=bootstrap-token\nrefresh=False\nredirect=/home\n")
w("ticket_hex=%s\n\n" % full.hex())
w("[ticket_chunked]\n# 120 group claims: the cookie is split by ChunkingCookieManager (chunk size 4050,\n")
w("# template '%s=%s' of %d chars, %d chars per chunk)\n" % (cookie, attrs, template, per))
w("key_file=key-cbc.xml\npurposes_json=%s\nname=bob\ngroups=120\n" % str(AUTH_PURPOSES).replace("'", '"').replace(" ", ""))
w("ticket_hex=%s\nprotected_base64url=%s\n" % (big.hex(), big_protected))
w("chunk_count=%d\nset_cookie_0=%s=chunks-%d%s\n" % (len(chunks), cookie, len(chunks), attrs))
for i, c in enumerate(chunks, 1):
    w("set_cookie_%d=%sC%d=%s%s\n" % (i, cookie, i, c, attrs))
w("\n[antiforgery]\n# application name MyApp; security token 20..2f; request token for user name 'alice', no additional data\n")
w("key_file=key-cbc.xml\npurposes_json=[\"MyApp\",\"%s\"]\ncookie_name=%s\n" % (AF, af_name))
w("cookie_token_hex=%s\ncookie_token_base64url=%s\n" % (af_cookie.hex(), b64url(protect(["MyApp", AF], af_cookie))))
w("request_token_hex=%s\nrequest_token_base64url=%s\n" % (af_request.hex(), b64url(protect(["MyApp", AF], af_request))))
