#!/usr/bin/env bash
# INSERT throughput: bare table vs supadispatch triggers vs per-row net.http_post webhook trigger,
# side by side in one run, plus a 10,000-row single INSERT (plugin vs bare).
#   BENCH_DB_URL (default: $SUPABASE_DB_URL) — the postgres role; the core must be installed.
#   CLIENTS (8), DURATION seconds per run (20), ROUNDS (3, interleaved; median reported), BULK_ROWS (10000)
# The worker URL is put in Vault (dispatch_worker_url) so the plugin's once-per-transaction poke is
# measured too. Leaves schema `bench` behind; drop it with: drop schema bench cascade.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
url="${BENCH_DB_URL:-${SUPABASE_DB_URL:-}}"
[ -n "$url" ] || { echo "set BENCH_DB_URL or SUPABASE_DB_URL (postgres role)"; exit 2; }
bin="${PG_BIN:-/usr/lib/postgresql/15/bin}"
clients="${CLIENTS:-8}"; duration="${DURATION:-20}"; rounds="${ROUNDS:-3}"; bulk="${BULK_ROWS:-10000}"
psqlq() { "$bin/psql" "$url" -X -q -v ON_ERROR_STOP=1 "$@"; }

psqlq -f "$here/setup.sql" >/dev/null
psqlq -c "do \$\$ begin
  if not exists (select from vault.decrypted_secrets where name = 'dispatch_worker_url') then
    perform vault.create_secret('http://127.0.0.1:9/functions/v1/dispatch-worker', 'dispatch_worker_url');
  end if; end \$\$" >/dev/null 2>&1 || echo "(no Vault access: the plugin runs without its worker poke)"

tps() { # table
  "$bin/pgbench" "$url" -n -c "$clients" -j "$clients" -T "$duration" -f "$here/insert_$1.sql" 2>/dev/null \
    | awk '/^tps = / { printf "%.0f", $3 }'
}
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

declare -a bare plugin webhook
for r in $(seq 1 "$rounds"); do
  bare+=("$(tps bare)"); plugin+=("$(tps plugin)"); webhook+=("$(tps webhook)")
  echo "round $r: bare ${bare[-1]} tps, plugin ${plugin[-1]} tps, webhook ${webhook[-1]} tps"
done
mb=$(median "${bare[@]}"); mp=$(median "${plugin[@]}"); mw=$(median "${webhook[@]}")

bulk_ms() { # table -> ms of one INSERT of $bulk rows (own transaction)
  psqlq -c "\\timing on" -c "insert into bench.$1 (user_id, amount) select ('00000000-0000-0000-0000-' || lpad((1 + g % 1000)::text, 12, '0'))::uuid, g from generate_series(1, $bulk) g" \
    | awk '/^Time: / { printf "%.0f", $2 }'
}
declare -a bb bp
for r in $(seq 1 "$rounds"); do bb+=("$(bulk_ms bare)"); bp+=("$(bulk_ms plugin)"); done
mbb=$(median "${bb[@]}"); mbp=$(median "${bp[@]}")

echo
echo "clients=$clients duration=${duration}s rounds=$rounds (median)   $(psqlq -Atc 'select version()' | cut -d' ' -f1-2)"
printf '%-28s %10s %12s %14s\n' "" "bare" "plugin" "webhook/row"
printf '%-28s %10s %12s %14s\n' "INSERT tps" "$mb" "$mp" "$mw"
awk -v b="$mb" -v p="$mp" -v w="$mw" 'BEGIN {
  printf "%-28s %10s %12.2f %14.2f\n", "ratio to bare", "1.00", p / b, w / b;
  printf "%-28s %10s %12.2f\n", "plugin / webhook-per-row", "", p / w }'
printf '%-28s %10s %12s\n' "${bulk}-row INSERT (ms)" "$mbb" "$mbp"
awk -v b="$mbb" -v p="$mbp" 'BEGIN { printf "%-28s %10s %12.2f\n", "bulk time ratio to bare", "1.00", p / b }'
echo "targets: plugin >= 0.5x bare and >= 0.8x webhook-per-row at 8 clients; bulk <= 3x bare"
