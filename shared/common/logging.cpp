#include "logging.h"

Q_LOGGING_CATEGORY(lcCommon, "filesync.common", QtInfoMsg)

namespace filesync {

void installLogFormat()
{
    qSetMessagePattern(QStringLiteral("%{time yyyy-MM-dd HH:mm:ss.zzz} %{category} "
                                      "%{if-warning}warning: %{endif}%{if-critical}error: %{endif}%{message}"));
}

} // namespace filesync
