#!/usr/bin/env bash
# Dev-only secrets for the dev overlay, written to keys/ (git-ignored): a session signing key,
# its JWKS, and random values for every key of the tally-secrets Secret. Never use in production.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
mkdir -p "$here/keys"
cd "$here/keys"
[ -f dev-signing.pem ] || openssl genpkey -algorithm ed25519 -out dev-signing.pem
"$root/build/bin/tallyctl" jwks dev-signing.pem > jwks.json
rand() { openssl rand -hex "$1"; }
if [ ! -f secrets.env ]; then
  pg_password=$(rand 16) redis_password=$(rand 16)
  cat > secrets.env <<ENV
platform-key=$(rand 24)
postgres-password=$pg_password
postgres-url-policy=postgresql://tally:$pg_password@postgres:5432/tally
postgres-url-credential=postgresql://tally:$pg_password@postgres:5432/tally
postgres-url-passkey=postgresql://tally:$pg_password@postgres:5432/tally
redis-password=$redis_password
redis-url=redis://:$redis_password@redis:6379/0
redis-address=redis:6379
otp-hmac-key=$(rand 32)
otp-encryption-key=$(rand 32)
totp-encryption-key=$(rand 32)
recovery-code-hmac-key=$(rand 32)
smtp-host=
smtp-username=
smtp-password=
smtp-from=
sms-http-url=
sms-http-token=
ENV
fi
echo "dev keys in $here/keys"
