#pragma once

#include <QStringList>

namespace filesync {

// `filesync --headless HOST PORT PATH INTERVAL [ID]`: the engine without a GUI (the
// assignment's interface). Prints "account: <ID>" once the account is known, syncs until
// SIGTERM/SIGINT (exit 0); bad arguments exit 2, a fatal error exits 1 with one line.
int runHeadless(int argc, char **argv);

} // namespace filesync
