#include "compiler/render/drill_result.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace polder {
namespace {

using nlohmann::json;

// Reads keys of one object, remembering the first problem so that the caller
// checks once at the end; `where` is the object's path ("activate").
class ObjectReader {
 public:
  ObjectReader(const json& object, std::string where, std::string* error)
      : object_(object), where_(std::move(where)), error_(error) {}

  const json* Find(const std::string& key, bool required) {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) {
      if (required) Fail(key, "is missing");
      return nullptr;
    }
    return &*it;
  }

  std::string String(const std::string& key, bool required) {
    const json* v = Find(key, required);
    if (v == nullptr) return "";
    if (!v->is_string()) {
      Fail(key, "must be a string");
      return "";
    }
    return v->get<std::string>();
  }

  std::optional<int64_t> Count(const std::string& key, bool required) {
    const json* v = Find(key, required);
    if (v == nullptr) return std::nullopt;
    if (!v->is_number_integer() || v->get<int64_t>() < 0) {
      {
        Fail(key, "must be a non-negative integer");
        return std::nullopt;
      }
    }
    return v->get<int64_t>();
  }

  std::optional<bool> Bool(const std::string& key, bool required) {
    const json* v = Find(key, required);
    if (v == nullptr) return std::nullopt;
    if (!v->is_boolean()) {
      Fail(key, "must be true or false");
      return std::nullopt;
    }
    return v->get<bool>();
  }

  // A nested object, or nullptr when absent (an error when not an object).
  const json* Object(const std::string& key, bool required) {
    const json* v = Find(key, required);
    if (v == nullptr) return nullptr;
    if (!v->is_object()) {
      Fail(key, "must be an object");
      return nullptr;
    }
    return v;
  }

  const json* Array(const std::string& key, bool required) {
    const json* v = Find(key, required);
    if (v == nullptr) return nullptr;
    if (!v->is_array()) {
      Fail(key, "must be a list");
      return nullptr;
    }
    return v;
  }

  std::string Path(const std::string& key) const {
    return where_.empty() ? key : absl::StrCat(where_, ".", key);
  }

  void Fail(const std::string& key, absl::string_view problem) {
    if (error_->empty()) *error_ = absl::StrCat("`", Path(key), "` ", problem);
  }

 private:
  const json& object_;
  std::string where_;
  std::string* error_;
};

std::string JsonText(const json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

// "web-1 -> db-1 tcp/5432: expected blocked, observed allowed" for the
// fields lab drill writes; any other object as "key: value, ...".
std::string DisagreementText(const json& item) {
  if (!item.is_object()) return JsonText(item);
  auto has = [&](const char* key) { return item.contains(key); };
  if (has("from") && has("to") && has("protocol") && has("port") && has("expected") &&
      has("observed")) {
    return absl::StrCat(JsonText(item["from"]), " -> ", JsonText(item["to"]), " ",
                        JsonText(item["protocol"]), "/", JsonText(item["port"]), ": expected ",
                        JsonText(item["expected"]), ", observed ", JsonText(item["observed"]));
  }
  std::vector<std::string> parts;
  for (const auto& [key, value] : item.items())
    parts.push_back(absl::StrCat(key, ": ", JsonText(value)));
  return absl::StrJoin(parts, ", ");
}

std::optional<DrillTimingResult> ReadTiming(ObjectReader& parent, const std::string& key,
                                            std::string* error) {
  const json* object = parent.Object(key, false);
  if (object == nullptr) return std::nullopt;
  ObjectReader r(*object, parent.Path(key), error);
  DrillTimingResult t;
  t.enforced_ms = r.Count("enforced_ms", false);
  t.timeout_ms = r.Count("timeout_ms", false).value_or(0);
  t.error = r.String("error", false);
  if (const json* hosts = r.Array("hosts", false)) {
    for (size_t i = 0; i < hosts->size(); ++i) {
      const json& h = (*hosts)[i];
      std::string where = absl::StrCat(parent.Path(key), ".hosts[", i, "]");
      if (!h.is_object()) {
        if (error->empty()) *error = absl::StrCat("`", where, "` must be an object");
        break;
      }
      ObjectReader hr(h, where, error);
      DrillHostTiming host;
      host.host = hr.String("host", true);
      host.enforced_ms = hr.Count("enforced_ms", false);
      t.hosts.push_back(std::move(host));
    }
  }
  return t;
}

std::optional<DrillProbe> ReadProbe(ObjectReader& parent, const std::string& key,
                                    std::string* error) {
  const json* object = parent.Object(key, false);
  if (object == nullptr) return std::nullopt;
  ObjectReader r(*object, parent.Path(key), error);
  DrillProbe probe;
  probe.cases = r.Count("cases", true).value_or(0);
  probe.probed = r.Count("probed", true).value_or(0);
  probe.skipped = r.Count("skipped", false).value_or(0);
  probe.disagree = r.Count("disagree", true).value_or(0);
  if (const json* list = r.Array("disagreements", false)) {
    for (const json& item : *list) probe.disagreements.push_back(DisagreementText(item));
  }
  if (const json* skips = r.Array("skips", false)) {
    for (size_t i = 0; i < skips->size(); ++i) {
      std::string where = absl::StrCat(parent.Path(key), ".skips[", i, "]");
      if (!(*skips)[i].is_object()) {
        if (error->empty()) *error = absl::StrCat("`", where, "` must be an object");
        break;
      }
      ObjectReader sr((*skips)[i], where, error);
      std::string reason = sr.String("reason", true);
      probe.skips.emplace_back(reason, sr.Count("cases", true).value_or(0));
    }
  }
  return probe;
}

}  // namespace

absl::StatusOr<DrillResult> ParseDrillResult(absl::string_view text, absl::string_view name) {
  json root = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": not valid JSON"));
  }
  if (!root.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": a drill report is one JSON object (polder lab drill --format json)"));
  }
  std::string error;
  ObjectReader r(root, "", &error);
  DrillResult d;
  d.policy_revision = r.String("policy_revision", true);
  d.posture = r.String("posture", true);
  d.posture_revision = r.String("posture_revision", false);
  d.started = r.String("started", false);
  d.lab = r.String("lab", false);
  d.activate = ReadTiming(r, "activate", &error);
  d.probe_posture = ReadProbe(r, "probe_posture", &error);
  d.release = ReadTiming(r, "release", &error);
  d.probe_normal = ReadProbe(r, "probe_normal", &error);
  d.agree = r.Bool("agree", true).value_or(false);
  if (!error.empty()) return absl::InvalidArgumentError(absl::StrCat(name, ": ", error));
  return d;
}

}  // namespace polder
