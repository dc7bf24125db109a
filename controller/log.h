// One line per event on stderr, with a UTC timestamp, so that journald and
// tests can read what the controller did and why.
#ifndef POLDER_CONTROLLER_LOG_H_
#define POLDER_CONTROLLER_LOG_H_

#include <string_view>

namespace polder::controller {

void Log(std::string_view message);

// Tests and benchmarks silence the log.
void SetLogEnabled(bool enabled);

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_LOG_H_
