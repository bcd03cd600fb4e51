// A process-wide "stop soon" flag set by SIGINT/SIGTERM, polled by long-running loops between
// units of work (ops, sweep points) so that they can flush what they finished.
#pragma once

#include <atomic>

namespace nibble {

// Installs handlers for SIGINT and SIGTERM that set the flag (a second signal kills as usual).
void install_interrupt_handlers();
bool interrupt_requested();
// The signal that set the flag (0 when none), for the exit status 128 + signal.
int interrupt_signal();

}  // namespace nibble
