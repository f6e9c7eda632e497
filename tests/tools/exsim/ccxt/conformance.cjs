// ccxt against exsim: a third-party client written against the real venues, with only its
// URLs changed (and spot-only market loading), watches trades and order books on Binance and
// OKX, then freezes exsim's market and waits until every book has caught up with it.
// It records what ccxt delivered; ccxt_conformance_test.cpp checks that against exsim's
// truth log and REST snapshots. Run by that test; see tools/exsim/README.md.
//
// env: EXSIM_VENUE_PORT (WebSocket), EXSIM_BINANCE_REST_PORT and EXSIM_OKX_REST_PORT (REST;
//      both default to the venue port), EXSIM_CONTROL_PORT, CCXT_OUT (result JSON),
//      CCXT_WINDOW_MS (12000). NODE_PATH must reach the ccxt package, NODE_EXTRA_CA_CERTS the
//      exsim test CA.
'use strict';
const fs = require('fs');
const http = require('http');
const https = require('https');
const ccxt = require('ccxt');
const { retarget } = require('./retarget.cjs');  // every URL at exsim: nothing can reach the internet

const venuePort = Number(process.env.EXSIM_VENUE_PORT);
const controlPort = Number(process.env.EXSIM_CONTROL_PORT);
const restPort = {
  binance: Number(process.env.EXSIM_BINANCE_REST_PORT || venuePort),
  okx: Number(process.env.EXSIM_OKX_REST_PORT || venuePort),
};
const windowMs = Number(process.env.CCXT_WINDOW_MS || 12000);
const outPath = process.env.CCXT_OUT;
const symbols = ['BTC/USDT', 'ETH/USDT'];
const TOP = 25;  // book levels per side that are compared

const result = { ccxt_version: ccxt.version, requests: [], ws: [], markets: {}, trades: {}, books: {}, rest: {}, errors: [], connections: [] };
const log = (...a) => console.log('ccxt:', ...a);

function control(method, path, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? '' : JSON.stringify(body);
    const req = http.request({ host: '127.0.0.1', port: controlPort, method, path,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => { try { resolve(JSON.parse(text)); } catch (e) { reject(e); } });
    });
    req.on('error', reject);
    req.end(data);
  });
}


function instrument(ex) {
  // Record what ccxt asks for: REST requests and WebSocket subscribe messages.
  const fetch = ex.fetch.bind(ex);
  ex.fetch = (url, method = 'GET', headers = undefined, body = undefined) => {
    result.requests.push(`${ex.id} ${method} ${url.replace(/^https:\/\/[^/]+/, '')}`);
    return fetch(url, method, headers, body);
  };
  const client = ex.client.bind(ex);
  ex.client = (url) => {
    const c = client(url);
    if (!c.exsimLogged) {  // every message ccxt sends on this connection, pings included
      c.exsimLogged = true;
      const send = c.send.bind(c);
      c.send = (message) => {
        result.ws.push({ venue: ex.id, path: url.replace(/^wss:\/\/[^/]+/, ''), message });
        return send(message);
      };
    }
    return c;
  };
}

const binance = new ccxt.pro.binance({ options: { fetchMarkets: { types: ['spot'] } } });
const okx = new ccxt.pro.okx({ options: { fetchMarkets: { types: ['spot'] } } });
retarget(binance.urls.api, venuePort, restPort.binance);
retarget(okx.urls.api, venuePort, restPort.okx);
const venues = [binance, okx];
venues.forEach(instrument);

let stopping = false;
const tradeKey = (ex, s) => `${ex.id}:${s}`;

async function tradeLoop(ex, symbol) {
  const key = tradeKey(ex, symbol);
  const list = (result.trades[key] = []);
  while (!stopping) {
    let trades;
    try {
      trades = await ex.watchTrades(symbol);
    } catch (e) {
      if (!stopping) result.errors.push(`${key} watchTrades: ${e.constructor.name}: ${e.message}`);
      return;
    }
    for (const t of trades) {
      list.push({ id: t.id, price: t.price, amount: t.amount, timestamp: t.timestamp, side: t.side,
                  info: JSON.stringify(t.info) });
    }
  }
}

