#!/usr/bin/env bash
# INSERT throughput: bare table vs supadispatch (capture in the transaction) vs the same work inside
# the transaction (strict events) vs a per-row net.http_post webhook trigger, side by side in one run;
# a 10,000-row single INSERT (plugin vs bare); and the after-commit cost: dispatch.drain() timed on
# the changes the plugin runs captured.
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

# changes captured before this run (another run's, a test's) are not this run's to time
psqlq -c "delete from dispatch.changes where source_table = 'bench.plugin'" >/dev/null
declare -a bare plugin inline webhook
for r in $(seq 1 "$rounds"); do
  bare+=("$(tps bare)"); plugin+=("$(tps plugin)"); inline+=("$(tps inline)"); webhook+=("$(tps webhook)")
  echo "round $r: bare ${bare[-1]} tps, plugin ${plugin[-1]} tps, inline ${inline[-1]} tps, webhook ${webhook[-1]} tps"
done
mb=$(median "${bare[@]}"); mp=$(median "${plugin[@]}"); mi=$(median "${inline[@]}"); mw=$(median "${webhook[@]}")

# After commit: drain 2,000 of the single-row changes the plugin rounds captured, on one backend (the
# worker's or tick's work; dispatch.tick() may have drained some meanwhile).
drain_n=$(psqlq -Atc "select least(2000, count(*)) from dispatch.changes where source_table = 'bench.plugin' and error is null")
drain_ms=$(psqlq -c "\\timing on" -c "do \$\$ declare left_ integer := $drain_n; n integer; begin
    while left_ > 0 loop n := dispatch.drain(least(500, left_)); exit when n = 0; left_ := left_ - n; end loop; end \$\$" \
  | awk '/^Time: / { printf "%.0f", $2 }')

bulk_ms() { # table -> ms of one INSERT of $bulk rows (own transaction)
  psqlq -c "\\timing on" -c "insert into bench.$1 (user_id, amount) select ('00000000-0000-0000-0000-' || lpad((1 + g % 1000)::text, 12, '0'))::uuid, g from generate_series(1, $bulk) g" \
    | awk '/^Time: / { printf "%.0f", $2 }'
}
psqlq -c "delete from dispatch.changes where source_table = 'bench.plugin'" >/dev/null # timed above
declare -a bb bp
for r in $(seq 1 "$rounds"); do bb+=("$(bulk_ms bare)"); bp+=("$(bulk_ms plugin)"); done
mbb=$(median "${bb[@]}"); mbp=$(median "${bp[@]}")
# processing one captured $bulk-row statement (the oldest bulk INSERT's change), then drop the others
bulk_drain_ms=$(psqlq -c "\\timing on" -c "select dispatch.drain(1)" | awk '/^Time: / { printf "%.0f", $2 }')
psqlq -c "delete from dispatch.changes where source_table = 'bench.plugin'" >/dev/null

echo
echo "clients=$clients duration=${duration}s rounds=$rounds (median)   $(psqlq -Atc 'select version()' | cut -d' ' -f1-2)"
printf '%-28s %10s %12s %12s %14s\n' "" "bare" "plugin" "inline" "webhook/row"
printf '%-28s %10s %12s %12s %14s\n' "INSERT tps" "$mb" "$mp" "$mi" "$mw"
awk -v b="$mb" -v p="$mp" -v i="$mi" -v w="$mw" 'BEGIN {
  printf "%-28s %10s %12.2f %12.2f %14.2f\n", "ratio to bare", "1.00", p / b, i / b, w / b;
  printf "%-28s %10s %12.2f %12.2f\n", "ratio to webhook-per-row", "", p / w, i / w }'
printf '%-28s %10s %12s\n' "${bulk}-row INSERT (ms)" "$mbb" "$mbp"
awk -v b="$mbb" -v p="$mbp" 'BEGIN { printf "%-28s %10s %12.2f\n", "bulk time ratio to bare", "1.00", p / b }'
echo "after commit (dispatch.drain, one backend):"
awk -v n="$drain_n" -v ms="$drain_ms" 'BEGIN { if (n > 0 && ms > 0)
  printf "  %d single-row changes in %d ms: %.3f ms per change, %.0f changes/s\n", n, ms, ms / n, n * 1000 / ms;
  else print "  no captured changes left to time (tick drained them?)" }'
echo "  one ${bulk}-row change: ${bulk_drain_ms} ms"
echo "targets: plugin >= 0.5x bare and >= 0.8x webhook-per-row at 8 clients; bulk <= 3x bare"
