// ccxt pro as a user would run it, side by side with the bus in e2e_bench: watchTrades on
// Binance and OKX (BTC/USDT, ETH/USDT) against exsim, with only its URLs changed (and spot-only
// market loading, as tests/tools/exsim/ccxt/conformance.cjs). For every trade it prints one
// line "<venue> <exchange symbol> <trade id> <receive ns>" to CCXT_OUT, the receive time being
// the wall clock (ns, CLOCK_REALTIME via performance.timeOrigin + performance.now(), µs
// resolution) when watchTrades handed the trade to this code: what a strategy on ccxt sees.
// "CCXT_READY 1" goes to stdout once every symbol has delivered a trade.
//
// env: EXSIM_VENUE_PORT, EXSIM_BINANCE_REST_PORT, EXSIM_OKX_REST_PORT, CCXT_OUT; NODE_PATH must
//      reach the ccxt package, NODE_EXTRA_CA_CERTS the exsim test CA. Stops on SIGTERM.
'use strict';
const fs = require('fs');
const { performance } = require('perf_hooks');
const ccxt = require('ccxt');
// every URL at exsim, path kept: nothing can reach the internet
const { retarget } = require('../tests/tools/exsim/ccxt/retarget.cjs');

const venuePort = Number(process.env.EXSIM_VENUE_PORT);
const restPort = { binance: Number(process.env.EXSIM_BINANCE_REST_PORT), okx: Number(process.env.EXSIM_OKX_REST_PORT) };
const out = fs.openSync(process.env.CCXT_OUT, 'w');
const symbols = ['BTC/USDT', 'ETH/USDT'];


const binance = new ccxt.pro.binance({ options: { fetchMarkets: { types: ['spot'] } } });
const okx = new ccxt.pro.okx({ options: { fetchMarkets: { types: ['spot'] } } });
retarget(binance.urls.api, venuePort, restPort.binance);
retarget(okx.urls.api, venuePort, restPort.okx);
const venues = [binance, okx];

// Wall clock in ns as a BigInt: timeOrigin (ms since the epoch, fractional) + now() (ms since
// origin, fractional, monotonic); both carry microseconds.
const originNs = BigInt(Math.round(performance.timeOrigin * 1e3)) * 1000n;
const wallNs = () => originNs + BigInt(Math.round(performance.now() * 1e6));

let stopping = false;
const seen = new Set();
let buffered = [];
function flush() {
  if (buffered.length === 0) return;
  fs.writeSync(out, buffered.join(''));
  buffered = [];
}

async function tradeLoop(ex, symbol) {
  const since = new Map();  // watchTrades returns its cache: take each trade once
  while (!stopping) {
    let trades;
    try {
      trades = await ex.watchTrades(symbol);
    } catch (e) {
      if (!stopping) console.error(`ccxt: ${ex.id} ${symbol} watchTrades: ${e.constructor.name}: ${e.message}`);
      return;
    }
    const now = wallNs();
    for (const t of trades) {
      if (since.has(t.id)) continue;
      since.set(t.id, true);
      buffered.push(`${ex.id} ${ex.market(symbol).id} ${t.id} ${now}\n`);
    }
    if (since.size > 5000) {  // keep the last trades only: ids only grow
      const keep = [...since.keys()].slice(-2000);
      since.clear();
      for (const k of keep) since.set(k, true);
    }
    if (!seen.has(`${ex.id}:${symbol}`)) {
      seen.add(`${ex.id}:${symbol}`);
      if (seen.size === venues.length * symbols.length) console.log('CCXT_READY 1');
    }
  }
}

async function main() {
  await Promise.all(venues.map((ex) => ex.loadMarkets()));
  const flusher = setInterval(flush, 50);
  const loops = [];
  for (const ex of venues) for (const s of symbols) loops.push(tradeLoop(ex, s));
  await new Promise((resolve) => process.on('SIGTERM', resolve));
  stopping = true;
  clearInterval(flusher);
  flush();
  await Promise.race([Promise.all(venues.map((ex) => ex.close())), new Promise((r) => setTimeout(r, 1000))]);
  process.exit(0);
}

main().catch((e) => {
  console.error(`ccxt: ${e.constructor.name}: ${e.message}`);
  process.exit(1);
});
