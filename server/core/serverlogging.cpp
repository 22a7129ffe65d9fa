#include "serverlogging.h"

Q_LOGGING_CATEGORY(lcServer, "filesync.server", QtInfoMsg)
Q_LOGGING_CATEGORY(lcMetadata, "filesync.server.metadata", QtInfoMsg)
Q_LOGGING_CATEGORY(lcBlocks, "filesync.server.blocks", QtInfoMsg)
