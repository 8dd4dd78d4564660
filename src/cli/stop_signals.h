// SIGTERM / SIGINT for the long-running commands (`serve`, `serve-encoder`): the handler only
// writes a byte to a pipe (async-signal-safe); a watcher thread reads it and runs `on_stop`.
// A handler rather than a blocked mask, because threads created before main (OpenBLAS's pool)
// would otherwise take the signal and its default action.
#pragma once

#include <functional>
#include <string>
#include <thread>

namespace clipdex::cli {

class StopSignals {
  public:
    // Installs the handlers and starts the watcher; `name` prefixes its message on stderr.
    StopSignals(std::string name, std::function<void()> on_stop);
    // Wakes the watcher (when the server ended for another reason) and joins it.
    ~StopSignals();
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;

  private:
    std::thread watcher_;
};

}  // namespace clipdex::cli
