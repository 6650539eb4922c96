#!/bin/bash
# ferryd's https:// listener: certificates made here with openssl; bearer tokens on
# top; with --tls-client-ca, clients without a certificate signed by that CA are refused.
#   https-test.sh FERRYD TOKENS_FILE
set -u
ferryd=$(realpath "$1"); tokens=$(realpath "$2")
command -v openssl >/dev/null || { echo "openssl missing: skipped"; exit 77; }
d=$(mktemp -d /tmp/ferry-https.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$d"' EXIT
cd "$d"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=ferry-test-ca -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout srv.key -out srv.csr 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' > ext
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext -out srv.pem 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=client -keyout cli.key -out cli.csr 2>/dev/null
openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out cli.pem 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca -keyout oca.key -out oca.pem 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=intruder -keyout bad.key -out bad.csr 2>/dev/null
openssl x509 -req -in bad.csr -CA oca.pem -CAkey oca.key -CAcreateserial -days 2 -out bad.pem 2>/dev/null
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 19000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || (exec 3<>"/dev/tcp/127.0.0.1/$((p + 1))") 2>/dev/null || { echo $p; return; }
  done
}
port=$(free_port)
T=physics-token-0123456789abcdef
pass=0; fail=0
check() { # name expected actual
  if [ "$2" = "$3" ]; then pass=$((pass+1)); echo "ok - $1"; else fail=$((fail+1)); echo "not ok - $1: expected $2, got $3"; fi
}
start() {
  "$ferryd" --listen "https://127.0.0.1:$port" --state-dir "$d/state" --backend fake --tokens "$tokens" \
    --tls-cert srv.pem --tls-key srv.key "$@" >"$d/ferryd.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -s -o /dev/null --cacert ca.pem "https://127.0.0.1:$port/healthz" ${CLIENT:-} && return; sleep 0.05; done
}
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
start
check "healthz over TLS" 200 "$(code --cacert ca.pem https://127.0.0.1:$port/healthz)"
check "status with a token" 200 "$(code --cacert ca.pem -H "Authorization: Bearer $T" -d '[]' https://127.0.0.1:$port/status)"
check "status without a token" 401 "$(code --cacert ca.pem -d '[]' https://127.0.0.1:$port/status)"
check "untrusted certificate refused by the client" 000 "$(code https://127.0.0.1:$port/healthz)"
check "plain http on the TLS port fails" 000 "$(code --max-time 3 http://127.0.0.1:$port/healthz)"
if [ -n "${FERRY_CLI:-}" ]; then  # the CLI with --cacert and a token file
  echo "$T" > tok
  "$FERRY_CLI" --server "https://127.0.0.1:$port" --cacert ca.pem --token-file tok ping >/dev/null
  check "ferry ping --cacert over https" 0 "$?"
  msg=$("$FERRY_CLI" --server "https://127.0.0.1:$port" --token-file tok ping 2>&1 >/dev/null)
  check "ferry without --cacert refuses the unknown CA" 1 "$?"
  case "$msg" in *certificate*) check "and says it is the certificate" y y ;; *) check "and says it is the certificate" y "$msg" ;; esac
fi
kill $pid; wait $pid 2>/dev/null; pid=
CLIENT="--cert cli.pem --key cli.key" start --tls-client-ca ca.pem
check "client certificate accepted" 200 "$(code --cacert ca.pem --cert cli.pem --key cli.key -H "Authorization: Bearer $T" -d '[]' https://127.0.0.1:$port/status)"
check "client certificate from another CA refused" 401 "$(code --cacert ca.pem --cert bad.pem --key bad.key -H "Authorization: Bearer $T" -d '[]' https://127.0.0.1:$port/status)"
check "no client certificate refused" 401 "$(code --cacert ca.pem -H "Authorization: Bearer $T" -d '[]' https://127.0.0.1:$port/status)"
"$ferryd" --listen "https://127.0.0.1:$((port+1))" --state-dir "$d/s2" --backend fake --tokens "$tokens" >"$d/err.log" 2>&1
check "https without a certificate is a start-up error" 1 "$?"
grep -q -- "--tls-cert" "$d/err.log" && pass=$((pass+1)) || { fail=$((fail+1)); echo "not ok - error names --tls-cert"; cat "$d/err.log"; }
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
