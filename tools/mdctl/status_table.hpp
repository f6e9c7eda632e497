#pragma once
/// The text `mdctl status` prints: a status response of the supervisor (PROTOCOL.md, "status")
/// as a header line, one aligned row per venue slot plus one for the merger, and the bus
/// totals — what a human reads at a glance; scripts use `--json` instead.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mdbus::mdctl {

/// Renders a status response. Never throws on any JSON value: a missing or mistyped field
/// shows as "—", a missing array as no rows. `color` adds ANSI colours (state, crash loops,
/// errors) without changing the alignment. `width` is the terminal width the last-error column
/// is truncated to fit (with "…", at least 16 columns kept); 0 means no truncation.
[[nodiscard]] std::string format_status(const nlohmann::json& status, bool color = false, std::size_t width = 0);

/// The same table as data, for the supervisor's status page (bus/supervisor/status_page.cpp),
/// so the page and `mdctl status` show the same cells by the same rules:
/// {"header": the header line, "columns": [{"title", "right"}], "rows": [{"slot", "state",
/// "process", "cells": [{"text", "tone"}]}], "totals": the totals lines}. `tone` is "ok", "warn", "bad" or "" where the
/// terminal table is green, yellow, red or plain; `slot` is the first cell ("binance/g1/A",
/// "merger"), `state` and `process` the raw fields ("" when absent; the merger has no state).
/// Never throws on any JSON value, as format_status.
[[nodiscard]] nlohmann::json status_cells(const nlohmann::json& status);

/// A duration for humans, two units at most: "850ms", "40s", "3m12s", "5h03m", "2d04h".
/// Negative durations get a leading "-".
[[nodiscard]] std::string human_duration(std::int64_t ms);

/// Terminal columns `s` takes: UTF-8 code points, ANSI colour sequences excluded (every code
/// point counts as one column, which holds for the text mdctl prints).
[[nodiscard]] std::size_t display_width(std::string_view s) noexcept;

/// `s` cut to at most `columns` display columns, ending in "…" when something was cut;
/// control characters (a newline in an error text) become spaces so a row stays one line.
[[nodiscard]] std::string fit_text(std::string_view s, std::size_t columns);

}  // namespace mdbus::mdctl
