// Points every REST and WebSocket base URL of a ccxt exchange's url tree at exsim on loopback,
// path kept, so nothing ccxt does can reach the internet: a call exsim does not serve fails
// instead. Shared by the ccxt conformance test and bench/ccxt_trades.cjs.
'use strict';

function retarget(node, venuePort, restPort) {
  for (const k of Object.keys(node)) {
    if (typeof node[k] === 'string') {
      node[k] = node[k].replace(/^(https|wss):\/\/[^/]+/, (m, scheme) => `${scheme}://127.0.0.1:${scheme === 'wss' ? venuePort : restPort}`);
    } else if (node[k] && typeof node[k] === 'object') {
      retarget(node[k], venuePort, restPort);
    }
  }
}

module.exports = { retarget };
