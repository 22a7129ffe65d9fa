#pragma once

#include <QtGlobal>

namespace filesync {

// What one account can make the server hold or spend; docs/operations.md ("Budgets")
// says what happens beyond each.
struct ServerBudgets
{
    qint64 bufferedBytes = 512ll * 1024 * 1024; // received, not yet taken: all connections
    qint64 decodedBytes = 256ll * 1024 * 1024; // uploaded blocks decoded at once: all connections
    qint64 decodedBytesPerConnection = 16ll * 1024 * 1024;
    qint64 replyBytes = 128ll * 1024 * 1024; // replies queued and not read yet: all connections
    // Past bufferedBytes or replyBytes by more than this, the connections holding the most
    // are closed until the sum is back under the budget.
    qint64 overdraftBytes = 64ll * 1024 * 1024;
    int headerTimeoutMs = 30 * 1000; // after login: a frame's length and type, from its first byte
    int frameTimeoutMs = 5 * 60 * 1000; // after login: a whole frame (16 MiB at 56 KB/s)
    int idleTimeoutMs = 2 * 60 * 1000; // after login: clients ping a quiet connection every 15 s
    int acceptBackoffMs = 1000; // accept() out of file descriptors: paused this long
};

} // namespace filesync
