#include "agent/listing_diff.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace polder::agent {
namespace {

// Lines of a listing keyed by their enclosing blocks. Trailing commas are dropped because
// nft puts them on every set element line but the last.
std::vector<std::string> KeyedLines(absl::string_view listing) {
  std::vector<std::string> out;
  std::vector<std::string> context;
  for (absl::string_view raw : absl::StrSplit(listing, '\n')) {
    absl::string_view line = absl::StripAsciiWhitespace(raw);
    if (line.empty()) continue;
    if (absl::ConsumeSuffix(&line, "{")) {
      context.emplace_back(absl::StripAsciiWhitespace(line));
      out.push_back(absl::StrJoin(context, " > "));
      continue;
    }
    if (line == "}") {
      if (!context.empty()) context.pop_back();
      continue;
    }
    absl::ConsumeSuffix(&line, ",");
    if (context.empty()) {
      out.emplace_back(line);
    } else {
      out.push_back(absl::StrCat(absl::StrJoin(context, " > "), ": ", line));
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> DiffListings(absl::string_view desired, absl::string_view actual,
                                      size_t limit) {
  std::vector<std::string> want = KeyedLines(desired);
  absl::flat_hash_map<absl::string_view, long> remaining;
  for (const std::string& l : want) ++remaining[l];
  std::vector<std::string> added;
  std::vector<std::string> have = KeyedLines(actual);
  for (const std::string& l : have) {
    auto it = remaining.find(l);
    if (it != remaining.end() && it->second > 0) {
      --it->second;
    } else {
      added.push_back(l);
    }
  }
  std::vector<std::string> out;
  size_t total = 0;
  auto emit = [&](absl::string_view sign, absl::string_view l) {
    if (++total <= limit) out.push_back(absl::StrCat(sign, " ", l));
  };
  for (const std::string& l : want) {
    auto it = remaining.find(l);
    if (it->second > 0) {
      --it->second;
      emit("-", l);
    }
  }
  for (const std::string& l : added) emit("+", l);
  if (total > limit) out.push_back(absl::StrCat("... ", total - limit, " more"));
  return out;
}

}  // namespace polder::agent
