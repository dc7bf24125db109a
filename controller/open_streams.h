// The agent streams that are open, each with the serial and expiry of the
// client certificate it came with, so that a certificate revoked after its
// stream started can be cut without restarting the controller (the TLS
// session itself stays valid until it ends), and `polder status` can say
// when each connected host's certificate expires.
#ifndef POLDER_CONTROLLER_OPEN_STREAMS_H_
#define POLDER_CONTROLLER_OPEN_STREAMS_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/fleet.h"
#include "controller/revocation_list.h"

namespace polder::controller {

class OpenStreams {
 public:
  // `revoked` outlives this; null (insecure) means nothing is ever revoked.
  explicit OpenStreams(const RevocationList* revoked) : revoked_(revoked) {}

  // Adds an open stream; false (and not added) when `serial` is revoked, so
  // that a stream starting while the CRL changes is never missed by both the
  // per-call check and the sweep.
  bool Add(AgentSink* stream, const std::string& serial, absl::Time not_after);
  // The stream said Hello for `host` (its certificate names it).
  void SetHost(AgentSink* stream, const std::string& host);
  void Remove(AgentSink* stream);
  // Host -> expiry of the certificate of its newest open stream that said Hello.
  std::map<std::string, absl::Time> CertExpiries() const;
  // Closes (PERMISSION_DENIED) every open stream whose certificate is revoked
  // now and returns how many. A closed stream removes itself when it ends.
  int CloseRevoked();
  int size() const;

 private:
  const RevocationList* const revoked_;
  mutable absl::Mutex mu_;
  struct Stream {
    std::string serial;
    absl::Time not_after;
    std::string host;    // empty before Hello
    uint64_t hello = 0;  // order of the Hellos: the newest stream of a host wins
  };
  std::map<AgentSink*, Stream> open_ ABSL_GUARDED_BY(mu_);
  uint64_t hellos_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace polder::controller

#endif  // POLDER_CONTROLLER_OPEN_STREAMS_H_
