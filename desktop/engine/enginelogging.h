#pragma once

#include <QLoggingCategory>

// Logging categories of the sync engine, one per area, so that one area's debug output can
// be turned on alone (docs/operations.md). Internal: the public facade (syncengine.h) does
// not export them. All default to info.
Q_DECLARE_LOGGING_CATEGORY(lcEngine) // filesync.engine: lifecycle, login, connection, cycles, user warnings
Q_DECLARE_LOGGING_CATEGORY(lcFeed) // filesync.engine.feed: the server's change feed and the cursor
Q_DECLARE_LOGGING_CATEGORY(lcLocal) // filesync.engine.local: local moves, deletes, conflict copies; postponed actions
Q_DECLARE_LOGGING_CATEGORY(lcDownload) // filesync.engine.download: local block copies, installs, durability
Q_DECLARE_LOGGING_CATEGORY(lcPrefetch) // filesync.engine.prefetch: announced files fetched early, and their adoption
Q_DECLARE_LOGGING_CATEGORY(lcUpload) // filesync.engine.upload: announces, commits and their answers, unanswered ones
