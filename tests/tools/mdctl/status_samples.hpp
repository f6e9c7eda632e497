#pragma once
// Status replies for mdctl's tests: the sample of bus/supervisor/PROTOCOL.md verbatim, and a
// four-slot bus with the cases a table must survive (no age limit, a pending rotation, a crash
// loop, a long error, a slot without a connection).
#include <string>

namespace mdbus::test {

/// PROTOCOL.md, "status", as written there.
inline const std::string kProtocolStatusSample = R"({"ok":true,"bus":"sim","time_ns":1764000000000000000,
 "supervisor":{"pid":1234,"uptime_ms":81234,"config":"config/sim.json","config_generation":1,
               "config_running_copy":"/run/user/1000/mdbus/sim.running.json","reloaded_ms_ago":null,"metrics_port":9464},
 "slots":[
   {"venue":"binance","slot":"A","process":"running","pid":1240,"restarts":0,"crash_loop":false,
    "state":"live","reason":"none","connected_ms":40123,"last_message_age_ms":3,"next_rotation_ms":35000,"rotation_due":"age_limit",
    "rotation_waits":"partner not live",
    "msgs_per_s":812.5,"first_arrival_share":0.61,"lead_avg_us":35.2,"lag_vs_partner_us":-12.0,
    "reconnects":4,"proactive_rotations":3,"forced_reconnects":1,"parse_errors":0,"ring_overflows":0,
    "last_error":"","paused":false,"reload_pending":false}
 ],
 "merger":{"process":"running","pid":1238,"restarts":0,"crash_loop":false},
 "totals":{"published":123456,"duplicates":120001,"gaps":0,"data_loss_events":0,"ring_overflows":0,
           "proactive_reconnects":6,"forced_reconnects":2,"reconnect_avg_ms":180.5,"reconnect_max_ms":402.0}})";

/// A whole bus: two venues, two slots each, one of them in a crash loop.
inline const std::string kFourSlotStatus = R"({"ok":true,"bus":"prod","time_ns":1764000000000000000,
 "supervisor":{"pid":4100,"uptime_ms":90061000,"config":"/etc/mdbus/prod.json","metrics_port":null},
 "slots":[
   {"venue":"binance","slot":"A","process":"running","pid":4112,"restarts":0,"crash_loop":false,
    "state":"live","reason":"age_limit","connected_ms":49000000,"next_rotation_ms":36500000,"rotation_due":null,
    "msgs_per_s":1523.25,"first_arrival_share":0.4375,"lead_avg_us":21.0,"lag_vs_partner_us":8.5,
    "reconnects":12,"proactive_rotations":11,"forced_reconnects":1,"parse_errors":0,"ring_overflows":0,
    "last_error":"","paused":false},
   {"venue":"binance","slot":"B","process":"running","pid":4113,"restarts":1,"crash_loop":false,
    "state":"connecting","reason":"pong_timeout","connected_ms":0,"next_rotation_ms":null,"rotation_due":null,
    "msgs_per_s":0,"first_arrival_share":0.5625,"lead_avg_us":30.0,"lag_vs_partner_us":-8.5,
    "reconnects":7,"proactive_rotations":5,"forced_reconnects":2,"parse_errors":0,"ring_overflows":0,
    "last_error":"pong timeout after 10000 ms","paused":false},
   {"venue":"okx","slot":"A","process":"running","pid":4114,"restarts":0,"crash_loop":false,
    "state":"live","reason":"none","connected_ms":192000,"next_rotation_ms":null,"rotation_due":"operator_request",
    "msgs_per_s":3.5,"first_arrival_share":1.0,"lead_avg_us":5.0,"lag_vs_partner_us":null,
    "reconnects":0,"proactive_rotations":0,"forced_reconnects":0,"parse_errors":0,"ring_overflows":0,
    "last_error":"","paused":false},
   {"venue":"okx","slot":"B","process":"restarting","pid":null,"restarts":9,"crash_loop":true,
    "state":"down","reason":"process_exit","connected_ms":0,"next_rotation_ms":null,"rotation_due":null,
    "msgs_per_s":0,"first_arrival_share":0.0,"lead_avg_us":null,"lag_vs_partner_us":null,
    "reconnects":0,"proactive_rotations":0,"forced_reconnects":0,"parse_errors":0,"ring_overflows":2,
    "last_error":"exited with status 1: handshake failed: TLS alert 48 (unknown ca) from 127.0.0.1:9443 after 3 attempts within the venue's connection limit window","paused":true}
 ],
 "merger":{"process":"running","pid":4111,"restarts":2,"crash_loop":false},
 "totals":{"published":987654321,"duplicates":987000000,"gaps":1,"data_loss_events":1,"ring_overflows":2,
           "proactive_reconnects":16,"forced_reconnects":3,"reconnect_avg_ms":95.25,"reconnect_max_ms":1210.0}})";

}  // namespace mdbus::test
