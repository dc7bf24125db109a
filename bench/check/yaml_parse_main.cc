// polder_yaml_parse: times yaml-cpp's bare parse (no tree, no checks) of each
// file given, to put `polder check`'s time next to it (bench/check/README.md):
//   build/bin/polder_yaml_parse FILE...
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>

#include "compiler/frontend/yaml_bare_parse.h"

int main(int argc, char** argv) {
  double total = 0;
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::string content = buffer.str();
    auto start = std::chrono::steady_clock::now();
    std::optional<size_t> events = polder::CountYamlEvents(content);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!events) {
      std::cerr << argv[i] << ": not valid YAML\n";
      return 1;
    }
    total += seconds;
    std::cout << argv[i] << ": " << content.size() << " bytes, " << *events << " events, "
              << seconds << " s\n";
  }
  std::cout << "total: " << total << " s\n";
  return 0;
}
