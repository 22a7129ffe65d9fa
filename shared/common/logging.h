#pragma once

#include <QLoggingCategory>

Q_DECLARE_LOGGING_CATEGORY(lcCommon)

namespace filesync {
// Installs a compact stderr message format: time, category, level, message.
void installLogFormat();
} // namespace filesync