const books = {};
async function bookLoop(ex, symbol) {
  const key = tradeKey(ex, symbol);
  const state = (books[key] = { updates: 0, first_nonce: undefined, nonce: undefined, book: undefined });
  while (!stopping) {
    let ob;
    try {
      ob = await ex.watchOrderBook(symbol);
    } catch (e) {
      if (!stopping) result.errors.push(`${key} watchOrderBook: ${e.constructor.name}: ${e.message}`);
      return;
    }
    if (state.first_nonce === undefined) state.first_nonce = ob.nonce;
    state.nonce = ob.nonce;
    state.updates += 1;
    state.book = ob;
  }
}

// exsim's own REST book at the frozen sequence, fetched raw (not through ccxt) for the test
// to compare ccxt's book with.
function restGet(port, path) {
  return new Promise((resolve, reject) => {
    https.get({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ path, status: res.statusCode, body }));
    }).on('error', reject);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(what, cond, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (cond()) return true;
    await sleep(20);
  }
  result.errors.push(`timeout after ${ms} ms: ${what}`);
  return false;
}

async function main() {
  await Promise.all(venues.map((ex) => ex.loadMarkets()));
  for (const ex of venues) {
    for (const m of Object.values(ex.markets)) {
      result.markets[`${ex.id}:${m.symbol}`] = { id: m.id, active: m.active, type: m.type, base: m.base, quote: m.quote,
        price_precision: m.precision.price, amount_precision: m.precision.amount, min_amount: m.limits.amount.min };
    }
  }
  log(`markets: ${Object.keys(result.markets).join(' ')}`);

  const loops = [];
  for (const ex of venues) {
    for (const s of symbols) {
      loops.push(tradeLoop(ex, s));
      loops.push(bookLoop(ex, s));
    }
  }
  await waitFor('every book has its first update', () => Object.keys(books).length === 4 &&
    Object.values(books).every((b) => b.updates > 0), 15000);
  await sleep(windowMs);

  // Freeze the market, then wait until each book's nonce is exsim's current sequence and the
  // trade streams have gone quiet: from here on ccxt's state is comparable with exsim's REST.
  const frozen = await control('POST', '/market', { paused: true });
  result.connections = (await control('GET', '/connections')).map((c) => `${c.venue} ${c.path}`);
  const target = {};
  for (const b of frozen.binance) target[`binance:${binance.markets_by_id[b.symbol][0].symbol}`] = b.last_update_id;
  for (const o of frozen.okx) target[`okx:${okx.markets_by_id[o.instId][0].symbol}`] = o.seqId;
  result.exsim_status = target;
  await waitFor('ccxt books reach exsim\'s frozen sequence', () =>
    Object.keys(books).every((k) => books[k].nonce === target[k]), 5000);
  let counts = '';
  await waitFor('trade streams quiet for 500 ms', () => {
    const now = Object.values(result.trades).map((l) => l.length).join(',');
    const quiet = now === counts;
    counts = now;
    return quiet;
  }, 5000).then(() => sleep(500));

  for (const s of symbols) {
    result.rest[`binance:${s}`] = await restGet(restPort.binance, `/api/v3/depth?symbol=${binance.market(s).id}&limit=1000`);
    result.rest[`okx:${s}`] = await restGet(restPort.okx, `/api/v5/market/books?instId=${okx.market(s).id}&sz=400`);
  }
  for (const [k, b] of Object.entries(books)) {
    const top = (side) => side.slice(0, TOP).map(([p, a]) => [p, a]);
    result.books[k] = { updates: b.updates, first_nonce: b.first_nonce, nonce: b.nonce,
      bids: b.book ? top(b.book.bids) : [], asks: b.book ? top(b.book.asks) : [],
      bid_levels: b.book ? b.book.bids.length : 0, ask_levels: b.book ? b.book.asks.length : 0 };
  }
  stopping = true;
  await Promise.race([Promise.all(venues.map((ex) => ex.close())), sleep(2000)]);
  await Promise.race([Promise.all(loops), sleep(1000)]);
}

main().catch((e) => result.errors.push(`fatal: ${e.constructor.name}: ${e.message}`)).finally(() => {
  fs.writeFileSync(outPath, JSON.stringify(result));
  for (const [k, l] of Object.entries(result.trades)) log(`${k}: ${l.length} trades`);
  for (const [k, b] of Object.entries(result.books)) log(`${k}: book nonce ${b.nonce} after ${b.updates} updates`);
  for (const e of result.errors) log(`error: ${e}`);
  process.exit(0);
});
