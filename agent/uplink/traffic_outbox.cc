#include "agent/uplink/traffic_outbox.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>

#include "absl/strings/str_cat.h"
#include "wire/limits.h"
#include "wire/traffic_proto.h"

namespace polder::agent {

TrafficOutbox::TrafficOutbox(std::filesystem::path spool, std::filesystem::path acked_file,
                             Warn warn, size_t max_pending)
    : spool_(std::move(spool)),
      acked_file_(std::move(acked_file)),
      warn_(std::move(warn)),
      max_pending_(max_pending == 0 ? wire::kMaxTrafficBatchesPending : max_pending) {}

absl::Status TrafficOutbox::Load() {
  absl::MutexLock lock(&mu_);
  entries_.clear();
  in_flight_ = 0;
  {
    std::ifstream in(acked_file_);
    uint64_t e = 0, s = 0;
    if (in && (in >> e >> s)) acked_through_ = {e, s};
  }
  last_ = acked_through_;
  std::ifstream in(spool_, std::ios::binary);
  if (!in) return absl::OkStatus();
  std::string line;
  uint64_t offset = 0;
  while (std::getline(in, line)) {
    uint64_t at = offset;
    offset += line.size() + 1;
    if (in.eof()) break;  // a cut last line is no report
    absl::StatusOr<wire::TrafficReport> r = wire::ParseTrafficReportLine(line);
    if (!r.ok()) continue;
    Position p{r->epoch, r->sequence};
    if (p <= last_) continue;  // acknowledged, or in the spool twice
    AddLocked(p, at);
  }
  return absl::OkStatus();
}

void TrafficOutbox::Add(const wire::TrafficReport& report, uint64_t line_offset) {
  absl::MutexLock lock(&mu_);
  Position p{report.epoch, report.sequence};
  if (p <= last_) return;
  AddLocked(p, line_offset);
}

void TrafficOutbox::AddLocked(Position p, uint64_t offset) {
  last_ = p;
  entries_.push_back(Entry{p, offset});
  // Bounded: the oldest not on the wire is given up (it stays in the spool for --local).
  while (entries_.size() > max_pending_) {
    auto victim = entries_.begin();
    while (victim != entries_.end() && victim->in_flight) ++victim;
    if (victim == entries_.end()) break;
    ++given_up_;
    if (warn_)
      warn_(absl::StrCat("traffic: batch ", victim->position.first, "/", victim->position.second,
                         " given up unsent: more than ", max_pending_,
                         " batches wait for the controller (it stays in the spool)"));
    entries_.erase(victim);
  }
}

namespace {

// Cuts `v` to its first `max` entries and returns the rest.
template <typename T>
std::vector<T> CutTo(std::vector<T>& v, int max) {
  std::vector<T> rest;
  if (v.size() <= static_cast<size_t>(max)) return rest;
  rest.assign(std::make_move_iterator(v.begin() + max), std::make_move_iterator(v.end()));
  v.resize(static_cast<size_t>(max));
  return rest;
}

}  // namespace

std::vector<v1::AgentMessage> TrafficOutbox::Take() {
  std::vector<v1::AgentMessage> out;
  absl::MutexLock lock(&mu_);
  if (in_flight_ >= static_cast<size_t>(wire::kMaxTrafficBatchesInFlight)) return out;
  std::ifstream in(spool_, std::ios::binary);
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (in_flight_ >= static_cast<size_t>(wire::kMaxTrafficBatchesInFlight)) break;
    if (it->in_flight || it->acked) {
      ++it;
      continue;
    }
    std::string line;
    in.clear();
    in.seekg(static_cast<std::streamoff>(it->offset));
    absl::StatusOr<wire::TrafficReport> r =
        in && std::getline(in, line)
            ? wire::ParseTrafficReportLine(line)
            : absl::StatusOr<wire::TrafficReport>(absl::DataLossError("cannot read the spool"));
    if (!r.ok() || Position{r->epoch, r->sequence} != it->position) {
      ++given_up_;
      if (warn_)
        warn_(absl::StrCat("traffic: batch ", it->position.first, "/", it->position.second,
                           " given up: its spool line cannot be read back (",
                           r.ok() ? "another batch is there" : r.status().message(), ")"));
      it = entries_.erase(it);
      continue;
    }
    // The spool keeps everything (for --local); what a batch cannot carry is counted in it.
    if (auto cut = CutTo(r->samples, wire::kMaxTrafficSamplesPerBatch); !cut.empty()) {
      r->lost += cut.size();
      if (warn_)
        warn_(absl::StrCat("traffic: batch ", r->epoch, "/", r->sequence, " clipped to ",
                           wire::kMaxTrafficSamplesPerBatch, " samples; ", cut.size(),
                           " tuples counted as lost"));
    }
    if (auto cut = CutTo(r->hits, wire::kMaxTrafficHitsPerBatch); !cut.empty()) {
      uint64_t packets = 0;
      for (const wire::TrafficHit& h : cut) packets += h.packets;
      r->clipped_hit_packets += packets;
      if (warn_)
        warn_(absl::StrCat("traffic: batch ", r->epoch, "/", r->sequence, " clipped to ",
                           wire::kMaxTrafficHitsPerBatch, " hit counters; ", cut.size(),
                           " counters with ", packets, " packets sent as lost hits"));
    }
    v1::AgentMessage m;
    wire::ToProto(*r, m.mutable_traffic_batch());
    out.push_back(std::move(m));
    it->in_flight = true;
    ++in_flight_;
    ++it;
  }
  return out;
}

void TrafficOutbox::Acked(uint64_t epoch, uint64_t sequence) {
  absl::MutexLock lock(&mu_);
  Position p{epoch, sequence};
  for (Entry& e : entries_) {
    if (e.position != p) continue;
    if (e.acked) return;
    e.acked = true;
    if (e.in_flight) {
      e.in_flight = false;
      --in_flight_;
    }
    break;
  }
  std::optional<Position> through;
  while (!entries_.empty() && entries_.front().acked) {
    through = entries_.front().position;
    entries_.pop_front();
  }
  if (through) {
    acked_through_ = *through;
    if (absl::Status s = SaveAcked(*through); !s.ok() && warn_)
      warn_(absl::StrCat("traffic: ", s.message(),
                         " (a restart would send acknowledged batches again; harmless)"));
  }
}

absl::Status TrafficOutbox::SaveAcked(Position p) {
  std::filesystem::path tmp = acked_file_;
  tmp += ".tmp";
  std::string text = absl::StrCat(p.first, " ", p.second, "\n");
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return absl::UnavailableError(absl::StrCat("open ", tmp.string(), ": ", strerror(errno)));
  bool ok =
      write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && fsync(fd) == 0;
  int err = errno;
  close(fd);
  if (!ok) return absl::UnavailableError(absl::StrCat("write ", tmp.string(), ": ", strerror(err)));
  std::error_code ec;
  std::filesystem::rename(tmp, acked_file_, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("rename ", tmp.string(), ": ", ec.message()));
  return absl::OkStatus();
}

void TrafficOutbox::StreamEnded() {
  absl::MutexLock lock(&mu_);
  for (Entry& e : entries_) e.in_flight = false;
  in_flight_ = 0;
}

size_t TrafficOutbox::pending() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

size_t TrafficOutbox::in_flight() const {
  absl::MutexLock lock(&mu_);
  return in_flight_;
}

uint64_t TrafficOutbox::given_up() const {
  absl::MutexLock lock(&mu_);
  return given_up_;
}

}  // namespace polder::agent
