#include "compiler/frontend/yaml_access.h"

#include <charconv>
#include <set>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "compiler/frontend/did_you_mean.h"

namespace polder {
namespace {

std::string Describe(const YamlNode& n) {
  switch (n.kind) {
    case YamlNode::Kind::kNull:
      return "nothing";
    case YamlNode::Kind::kScalar:
      return absl::StrCat("`", n.scalar, "`");
    case YamlNode::Kind::kSequence:
      return "a list";
    case YamlNode::Kind::kMap:
      return "a mapping";
  }
  return "?";
}

}  // namespace

bool IsValidName(std::string_view s) {
  if (s.empty() || s.size() > 63 || s[0] < 'a' || s[0] > 'z') return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

bool YamlAccess::CheckMap(const YamlNode& node, const std::vector<std::string>& allowed,
                          const std::string& what) {
  if (!node.IsMap()) {
    Error(node, "parse-error",
          absl::StrCat(what, " must be a mapping of keys to values, not ", Describe(node)));
    return false;
  }
  // A set, not a scan of earlier keys: a hostile file may hold 100,000 keys in one mapping.
  absl::flat_hash_set<absl::string_view> seen;
  for (size_t i = 0; i < node.entries.size(); ++i) {
    const YamlNode& key = node.entries[i].key;
    if (!key.IsScalar()) {
      Error(key, "parse-error", absl::StrCat("keys of ", what, " must be plain words"));
      continue;
    }
    if (!seen.insert(key.scalar).second) {
      Error(key, "parse-error",
            absl::StrCat("key `", key.scalar, "` appears twice in ", what, "; keep one"));
      continue;
    }
    if (std::find(allowed.begin(), allowed.end(), key.scalar) == allowed.end()) {
      std::string hint = DidYouMean(key.scalar, allowed);
      Error(key, "unknown-key",
            absl::StrCat(
                "unknown key `", key.scalar, "` in ", what, hint,
                hint.empty() ? absl::StrCat("; known keys: ", absl::StrJoin(allowed, ", ")) : ""));
    }
  }
  return true;
}

const YamlNode* YamlAccess::Find(const YamlNode& map, std::string_view key) {
  for (const auto& [k, v] : map.entries) {
    if (k.IsScalar() && k.scalar == key) return &v;
  }
  return nullptr;
}

const YamlNode* YamlAccess::Require(const YamlNode& map, std::string_view key,
                                    const std::string& what) {
  const YamlNode* v = Find(map, key);
  if (!v) Error(map, "parse-error", absl::StrCat(what, " needs a `", std::string(key), "`"));
  return v;
}

std::optional<std::string> YamlAccess::String(const YamlNode& n, const std::string& what) {
  if (!n.IsScalar()) {
    Error(n, "parse-error", absl::StrCat(what, " must be a single value, not ", Describe(n)));
    return std::nullopt;
  }
  return n.scalar;
}

std::optional<bool> YamlAccess::Bool(const YamlNode& n, const std::string& what) {
  if (n.IsScalar() && n.plain && (n.scalar == "true" || n.scalar == "false")) {
    return n.scalar == "true";
  }
  Error(n, "parse-error", absl::StrCat(what, " must be true or false, not ", Describe(n)));
  return std::nullopt;
}

std::optional<long> YamlAccess::Integer(const YamlNode& n, const std::string& what, long lo,
                                        long hi) {
  long value = 0;
  if (n.IsScalar() && n.plain) {
    const char* end = n.scalar.data() + n.scalar.size();
    auto [ptr, ec] = std::from_chars(n.scalar.data(), end, value);
    if (ec == std::errc() && ptr == end && value >= lo && value <= hi) return value;
  } else if (n.IsScalar()) {
    // `max: "2"`: the quotes make a string of the number.
    const char* end = n.scalar.data() + n.scalar.size();
    auto [ptr, ec] = std::from_chars(n.scalar.data(), end, value);
    if (ec == std::errc() && ptr == end && !n.scalar.empty()) {
      Error(n, "parse-error",
            absl::StrCat(what, " is a number, but `\"", n.scalar,
                         "\"` is quoted, which makes it a string; remove the quotes"));
      return std::nullopt;
    }
  }
  Error(n, "parse-error",
        absl::StrCat(what, " must be a whole number from ", lo, " to ", hi, ", not ", Describe(n)));
  return std::nullopt;
}

std::optional<std::string> YamlAccess::Name(const YamlNode& n, const std::string& what) {
  std::optional<std::string> s = String(n, what);
  if (!s) return std::nullopt;
  if (!IsValidName(*s)) {
    Error(n, "parse-error",
          absl::StrCat(what, " `", *s,
                       "` is not a valid name: use 1-63 lower-case letters, digits, `-` or `_`, "
                       "starting with a letter"));
    return std::nullopt;
  }
  return s;
}

std::vector<const YamlNode*> YamlAccess::List(const YamlNode& n, const std::string& what,
                                              bool allow_single) {
  std::vector<const YamlNode*> out;
  if (n.IsSequence()) {
    for (const YamlNode& item : n.items) out.push_back(&item);
  } else if (allow_single && n.IsScalar()) {
    out.push_back(&n);
  } else if (!n.IsNull() || allow_single) {
    Error(n, "parse-error",
          absl::StrCat(what, " must be a list", allow_single ? " or a single name" : "", ", not ",
                       Describe(n)));
  }
  return out;
}

}  // namespace polder
