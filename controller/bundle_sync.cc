#include "controller/bundle_sync.h"

#include <system_error>

#include "absl/strings/str_cat.h"
#include "controller/log.h"
#include "controller/policy_source.h"
#include "wire/rfc3339.h"

namespace polder::controller {
namespace fs = std::filesystem;

BundleSync::BundleSync(BundleSyncOptions options, UseStore use_store, Reload reload)
    : options_(std::move(options)),
      use_store_(std::move(use_store)),
      reload_(std::move(reload)),
      compiler_(std::make_shared<const PolicyCompiler>(DirectoryCompiler(options_.policy_dir))) {
  std::error_code ec;
  fs::create_directories(options_.cache_dir, ec);
}

PolicyCompiler BundleSync::Compiler() {
  return
      [this](absl::Time now, const std::vector<QuarantineRecord>& q, const std::string& posture) {
        std::shared_ptr<const PolicyCompiler> c;
        {
          absl::MutexLock lock(&compiler_mu_);
          c = compiler_;
        }
        return (*c)(now, q, posture);
      };
}

std::optional<DesiredPolicy> BundleSync::adopted() const {
  absl::MutexLock lock(&mu_);
  return adopted_;
}

fs::path BundleSync::BundleDir(const std::string& name) const { return options_.cache_dir / name; }

absl::StatusOr<std::string> BundleSync::CheckCompiles(const PolicyBundle& bundle, absl::Time now) {
  fs::path dir = BundleDir(absl::StrCat("files-", bundle.Digest()));
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    if (auto s = bundle.WriteTo(dir); !s.ok()) return s;
  }
  return CheckDirectory(dir, now);  // the revision, or the compiler's own diagnostics
}

absl::Status BundleSync::AdoptLocked(const DesiredPolicy& desired, bool reload,
                                     const std::string& reason, bool theirs) {
  fs::path dir = BundleDir(absl::StrCat("files-", desired.digest));
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    std::optional<std::string> text;
    absl::Status read = use_store_([&](StateStore& store) {
      auto b = store.LoadBundle(desired.revision);
      if (!b.ok()) return b.status();
      text = *b;
      return absl::OkStatus();
    });
    if (!read.ok()) return read;
    if (!text)
      return absl::DataLossError(
          absl::StrCat("the store's desired revision ", desired.revision, " has no bundle"));
    auto bundle = PolicyBundle::Parse(*text);
    if (!bundle.ok()) return bundle.status();
    if (bundle->Digest() != desired.digest)
      return absl::DataLossError(absl::StrCat("the store's bundle for revision ", desired.revision,
                                              " does not have the digest it was published with"));
    if (auto s = bundle->WriteTo(dir); !s.ok()) return s;
  }
  {
    absl::MutexLock lock(&compiler_mu_);
    compiler_ = std::make_shared<const PolicyCompiler>(DirectoryCompiler(dir));
  }
  bool changed = !adopted_ || adopted_->digest != desired.digest;
  adopted_ = desired;
  if (reload && changed) reload_(reason, theirs).IgnoreError();  // a refusal is kept for status
  return absl::OkStatus();
}

