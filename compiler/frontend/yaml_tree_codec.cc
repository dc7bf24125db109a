#include "compiler/frontend/yaml_tree_codec.h"

#include <cstdint>

namespace polder {
namespace {

// Deeper than any tree the reader accepts (YamlLimits::max_depth), so a genuine
// entry always decodes, and low enough that a forged one cannot exhaust the stack.
constexpr int kMaxDecodeDepth = 256;
// The fewest bytes one encoded node takes (a kind byte and three varints), to refuse
// counts that the rest of the buffer cannot hold before reserving memory for them.
constexpr size_t kMinNodeBytes = 4;

void PutVarint(uint64_t v, std::string& out) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void PutSigned(int v, std::string& out) {
  // Zigzag, so that a negative position (never written by the reader) still round-trips.
  uint32_t u = static_cast<uint32_t>(v);
  PutVarint((u << 1) ^ (v < 0 ? 0xffffffffu : 0u), out);
}

void Encode(const YamlNode& n, std::string& out) {
  out.push_back(static_cast<char>(static_cast<int>(n.kind) | (n.plain ? 0x10 : 0)));
  PutSigned(n.line, out);
  PutSigned(n.column, out);
  PutSigned(n.anchor, out);
  switch (n.kind) {
    case YamlNode::Kind::kNull:
      break;
    case YamlNode::Kind::kScalar:
      PutVarint(n.scalar.size(), out);
      out.append(n.scalar);
      break;
    case YamlNode::Kind::kSequence:
      PutVarint(n.items.size(), out);
      for (const YamlNode& item : n.items) Encode(item, out);
      break;
    case YamlNode::Kind::kMap:
      PutVarint(n.entries.size(), out);
      for (const YamlEntry& e : n.entries) {
        Encode(e.key, out);
        Encode(e.value, out);
      }
      break;
  }
}

class Decoder {
 public:
  explicit Decoder(std::string_view bytes) : bytes_(bytes) {}

  bool Node(YamlNode& n, int depth) {
    if (depth > kMaxDecodeDepth || pos_ >= bytes_.size()) return false;
    unsigned char head = static_cast<unsigned char>(bytes_[pos_++]);
    if ((head & ~0x13u) != 0) return false;
    n.kind = static_cast<YamlNode::Kind>(head & 0x3);
    n.plain = (head & 0x10) != 0;
    if (!Signed(n.line) || !Signed(n.column) || !Signed(n.anchor)) return false;
    uint64_t count = 0;
    switch (n.kind) {
      case YamlNode::Kind::kNull:
        return true;
      case YamlNode::Kind::kScalar:
        if (!Varint(count) || count > bytes_.size() - pos_) return false;
        n.scalar.assign(bytes_.data() + pos_, count);
        pos_ += count;
        return true;
      case YamlNode::Kind::kSequence:
        if (!Varint(count) || count > (bytes_.size() - pos_) / kMinNodeBytes) return false;
        n.items.resize(count);
        for (YamlNode& item : n.items)
          if (!Node(item, depth + 1)) return false;
        return true;
      case YamlNode::Kind::kMap:
        if (!Varint(count) || count > (bytes_.size() - pos_) / (2 * kMinNodeBytes)) return false;
        n.entries.resize(count);
        for (YamlEntry& e : n.entries)
          if (!Node(e.key, depth + 1) || !Node(e.value, depth + 1)) return false;
        return true;
    }
    return false;
  }

  bool AtEnd() const { return pos_ == bytes_.size(); }

 private:
  bool Varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= bytes_.size()) return false;
      unsigned char b = static_cast<unsigned char>(bytes_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }

  bool Signed(int& v) {
    uint64_t u = 0;
    if (!Varint(u) || u > 0xffffffffu) return false;
    uint32_t z = static_cast<uint32_t>(u);
    v = static_cast<int>((z >> 1) ^ (0u - (z & 1)));
    return true;
  }

  std::string_view bytes_;
  size_t pos_ = 0;
};

}  // namespace

void EncodeYamlTree(const YamlNode& root, std::string& out) { Encode(root, out); }

std::optional<YamlNode> DecodeYamlTree(std::string_view bytes) {
  Decoder decoder(bytes);
  YamlNode root;
  if (!decoder.Node(root, 0) || !decoder.AtEnd()) return std::nullopt;
  return root;
}

}  // namespace polder
