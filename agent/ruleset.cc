#include "agent/ruleset.h"

#include <openssl/evp.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace polder::agent {
namespace {

constexpr absl::string_view kHeaderPrefix = "# polder ruleset ";

// Splits nft syntax into statements the way the nft lexer sees them: comments run to the end
// of the line, strings are "..." without escapes, a backslash before a newline joins lines.
// Only the words of statements that start a block or stand alone are inspected.
class ScopeChecker {
 public:
  explicit ScopeChecker(absl::string_view s) : s_(s) {}

  absl::Status Run() {
    for (i_ = 0; i_ < s_.size(); ++i_) {
      char c = s_[i_];
      if (c == '#') {
        while (i_ < s_.size() && s_[i_] != '\n') ++i_;
        --i_;
      } else if (c == '\\' && i_ + 1 < s_.size() && s_[i_ + 1] == '\n') {
        ++i_;
      } else if (c == '"') {
        // A string is a token of its own for nft's lexer, also when nothing separates it from
        // the word before (`include"/etc/x"`), so it must be one here too.
        size_t end = s_.find('"', i_ + 1);
        if (end == absl::string_view::npos) return Error("unterminated string");
        EndWord();
        word_.append(s_.data() + i_, end - i_ + 1);
        EndWord();
        i_ = end;
      } else if (c == '\n' || c == ';') {
        if (auto st = EndStatement(); !st.ok()) return st;
      } else if (c == '{') {
        if (auto st = OpenBlock(); !st.ok()) return st;
      } else if (c == '}') {
        if (auto st = CloseBlock(); !st.ok()) return st;
      } else if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
        EndWord();
      } else {
        word_ += c;
      }
    }
    if (auto st = EndStatement(); !st.ok()) return st;
    if (depth_ != 0) return Error("unbalanced braces");
    // A script that only deletes or flushes the table would leave the host open.
    if (!saw_table_block_) return Error("no `table inet polder { ... }` block");
    return absl::OkStatus();
  }

 private:
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("ruleset refused at line ", Line(), ": ", what));
  }
  int Line() const {
    return 1 + std::count(s_.begin(), s_.begin() + std::min(i_, s_.size()), '\n');
  }

  void EndWord() {
    if (!word_.empty()) words_.push_back(std::move(word_));
    word_.clear();
  }

  // Words seen since the statement started, checked when it ends or opens a block.
  absl::Status CheckWords(bool opens_block) {
    EndWord();
    if (words_.empty()) return absl::OkStatus();
    if (words_[0] == "include") return Error("include is not allowed");
    if (depth_ == 1 && words_[0] == "flags") return Error("table flags are not allowed");
    if (depth_ > 0) return absl::OkStatus();
    std::string stmt = absl::StrJoin(words_, " ");
    bool ok =
        stmt == "table inet polder" ||
        (!opens_block && (stmt == "delete table inet polder" || stmt == "flush table inet polder"));
    if (!ok) return Error(absl::StrCat("statement outside table inet polder: '", stmt, "'"));
    return absl::OkStatus();
  }

  absl::Status EndStatement() {
    if (after_top_block_) {
      EndWord();
      if (!words_.empty()) return Error("text after the table block");
      after_top_block_ = false;
    }
    auto st = CheckWords(false);
    words_.clear();
    return st;
  }

  absl::Status OpenBlock() {
    if (after_top_block_) return Error("text after the table block");
    if (auto st = CheckWords(true); !st.ok()) return st;
    if (depth_ == 0 && words_.empty()) return Error("block without a table");
    if (depth_ == 0) saw_table_block_ = true;  // CheckWords allowed only `table inet polder`
    words_.clear();
    ++depth_;
    return absl::OkStatus();
  }

  absl::Status CloseBlock() {
    if (auto st = CheckWords(false); !st.ok()) return st;
    words_.clear();
    if (depth_ == 0) return Error("unbalanced braces");
    if (--depth_ == 0) after_top_block_ = true;
    return absl::OkStatus();
  }

  absl::string_view s_;
  size_t i_ = 0;
  int depth_ = 0;
  bool after_top_block_ = false;
  bool saw_table_block_ = false;
  std::string word_;
  std::vector<std::string> words_;
};

bool IsHex64(absl::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

absl::Status CheckScope(absl::string_view script) { return ScopeChecker(script).Run(); }

std::string Sha256Hex(absl::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

absl::StatusOr<Ruleset> ParseRuleset(std::string text) {
  absl::string_view first = absl::string_view(text).substr(0, text.find('\n'));
  if (!absl::StartsWith(first, kHeaderPrefix)) {
    return absl::InvalidArgumentError("ruleset refused: missing '# polder ruleset' header line");
  }
  Ruleset r;
  for (absl::string_view field :
       absl::StrSplit(first.substr(kHeaderPrefix.size()), ' ', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(field, absl::MaxSplits('=', 1));
    if (kv.first == "host") r.host = std::string(kv.second);
    if (kv.first == "revision") r.revision = std::string(kv.second);
    if (kv.first == "mode") r.mode = std::string(kv.second);
  }
  if (r.host.empty()) return absl::InvalidArgumentError("ruleset refused: header has no host");
  if (!IsHex64(r.revision)) {
    return absl::InvalidArgumentError("ruleset refused: header revision is not 64 hex digits");
  }
  if (r.mode != "enforce" && r.mode != "audit") {
    return absl::InvalidArgumentError("ruleset refused: header mode is not enforce or audit");
  }
  if (auto st = CheckScope(text); !st.ok()) return st;
  r.hash = Sha256Hex(text);
  r.text = std::move(text);
  return r;
}

}  // namespace polder::agent
