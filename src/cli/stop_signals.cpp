#include "cli/stop_signals.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>

#include "clipdex/error.h"

namespace clipdex::cli {

namespace {

int g_stop_pipe[2] = {-1, -1};

extern "C" void on_stop_signal(int signal_number) {
    const char byte = static_cast<char>(signal_number);
    [[maybe_unused]] const ssize_t written = write(g_stop_pipe[1], &byte, 1);
}

}  // namespace

StopSignals::StopSignals(std::string name, std::function<void()> on_stop) {
    if (g_stop_pipe[0] < 0 && pipe(g_stop_pipe) != 0)
        throw Error(ErrorCode::Io, name + ": cannot create the signal pipe");
    struct sigaction action = {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);
    watcher_ = std::thread([name = std::move(name), on_stop = std::move(on_stop)] {
        char byte = 0;
        if (read(g_stop_pipe[0], &byte, 1) == 1 && byte != 0)
            std::fprintf(stderr, "clipdex %s: signal %d, finishing requests in flight\n",
                         name.c_str(), byte);
        on_stop();
    });
}

StopSignals::~StopSignals() {
    const char wake = 0;
    [[maybe_unused]] const ssize_t written = write(g_stop_pipe[1], &wake, 1);
    watcher_.join();
}

}  // namespace clipdex::cli
