// Process-wide settings for a controller holding thousands of agent streams.
// Called first thing by polder-controller (and by the fleet benchmark, so it
// measures the same thing).
#ifndef POLDER_CONTROLLER_PROCESS_TUNING_H_
#define POLDER_CONTROLLER_PROCESS_TUNING_H_

namespace polder::controller {

void TuneProcessForManyAgents();

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_PROCESS_TUNING_H_
