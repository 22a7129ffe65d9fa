#include "enginelogging.h"

Q_LOGGING_CATEGORY(lcEngine, "filesync.engine", QtInfoMsg)
Q_LOGGING_CATEGORY(lcFeed, "filesync.engine.feed", QtInfoMsg)
Q_LOGGING_CATEGORY(lcLocal, "filesync.engine.local", QtInfoMsg)
Q_LOGGING_CATEGORY(lcDownload, "filesync.engine.download", QtInfoMsg)
Q_LOGGING_CATEGORY(lcPrefetch, "filesync.engine.prefetch", QtInfoMsg)
Q_LOGGING_CATEGORY(lcUpload, "filesync.engine.upload", QtInfoMsg)
