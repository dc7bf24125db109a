#include "compiler/frontend/yaml_reader.h"

#include <limits>
#include <map>
#include <memory>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/exceptions.h"
#include "yaml-cpp/mark.h"
#include "yaml-cpp/parser.h"

namespace polder {
namespace {

// Thrown inside the event handler to abort yaml-cpp's parse; it never leaves
// this file.
struct LimitHit {
  std::string code;
  std::string message;
  int line;
  int column;
};

// Returns the byte offset of the first invalid UTF-8 sequence, or npos.
// (None of our libraries offers a plain validator; this follows RFC 3629.)
size_t FindInvalidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    int extra = c < 0x80           ? 0
                : (c >> 5) == 0x6  ? 1
                : (c >> 4) == 0xe  ? 2
                : (c >> 3) == 0x1e ? 3
                                   : -1;
    if (extra < 0 || (extra == 1 && c < 0xc2) || i + extra >= s.size() + (extra == 0)) return i;
    unsigned int cp = extra == 0 ? c : c & (0x3f >> extra);
    for (int k = 1; k <= extra; ++k) {
      unsigned char cc = s[i + k];
      if ((cc >> 6) != 0x2) return i;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((extra == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (extra == 3 && (cp < 0x10000 || cp > 0x10ffff))) {
      return i;
    }
    i += extra + 1;
  }
  return std::string::npos;
}

std::pair<int, int> LineColumnAt(const std::string& s, size_t offset) {
  int line = 1, column = 1;
  for (size_t i = 0; i < offset && i < s.size(); ++i) {
    if (s[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

// Builds a YamlNode tree from parser events with a stack of open nodes.
class TreeBuilder : public YAML::EventHandler {
 public:
  TreeBuilder(const std::string& content, const YamlLimits& limits, YamlBudget& budget)
      : content_(content), limits_(limits), budget_(budget) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < content.size(); ++i) {
      if (content[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  std::optional<YamlNode> TakeRoot() { return std::move(root_); }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnAnchor(const YAML::Mark&, const std::string& name) override { pending_name_ = name; }

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    YamlNode n = Leaf(YamlNode::Kind::kNull, mark, anchor);
    // A value left empty (`cidrs:`) has no text of its own; yaml-cpp marks the next token,
    // often on another line or object. Its key is what the user wrote and must fix.
    if (!stack_.empty() && stack_.back().node.kind == YamlNode::Kind::kMap &&
        stack_.back().pending_key) {
      n.line = stack_.back().pending_key->line;
      n.column = stack_.back().pending_key->column;
    }
    Complete(std::move(n));
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    YamlNode n = Leaf(YamlNode::Kind::kScalar, mark, anchor);
    SkipBlanks(n);
    n.scalar = value;
    n.plain = tag == "?";
    Complete(std::move(n));
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(Leaf(YamlNode::Kind::kSequence, mark, anchor));
  }
  void OnSequenceEnd() override { Close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(Leaf(YamlNode::Kind::kMap, mark, anchor));
  }
  void OnMapEnd() override { Close(); }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) {
      Fail(mark, "limit-exceeded",
           absl::StrCat("alias *", NameOf(anchor),
                        " refers to the node that contains it; an alias may only repeat a "
                        "complete node defined before it"));
    }
    const Anchored& a = it->second;
    if (static_cast<int>(stack_.size()) + a.height > limits_.max_depth) {
      Fail(mark, "limit-exceeded",
           absl::StrCat("alias *", NameOf(anchor), " nests deeper than ", limits_.max_depth,
                        " levels; flatten the document"));
    }
    YamlNode copy = a.node;
    copy.line = mark.line + 1;
    copy.column = mark.column + 1;
    CountExpansions(copy, mark);
    Charge(a.size, mark);
    Complete(std::move(copy));
  }

 private:
  struct Anchored {
    YamlNode node;
    size_t size;
    int height;
  };
  struct OpenNode {
    YamlNode node;
    std::optional<YamlNode> pending_key;  // maps: key waiting for its value
  };

  // yaml-cpp marks a flow-mapping value at the blank before it; point at the
  // value itself so carets land on what is wrong.
  void SkipBlanks(YamlNode& n) const {
    if (n.line < 1 || static_cast<size_t>(n.line) > line_starts_.size()) return;
    size_t pos = line_starts_[n.line - 1] + n.column - 1;
    while (pos < content_.size() && content_[pos] == ' ') {
      ++pos;
      ++n.column;
    }
  }

  [[noreturn]] void Fail(const YAML::Mark& mark, std::string code, std::string message) {
    throw LimitHit{std::move(code), std::move(message), mark.line + 1, mark.column + 1};
  }

  std::string NameOf(YAML::anchor_t anchor) const {
    auto it = names_.find(anchor);
    return it == names_.end() ? std::to_string(anchor) : it->second;
  }

  void Charge(size_t nodes, const YAML::Mark& mark) {
    budget_.nodes += nodes;
    if (budget_.published != nullptr) budget_.published->store(budget_.nodes);
    if (budget_.counted_before && budget_.nodes >= next_look_before_) {
      counted_before_ = budget_.counted_before();
      next_look_before_ = budget_.nodes + 4096;
    }
    if (budget_.nodes + counted_before_ > limits_.max_nodes) {
      Fail(mark, "limit-exceeded",
           absl::StrCat("the policy has more than ", limits_.max_nodes,
                        " YAML nodes (aliases counted as expanded, anchored nodes twice); split or "
                        "simplify it"));
    }
  }

  void CountExpansions(const YamlNode& n, const YAML::Mark& mark) {
    if (n.anchor != 0 && ++expansions_[n.anchor] > limits_.max_alias_expansions) {
      Fail(mark, "limit-exceeded",
           absl::StrCat("aliases expand the node &", NameOf(n.anchor), " more than ",
                        limits_.max_alias_expansions,
                        " times (a \"billion laughs\" document); write the values out instead"));
    }
    for (const YamlNode& item : n.items) CountExpansions(item, mark);
    for (const auto& [k, v] : n.entries) {
      CountExpansions(k, mark);
      CountExpansions(v, mark);
    }
  }

  YamlNode Leaf(YamlNode::Kind kind, const YAML::Mark& mark, YAML::anchor_t anchor) {
    Charge(1, mark);
    YamlNode n;
    n.kind = kind;
    n.line = mark.line + 1;
    n.column = mark.column + 1;
    n.anchor = static_cast<int>(anchor);
    if (anchor != 0) names_[anchor] = pending_name_;
    return n;
  }

  void Open(YamlNode n) {
    if (static_cast<int>(stack_.size()) >= limits_.max_depth) {
      YAML::Mark mark;
      mark.line = n.line - 1;
      mark.column = n.column - 1;
      Fail(
          mark, "limit-exceeded",
          absl::StrCat("nesting deeper than ", limits_.max_depth, " levels; flatten the document"));
    }
    stack_.push_back(OpenNode{std::move(n), std::nullopt});
  }

  void Close() {
    OpenNode top = std::move(stack_.back());
    stack_.pop_back();
    Complete(std::move(top.node));
  }

  static std::pair<size_t, int> Measure(const YamlNode& n) {
    size_t size = 1;
    int height = 0;
    for (const YamlNode& item : n.items) {
      auto [s, h] = Measure(item);
      size += s;
      height = std::max(height, h + 1);
    }
    for (const auto& [k, v] : n.entries) {
      auto [ks, kh] = Measure(k);
      auto [vs, vh] = Measure(v);
      size += ks + vs;
      height = std::max({height, kh + 1, vh + 1});
    }
    return {size, height};
  }

  void Complete(YamlNode n) {
    if (n.anchor != 0 && !anchors_.count(n.anchor)) {
      auto [size, height] = Measure(n);
      // The copy kept for later aliases is memory like any other node: without charging it,
      // anchors nested in anchors hold depth x nodes.
      YAML::Mark mark;
      mark.line = n.line - 1;
      mark.column = n.column - 1;
      Charge(size, mark);
      anchors_[n.anchor] = Anchored{n, size, height};
    }
    if (stack_.empty()) {
      root_ = std::move(n);
      return;
    }
    OpenNode& parent = stack_.back();
    if (parent.node.kind == YamlNode::Kind::kSequence) {
      parent.node.items.push_back(std::move(n));
    } else if (!parent.pending_key) {
      parent.pending_key = std::move(n);
    } else {
      parent.node.entries.push_back(YamlEntry{std::move(*parent.pending_key), std::move(n)});
      parent.pending_key.reset();
    }
  }

  const std::string& content_;
  std::vector<size_t> line_starts_;
  const YamlLimits& limits_;
  YamlBudget& budget_;
  std::vector<OpenNode> stack_;
  std::optional<YamlNode> root_;
  std::map<YAML::anchor_t, Anchored> anchors_;
  std::map<YAML::anchor_t, std::string> names_;
  std::map<int, int> expansions_;
  std::string pending_name_;
  size_t counted_before_ = 0;  // by the files before this one, when last looked at
  size_t next_look_before_ = 0;
};

// One line of the raw text as far as indentation is concerned.
struct IndentedLine {
  int number = 0;            // 1-based
  int indent = 0;            // spaces before the first character
  bool item = false;         // starts with "- "
  int key_indent = 0;        // where its key starts: after "- " for an item
  std::string key;           // the key before ':', or empty for a plain list item
  bool opens_block = false;  // "key:" with nothing after it: deeper lines belong to it
};

std::optional<IndentedLine> ReadIndentedLine(const std::string& text, int number) {
  size_t first = text.find_first_not_of(' ');
  if (first == std::string::npos || text[first] == '#' || text[first] == '\t') return std::nullopt;
  IndentedLine l;
  l.number = number;
  l.indent = static_cast<int>(first);
  size_t body = first;
  if (text[first] == '-' && (first + 1 == text.size() || text[first + 1] == ' ')) {
    l.item = true;
    body = text.find_first_not_of(' ', first + 1);
    if (body == std::string::npos) body = text.size();
  }
  l.key_indent = static_cast<int>(body);
  // A key is a plain word followed by ':' and a blank or the end of the line.
  size_t colon = text.find(':', body);
  if (colon != std::string::npos && colon > body &&
      (colon + 1 == text.size() || text[colon + 1] == ' ') &&
      text.find_first_of("[{\"'", body) > colon) {
    l.key = text.substr(body, colon - body);
    size_t rest = text.find_first_not_of(' ', colon + 1);
    l.opens_block = rest == std::string::npos || text[rest] == '#';
  }
  return l;
}

std::string Spaces(int n) { return absl::StrCat(n, n == 1 ? " space" : " spaces"); }

// yaml-cpp's "illegal map value" / "end of map not found" name no cause. Nearly always a key
// or list item is indented more or less than the block it belongs to, so compare the line at
// the error with the lines above it. Returns a hint (and moves `line` and `column` to the
// misplaced key or dash), or "" when the indentation looks consistent and the error is something
// else.
std::string IndentationHint(const std::string& content, int& line, int& column) {
  std::vector<std::string> lines;
  for (size_t start = 0; start <= content.size();) {
    size_t end = content.find('\n', start);
    if (end == std::string::npos) end = content.size();
    std::string text = content.substr(start, end - start);
    if (!text.empty() && text.back() == '\r') text.pop_back();
    lines.push_back(std::move(text));
    start = end + 1;
  }
  // The offending line: the error's, or the nearest written line before it.
  std::optional<IndentedLine> bad;
  int at = std::min<int>(line, static_cast<int>(lines.size()));
  for (; at >= 1 && !bad; --at) bad = ReadIndentedLine(lines[at - 1], at);
  if (!bad || bad->indent == 0) return "";
  // The lines above that could hold it: each one less indented than all after it.
  std::vector<IndentedLine> enclosing;
  int limit = std::numeric_limits<int>::max();
  for (int n = bad->number - 1; n >= 1 && limit > 0; --n) {
    std::optional<IndentedLine> l = ReadIndentedLine(lines[n - 1], n);
    if (!l || l->indent >= limit) continue;
    enclosing.push_back(*l);
    limit = l->indent;
  }
  if (enclosing.empty()) return "";
  const IndentedLine& prev = enclosing.front();
  // Where a line above puts what continues it: its keys, or for a list item under a list
  // item, the dash.
  auto level = [&](const IndentedLine& l) { return bad->item && l.item ? l.indent : l.key_indent; };
  // A key with its value on the next lines takes anything more indented (and a list at
  // its own column).
  if (prev.opens_block && (bad->indent > prev.indent || (bad->item && bad->indent == level(prev))))
    return "";
  for (const IndentedLine& l : enclosing) {
    if (level(l) == bad->indent && (!bad->item || l.item)) return "";  // lined up: fine
  }
  line = bad->number;
  column = bad->indent + 1;
  std::string what = bad->key.empty()
                         ? (bad->item ? std::string("the list item") : std::string("this line"))
                         : absl::StrCat("`", bad->key, ":`");
  auto name = [](const IndentedLine& l) {
    return l.key.empty() ? std::string("the list item") : absl::StrCat("`", l.key, ":`");
  };
  int prev_level = level(prev);
  if (bad->indent > prev_level) {
    return absl::StrCat("; hint: line ", bad->number, " looks over-indented: ", what,
                        " is indented ", Spaces(bad->indent), ", more than ", name(prev),
                        " on line ", prev.number, " (", Spaces(prev_level), "), which ",
                        prev.key.empty() ? "is a complete value" : "already has its value",
                        "; indent it like ", name(prev), " to continue that ",
                        prev.item && bad->item ? "list" : "mapping");
  }
  // Between two levels: the nearest deeper one it may continue, and the enclosing key.
  const IndentedLine* deeper = &prev;
  const IndentedLine* shallower = nullptr;
  for (const IndentedLine& l : enclosing) {
    if (level(l) > bad->indent) deeper = &l;
    if (level(l) < bad->indent && !l.key.empty()) {
      shallower = &l;
      break;
    }
  }
  int deeper_level = level(*deeper);
  std::string hint =
      absl::StrCat("; hint: line ", bad->number, " looks under-indented: ", what, " is indented ",
                   Spaces(bad->indent), ", less than ", name(*deeper), " on line ", deeper->number,
                   " (", Spaces(deeper_level), ")");
  if (shallower) {
    absl::StrAppend(&hint, " but more than the enclosing key `", shallower->key, ":` on line ",
                    shallower->number, " (", Spaces(shallower->key_indent), "); indent it like ",
                    name(*deeper), " to continue that block, or like `", shallower->key,
                    ":` to start a new key there");
  } else {
    absl::StrAppend(&hint, "; indent it like ", name(*deeper), " to continue that block");
  }
  return hint;
}

bool IsIndentationError(const std::string& message) {
  return message == "illegal map value" || message == "end of map not found" ||
         message == "end of sequence not found" ||
         message == "block sequence entries are not allowed in this context";
}

bool Precheck(const std::string& file, const std::string& content, const YamlLimits& limits,
              DiagnosticList& diagnostics) {
  if (content.size() > limits.max_file_bytes) {
    diagnostics.Error({file, 1, 1}, "limit-exceeded",
                      absl::StrCat("the file is ", content.size(), " bytes, over the limit of ",
                                   limits.max_file_bytes, "; split it into smaller files"));
    return false;
  }
  if (size_t nul = content.find('\0'); nul != std::string::npos) {
    auto [line, column] = LineColumnAt(content, nul);
    diagnostics.Error({file, line, column}, "parse-error",
                      "the file contains a NUL byte; policy files are UTF-8 text");
    return false;
  }
  if (size_t bad = FindInvalidUtf8(content); bad != std::string::npos) {
    auto [line, column] = LineColumnAt(content, bad);
    diagnostics.Error({file, line, column}, "parse-error",
                      "the file is not valid UTF-8 here; save it as UTF-8 text");
    return false;
  }
  return true;
}

}  // namespace

std::optional<YamlNode> ReadYaml(const std::string& file, const std::string& content,
                                 const YamlLimits& limits, YamlBudget& budget,
                                 DiagnosticList& diagnostics) {
  if (!Precheck(file, content, limits, diagnostics)) return std::nullopt;
  std::istringstream stream(content);
  TreeBuilder builder(content, limits, budget);
  try {
    YAML::Parser parser(stream);
    if (!parser.HandleNextDocument(builder)) {
      diagnostics.Error({file, 1, 1}, "parse-error",
                        "the file is empty; give it a mapping such as `zones: []`, or delete it");
      return std::nullopt;
    }
    std::optional<YamlNode> root = builder.TakeRoot();
    TreeBuilder rest(content, limits, budget);
    if (parser.HandleNextDocument(rest)) {
      std::optional<YamlNode> second = rest.TakeRoot();
      diagnostics.Error({file, second ? second->line : 1, second ? second->column : 1},
                        "parse-error",
                        "a policy file holds one YAML document; move this one to its own file");
      return std::nullopt;
    }
    if (!root) {
      diagnostics.Error({file, 1, 1}, "parse-error", "the file holds no YAML document");
    }
    return root;
  } catch (const LimitHit& hit) {
    diagnostics.Error({file, hit.line, hit.column}, hit.code, hit.message);
  } catch (const YAML::Exception& e) {
    int line = std::max(1, e.mark.line + 1), column = std::max(1, e.mark.column + 1);
    std::string hint = IsIndentationError(e.msg) ? IndentationHint(content, line, column) : "";
    diagnostics.Error({file, line, column}, "parse-error",
                      absl::StrCat("invalid YAML: ", e.msg, hint));
  } catch (const std::exception& e) {
    diagnostics.Error({file, 1, 1}, "parse-error", absl::StrCat("invalid YAML: ", e.what()));
  }
  return std::nullopt;
}

}  // namespace polder
