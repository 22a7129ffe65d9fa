#include "appsettings.h"

#include "privatefiles.h"

#include <QDir>
#include <QFileInfo>

namespace filesync {

AppSettings AppSettings::load(QSettings &s)
{
    // It holds the account ID, a bearer secret: the owner's alone (QSettings keeps the
    // mode of the file it replaces).
    privatefiles::fixFile(s.fileName());
    AppSettings a;
    a.host = s.value(QStringLiteral("server/host")).toString();
    a.port = quint16(s.value(QStringLiteral("server/port"), 7070).toUInt());
    a.folder = s.value(QStringLiteral("folder/path")).toString();
    a.accountId = s.value(QStringLiteral("account/id")).toString();
    a.intervalSeconds = qBound(kMinInterval, s.value(QStringLiteral("folder/interval"), 60).toInt(), kMaxInterval);
    return a;
}

void AppSettings::save(QSettings &s) const
{
    s.setValue(QStringLiteral("server/host"), host);
    s.setValue(QStringLiteral("server/port"), port);
    s.setValue(QStringLiteral("folder/path"), folder);
    s.setValue(QStringLiteral("account/id"), accountId);
    s.setValue(QStringLiteral("folder/interval"), intervalSeconds);
    // Created private before the ID is first written into it, not fixed after.
    if (const QFileInfo file(s.fileName()); !file.exists() && QDir().mkpath(file.absolutePath()))
        (void)privatefiles::touchFile(file.filePath());
    s.sync();
    privatefiles::fixFile(s.fileName());
}

} // namespace filesync
