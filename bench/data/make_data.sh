#!/bin/sh
# Regenerates the recorded venue payloads in this folder from the capture files in
# tests/data/captures/ (provenance and licences: tests/data/captures/README.md and SOURCES.txt
# there; real public market data: cryptofeed sample_data and hftbacktest examples).
# Output: one raw WebSocket text message per line, nothing else.
#   binance_spot.jsonl      cryptofeed BINANCE (265 frames) + the first 1000 lines of hftbacktest spot
#   okx_v5.jsonl            cryptofeed OKX, received frames only (410)
#   binance_rest_depth.json the REST /api/v3/depth body (1000 levels a side) from hftbacktest spot
#   binance_usdm.jsonl      cryptofeed BINANCE_FUTURES (1535 frames) + the stream frames of the first 1000 lines of hftbacktest USD-M
#   binance_usdm_session.txt the first 400 lines of hftbacktest USD-M as recorded ("<recv_ns> <text>"), the REST
#                           /fapi/v1/depth answer at line 55 among the stream frames it arrived between
# Usage: bench/data/make_data.sh [captures-dir]   (default: the repository's tests/data/captures)
set -eu
out=$(dirname "$0")
src=${1:-$out/../../tests/data/captures}
# cryptofeed lines are "<epoch>: <json>"; the connect line ("<->") and our own requests ("<-") go.
{
  grep -v ' <-' "$src/cryptofeed_BINANCE.ws.1.0" | sed 's/^[0-9.]*: //' | grep -v '^$'
  head -n 1000 "$src/hftbacktest_spot_btcusdt_20240808.head3000.txt" | grep '"stream"' | sed 's/^[0-9]* //'
} >"$out/binance_spot.jsonl"
grep -v ' <-' "$src/cryptofeed_OKX.ws.1.0" | sed 's/^[0-9.]*: //' | grep -v '^$' >"$out/okx_v5.jsonl"
grep -m1 '"lastUpdateId"' "$src/hftbacktest_spot_btcusdt_20240808.head3000.txt" | sed 's/^[0-9]* //' >"$out/binance_rest_depth.json"
{
  grep -v ' <-' "$src/cryptofeed_BINANCE_FUTURES.ws.1.0" | sed 's/^[0-9.]*: //' | grep -v '^$'
  head -n 1000 "$src/hftbacktest_usdm_btcusdt_20240808.head3000.txt" | grep '"stream"' | sed 's/^[0-9]* //'
} >"$out/binance_usdm.jsonl"
head -n 400 "$src/hftbacktest_usdm_btcusdt_20240808.head3000.txt" >"$out/binance_usdm_session.txt"
