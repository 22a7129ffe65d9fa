#pragma once

#include <QLoggingCategory>

// Logging categories of the server core. Account IDs are secrets and never logged;
// accounts appear by their internal number only.
Q_DECLARE_LOGGING_CATEGORY(lcServer) // filesync.server: connections, sessions, lifecycle
Q_DECLARE_LOGGING_CATEGORY(lcMetadata) // filesync.server.metadata: the SQLite store
Q_DECLARE_LOGGING_CATEGORY(lcBlocks) // filesync.server.blocks: the block store
