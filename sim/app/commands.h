// The subcommands of the `nibble` program. Each takes its own argv (argv[0] is the command name),
// returns the exit status, and throws InputError for bad input (the caller prints it, exit 2).
#pragma once

namespace nibble {

int run_command(int argc, char* argv[]);
int trace_command(int argc, char* argv[]);
int compare_command(int argc, char* argv[]);
int calibrate_command(int argc, char* argv[]);
int sweep_command(int argc, char* argv[]);
int train_command(int argc, char* argv[]);

}  // namespace nibble
