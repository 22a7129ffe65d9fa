#include "serverlogging.h"

Q_LOGGING_CATEGORY(lcServer, "filesync.server")
Q_LOGGING_CATEGORY(lcMetadata, "filesync.server.metadata")
Q_LOGGING_CATEGORY(lcBlocks, "filesync.server.blocks")
