#!/bin/bash
# SPDX-License-Identifier: MIT
# ferry-node in front of upstream's middle hop: tests/node/e2e.sh (registration, lease, the
# conformance pods, events, deletion, orphans, restart without a second submission, the site
# down and up) with interLink 0.6.2's own API server between ferry-node and ferryd, which
# serves it as its plugin. Arguments as tests/node/e2e.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/need.sh"
upstream_need interlink
[ -x "${INTERLINK_API:-}" ] || { echo "FAIL: no interLink API server after the build"; exit 1; }
FERRY_E2E_INTERLINK_API=$INTERLINK_API exec bash "$here/../node/e2e.sh" "$@"
