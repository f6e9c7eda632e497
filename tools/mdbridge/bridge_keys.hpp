#pragma once
/// What mdbridge calls each record in JetStream (issue 18), pure so it is unit-tested apart
/// from NATS: which records cross, their subject and their Nats-Msg-Id.
///
/// The Msg-Id is what makes two buses on two hosts one stream: both bridges publish every
/// record their bus's merger published, and JetStream keeps the first copy of each id within
/// its duplicate window. So the id must be equal for the two buses' copies of one venue
/// message, and different for any two venue messages:
///   <venue>/<channel>/<symbol>/<kind>/<venue sequence>    records with a venue sequence
///   <venue>/<channel>/<symbol>/<kind>/h<content hash>     records without one (OKX tickers, ...)
///   <venue>/<channel>/<symbol>/g/<last held>/<first after>/<reason>[/<venue time>]   gap records
/// <kind> tells record types apart that share a sequence space (a REST snapshot's
/// lastUpdateId is also some delta's u). The content hash is the merger's own key for such
/// streams (record_content_hash): the bytes after the header and the venue time, which both
/// buses receive alike; receive and publish times and the slot, which differ, are not in it.
#include "mdbus/records.hpp"

#include <string>
#include <string_view>

namespace mdbus::bridge {

/// Every record but slot_status: a slot's state is its own bus's, not the venue's data.
[[nodiscard]] bool carried(const record_view& r) noexcept;

/// `<prefix>.<venue>.<channel>.<symbol>` into `out` (cleared first). A symbol byte outside
/// [A-Za-z0-9_-] becomes '_' (a dot would split the token); no symbol is "_".
void subject_for(std::string_view prefix, const record_header& h, std::string& out);

/// The Nats-Msg-Id (above) into `out` (cleared first).
void msg_id_for(const record_view& r, std::string& out);

}  // namespace mdbus::bridge