absl::StatusOr<PublishResult> BundleSync::PublishLocked(const PolicyBundle& bundle,
                                                        const std::string& actor,
                                                        const std::string& reason, absl::Time now,
                                                        bool reload) {
  PublishResult result;
  result.digest = bundle.Digest();
  result.previous_revision = adopted_ ? adopted_->revision : "";
  if (adopted_ && adopted_->digest == result.digest) {
    result.revision = adopted_->revision;
    return result;  // nothing new
  }
  auto revision = CheckCompiles(bundle, now);
  if (!revision.ok()) return revision.status();
  DesiredPolicy desired{*revision, result.digest, actor, now, 0};
  AuditRecord audit{
      0,
      now,
      "publish",
      actor,
      "policy",
      absl::StrCat("files ", result.digest.substr(0, 12), ", ", bundle.files().size(), " file(s)"),
      reason,
      *revision};
  std::string serialized = bundle.Serialize();
  int64_t expected = adopted_ ? adopted_->version : 0;
  PublishOutcome outcome;
  absl::Status written = use_store_([&](StateStore& store) {
    auto o = store.PublishPolicy(desired, serialized, expected, audit);
    if (!o.ok()) return o.status();
    outcome = *o;
    return absl::OkStatus();
  });
  if (!written.ok()) return written;
  if (!outcome.won) {
    result.lost_race = true;
    result.revision = outcome.current.revision;
    Log(absl::StrCat("publish of revision ", *revision, " lost the race: revision ",
                     outcome.current.revision, " (by ", outcome.current.actor,
                     ") was published first; adopting it"));
    if (auto s = AdoptLocked(outcome.current, reload,
                             absl::StrCat("adopted revision ", outcome.current.revision,
                                          " published by ", outcome.current.actor),
                             /*theirs=*/true);
        !s.ok())
      return s;
    return result;
  }
  result.published = true;
  result.revision = outcome.current.revision;
  if (auto s = AdoptLocked(outcome.current, reload, reason, /*theirs=*/false); !s.ok()) return s;
  return result;
}

absl::StatusOr<PublishResult> BundleSync::Publish(const PolicyBundle& bundle,
                                                  const std::string& actor,
                                                  const std::string& reason, absl::Time now) {
  absl::MutexLock lock(&mu_);
  return PublishLocked(bundle, actor, reason, now, /*reload=*/true);
}

absl::Status BundleSync::Start(absl::Time now) {
  absl::MutexLock lock(&mu_);
  std::optional<DesiredPolicy> desired;
  absl::Status read = use_store_([&](StateStore& store) {
    auto d = store.LoadDesiredPolicy();
    if (!d.ok()) return d.status();
    desired = *d;
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  auto local = PolicyBundle::ReadDirectory(options_.policy_dir);
  if (!desired) {
    if (!local.ok()) return local.status();
    auto r = PublishLocked(*local, "controller", "controller started on an empty store", now,
                           /*reload=*/false);
    return r.ok() ? absl::OkStatus() : r.status();
  }
  if (!options_.adopt_at_start && local.ok() && local->Digest() != desired->digest) {
    if (auto s = AdoptLocked(*desired, false, "", true); !s.ok())
      return s;  // the version to CAS on
    auto r = PublishLocked(*local, "controller", "controller started", now, /*reload=*/false);
    return r.ok() ? absl::OkStatus() : r.status();
  }
  if (auto s = AdoptLocked(*desired, /*reload=*/false, "", /*theirs=*/true); !s.ok()) return s;
  if (!local.ok()) {
    Log(absl::StrCat("WARNING: cannot read --policy ", options_.policy_dir.string(), " (",
                     local.status().message(), "); serving the store's revision ",
                     desired->revision));
  } else if (local->Digest() != desired->digest) {
    auto revision = CheckCompiles(*local, now);
    Log(absl::StrCat(
        "WARNING: --policy ", options_.policy_dir.string(), " (",
        revision.ok() ? absl::StrCat("revision ", *revision) : "does not compile",
        ") differs from the store's desired policy: revision ", desired->revision,
        ", published by ", desired->actor, " at ", FormatRfc3339(desired->time),
        ". Serving the store's revision; the directory is published only when it changes while "
        "this controller runs, or with `polder publish`."));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> BundleSync::Poll() {
  absl::MutexLock lock(&mu_);
  std::optional<DesiredPolicy> desired;
  absl::Status read = use_store_([&](StateStore& store) {
    auto d = store.LoadDesiredPolicy();
    if (!d.ok()) return d.status();
    desired = *d;
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  if (!desired || (adopted_ && adopted_->version == desired->version)) return false;
  Log(absl::StrCat("the store's desired policy is now revision ", desired->revision, " (by ",
                   desired->actor, "): adopting it"));
  if (auto s = AdoptLocked(
          *desired, /*reload=*/true,
          absl::StrCat("adopted revision ", desired->revision, " published by ", desired->actor),
          /*theirs=*/true);
      !s.ok())
    return s;
  return true;
}

}  // namespace polder::controller
