#!/usr/bin/python3
"""An implementation of session-token verification independent of Tally's C++ code.

verify_token.py JWKS_FILE TOKEN_FILE ISSUER SUBJECT DIRECTORY ACR
Checks the EdDSA (Ed25519) signature against the key of the token's kid in the RFC 7517 JSON
that GetJwks published, then the claims. Exit 0 when valid, 1 (with the reason) otherwise.
"""
import base64
import json
import sys
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def fail(reason):
    print("invalid:", reason)
    sys.exit(1)


def main():
    if len(sys.argv) != 7:
        fail("usage: verify_token.py JWKS_FILE TOKEN_FILE ISSUER SUBJECT DIRECTORY ACR")
    jwks_file, token_file, issuer, subject, directory, acr = sys.argv[1:]
    with open(jwks_file) as f:
        jwks = json.load(f)
    with open(token_file) as f:
        token = f.read().strip()
    parts = token.split(".")
    if len(parts) != 3:
        fail("not a compact JWS")
    header = json.loads(b64url(parts[0]))
    claims = json.loads(b64url(parts[1]))
    if header.get("alg") != "EdDSA":
        fail("alg %r" % header.get("alg"))
    keys = [k for k in jwks.get("keys", []) if k.get("kid") == header.get("kid")]
    if len(keys) != 1:
        fail("no published key with kid %r" % header.get("kid"))
    key = keys[0]
    if key.get("kty") != "OKP" or key.get("crv") != "Ed25519":
        fail("key is not an Ed25519 OKP key")
    public_key = Ed25519PublicKey.from_public_bytes(b64url(key["x"]))
    try:
        public_key.verify(b64url(parts[2]), (parts[0] + "." + parts[1]).encode("ascii"))
    except InvalidSignature:
        fail("bad signature")
    now = time.time()
    expected = {"iss": issuer, "sub": subject, "dir": directory, "acr": acr}
    for name, value in expected.items():
        if claims.get(name) != value:
            fail("claim %s is %r, expected %r" % (name, claims.get(name), value))
    for name in ("iat", "exp", "auth_time", "sid", "amr", "roles"):
        if name not in claims:
            fail("claim %s missing" % name)
    if not claims["iat"] <= now + 60 or not claims["exp"] > now:
        fail("not valid now (iat %s, exp %s)" % (claims["iat"], claims["exp"]))
    if not isinstance(claims["amr"], list) or not claims["amr"]:
        fail("amr is not a non-empty list")
    print("valid: sub %s acr %s amr %s" % (claims["sub"], claims["acr"], ",".join(claims["amr"])))


if __name__ == "__main__":
    main()
