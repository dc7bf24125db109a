#include "agent/agent_event.h"

#include <nlohmann/json.hpp>

namespace polder::agent {

const char* KindName(AgentEvent::Kind kind) {
  switch (kind) {
    case AgentEvent::Kind::kApplied:
      return "applied";
    case AgentEvent::Kind::kAdopted:
      return "adopted";
    case AgentEvent::Kind::kUnchanged:
      return "unchanged";
    case AgentEvent::Kind::kDrift:
      return "drift";
    case AgentEvent::Kind::kRestored:
      return "restored";
    case AgentEvent::Kind::kForeignTable:
      return "foreign_table";
    case AgentEvent::Kind::kError:
      return "error";
  }
  return "unknown";
}

std::string ToJsonLine(const AgentEvent& e) {
  nlohmann::ordered_json j;
  j["event"] = KindName(e.kind);
  j["time"] = absl::FormatTime(absl::RFC3339_full, e.time, absl::UTCTimeZone());
  switch (e.kind) {
    case AgentEvent::Kind::kApplied:
    case AgentEvent::Kind::kAdopted:
    case AgentEvent::Kind::kUnchanged:
    case AgentEvent::Kind::kRestored:
      j["host"] = e.host;
      j["revision"] = e.revision;
      j["hash"] = e.hash;
      j["duration_ms"] = e.duration_ms;
      if (!e.via.empty()) j["via"] = e.via;
      break;
    case AgentEvent::Kind::kDrift:
      j["differences"] = e.differences;
      j["pid"] = e.pid;
      j["process"] = e.process;
      j["source"] = e.source;
      break;
    case AgentEvent::Kind::kForeignTable:
      j["table"] = e.table;
      j["pid"] = e.pid;
      j["process"] = e.process;
      break;
    case AgentEvent::Kind::kError:
      j["message"] = e.message;
      break;
  }
  // Replace invalid UTF-8 (from process names or nft messages) rather than throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace polder::agent
