#include "agent/ruleset.h"
#include "wire/ruleset_header.h"
#include "wire/sha256.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace polder::agent {
namespace {

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

}  // namespace

absl::Status CheckScope(absl::string_view script) { return ScopeChecker(script).Run(); }

absl::StatusOr<Ruleset> ParseRuleset(std::string text) {
  absl::StatusOr<wire::RulesetHeader> header = wire::ParseRulesetHeader(text);
  if (!header.ok()) return header.status();
  Ruleset r;
  r.host = std::move(header->host);
  r.revision = std::move(header->revision);
  r.mode = header->mode;
  if (auto st = CheckScope(text); !st.ok()) return st;
  r.hash = wire::Sha256Hex(text);
  r.text = std::move(text);
  return r;
}

}  // namespace polder::agent
